"""Missing state is named, never read as "nothing" (issue "Newcomer"): a clone that has not
fetched or merged the evidence notes, or a shallow clone, says so and names the fix instead of
answering "no eval" or "not approved"; the gate and `verify` refuse to decide on what they
cannot see."""

from __future__ import annotations

from conftest import ModelRepo, git
from gitservers import make_bare


def _published(tmp_path, keys) -> tuple[ModelRepo, str]:
    """alice's repository with churn v1 evaluated, everything pushed to a bare remote (a file
    URL, so that a shallow clone is a real one)."""
    alice = ModelRepo(tmp_path / "alice", keys)
    bare = make_bare(tmp_path, "remote.git")
    alice.git("remote", "add", "origin", str(bare))
    alice.git("push", "-q", "origin", "main")
    alice.version(0.85, 0.80)
    alice.git("push", "-q", "origin", "refs/tags/mv/*:refs/tags/mv/*", "refs/notes/mv-promote")
    return alice, f"file://{bare}"


def _clone(url: str, dest, *options: str):
    git("clone", "-q", *options, url, str(dest), cwd=dest.parent)
    git("fetch", "-q", "--tags", cwd=dest)
    return dest


def test_check_in_a_clone_that_never_fetched_the_notes_names_sync(tmp_path, keys, mv):
    _, url = _published(tmp_path, keys)
    bob = _clone(url, tmp_path / "bob")
    r = mv("check", "churn", "v1", "--stage", "staging", cwd=bob, code=1)
    assert "evidence notes of 'origin' were never fetched" in r.err
    assert "git mv-promote sync origin" in r.err
    assert "no eval" not in r.err + r.out


def test_after_sync_the_same_check_sees_the_eval(tmp_path, keys, mv):
    _, url = _published(tmp_path, keys)
    bob = _clone(url, tmp_path / "bob")
    mv("sync", "origin", cwd=bob)
    assert mv("check", "churn", "v1", "--stage", "staging", "--json", cwd=bob).json["passed"] is True


def test_show_in_a_clone_without_notes_warns_instead_of_answering_no_evidence_silently(tmp_path, keys, mv):
    _, url = _published(tmp_path, keys)
    bob = _clone(url, tmp_path / "bob")
    r = mv("show", "churn", "v1", "--json", cwd=bob)
    assert r.json["evidence"] == []
    assert any("never fetched" in w and "git mv-promote sync origin" in w for w in r.json["warnings"])


def test_notes_fetched_but_not_merged_block_the_gate(tmp_path, keys, mv):
    alice, url = _published(tmp_path, keys)
    bob = _clone(url, tmp_path / "bob")
    mv("sync", "origin", cwd=bob)  # bob now fetches notes with every git fetch
    alice.mv("deprecate", "churn", "v1", "-m", "leaks labels")
    alice.git("push", "-q", "origin", "refs/notes/mv-promote")
    git("fetch", "-q", "origin", cwd=bob)  # the deprecation sits in the tracking ref only
    r = mv("check", "churn", "v1", "--stage", "staging", cwd=bob, code=1)
    assert "evidence notes fetched from 'origin' are not merged" in r.err
    assert "git mv-promote sync origin" in r.err


def test_verify_fails_in_a_shallow_clone_and_names_unshallow(tmp_path, keys, mv):
    _, url = _published(tmp_path, keys)
    bob = _clone(url, tmp_path / "bob", "--depth", "1")
    mv("sync", "origin", cwd=bob)
    r = mv("verify", "--json", cwd=bob, code=1)
    assert any("shallow" in f and "git fetch --unshallow" in f for f in r.json["failures"])


def test_promote_in_a_shallow_clone_is_refused_with_the_fix(tmp_path, keys, mv):
    _, url = _published(tmp_path, keys)
    bob = _clone(url, tmp_path / "bob", "--depth", "1")
    mv("sync", "origin", cwd=bob)
    r = mv("promote", "churn", "v1", "--stage", "staging", cwd=bob, code=1)
    assert "this clone is shallow" in r.err and "git fetch --unshallow" in r.err
    assert git("tag", "-l", "mv/churn/staging/*", cwd=bob) == ""


def test_a_repository_without_remotes_has_nothing_missing(model_repo, mv):
    model_repo.version(0.85, 0.80)
    r = mv("check", "churn", "v1", "--stage", "staging", "--json", cwd=model_repo.path)
    assert r.json["passed"] is True and r.json["warnings"] == []
