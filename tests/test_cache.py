"""The record cache (gitmv.cache.RecordCache): a listing's entries read ahead in a few queries
answer exactly as one query per entry would, and a warm listing shows what a cold one shows."""

from __future__ import annotations

import shutil

from gitmv.cache import CACHE_FILE, RecordCache


def filled(git_dir, entries: dict[str, dict]) -> None:
    cache = RecordCache(git_dir)
    for key, entry in entries.items():
        cache.put(key, entry)
    cache.flush()


def test_entries_read_ahead_are_the_entries_read_one_by_one(tmp_path):
    entries = {f"{i:040x}": {"record": {"n": i}} for i in range(1200)}  # more than one batch
    filled(tmp_path, entries)
    ahead, one_by_one = RecordCache(tmp_path), RecordCache(tmp_path)
    ahead.prefetch(list(entries) + ["f" * 40])
    assert all(ahead.get(key) == one_by_one.get(key) == entry for key, entry in entries.items())


def test_a_key_read_ahead_but_missing_is_a_miss_until_it_is_put(tmp_path):
    filled(tmp_path, {"a" * 40: {"record": {}}})
    cache = RecordCache(tmp_path)
    cache.prefetch(["b" * 40])
    assert cache.get("b" * 40) is None
    cache.put("b" * 40, {"record": {"n": 1}})
    assert cache.get("b" * 40) == {"record": {"n": 1}}


def test_reading_ahead_from_a_corrupted_file_is_no_cache(tmp_path):
    (tmp_path / CACHE_FILE).parent.mkdir(parents=True)
    (tmp_path / CACHE_FILE).write_bytes(b"not a database" * 100)
    cache = RecordCache(tmp_path)
    cache.prefetch(["a" * 40])
    assert cache.get("a" * 40) is None


def test_a_warm_listing_shows_what_a_cold_one_shows(verified_registry):
    r = verified_registry
    shutil.rmtree(r.path / ".git" / "mv-promote", ignore_errors=True)
    cold = [r.mv(*args, "--json").json for args in (["show", "churn"], ["history", "churn"], ["log", "churn"])]
    warm = [r.mv(*args, "--json").json for args in (["show", "churn"], ["history", "churn"], ["log", "churn"])]
    assert (r.path / ".git" / CACHE_FILE).exists()
    assert warm == cold


def test_a_cached_record_of_another_shape_is_checked_as_read_and_shows_the_same(verified_registry):
    """An entry from an older cache format (here: a field this version does not know) is not
    trusted as built; the record is checked as read, and the listing is unchanged."""
    r = verified_registry
    before = r.mv("show", "churn", "--json").json
    v1 = r.git("rev-parse", "refs/tags/mv/churn/v1")
    cache = RecordCache(r.path / ".git")
    entry = cache.get(v1)
    assert entry is not None and isinstance(entry.get("record"), dict)
    cache.put(v1, {**entry, "record": {**entry["record"], "retired_field": 1}})
    cache.flush()
    assert r.mv("show", "churn", "--json").json == before


def test_the_record_cache_never_waits_for_the_disk(tmp_path):
    """Derived data (see the test above for a damaged file): its commits do not fsync."""
    cache = RecordCache(tmp_path)
    db = cache._conn()
    assert db is not None and db.execute("PRAGMA synchronous").fetchone()[0] == 0
    cache.put("a" * 40, {"record": {"n": 1}})
    cache.flush()
    assert RecordCache(tmp_path).get("a" * 40) == {"record": {"n": 1}}


def test_a_cache_this_process_created_is_fresh_until_it_is_written(tmp_path):
    cache = RecordCache(tmp_path)
    assert cache.fresh()  # nothing in it but what this process puts: no need to look
    cache.put("a" * 40, {"record": {"n": 1}})
    assert cache.get("a" * 40) == {"record": {"n": 1}} and cache.get("b" * 40) is None
    cache.flush()
    assert not cache.fresh() and not RecordCache(tmp_path).fresh()
    assert cache.get("a" * 40) == {"record": {"n": 1}}  # read back from the file


