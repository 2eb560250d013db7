"""The client side: installing the pre-push shim (chaining an existing hook), the pre-push check
itself (early feedback, same rules as the server against what the clone knows of the remote), and
the hook entry point's fast path."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from conftest import ModelRepo, accepted, git
from gitmv.hooks import install as hooks_install

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def test_install_keeps_an_existing_hook_and_runs_it_first(model_repo):
    hook = model_repo.path / ".git" / "hooks" / "pre-push"
    hook.write_text("#!/bin/sh\necho previous-hook-ran >&2\nexit 0\n")
    hook.chmod(0o755)
    model_repo.mv("hooks", "install")
    assert (model_repo.path / ".git" / "hooks" / "pre-push.mv-promote-chained").read_text().startswith("#!/bin/sh\necho previous")
    assert hooks_install.MARKER in hook.read_text()
    proc = subprocess.run([str(hook), "origin", "url"], input="", capture_output=True, text=True, cwd=model_repo.path)
    assert proc.returncode == 0
    assert "previous-hook-ran" in proc.stderr


def test_a_failing_chained_hook_blocks_the_push(model_repo):
    hook = model_repo.path / ".git" / "hooks" / "pre-push"
    hook.write_text("#!/bin/sh\nexit 7\n")
    hook.chmod(0o755)
    model_repo.mv("hooks", "install")
    proc = subprocess.run([str(hook), "origin", "url"], input="", capture_output=True, text=True, cwd=model_repo.path)
    assert proc.returncode == 7


def test_uninstall_restores_the_previous_hook(model_repo):
    hook = model_repo.path / ".git" / "hooks" / "pre-push"
    original = "#!/bin/sh\nexit 0\n"
    hook.write_text(original)
    hook.chmod(0o755)
    model_repo.mv("hooks", "install")
    model_repo.mv("hooks", "uninstall")
    assert hook.read_text() == original
    assert not (model_repo.path / ".git" / "hooks" / "pre-push.mv-promote-chained").exists()


def test_install_is_idempotent(model_repo):
    model_repo.mv("hooks", "install")
    second = model_repo.mv("hooks", "install", "--json").json
    assert second["done"] == []
    assert not (model_repo.path / ".git" / "hooks" / "pre-push.mv-promote-chained").exists()


def test_server_install_refuses_a_repository_with_a_work_tree(model_repo):
    out = model_repo.mv("hooks", "install", "--server", str(model_repo.path), code=2)
    assert "not a bare repository" in out.err


def test_checked_in_shims_exec_the_hook_entry_point():
    for name in ("pre-push", "pre-receive"):
        text = open(os.path.join(ROOT, "hooks", name)).read()
        assert f"-m gitmv.hooks {name}" in text
        assert os.access(os.path.join(ROOT, "hooks", name), os.X_OK)


def _poisoned_hook(tmp_path, stdin: str, git_dir=None) -> subprocess.CompletedProcess:
    """Run the pre-receive entry point with a pygit2 that refuses to import."""
    poison = tmp_path / "poison"
    poison.mkdir(exist_ok=True)
    (poison / "pygit2.py").write_text("raise SystemExit('pygit2 was imported')\n")
    env = {**os.environ, "PYTHONPATH": f"{poison}{os.pathsep}{ROOT}"}
    if git_dir is not None:
        env["GIT_DIR"] = str(git_dir)
    return subprocess.run([sys.executable, "-m", "gitmv.hooks", "pre-receive"], input=stdin, capture_output=True,
                          text=True, env=env, cwd=tmp_path)


def test_hook_exits_before_importing_pygit2_when_neither_registry_nor_protected_branch_is_pushed(tmp_path):
    bare = tmp_path / "server.git"
    git("init", "-q", "--bare", "--initial-branch=main", str(bare), cwd=tmp_path)
    proc = _poisoned_hook(tmp_path, f"{'0' * 40} {'1' * 40} refs/heads/feature\n", bare)
    assert proc.returncode == 0, proc.stderr
    proc = _poisoned_hook(tmp_path, f"{'0' * 40} {'1' * 40} refs/tags/v1.0\n")
    assert proc.returncode == 0, proc.stderr


def test_a_registry_ref_reaches_the_checker(tmp_path):
    proc = _poisoned_hook(tmp_path, f"{'0' * 40} {'1' * 40} refs/tags/mv/churn/v1\n")
    assert proc.returncode == 1, "a registry ref must reach the (here broken) checker, and fail closed"
    assert "mv-promote: refused" in proc.stderr


def test_the_protected_branch_reaches_the_checker(tmp_path):
    bare = tmp_path / "server.git"
    git("init", "-q", "--bare", "--initial-branch=main", str(bare), cwd=tmp_path)
    proc = _poisoned_hook(tmp_path, f"{'0' * 40} {'1' * 40} refs/heads/main\n", bare)
    assert proc.returncode == 1, "the protected branch must reach the (here broken) checker, and fail closed"
    assert "mv-promote: refused" in proc.stderr


def test_a_branch_push_to_an_unreadable_repository_reaches_the_checker(tmp_path):
    """When the fast path cannot tell which branch is protected, it examines."""
    proc = _poisoned_hook(tmp_path, f"{'0' * 40} {'1' * 40} refs/heads/feature\n", tmp_path / "missing.git")
    assert proc.returncode == 1
    assert "mv-promote: refused" in proc.stderr


@pytest.fixture
def clone_with_hook(server, tmp_path, keys):
    repo = ModelRepo(tmp_path / "alice", keys)
    repo.git("remote", "add", "origin", server.url)
    repo.mv("hooks", "install")
    accepted(_push(repo, "main"))
    v1 = repo.version(0.85, 0.80)
    repo.mv("promote", "churn", v1, "--stage", "production")
    accepted(_push(repo, "refs/tags/mv/churn/v1", "refs/tags/mv/churn/production/1", "refs/notes/mv-promote"))
    return repo


def _push(repo, *refspecs):
    return subprocess.run(["git", "push", "--porcelain", "origin", *refspecs], cwd=repo.path, capture_output=True, text=True)


def test_pre_push_refuses_a_forged_promotion_before_it_reaches_the_server(clone_with_hook, server):
    from conftest import forge_stage_tag

    repo = clone_with_hook
    v2 = repo.version(0.70, 0.85)
    forge_stage_tag(repo, v2, "production", 2)
    before = server.refs()
    proc = _push(repo, f"refs/tags/mv/churn/{v2}", "refs/tags/mv/churn/production/2", "refs/notes/mv-promote")
    assert proc.returncode != 0
    assert "pre-push (client)" in proc.stderr
    assert "threshold auc" in proc.stderr
    assert "remote: mv-promote" not in proc.stderr, "refused locally, not by the server"
    assert server.refs() == before


def test_pre_push_lets_a_valid_promotion_through(clone_with_hook, server):
    repo = clone_with_hook
    v2 = repo.version(0.90, 0.85)
    repo.mv("promote", "churn", v2, "--stage", "production")
    accepted(_push(repo, f"refs/tags/mv/churn/{v2}", "refs/tags/mv/churn/production/2", "refs/notes/mv-promote"))
    assert "refs/tags/mv/churn/production/2" in server.refs()


def test_init_installs_the_pre_push_hook(tmp_path):
    git("init", "-q", str(tmp_path / "fresh"), cwd=tmp_path)
    from conftest import run_mv

    run_mv("init", "--model", "churn", cwd=tmp_path / "fresh")
    assert hooks_install.MARKER in (tmp_path / "fresh" / ".git" / "hooks" / "pre-push").read_text()


def test_pre_push_judges_a_version_against_the_remote_not_against_unpushed_local_versions(clone_with_hook, server):
    repo = clone_with_hook
    v2 = repo.version(0.90, 0.85)
    repo.version(0.91, 0.86)  # v3 stays local
    accepted(_push(repo, f"refs/tags/mv/churn/{v2}", "refs/notes/mv-promote"))
    assert f"refs/tags/mv/churn/{v2}" in server.refs() and "refs/tags/mv/churn/v3" not in server.refs()
