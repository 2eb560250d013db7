"""`verify` remembers the signatures it verified (gitmv.cache.VerdictCache, under .git/mv-promote/)
so an incremental run checks only what is new, and the cache never hides a failure: an object
changed after a cached verify is checked again, and a damaged cache is ignored, not trusted.

The registry: v1 (promoted to production) and v2, both evaluated and verified once (cache filled).
"""

from __future__ import annotations

import hashlib
import sqlite3
import tomllib

from conftest import ModelRepo, put_note, remake_tag, tag_message
from gitmv import records

VERDICTS = ".git/mv-promote/verified-v1.sqlite"
NOTES = "refs/notes/mv-promote"
MODEL_V1 = b"0.85 0.8 5.0\n"  # v1's model.bin (ModelRepo.write_model)


def entries(r: ModelRepo) -> dict[str, str]:
    with sqlite3.connect(r.path / VERDICTS) as db:
        return dict(db.execute("SELECT oid, entry FROM records").fetchall())


def tag_key(r: ModelRepo, ref: str) -> str:
    oid = r.git("rev-parse", ref)
    found = [k for k in entries(r) if k.startswith(f"sig:tag:{oid}:")]
    assert len(found) == 1, found
    return found[0]


def signature_verdicts(r: ModelRepo) -> set[str]:
    return {k for k in entries(r) if k.startswith(("sig:tag:", "sig:record:"))}


def test_verify_stores_one_verdict_per_signed_tag_and_record(verified_registry):
    # v1, v2, production/1, and the two signed eval records
    assert len(signature_verdicts(verified_registry)) == 5


def test_verify_stores_the_records_and_artifact_blobs_it_checked(verified_registry):
    keys = set(entries(verified_registry))
    for ref in ("refs/tags/mv/churn/v1", "refs/tags/mv/churn/v2", "refs/tags/mv/churn/production/1"):
        assert verified_registry.git("rev-parse", ref) in keys
    assert sum(k.startswith("note:") for k in keys) == 2  # parsed and canonical
    assert sum(k.startswith("sig:note:") for k in keys) == 2  # every record intact and signed
    # v1 passed whole; v2 is HEAD's version, checked against the work tree: never remembered whole
    assert [k.split(":")[2] for k in keys if k.startswith("sig:version:")] == [
        verified_registry.git("rev-parse", "refs/tags/mv/churn/v1")]
    # v1's artifact is checked from its git blob (v2's is HEAD's: the work tree, never cached)
    assert [k for k in keys if k.startswith("blob:")] == [
        f"blob:{verified_registry.git('rev-parse', 'refs/tags/mv/churn/v1^{commit}:model.bin')}:"
        f"{hashlib.sha256(MODEL_V1).hexdigest()}"]


def test_a_second_verify_reuses_the_verdicts_and_adds_none(verified_registry):
    before = entries(verified_registry)
    assert verified_registry.mv("verify", "--json").json["ok"] is True
    assert entries(verified_registry) == before


def test_a_new_version_adds_only_its_own_verdicts(verified_registry):
    before = signature_verdicts(verified_registry)
    verified_registry.version(0.95, 0.90)
    assert verified_registry.mv("verify", "--json").json["ok"] is True
    added = signature_verdicts(verified_registry) - before
    assert len(added) == 2  # v3's tag and its eval record
    assert any(k.startswith(f"sig:tag:{verified_registry.git('rev-parse', 'refs/tags/mv/churn/v3')}:") for k in added)


def test_a_tag_recreated_by_another_key_after_a_cached_verify_fails(verified_registry):
    ref = "refs/tags/mv/churn/v2"
    remake_tag(verified_registry, ref, target=verified_registry.git("rev-parse", f"{ref}^{{commit}}"),
               message=tag_message(verified_registry, ref), key="mallory")
    failures = verified_registry.mv("verify", "--json", code=1).json["failures"]
    assert f"{ref}: signature: signed by a key not in allowed signers" in failures


def test_a_record_rewritten_after_a_cached_verify_fails_its_signature(verified_registry):
    """The record's content (and so its id) changes while it keeps the old signature: a new
    content hash, checked again."""
    tag = verified_registry.git("rev-parse", "refs/tags/mv/churn/v2")
    rec = tomllib.loads(verified_registry.git("notes", "--ref", "mv-promote", "show", tag))["record"][0]
    forged = {**rec, "metrics": {**rec["metrics"], "auc": 0.99}}
    forged["id"] = records.record_id(forged)
    verified_registry.git("notes", "--ref", "mv-promote", "add", "-f", "-m", records.render_note([forged]).rstrip("\n"), tag)
    failures = verified_registry.mv("verify", "--json", code=1).json["failures"]
    assert any(f.startswith(f"refs/tags/mv/churn/v2: note record {forged['id']} (eval): signature:") for f in failures), failures


def test_a_verdict_copied_to_another_object_is_not_trusted(verified_registry):
    """An entry vouches only for the key it was written for: v2's verdict moved onto the key of a
    tag re-signed by mallory is ignored, and the tag's signature is checked (and fails)."""
    ref = "refs/tags/mv/churn/v2"
    good_key = tag_key(verified_registry, ref)
    good_entry = entries(verified_registry)[good_key]
    remake_tag(verified_registry, ref, target=verified_registry.git("rev-parse", f"{ref}^{{commit}}"),
               message=tag_message(verified_registry, ref), key="mallory")
    forged_key = good_key.replace(good_key.split(":")[2], verified_registry.git("rev-parse", ref))
    with sqlite3.connect(verified_registry.path / VERDICTS) as db:
        db.execute("INSERT INTO records (oid, entry) VALUES (?, ?)", (forged_key, good_entry))
    failures = verified_registry.mv("verify", "--json", code=1).json["failures"]
    assert f"{ref}: signature: signed by a key not in allowed signers" in failures


def test_a_corrupted_cache_file_is_ignored_and_verify_still_fails_a_bad_tag(verified_registry):
    (verified_registry.path / VERDICTS).write_bytes(b"not a database\0" * 64)
    ref = "refs/tags/mv/churn/v1"
    remake_tag(verified_registry, ref, target=verified_registry.git("rev-parse", f"{ref}^{{commit}}"),
               message=tag_message(verified_registry, ref), key=None)
    failures = verified_registry.mv("verify", "--json", code=1).json["failures"]
    assert f"{ref}: signature: unsigned" in failures


def test_a_corrupted_cache_file_does_not_fail_a_good_registry(verified_registry):
    (verified_registry.path / VERDICTS).write_bytes(b"not a database\0" * 64)
    assert verified_registry.mv("verify", "--json").json["ok"] is True


def test_an_unsigned_record_is_reported_on_every_run_not_only_the_first(verified_registry):
    """A note that warned is not remembered as passed: the warning comes back each time."""
    tag = verified_registry.git("rev-parse", "refs/tags/mv/churn/v1")
    kept = tomllib.loads(verified_registry.git("notes", "--ref", "mv-promote", "show", tag))["record"]
    unsigned = records.make_note_record("observation", {"note": "looked fine"}, at="2026-11-02T09:00:00Z", by="alice")
    put_note(verified_registry, "v1", records.render_note(kept + [unsigned]))
    for _ in range(2):
        warnings = verified_registry.mv("verify", "--json").json["warnings"]
        assert any(f"note record {unsigned['id']} (observation) is unsigned" in w for w in warnings), warnings
