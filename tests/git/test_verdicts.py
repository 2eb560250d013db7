"""A helper process checking tag signatures ahead (gitmv.git.verdicts) gives exactly the verdicts
this process would, for any tag and in any order asked; when it cannot, it answers nothing and the
caller checks the signature itself; it forks only where the process allows it."""

from __future__ import annotations

import os
import shutil
import threading

import pytest

from conftest import make_tag, run_mv
from gitmv import proc
from gitmv.git import verdicts
from gitmv.git.repo import Repo
from gitmv.git.signing import verify_signature
from gitmv.ops.context import open_context


@pytest.fixture
def helpers(monkeypatch):
    """This process may fork helpers (the CLI program's switch), even for a handful of tags, and
    counts as single-threaded: a test worker may hold threads of the suite's servers, which the
    helper never touches (the thread rule itself: test_no_helper_while_another_thread_runs)."""
    monkeypatch.setattr(proc, "_helpers_allowed", True)
    monkeypatch.setattr(verdicts, "MIN_TAGS", 1)
    monkeypatch.setattr(threading, "active_count", lambda: 1)


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


def allowed(model_repo) -> bytes:
    return (model_repo.path / ".mv-promote" / "allowed_signers").read_bytes()


def expected(model_repo, oid: str):
    return verify_signature(Repo.discover(model_repo.path).read_raw(oid), allowed(model_repo))


def test_the_helper_gives_the_verdicts_this_process_would(helpers, model_repo, tags):
    ahead = verdicts.start(Repo.discover(model_repo.path), allowed(model_repo), tags)
    assert ahead is not None
    got = [ahead.take(oid) for oid in tags]
    assert got == [expected(model_repo, oid) for oid in tags]
    assert [c.ok for c in got] == [True, True, False, False]


def test_verdicts_asked_out_of_order_are_each_tags_own(helpers, model_repo, tags):
    ahead = verdicts.start(Repo.discover(model_repo.path), allowed(model_repo), tags)
    assert [ahead.take(oid) for oid in reversed(tags)] == [expected(model_repo, oid) for oid in reversed(tags)]


def test_a_tag_the_helper_was_not_asked_for_gets_no_answer(helpers, model_repo, tags):
    ahead = verdicts.start(Repo.discover(model_repo.path), allowed(model_repo), tags[:2])
    assert ahead.take(tags[2]) is None
    assert ahead.take(tags[0]) == expected(model_repo, tags[0])


def test_the_helper_is_reaped_once_its_verdicts_are_taken(helpers, model_repo, tags):
    ahead = verdicts.start(Repo.discover(model_repo.path), allowed(model_repo), tags)
    for oid in tags:
        ahead.take(oid)
    with pytest.raises(ChildProcessError):
        os.waitpid(ahead._pid, os.WNOHANG)


def test_a_helper_that_fails_leaves_every_verdict_to_the_caller(helpers, model_repo, tags, monkeypatch):
    def broken(raw, allowed_signers, at=None):
        raise RuntimeError("the helper's check fails")

    monkeypatch.setattr(verdicts, "verify_signature", broken)  # inherited by the forked helper
    ahead = verdicts.start(Repo.discover(model_repo.path), allowed(model_repo), tags)
    assert [ahead.take(oid) for oid in tags] == [None] * len(tags)


def test_the_registry_checks_itself_what_a_failed_helper_left(helpers, model_repo, tags, monkeypatch):
    monkeypatch.setattr(verdicts, "verify_signature", lambda *a, **k: 1 / 0)
    reg = open_context(model_repo.path).registry
    reg.signatures_ahead(tags)
    assert [reg.signature(Repo.discover(model_repo.path).tag(oid)) for oid in tags] == \
        [expected(model_repo, oid) for oid in tags]


def test_no_helper_unless_the_process_allows_it(model_repo, tags, monkeypatch):
    monkeypatch.setattr(verdicts, "MIN_TAGS", 1)
    assert verdicts.start(Repo.discover(model_repo.path), allowed(model_repo), tags) is None


def test_no_helper_while_another_thread_runs(model_repo, tags, monkeypatch):
    monkeypatch.setattr(proc, "_helpers_allowed", True)
    monkeypatch.setattr(verdicts, "MIN_TAGS", 1)
    stop = threading.Event()
    other = threading.Thread(target=stop.wait)
    other.start()
    try:
        assert verdicts.start(Repo.discover(model_repo.path), allowed(model_repo), tags) is None
    finally:
        stop.set()
        other.join()


def test_no_helper_for_a_few_tags(model_repo, tags, monkeypatch):
    monkeypatch.setattr(proc, "_helpers_allowed", True)
    assert len(tags) < verdicts.MIN_TAGS
    assert verdicts.start(Repo.discover(model_repo.path), allowed(model_repo), tags) is None


def test_log_reads_the_same_with_a_helper_and_without(helpers, model_repo, monkeypatch):
    for auc in (0.8, 0.81, 0.82):
        model_repo.version(auc, 0.8, evaluate=False)
    monkeypatch.setattr(proc, "_helpers_allowed", False)
    plain = run_mv("log", "churn", "--json", cwd=model_repo.path).out
    shutil.rmtree(model_repo.path / ".git" / "mv-promote")  # no cached verdicts: every one is checked again
    monkeypatch.setattr(proc, "_helpers_allowed", True)
    started = []
    real_start = verdicts.start

    def start(*args):
        started.append(real_start(*args))
        return started[-1]

    monkeypatch.setattr(verdicts, "start", start)
    assert run_mv("log", "churn", "--json", cwd=model_repo.path).out == plain
    assert started and started[0] is not None  # the helper did run


def test_a_verdict_travels_and_is_cached_as_dataclasses_would_write_it():
    from dataclasses import asdict

    from gitmv.git.signing import SignatureCheck

    for check in (SignatureCheck(True, "", "alice@example.com", "SHA256:x", "ssh"), SignatureCheck(False, "unsigned")):
        assert check.to_dict() == asdict(check)
        assert SignatureCheck(**check.to_dict()) == check
