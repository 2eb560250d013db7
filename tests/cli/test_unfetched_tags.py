"""When the remote has registry tags this clone has not fetched, commands say so (issue "Newcomer").

bob's clone fetches the evidence notes with every `git fetch` (sync configured it), and he merges
them with `git notes merge`, but a plain `git fetch` does not bring alice's new version tag: its
commit is on no branch. The fetched notes
annotate that tag, so bob's clone can tell, offline, that the remote has a version it lacks.
Read commands warn; decisions refuse; `sync` is the fix. Real bare remote, two clones, the CLI.
"""

from __future__ import annotations

import pytest

from conftest import ModelRepo, git
from gitservers import make_bare

GAP = "the remote 'origin' has registry tags this clone has not fetched"
FIX = "git mv-promote sync origin"


@pytest.fixture
def clones(tmp_path, keys, mv):
    """alice published v1 (evaluated, in staging); bob cloned and synced; then alice published
    v2 with its eval, and bob ran a plain `git fetch`: (alice, bob's path)."""
    alice = ModelRepo(tmp_path / "alice", keys)
    bare = make_bare(tmp_path, "remote.git")
    alice.git("remote", "add", "origin", str(bare))
    alice.git("push", "-q", "origin", "main")
    v1 = alice.version(0.85, 0.80)
    alice.mv("promote", "churn", v1, "--stage", "staging")
    alice.git("push", "-q", "origin", "refs/tags/mv/*:refs/tags/mv/*", "refs/notes/mv-promote")
    bob = tmp_path / "bob"
    git("clone", "-q", f"file://{bare}", str(bob), cwd=tmp_path)
    mv("sync", "origin", cwd=bob)
    alice.version(0.90, 0.85)
    alice.git("push", "-q", "origin", "refs/tags/mv/*:refs/tags/mv/*", "refs/notes/mv-promote")
    git("fetch", "-q", "origin", cwd=bob)
    # bob merges the notes with git itself, so that the only thing missing is the tag
    git("notes", "--ref=mv-promote", "merge", "-q", "refs/notes/remotes/origin/mv-promote", cwd=bob)
    assert git("tag", "-l", "mv/churn/v2", cwd=bob) == ""  # the premise: notes came, the tag did not
    return alice, bob


@pytest.mark.parametrize("command", [("show", "churn"), ("history", "churn"), ("log", "churn"),
                                     ("check", "churn", "v1", "--stage", "production")])
def test_read_commands_warn_that_the_remote_has_tags_this_clone_lacks(clones, mv, command):
    _, bob = clones
    r = mv(*command, cwd=bob)
    assert GAP in r.err and FIX in r.err


@pytest.mark.parametrize("command", [("promote", "churn", "v1", "--stage", "production"),
                                     ("rollback", "churn", "--stage", "staging"),
                                     ("request", "churn", "v1", "--stage", "production")])
def test_decisions_refuse_until_the_clone_has_the_remotes_tags(clones, mv, command):
    _, bob = clones
    before = git("for-each-ref", cwd=bob)
    r = mv(*command, cwd=bob, code=1)
    assert GAP in r.err and FIX in r.err
    assert git("for-each-ref", cwd=bob) == before


def test_sync_fetches_the_tags_and_the_warning_goes(clones, mv):
    _, bob = clones
    mv("sync", "origin", cwd=bob)
    r = mv("show", "churn", cwd=bob)
    assert GAP not in r.err
    assert "v2" in r.out


def test_a_clone_with_every_tag_the_notes_name_has_no_warning(tmp_path, keys, mv):
    alice = ModelRepo(tmp_path / "alice", keys)
    bare = make_bare(tmp_path, "remote.git")
    alice.git("remote", "add", "origin", str(bare))
    alice.git("push", "-q", "origin", "main")
    alice.version(0.85, 0.80)
    alice.mv("sync", "origin")
    assert GAP not in alice.mv("show", "churn").err


def test_verify_fails_while_the_remote_has_tags_this_clone_lacks(clones, mv):
    _, bob = clones
    r = mv("verify", cwd=bob, code=1)
    assert GAP in r.out + r.err and FIX in r.out + r.err


def test_a_note_on_an_object_no_remote_tag_holds_stops_counting_after_sync(tmp_path, keys, mv):
    """A note can outlive its tag (a version `sync` renumbered before it was published). `sync`
    fetches every registry tag the remote has, so what is still missing after it is no tag; later
    fetches are judged by what they bring."""
    alice = ModelRepo(tmp_path / "alice", keys)
    bare = make_bare(tmp_path, "remote.git")
    alice.git("remote", "add", "origin", str(bare))
    alice.git("push", "-q", "origin", "main")
    v1 = alice.version(0.85, 0.80)
    alice.git("push", "-q", "origin", "refs/tags/mv/*:refs/tags/mv/*", "refs/notes/mv-promote")
    (alice.path.parent / "gone").write_text("an object only alice has\n")
    gone = alice.git("hash-object", "-w", str(alice.path.parent / "gone"))
    alice.git("notes", "--ref=mv-promote", "add", "-m", "schema = 1", gone)  # pushing the note sends no object
    alice.git("push", "-q", "origin", "refs/notes/mv-promote")
    bob = tmp_path / "bob"
    git("clone", "-q", f"file://{bare}", str(bob), cwd=tmp_path)
    git("fetch", "-q", "origin", "refs/notes/mv-promote:refs/notes/remotes/origin/mv-promote", cwd=bob)
    assert GAP in mv("show", "churn", cwd=bob).err  # offline, the orphan looks like a tag not fetched
    mv("sync", "origin", cwd=bob)
    assert GAP not in mv("show", "churn", cwd=bob).err
    alice.mv("eval", "churn", v1)
    alice.git("push", "-q", "origin", "refs/notes/mv-promote")
    git("fetch", "-q", "origin", cwd=bob)
    git("notes", "--ref=mv-promote", "merge", "-q", "refs/notes/remotes/origin/mv-promote", cwd=bob)
    assert GAP not in mv("show", "churn", cwd=bob).err
