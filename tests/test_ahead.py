"""A helper process doing reads and checks ahead (gitmv.ahead, Registry.read_ahead) hands over
exactly what this process would have computed, for any key and in any order asked; what it
cannot give (it failed, it died, it was not asked) the reader computes itself, reporting what is
wrong as it always does; it forks only where the process allows it."""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import threading

import pytest

from conftest import make_tag, run_mv
from gitmv import ahead, proc
from gitmv import registry as registry_module
from gitmv.cache import CACHE_FILE, RecordCache
from gitmv.git.repo import Repo
from gitmv.git.signing import SignatureCheck, verify_signature
from gitmv.ops.context import open_context


def allow_helpers(monkeypatch) -> None:
    """This process may fork helpers (the CLI program's switch), even for a handful of versions,
    and counts as single-threaded: a test worker may hold threads of the suite's servers, which
    the helper never touches (the thread rule itself: test_no_helper_while_another_thread_runs)."""
    monkeypatch.setattr(proc, "_helpers_allowed", True)
    monkeypatch.setattr(registry_module, "MIN_AHEAD", 1)
    monkeypatch.setattr(threading, "active_count", lambda: 1)


@pytest.fixture
def helpers(monkeypatch):
    allow_helpers(monkeypatch)


def lines(n: int, size: int = 10):
    """A helper's work emitting n keys, each with a JSON text of about `size` bytes."""
    def work(emit, reader_at):
        for i in range(n):
            emit(f"k{i}", f'"{i:0{size}d}"')
    return work


# ---------------------------------------------------------------- the helper

def finished(got: ahead.Ahead) -> ahead.Ahead:
    got.finish()  # everything the helper hands over has come
    return got


def test_results_come_back_by_key_in_any_order(helpers):
    got = finished(ahead.start(lines(5)))
    assert [got.ready(f"k{i}") for i in (4, 0, 3, 1, 2)] == [f'"{i:010d}"' for i in (4, 0, 3, 1, 2)]


def test_a_result_is_taken_once(helpers):
    got = finished(ahead.start(lines(2)))
    assert got.ready("k0") == '"0000000000"'
    assert got.ready("k0") is None
    assert got.ready("k7") is None  # never made


def test_the_reader_never_waits_for_a_result(helpers):
    def slow(emit, reader_at):
        while reader_at() < 0:
            pass  # until the reader has asked (and not waited)
        emit("k0", "0")

    got = ahead.start(slow)
    assert got.ready("k0") is None  # not come yet: the reader does this one itself
    got.reach(0)
    got.finish()
    assert got.ready("k0") == "0"


def test_lines_longer_than_a_pipe_holds_are_handed_over_whole(helpers):
    got = finished(ahead.start(lines(3, 5_000_000)))  # each line many reads long
    assert [len(got.ready(f"k{i}") or "") for i in range(3)] == [5_000_002] * 3
    assert got.ready("k2") is None and got.ready("k1") is None


def test_what_a_dying_helper_did_not_give_is_left_to_the_caller(helpers):
    def work(emit, reader_at):
        emit("k0", "0")
        raise RuntimeError("the helper fails half way")

    got = finished(ahead.start(work))
    assert got.ready("k1") is None
    assert got.ready("k0") == "0"


def test_a_result_the_helper_could_not_make_is_no_answer(helpers):
    got = finished(ahead.start(lambda emit, reader_at: emit("k0", "")))
    assert got.ready("k0") is None


def test_the_helper_stops_where_the_reader_has_got_to(helpers):
    def work(emit, reader_at):
        while reader_at() < 0:
            pass  # until the reader says where it is
        for i in range(9, -1, -1):
            if reader_at() >= i:
                emit("stopped", str(i))
                return
            emit(f"k{i}", str(i))

    got = ahead.start(work)
    got.reach(6)
    got.finish()
    assert got.ready("stopped") == "6"
    assert [got.ready(f"k{i}") for i in (9, 8, 7, 6, 5)] == ["9", "8", "7", None, None]


def test_the_helper_is_reaped_at_its_end(helpers):
    got = finished(ahead.start(lines(3)))
    with pytest.raises(ChildProcessError):
        os.waitpid(got._pid, os.WNOHANG)


def test_no_helper_unless_the_process_allows_it(monkeypatch):
    monkeypatch.setattr(threading, "active_count", lambda: 1)
    assert ahead.start(lines(3)) is None


