"""The server hook on gitolite: a real gitolite 3 behind its own sshd on 127.0.0.1, pushed to over ssh.

`hooks install --server` on a gitolite repository must keep gitolite's own hooks working (its
`update` hook with the access rules, and the repo-specific-hooks driver with the repository's own
pre-receive hooks) and add the registry check so that both run.

The bypass catalogue of tests/hooks/test_hooks_server.py runs here a third time: its tests are imported
below, and this module's `server` fixture makes them push to a gitolite repository whose
`pre-receive` is gitolite's driver running a repo-specific hook and ours.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

from conftest import ModelRepo, Server, accepted, push, refused, run_mv
from gitservers import gitolite
from gitmv.hooks import install as hooks_install

# The core of the bypass catalogue, against gitolite (the `server` fixture below); deleting a
# production tag and an unsigned production tag are pushed through gitolite further down.
from test_hooks_server import (  # noqa: F401  (collected here: pytest runs imported tests)
    test_failing_threshold_is_refused,
    test_force_moving_a_version_tag_is_refused,
    test_hook_fails_closed_when_the_server_has_no_policy,
    test_notes_push_that_drops_a_record_is_refused,
    test_policy_weakened_in_the_same_push_does_not_approve_itself,
    test_stage_tag_for_a_version_without_eval_on_the_server_is_refused,
    test_stage_tag_signed_by_a_key_not_in_allowed_signers_is_refused,
    test_tags_and_notes_pushed_together_are_accepted,
)

ROOT = Path(__file__).resolve().parents[2]
AUDIT_HOOK = "#!/bin/sh\n# a repository's own pre-receive hook that lets everything through and keeps a log\ncat >> audit.log\n"
DENY_WIP_HOOK = """#!/bin/sh
# a repository's own pre-receive hook: no wip branches here
while read old new ref; do
    case "$ref" in refs/heads/wip*) echo "deny-wip: $ref is refused by this repository's own hook" >&2; exit 1 ;; esac
done
exit 0
"""
# Wild repositories (created on first access by the admin), one pattern per kind of test.
CONF = """
repo catalogue/..*
    C   =   admin
    R   =   admin
    RW+ =   alice
    option hook.pre-receive = audit

repo rules/..*
    C   =   admin
    R   =   admin
    -   refs/heads/main     =   mallory
    RW+ =   alice
    RW  =   mallory
    R   =   bob
    option hook.pre-receive = audit deny-wip

repo plain/..*
    C   =   admin
    R   =   admin
    RW+ =   alice
    R   =   bob
