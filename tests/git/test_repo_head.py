"""Repo.head_ref: the ref HEAD names, read in process, as `git symbolic-ref -q HEAD` prints it
(the server hook asks it on every registry push to find the branch holding the policy)."""

from __future__ import annotations

import subprocess

from conftest import ModelRepo, git, refused
from gitmv.git.repo import Repo


def test_head_ref_names_the_branch_of_an_unborn_head_as_git_does(tmp_path):
    bare = tmp_path / "server.git"
    git("init", "-q", "--bare", "--initial-branch=trunk", str(bare), cwd=tmp_path)
    assert Repo.open_for_hook(str(bare)).head_ref() == git("symbolic-ref", "-q", "HEAD", cwd=bare) == "refs/heads/trunk"


def test_head_ref_is_none_for_a_detached_head(model_repo):
    model_repo.git("checkout", "-q", "--detach")
    assert Repo.discover(model_repo.path).head_ref() is None


def test_a_server_whose_head_names_a_missing_branch_refuses_registry_pushes(tmp_path, keys):
    """The hook starts from the branch HEAD names; with no policy there it cannot judge (R5)."""
    bare = tmp_path / "server.git"
    git("init", "-q", "--bare", "--initial-branch=main", str(bare), cwd=tmp_path)
    alice = ModelRepo(tmp_path / "alice", keys)
    alice.mv("hooks", "install", "--server", str(bare))
    alice.git("remote", "add", "origin", str(bare))
    alice.git("push", "-q", "origin", "main")
    git("symbolic-ref", "HEAD", "refs/heads/master", cwd=bare)
    v1 = alice.version(0.85, 0.80)
    proc = subprocess.run(["git", "push", "--porcelain", "origin", f"refs/tags/mv/churn/{v1}"], cwd=alice.path,
                          capture_output=True, text=True)
    refused(proc, "the protected branch refs/heads/master does not exist here")
    assert git("for-each-ref", "refs/tags", cwd=bare) == ""