def test_no_helper_while_another_thread_runs(monkeypatch):
    monkeypatch.setattr(proc, "_helpers_allowed", True)
    stop = threading.Event()
    other = threading.Thread(target=stop.wait)
    other.start()
    try:
        assert ahead.start(lines(3)) is None
    finally:
        stop.set()
        other.join()


# ---------------------------------------------------------------- the registry's work

@pytest.fixture
def tags(model_repo):
    """Tag objects of every verdict: two versions signed by alice (allowed), a tag signed by
    mallory (not allowed), an unsigned one."""
    versions = [model_repo.version(0.8, 0.8, evaluate=False), model_repo.version(0.81, 0.8, evaluate=False)]
    head = model_repo.git("rev-parse", "HEAD")
    make_tag(model_repo, "refs/tags/stranger", target=head, message=b"signed by a stranger\n", key="mallory")
    make_tag(model_repo, "refs/tags/plain", target=head, message=b"not signed\n", key=None)
    refs = [f"refs/tags/mv/churn/{v}" for v in versions] + ["refs/tags/stranger", "refs/tags/plain"]
    return [model_repo.git("rev-parse", ref) for ref in refs]


def expected(model_repo, oid: str) -> SignatureCheck:
    allowed = (model_repo.path / ".mv-promote" / "allowed_signers").read_bytes()
    return verify_signature(Repo.discover(model_repo.path).read_raw(oid), allowed)


def test_the_helpers_verdicts_are_the_ones_this_process_gives(helpers, model_repo, tags):
    reg = open_context(model_repo.path).registry
    got = finished(ahead.start(lambda emit, reader_at: reg._work_ahead(tags, [], [], emit, reader_at)))
    checks = [SignatureCheck(**json.loads(got.ready(registry_module.SIG_KEY + oid) or "")) for oid in tags]
    assert checks == [expected(model_repo, oid) for oid in tags]
    assert [c.ok for c in checks] == [True, True, False, False]


@pytest.fixture
def evaluated(model_repo):
    """Four evaluated versions of churn: each has a record and a note to read."""
    for auc in (0.8, 0.81, 0.82, 0.83):
        model_repo.version(auc, 0.8)
    return model_repo


def cold(r) -> None:
    shutil.rmtree(r.path / ".git" / "mv-promote", ignore_errors=True)


def cache_rows(r) -> set[tuple[str, str]]:
    with sqlite3.connect(r.path / ".git" / CACHE_FILE) as db:
        return set(db.execute("SELECT oid, entry FROM records"))


def plain_read(r, monkeypatch, *args: str) -> tuple[str, set[tuple[str, str]]]:
    """A cold read without a helper: its output and the cache rows it wrote. Then the cache is
    dropped again and helpers are allowed, for the same read with one."""
    cold(r)
    out = run_mv(*args, cwd=r.path).out
    rows = cache_rows(r)
    cold(r)
    allow_helpers(monkeypatch)
    return out, rows


def started_helpers(monkeypatch) -> list:
    started: list = []
    real_start = ahead.start

    def start(work):
        started.append(real_start(work))
        return started[-1]

    monkeypatch.setattr(ahead, "start", start)
    return started


def patient_reader(monkeypatch) -> list[str]:
    """The reader lets the helper finish before it reads any version, so the helper reads them
    all (it works from the last back to where the reader has got); returns the keys adopted."""
    adopted: list[str] = []
    real_take, real_adopt = registry_module.Registry._take_ahead, RecordCache.adopt

    def take(self, oid, version):
        if self._ahead is not None:
            self._ahead.finish()
        return real_take(self, oid, version)

    def adopt(self, key, text):
        adopted.append(key)
        return real_adopt(self, key, text)

    monkeypatch.setattr(registry_module.Registry, "_take_ahead", take)
    monkeypatch.setattr(RecordCache, "adopt", adopt)
    return adopted


@pytest.mark.parametrize("args", [("show", "churn", "--json"), ("log", "churn", "--json")])
@pytest.mark.parametrize("patient", [True, False], ids=["helper reads all", "both read"])
def test_a_cold_read_is_the_same_with_a_helper_and_without(evaluated, monkeypatch, args, patient):
    plain, plain_cache = plain_read(evaluated, monkeypatch, *args)
    started = started_helpers(monkeypatch)
    adopted = patient_reader(monkeypatch) if patient else []
    assert run_mv(*args, cwd=evaluated.path).out == plain
    assert started and started[0] is not None  # the helper did run
    if patient:  # every record, note and verdict came from the helper
        assert sorted(adopted) == sorted(k for k, _ in plain_cache)
    assert cache_rows(evaluated) == plain_cache  # what it read is cached as if read here