def test_a_fresh_cache_reads_ahead_nothing_and_still_answers_what_it_put(tmp_path):
    cache = RecordCache(tmp_path)
    assert cache.fresh()
    cache.put("a" * 40, {"record": {"n": 1}})
    cache.prefetch(["a" * 40, "b" * 40])
    assert cache.get("a" * 40) == {"record": {"n": 1}} and cache.get("b" * 40) is None
    assert cache.known("a" * 40) and not cache.known("b" * 40)


def test_an_entry_a_helper_hands_over_is_stored_as_if_put_here(tmp_path):
    from gitmv.cache import VerdictCache, encode

    for made in (RecordCache, VerdictCache):
        here, handed = made(tmp_path / made.__name__ / "a"), made(tmp_path / made.__name__ / "b")
        entry = {"ok": True, "reason": "", "principal": "alice"}
        here.put("sig:tag:x", entry)
        handed.adopt("sig:tag:x", encode(entry))
        here.flush()
        handed.flush()
        assert made(tmp_path / made.__name__ / "b").get("sig:tag:x") == made(tmp_path / made.__name__ / "a").get("sig:tag:x") == entry


def test_a_cache_file_with_the_first_digest_index_keeps_its_records_and_trusts_no_old_listing(tmp_path):
    """The first digest index (by tag object alone) and any listing remembered over it are
    dropped on open: a ref aliasing another version's tag object could hit them. The records
    stay."""
    import sqlite3

    (tmp_path / CACHE_FILE).parent.mkdir(parents=True)
    db = sqlite3.connect(tmp_path / CACHE_FILE)
    db.execute("CREATE TABLE records (oid TEXT PRIMARY KEY, entry TEXT NOT NULL)")
    db.execute("CREATE TABLE digests (oid TEXT PRIMARY KEY, model TEXT NOT NULL, dkey TEXT NOT NULL)")
    db.execute("CREATE TABLE listings (model TEXT PRIMARY KEY, sha TEXT NOT NULL, latest INTEGER NOT NULL)")
    db.execute("INSERT INTO records VALUES (?, ?)", ("c" * 40, '{"record": {"n": 1}}'))
    db.execute("INSERT INTO digests VALUES (?, 'churn', 'k1')", ("a" * 40,))
    db.execute("INSERT INTO listings VALUES ('churn', ?, 1)", ("f" * 64,))
    db.commit()
    db.close()
    cache = RecordCache(tmp_path)
    assert cache.get("c" * 40) == {"record": {"n": 1}}
    assert cache.indexed_listing("churn") is None
    assert cache.versions_with_digests("churn", "k1") == []


def test_a_remembered_listing_and_the_digest_rows_put_before_it_are_both_written(tmp_path):
    """Both leave with the one flush (in one transaction, gitmv.cache.RecordCache.flush)."""
    cache = RecordCache(tmp_path)
    cache.put_digests("churn", 2, "b" * 40, "k2")
    cache.put_indexed_listing("churn", "e" * 64, 2)
    cache.flush()
    reread = RecordCache(tmp_path)
    assert reread.indexed_listing("churn") == ("e" * 64, 2)
    assert reread.versions_with_digests("churn", "k2") == [(2, "b" * 40)]
    assert reread.digests_of("churn") == {(2, "b" * 40): "k2"}


def test_a_digest_index_that_cannot_be_read_says_so_rather_than_none(tmp_path):
    """After a listing hit, "no version has these digests" must not come from a failed query."""
    import sqlite3

    cache = RecordCache(tmp_path)
    cache.put_digests("churn", 1, "a" * 40, "k1")
    cache.flush()
    reader = RecordCache(tmp_path)
    reader.indexed_listing("churn")  # opens the file
    blocker = sqlite3.connect(tmp_path / CACHE_FILE, isolation_level=None)
    blocker.execute("BEGIN EXCLUSIVE")
    try:
        assert reader.versions_with_digests("churn", "k1") is None
    finally:
        blocker.execute("ROLLBACK")
        blocker.close()
    assert reader.versions_with_digests("churn", "k1") == [(1, "a" * 40)]