"""



def documented_conf() -> str:
    """The gitolite block of docs/hooks.md, as wild repositories guarded/*, groups as our users."""
    text = (ROOT / "docs" / "hooks.md").read_text()
    block = re.search(r"<!-- tested: gitolite-conf -->\n```gitolite\n(.*?)```", text, re.S).group(1)
    assert block.startswith("repo models\n")
    groups = "@ml = alice mallory\n@release = alice\n@policy = alice\n@admins = admin\n"
    return groups + block.replace("repo models\n", "repo guarded/..*\n    C = admin\n    R = admin\n", 1)


@pytest.fixture(scope="session")
def gl(tmp_path_factory, keys):
    users = {name: keys.public(name) for name in ("alice", "bob", "mallory")}
    with gitolite(tmp_path_factory.mktemp("gitolite"), users=users, conf=CONF + documented_conf()) as host:
        host.hook_code("audit", AUDIT_HOOK)
        host.hook_code("deny-wip", DENY_WIP_HOOK)
        host.hook_code("mv-promote", hooks_install.shim("pre-receive"))  # docs/hooks.md, gitolite step 3
        yield host


def _served(gl, kind: str, tmp_path, monkeypatch, keys, *, user: str = "alice", install: bool = True) -> Server:
    name = f"{kind}/{tmp_path.name}"
    bare = gl.create(name)
    if install:
        run_mv("hooks", "install", "--server", str(bare), cwd=tmp_path)
    monkeypatch.setenv("GIT_SSH_COMMAND", gl.ssh_command(keys.private(user)))
    return Server(bare, gl.url(name))


@pytest.fixture
def server(gl, tmp_path, monkeypatch, keys):
    """A gitolite repository whose pre-receive is gitolite's driver (a repo-specific hook + ours)."""
    return _served(gl, "catalogue", tmp_path, monkeypatch, keys)


def as_user(gl, keys, monkeypatch, user: str) -> None:
    monkeypatch.setenv("GIT_SSH_COMMAND", gl.ssh_command(keys.private(user)))


def publish(repo: ModelRepo, url: str) -> None:
    """Policy on main, v1 evaluated and promoted to staging and production, all pushed."""
    repo.git("remote", "add", "origin", url)
    accepted(push(repo, "main"))
    v1 = repo.version(0.85, 0.80)
    repo.mv("promote", "churn", v1, "--stage", "staging")
    repo.mv("promote", "churn", v1, "--stage", "production")
    accepted(push(repo, "refs/tags/mv/*:refs/tags/mv/*", "refs/notes/mv-promote"))


@pytest.fixture
def rules(gl, tmp_path, monkeypatch, keys):
    """alice's published registry on a repo with gitolite access rules and two repo-specific hooks."""
    server = _served(gl, "rules", tmp_path, monkeypatch, keys)
    repo = ModelRepo(tmp_path / "alice", keys)
    publish(repo, server.url)
    return server, repo


def hook_listing(hooks) -> dict[str, str]:
    """Every hook file and where it points (symlinks) or a digest of its text."""
    out = {}
    for p in sorted(hooks.iterdir()):
        out[p.name] = os.readlink(p) if p.is_symlink() else p.read_text()
    return out


# ---------------------------------------------------------------- gitolite's own rules still hold

def test_a_reader_without_write_access_is_still_refused_by_gitolite(rules, monkeypatch, keys, gl):
    server, repo = rules
    (repo.path / "README").write_text("bob was here\n")
    repo.commit("bob's change")
    as_user(gl, keys, monkeypatch, "bob")
    before = server.refs()
    proc = push(repo, "main")
    assert proc.returncode != 0
    assert "DENIED" in proc.stderr, proc.stderr
    assert server.refs() == before


def test_a_gitolite_ref_rule_still_refuses_through_the_update_hook(rules, monkeypatch, keys, gl):
    server, repo = rules
    (repo.path / "README").write_text("mallory was here\n")
    repo.commit("mallory's change")
    as_user(gl, keys, monkeypatch, "mallory")
    before = server.refs()
    proc = push(repo, "main")
    assert proc.returncode != 0
    assert "W refs/heads/main" in proc.stderr and "DENIED by refs/heads/main" in proc.stderr, proc.stderr
    assert server.refs() == before


def test_the_repository_s_own_repo_specific_hook_still_refuses(rules):
    server, repo = rules
    repo.git("branch", "wip-experiment")
    before = server.refs()
    proc = push(repo, "wip-experiment")
    assert proc.returncode != 0
    assert "deny-wip: refs/heads/wip-experiment is refused by this repository's own hook" in proc.stderr
    assert server.refs() == before


# ---------------------------------------------------------------- and the registry check runs too

def test_deleting_a_production_tag_is_refused_through_gitolite(rules):
    server, repo = rules
    before = server.refs()
    refused(push(repo, ":refs/tags/mv/churn/production/1"), "R3 immutable")
    assert server.refs() == before


def test_an_unsigned_production_tag_is_refused_through_gitolite(rules):
    server, repo = rules
    v2 = repo.version(0.90, 0.85)
    accepted(push(repo, f"refs/tags/mv/churn/{v2}", "refs/notes/mv-promote"))
    repo.mv("promote", "churn", v2, "--stage", "production")
    from conftest import recreate

    recreate(repo, "refs/tags/mv/churn/production/2", key=None)
    before = server.refs()
    refused(push(repo, "refs/tags/mv/churn/production/2"), "R1 signed-stage-tag")
    assert server.refs() == before


def test_an_allowed_promotion_passes_and_the_repository_s_own_hooks_see_it(rules):
    server, repo = rules
    v2 = repo.version(0.90, 0.85)
    repo.mv("promote", "churn", v2, "--stage", "production")
    accepted(push(repo, f"refs/tags/mv/churn/{v2}", "refs/tags/mv/churn/production/2", "refs/notes/mv-promote"))
    assert "refs/tags/mv/churn/production/2" in server.refs()
    assert "refs/tags/mv/churn/production/2" in (server.path / "audit.log").read_text()


# ---------------------------------------------------------------- how install treats gitolite's hooks

def test_install_leaves_gitolite_s_driver_and_update_hook_in_place(gl, tmp_path, monkeypatch, keys):
    server = _served(gl, "rules", tmp_path, monkeypatch, keys, install=False)
    hooks = server.path / "hooks"
    before = hook_listing(hooks)
    run_mv("hooks", "install", "--server", str(server.path), cwd=tmp_path)
    after = hook_listing(hooks)
    assert {k: v for k, v in after.items() if k != hooks_install.GITOLITE_HOOK} == before
    assert hooks_install.MARKER in after[hooks_install.GITOLITE_HOOK]


def test_install_says_how_to_keep_the_check_across_gitolite_compiles(gl, tmp_path, monkeypatch, keys):
    server = _served(gl, "rules", tmp_path, monkeypatch, keys, install=False)
    out = run_mv("hooks", "install", "--server", str(server.path), cwd=tmp_path).out
    assert "add 'mv-promote' to this repository's 'option hook.pre-receive'" in out
    assert hooks_install.MARKER in (gl.local_code / "hooks" / "repo-specific" / "mv-promote").read_text()


def test_uninstall_restores_gitolite_s_hooks_exactly(gl, tmp_path, monkeypatch, keys):
    server = _served(gl, "rules", tmp_path, monkeypatch, keys, install=False)
    hooks = server.path / "hooks"
    before = hook_listing(hooks)
    run_mv("hooks", "install", "--server", str(server.path), cwd=tmp_path)
    run_mv("hooks", "uninstall", "--server", str(server.path), cwd=tmp_path)
    assert hook_listing(hooks) == before


def test_install_repairs_a_driver_moved_aside_by_an_earlier_install(gl, tmp_path, monkeypatch, keys):
    """The old installer renamed gitolite's driver to pre-receive.mv-promote-chained: under that
    name it ran none of the repository's hooks. Installing again puts it back."""
    server = _served(gl, "rules", tmp_path, monkeypatch, keys, install=False)
    hooks = server.path / "hooks"
    (hooks / "pre-receive").rename(hooks / f"pre-receive{hooks_install.CHAINED_SUFFIX}")
    (hooks / "pre-receive").write_text(hooks_install.shim("pre-receive"))
    (hooks / "pre-receive").chmod(0o755)
    run_mv("hooks", "install", "--server", str(server.path), cwd=tmp_path)
    repo = ModelRepo(tmp_path / "alice", keys)
    publish(repo, server.url)
    repo.git("branch", "wip-x")
    before = server.refs()
    assert "deny-wip" in push(repo, "wip-x").stderr
    refused(push(repo, ":refs/tags/mv/churn/production/1"), "R3 immutable")
    assert server.refs() == before


def test_a_plain_gitolite_repository_gets_the_shim_beside_gitolite_s_update_hook(gl, tmp_path, monkeypatch, keys):
    server = _served(gl, "plain", tmp_path, monkeypatch, keys)
    hooks = server.path / "hooks"
    assert hooks_install.MARKER in (hooks / "pre-receive").read_text()
    assert hooks_install.GITOLITE_UPDATE_MARK in (hooks / "update").read_text()
    repo = ModelRepo(tmp_path / "alice", keys)
    publish(repo, server.url)
    before = server.refs()
    refused(push(repo, ":refs/tags/mv/churn/production/1"), "R3 immutable")
    as_user(gl, keys, monkeypatch, "bob")
    proc = push(repo, ":refs/tags/mv/churn/staging/1")
    assert proc.returncode != 0 and "DENIED" in proc.stderr, proc.stderr
    assert server.refs() == before


def test_naming_mv_promote_in_gitolite_conf_keeps_the_check_across_compiles(gl, tmp_path, monkeypatch, keys):
    server = _served(gl, "catalogue", tmp_path, monkeypatch, keys)
    gl.add_repo(f"catalogue/{tmp_path.name}", "    option hook.pre-receive = audit mv-promote\n")  # the line install asks for
    hooks = server.path / "hooks"
    assert not (hooks / hooks_install.GITOLITE_HOOK).exists()  # gitolite's compile removed the copy
    assert os.readlink(hooks / "pre-receive.h01-mv-promote").endswith("repo-specific/mv-promote")
    repo = ModelRepo(tmp_path / "alice", keys)
    publish(repo, server.url)
    before = server.refs()
    refused(push(repo, ":refs/tags/mv/churn/production/1"), "R3 immutable")
    assert server.refs() == before
    out = run_mv("hooks", "install", "--server", str(server.path), cwd=tmp_path).out
    assert "already installed through gitolite.conf" in out
    assert not (hooks / hooks_install.GITOLITE_HOOK).exists()  # not a second copy of the check



# ---------------------------------------------------------------- the configuration docs/hooks.md gives

@pytest.fixture
def guarded(gl, tmp_path, monkeypatch, keys):
    """alice (release, policy) published a registry on a repository configured as the docs say."""
    server = _served(gl, "guarded", tmp_path, monkeypatch, keys, install=False)
    repo = ModelRepo(tmp_path / "alice", keys)
    publish(repo, server.url)
    as_user(gl, keys, monkeypatch, "mallory")
    return server, repo


def test_documented_conf_refuses_a_push_to_main_from_outside_release(guarded):
    server, repo = guarded
    (repo.path / "README").write_text("straight to main\n")
    repo.commit("skip review")
    before = server.refs()
    proc = push(repo, "main")
    assert proc.returncode != 0 and "DENIED by refs/heads/main$" in proc.stderr, proc.stderr
    assert server.refs() == before


def test_documented_conf_refuses_a_policy_change_from_outside_policy(guarded):
    server, repo = guarded
    repo.git("checkout", "-q", "-b", "lower-the-bar")
    (repo.path / ".mv-promote.toml").write_text((repo.path / ".mv-promote.toml").read_text().replace("0.80", "0.10"))
    repo.commit("lower the bar")
    before = server.refs()
    proc = push(repo, "lower-the-bar")
    assert proc.returncode != 0 and "DENIED by VREF/NAME_NC/.mv-promote" in proc.stderr, proc.stderr
    assert server.refs() == before


def test_documented_conf_lets_a_promotion_request_branch_through(guarded):
    server, repo = guarded
    repo.git("checkout", "-q", "-b", "request")
    (repo.path / "promotions" / "churn").mkdir(parents=True)
    (repo.path / "promotions" / "churn" / "production.toml").write_text("version = \"v1\"\n")
    repo.commit("request churn v1 for production")
    accepted(push(repo, "request"))
    assert "refs/heads/request" in server.refs()


def test_documented_conf_runs_the_registry_hook_named_in_gitolite_conf(guarded):
    server, repo = guarded
    before = server.refs()
    refused(push(repo, ":refs/tags/mv/churn/production/1"), "R3 immutable")
    assert server.refs() == before