def test_a_version_the_helper_cannot_read_is_reported_as_without_it(evaluated, monkeypatch):
    tag = evaluated.git("rev-parse", "refs/tags/mv/churn/v4")  # the last: the helper's share
    note = evaluated.git("notes", "--ref", "mv-promote", "show", tag) + "\n"
    evaluated.git("notes", "--ref", "mv-promote", "add", "-f", "-m", note.replace(" = ", "  =  ").rstrip("\n"), tag)
    cold(evaluated)
    plain = run_mv("show", "churn", cwd=evaluated.path, code=None)
    assert plain.code != 0 and "not in canonical form" in plain.err
    cold(evaluated)
    allow_helpers(monkeypatch)
    started = started_helpers(monkeypatch)
    adopted = patient_reader(monkeypatch)
    helped = run_mv("show", "churn", cwd=evaluated.path, code=None)

    assert started and started[0] is not None
    assert (helped.code, helped.out, helped.err) == (plain.code, plain.out, plain.err)
    blob = evaluated.git("notes", "--ref", "mv-promote", "list", tag)
    assert tag in adopted and "note:" + blob not in adopted  # the helper read v4's tag, not its note


def test_a_helper_that_fails_leaves_every_read_to_the_reader(evaluated, monkeypatch):
    cold(evaluated)
    plain = run_mv("log", "churn", "--json", cwd=evaluated.path).out
    cold(evaluated)
    allow_helpers(monkeypatch)
    monkeypatch.setattr(registry_module.Registry, "_work_ahead", lambda *a: 1 / 0)  # inherited by the fork
    started = started_helpers(monkeypatch)
    assert run_mv("log", "churn", "--json", cwd=evaluated.path).out == plain
    assert started and started[0] is not None


def test_no_helper_for_a_few_versions(evaluated, monkeypatch):
    monkeypatch.setattr(proc, "_helpers_allowed", True)
    monkeypatch.setattr(threading, "active_count", lambda: 1)
    started = started_helpers(monkeypatch)
    cold(evaluated)
    run_mv("log", "churn", cwd=evaluated.path)
    assert not started  # 4 versions and their signatures: below MIN_AHEAD


def test_a_verdict_travels_and_is_cached_as_dataclasses_would_write_it():
    from dataclasses import asdict

    for check in (SignatureCheck(True, "", "alice@example.com", "SHA256:x", "ssh"), SignatureCheck(False, "unsigned")):
        assert check.to_dict() == asdict(check)
        assert SignatureCheck(**check.to_dict()) == check


def test_a_read_after_new_versions_arrived_is_the_same_with_a_helper_and_without(evaluated, monkeypatch):
    """The record cache exists and holds some versions (a clone that fetched new ones): the helper
    reads only what is missing from it."""
    run_mv("log", "churn", cwd=evaluated.path)
    known = cache_rows(evaluated)
    for auc in (0.84, 0.85, 0.86):
        evaluated.version(auc, 0.8)
    plain = run_mv("log", "churn", "--json", cwd=evaluated.path).out
    plain_cache = cache_rows(evaluated)
    read_by_log = [key for key, _ in plain_cache - known if not key.startswith("note-end:")]  # that one: eval's
    with sqlite3.connect(evaluated.path / ".git" / CACHE_FILE) as db:
        db.executemany("DELETE FROM records WHERE oid = ?", [(key,) for key in read_by_log])
    allow_helpers(monkeypatch)
    started = started_helpers(monkeypatch)
    adopted = patient_reader(monkeypatch)
    assert run_mv("log", "churn", "--json", cwd=evaluated.path).out == plain
    assert started and started[0] is not None
    assert sorted(adopted) == sorted(read_by_log)
    assert cache_rows(evaluated) == plain_cache


def test_stage_entries_and_their_verdicts_come_from_the_helper_as_read_here(verified_registry, monkeypatch):
    r = verified_registry  # v1 promoted to production: stage entries to read and check
    plain, plain_cache = plain_read(r, monkeypatch, "log", "churn", "--json")
    adopted = patient_reader(monkeypatch)
    assert run_mv("log", "churn", "--json", cwd=r.path).out == plain
    stage_tags = [line.split()[0] for line in r.git("for-each-ref", "--format=%(objectname)",
                                                    "refs/tags/mv/churn/production/").splitlines()]
    assert stage_tags and set(stage_tags) <= set(adopted) <= {k for k, _ in plain_cache}
    assert sorted(adopted) == sorted(k for k, _ in plain_cache)
    assert cache_rows(r) == plain_cache


