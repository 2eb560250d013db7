"""Reading notes under git's fan-out (gitmv/git/repo.py: Repo.read_note): the fan-out trees a read
keeps for the next one never answer for another notes commit."""

from __future__ import annotations

import subprocess

from gitmv.git.repo import Repo

TARGET = "ab" + "c" * 38


def git(path, *args: str, input: bytes | None = None) -> str:
    return subprocess.run(["git", *args], cwd=path, input=input, capture_output=True, check=True).stdout.decode().strip()


def fanned_out_notes_commit(path, text: bytes) -> str:
    """A notes commit holding `text` on TARGET at ab/ccc…, as git writes notes past 256 of them."""
    blob = git(path, "hash-object", "-w", "--stdin", input=text)
    sub = git(path, "mktree", input=f"100644 blob {blob}\t{TARGET[2:]}\n".encode())
    root = git(path, "mktree", input=f"040000 tree {sub}\t{TARGET[:2]}\n".encode())
    return git(path, "commit-tree", root, "-m", "notes")


def test_each_notes_commit_reads_its_own_note_through_the_fan_out(tmp_path):
    git(tmp_path, "init", "-q")
    first, second = fanned_out_notes_commit(tmp_path, b"one\n"), fanned_out_notes_commit(tmp_path, b"two\n")
    repo = Repo.discover(tmp_path)
    assert [repo.read_note(TARGET, c) for c in (first, second, first)] == [b"one\n", b"two\n", b"one\n"]
    assert repo.read_note("ab" + "d" * 38, first) is None


def test_a_note_blob_id_is_the_object_id_of_the_note_bytes_git_stored(tmp_path):
    git(tmp_path, "init", "-q")
    commit = fanned_out_notes_commit(tmp_path, b"one\n")
    repo = Repo.discover(tmp_path)
    blob = repo.note_blob_id(TARGET, commit)
    assert blob == git(tmp_path, "hash-object", "--stdin", input=b"one\n") == Repo.blob_id(b"one\n")
    assert repo.note_blob_id("ab" + "d" * 38, commit) is None and repo.note_blob_id(TARGET, None) is None


def test_a_tree_where_a_note_would_be_is_not_a_note(tmp_path):
    git(tmp_path, "init", "-q")
    blob = git(tmp_path, "hash-object", "-w", "--stdin", input=b"x\n")
    inner = git(tmp_path, "mktree", input=f"100644 blob {blob}\tfile\n".encode())
    root = git(tmp_path, "mktree", input=f"040000 tree {inner}\t{TARGET}\n".encode())
    commit = git(tmp_path, "commit-tree", root, "-m", "notes")
    repo = Repo.discover(tmp_path)
    assert repo.note_blob_id(TARGET, commit) is None and repo.read_note(TARGET, commit) is None