# a program that starts a helper which never ends, prints its pid and leaves as the CLI does (os._exit)
PAUSED_HELPER = ("import signal\nfrom gitmv import ahead, proc\nproc.allow_helpers()\n"
                 "def work(emit, reader_at):\n    signal.pause()\n"
                 "got = ahead.start(work)\nprint('pid', got._pid, flush=True)\nimport os\nos._exit(0)\n")


def test_the_helper_does_not_hold_the_callers_output_open(helpers, tmp_path):
    """A caller reading the program's output to its end is not kept waiting by a helper still at
    work: the helper's standard streams are not the program's (which, like the CLI, leaves by
    os._exit: nothing waits for the helper)."""
    import subprocess
    import sys

    done = subprocess.run([sys.executable, "-c", PAUSED_HELPER], capture_output=True, text=True, timeout=20)
    pid = int(done.stdout.split()[1])
    os.kill(pid, 9)  # the helper (still paused) outlived the program (a real one ends at its next write)


def test_the_helper_does_not_hold_other_descriptors_the_caller_passed(tmp_path):
    """Nor any descriptor above 2 the caller started the program with (`3>&1 | cat`): its reader
    sees the end when the program exits, while the helper is still at work."""
    import select
    import subprocess
    import sys

    read_end, write_end = os.pipe()
    try:
        done = subprocess.run([sys.executable, "-c", PAUSED_HELPER], capture_output=True, text=True, timeout=20,
                              pass_fds=(write_end,))
        os.close(write_end)
        pid = int(done.stdout.split()[1])
        try:
            ended, _, _ = select.select([read_end], [], [], 10)
            assert ended and os.read(read_end, 1) == b"", "the helper holds the caller's descriptor open"
        finally:
            os.kill(pid, 9)  # the helper, still paused
    finally:
        os.close(read_end)


def test_the_server_hook_loads_neither_the_record_cache_nor_the_helper():
    """The hook has no record cache and never reads ahead: it does not pay for importing them
    (SQLite alone is a few ms of every push)."""
    import subprocess
    import sys

    probe = ("import sys\nimport gitmv.hooks.entry, gitmv.hooks.enforce\n"
             "print(sorted(m for m in ('sqlite3', 'gitmv.cache', 'gitmv.ahead') if m in sys.modules))\n")
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]"


def test_a_note_handed_over_for_another_blob_is_not_taken(evaluated, monkeypatch):
    """The helper names the note blob its entry is for; one that is not the blob this process
    finds for that version (which cannot happen in one notes commit) is read here instead."""
    plain, plain_cache = plain_read(evaluated, monkeypatch, "show", "churn", "--json")
    adopted = patient_reader(monkeypatch)
    parent, real_key = os.getpid(), registry_module.Registry._note_key
    v1 = evaluated.git("rev-parse", "refs/tags/mv/churn/v1")

    def v1s_note_in_the_helper(self, target):  # the helper takes every version's note for v1's
        return real_key(self, target if os.getpid() == parent else v1)

    monkeypatch.setattr(registry_module.Registry, "_note_key", v1s_note_in_the_helper)
    assert run_mv("show", "churn", "--json", cwd=evaluated.path).out == plain
    v1_note = "note:" + evaluated.git("notes", "--ref", "mv-promote", "list", v1)
    assert adopted and {key for key in adopted if key.startswith("note:")} <= {v1_note}
    assert cache_rows(evaluated) == plain_cache


def test_a_helper_that_hands_nothing_over_holds_nothing_up(evaluated, monkeypatch):
    """The reader never waits for the helper (a helper held up by costly or useless work, say
    signatures of tags that are no records, costs no time), and a helper no longer needed is
    stopped, not waited for."""
    import gc
    import signal

    plain, plain_cache = plain_read(evaluated, monkeypatch, "log", "churn", "--json")
    monkeypatch.setattr(registry_module.Registry, "_work_ahead", lambda *a: signal.pause())  # in the fork
    started = started_helpers(monkeypatch)
    assert run_mv("log", "churn", "--json", cwd=evaluated.path).out == plain
    assert cache_rows(evaluated) == plain_cache
    assert started and started[0] is not None
    pid = started.pop()._pid
    gc.collect()  # the registry, and with it the helper's reader, is gone
    with pytest.raises(ChildProcessError):
        os.waitpid(pid, os.WNOHANG)  # stopped and reaped
