"""The protected branch is guarded (R7), through real pushes to real hosts (git daemon and http).

A pusher with write access must not be able to weaken `.mv-promote.toml`, add a key to the
allowed signers or write `promotions/**` on `main` in one push and use it in the next: such changes
arrive only as merges carrying `policy_approvals` approvers (signed, never the change's author).
Every refused push leaves the server's refs exactly as they were.
"""

from __future__ import annotations

import pytest

from conftest import POLICY, ModelRepo, accepted, approve, push, refused, weaken

SIGNERS = ".mv-promote/allowed_signers"


@pytest.fixture
def alice(server, tmp_path, keys):
    """alice's clone; the policy (alice and bob allowed to sign) bootstrapped onto the empty server."""
    repo = ModelRepo(tmp_path / "alice", keys, signers=("alice", "bob"))
    repo.git("remote", "add", "origin", server.url)
    accepted(push(repo, "main"))
    return repo




def policy_branch(repo: ModelRepo, name: str = "lower-bar") -> str:
    """alice's policy change on a side branch; back on main afterwards."""
    repo.git("checkout", "-q", "-b", name)
    weaken(repo)
    repo.commit("lower the AUC bar")
    repo.git("checkout", "-q", "main")
    return name




# ---------------------------------------------------------------- direct changes are refused

def test_a_direct_commit_weakening_the_thresholds_is_refused(alice, server):
    weaken(alice)
    alice.commit("lower the AUC bar")
    before = server.refs()
    refused(push(alice, "main"), "R7 protected-branch")
    assert server.refs() == before


def test_a_direct_commit_adding_mallorys_key_to_the_allowed_signers_is_refused(alice, server, keys):
    with open(alice.path / SIGNERS, "a") as fh:
        fh.write(keys.allowed_line("mallory"))
    alice.commit("trust mallory")
    before = server.refs()
    refused(push(alice, "main"), "R7 protected-branch")
    assert server.refs() == before


def test_a_direct_commit_writing_a_promotion_file_is_refused(alice, server):
    (alice.path / "promotions" / "churn").mkdir(parents=True)
    (alice.path / "promotions" / "churn" / "production.toml").write_text('version = "v1"\n')
    alice.commit("approve myself")
    before = server.refs()
    refused(push(alice, "main"), "R7 protected-branch")
    assert server.refs() == before


def test_a_direct_change_hidden_under_later_commits_is_refused(alice, server):
    weaken(alice)
    alice.commit("lower the AUC bar")
    (alice.path / "README").write_text("nothing to see\n")
    alice.commit("docs")
    before = server.refs()
    refused(push(alice, "main"), "R7 protected-branch")
    assert server.refs() == before


# ---------------------------------------------------------------- merges need approvers

def test_a_policy_change_merged_unsigned_by_its_author_is_refused(alice, server):
    alice.merge(policy_branch(alice), by="alice", signed=False)
    before = server.refs()
    refused(push(alice, "main"), "R7 protected-branch-approvals")
    assert server.refs() == before


def test_a_policy_change_merged_and_signed_by_its_own_author_is_refused(alice, server):
    alice.merge(policy_branch(alice), by="alice")
    before = server.refs()
    refused(push(alice, "main"), "R7 protected-branch-approvals")
    assert server.refs() == before


def test_a_merge_signed_by_a_key_not_in_allowed_signers_is_refused(alice, server):
    alice.merge(policy_branch(alice), by="mallory")
    before = server.refs()
    refused(push(alice, "main"), "R7 protected-branch-approvals")
    assert server.refs() == before


def test_alices_policy_change_merged_with_bobs_signature_is_accepted(alice, server):
    merge = alice.merge(policy_branch(alice), by="bob")
    accepted(push(alice, "main"))
    assert server.refs()["refs/heads/main"] == merge


def test_bobs_approve_commit_naming_the_branch_tip_approves_the_change(alice, server):
    branch = policy_branch(alice)
    approve(alice, branch, by="bob")
    merge = alice.merge(branch, by="alice", signed=False)
    accepted(push(alice, "main"))
    assert server.refs()["refs/heads/main"] == merge


def test_an_edit_after_bobs_approve_commit_voids_the_approval(alice, server):
    branch = policy_branch(alice)
    approve(alice, branch, by="bob")
    alice.git("checkout", "-q", branch)
    weaken(alice, "0.01")
    alice.commit("lower it a bit more")
    alice.git("checkout", "-q", "main")
    alice.merge(branch, by="alice", signed=False)
    before = server.refs()
    refused(push(alice, "main"), "R7 protected-branch-approvals")
    assert server.refs() == before


def test_a_reviewed_merge_with_an_extra_edit_of_its_own_is_refused(alice, server):
    """An 'evil merge': bob signs a merge whose policy is not the reviewed branch's."""
    branch = policy_branch(alice)
    alice.git(*alice.as_("bob"), "merge", "--no-ff", "--no-commit", "-q", branch)
    weaken(alice, "0.01")
    alice.git("add", "-A")
    alice.git(*alice.as_("bob"), "commit", "-q", "-S", "-m", f"Merge {branch}")
    before = server.refs()
    refused(push(alice, "main"), "R7 protected-branch-approvals")
    assert server.refs() == before


def request_branch(repo: ModelRepo, *, also_policy: bool = False) -> str:
    """alice's promotion request (request file and reviewer page) on a side branch."""
    repo.git("checkout", "-q", "-b", "mv-promote/churn/v1-production")
    (repo.path / "promotions" / "churn").mkdir(parents=True)
    (repo.path / "promotions" / "churn" / "production.toml").write_text('version = "v1"\n')
    (repo.path / "promotions" / "churn" / "production.md").write_text("# churn v1 to production\n")
    if also_policy:
        weaken(repo)
    repo.commit("Request churn v1 in production")
    repo.git("checkout", "-q", "main")
    return "mv-promote/churn/v1-production"


def approve_request(repo: ModelRepo, branch: str, by: str = "bob") -> None:
    """`by` signs an approve commit naming the request file's sha256 (the approvals module's form)."""
    import hashlib

    raw = repo.git("show", f"{branch}:promotions/churn/production.toml").encode() + b"\n"
    repo.git("checkout", "-q", branch)
    repo.git(*repo.as_(by), "commit", "-q", "--allow-empty", "-S", "-m", "Approve promotion of churn v1",
             "-m", f"Mv-Promote-Approve: churn/v1-production sha256:{hashlib.sha256(raw).hexdigest()}")
    repo.git("checkout", "-q", "main")


def test_bobs_approve_commit_naming_the_request_files_digest_approves_the_request(alice, server):
    branch = request_branch(alice)
    approve_request(alice, branch)
    merge = alice.merge(branch, by="alice", signed=False)
    accepted(push(alice, "main"))
    assert server.refs()["refs/heads/main"] == merge


def test_a_request_files_digest_does_not_approve_a_policy_change_riding_along(alice, server):
    branch = request_branch(alice, also_policy=True)
    approve_request(alice, branch)
    alice.merge(branch, by="alice", signed=False)
    before = server.refs()
    refused(push(alice, "main"), "R7 protected-branch-approvals")
    assert server.refs() == before


# ---------------------------------------------------------------- history is never rewritten

def test_a_force_push_of_main_is_refused(alice, server):
    (alice.path / "README").write_text("one\n")
    alice.commit("docs")
    accepted(push(alice, "main"))
    alice.git("reset", "-q", "--hard", "HEAD~1")
    (alice.path / "README").write_text("two\n")
    alice.commit("other docs")
    before = server.refs()
    refused(push(alice, "main", force=True), "R7 protected-branch")
    assert server.refs() == before


def test_deleting_main_is_refused(alice, server):
    before = server.refs()
    refused(push(alice, ":main"), "R7 protected-branch")
    assert server.refs() == before


# ---------------------------------------------------------------- what stays open

def test_the_first_policy_on_an_empty_server_is_accepted(server, tmp_path, keys):
    repo = ModelRepo(tmp_path / "first", keys)
    repo.git("remote", "add", "origin", server.url)
    accepted(push(repo, "main"))
    assert server.refs()["refs/heads/main"] == repo.ref("main")


def test_a_policy_that_does_not_parse_is_refused_even_as_the_first_one(server, tmp_path, keys):
    repo = ModelRepo(tmp_path / "broken", keys, policy=POLICY + "\nunknown_key = 1\n")
    repo.git("remote", "add", "origin", server.url)
    refused(push(repo, "main"), "R7 protected-branch-policy")
    assert server.refs() == {}


def test_ordinary_code_pushes_to_main_are_accepted(alice, server):
    (alice.path / "train.py").write_text("print('training')\n")
    alice.commit("add training code")
    accepted(push(alice, "main"))
    assert server.refs()["refs/heads/main"] == alice.ref("main")


def test_pushes_to_other_branches_are_not_guarded(alice, server):
    weaken(alice)
    alice.commit("lower the AUC bar (a proposal)")
    accepted(push(alice, "HEAD:refs/heads/proposal"))
    assert server.refs()["refs/heads/proposal"] == alice.ref("HEAD")


def test_the_branch_named_by_mvpromote_protected_branch_is_the_guarded_one(server, tmp_path, keys):
    repo = ModelRepo(tmp_path / "rel", keys, policy=POLICY.replace('protected_branch = "main"',
                                                                   'protected_branch = "release"'))
    repo.git("remote", "add", "origin", server.url)
    repo.git("config", "--file", str(server.path / "config"), "mvpromote.protectedBranch", "release")
    accepted(push(repo, "main:release"))
    weaken(repo)
    repo.commit("lower the AUC bar")
    accepted(push(repo, "main"))  # not the protected branch on this server
    before = server.refs()
    refused(push(repo, "main:release"), "R7 protected-branch")
    assert server.refs() == before


# ---------------------------------------------------------------- the two-step attack of the issue

def test_weakening_the_policy_first_does_not_let_a_bad_model_in_next(alice, server):
    # step 1: lower the bar on main in its own push — refused
    weaken(alice)
    alice.commit("lower the AUC bar")
    refused(push(alice, "main"), "R7 protected-branch")
    # step 2: a model below the real bar, promoted under the lowered (local) policy — refused,
    # because the server still judges by the policy on its main
    bad = alice.version(0.70, 0.85)
    alice.mv("promote", "churn", bad, "--stage", "production")
    before = server.refs()
    refused(push(alice, f"refs/tags/mv/churn/{bad}", "refs/tags/mv/churn/production/1", "refs/notes/mv-promote"),
            "threshold auc")
    assert server.refs() == before


# ---------------------------------------------------------------- a host's web merge

@pytest.fixture
def hosted(server, tmp_path, keys):
    """A policy with host_signers: carol's key stands in for a forge's web-merge signing key."""
    policy = POLICY.replace('allowed_signers = ".mv-promote/allowed_signers"',
                            'allowed_signers = ".mv-promote/allowed_signers"\nhost_signers = ".mv-promote/host_signers"')
    repo = ModelRepo(tmp_path / "hosted", keys, policy=policy, signers=("alice", "bob"))
    (repo.path / ".mv-promote" / "host_signers").write_text(f'forge namespaces="git" {keys.public("carol")}\n')
    repo.commit("trust the forge's merge key")
    repo.git("remote", "add", "origin", server.url)
    accepted(push(repo, "main"))
    return repo


def web_merge(repo: ModelRepo, branch: str, author: str) -> None:
    """What a forge's merge button makes: signed by the forge's key, authored by who clicked."""
    repo.git("-c", "user.name=Forge", "-c", "user.email=noreply@forge.example",
             "-c", f"user.signingkey={repo.keys.private('carol')}", "merge", "--no-ff", "--no-commit", "-q", branch)
    repo.git("-c", "user.name=Forge", "-c", "user.email=noreply@forge.example",
             "-c", f"user.signingkey={repo.keys.private('carol')}", "commit", "-q", "-S",
             f"--author={author.title()} <{author}@example.com>", "-m", f"Merge {branch}")


def test_a_web_merge_signed_by_the_host_counts_its_author_bob(hosted, server):
    web_merge(hosted, policy_branch(hosted), author="bob")
    accepted(push(hosted, "main"))
    assert server.refs()["refs/heads/main"] == hosted.ref("main")


def test_a_web_merge_clicked_by_the_changes_author_is_refused(hosted, server):
    web_merge(hosted, policy_branch(hosted), author="alice")
    before = server.refs()
    refused(push(hosted, "main"), "R7 protected-branch-approvals")
    assert server.refs() == before


# ---------------------------------------------------------------- the fast path agrees with the check

@pytest.mark.parametrize("setup", ["empty", "policy on main", "config names release", "policy names release",
                                   "broken policy"])
def test_the_hooks_fast_path_finds_the_same_protected_branches_as_the_check(tmp_path, keys, setup):
    from gitmv.hooks import enforce
    from gitmv.hooks import entry as hooks
    from gitmv.git.repo import Repo
    from conftest import git

    bare = tmp_path / "server.git"
    git("init", "-q", "--bare", "--initial-branch=main", str(bare), cwd=tmp_path)  # no hook: set up freely
    policy = POLICY.replace('protected_branch = "main"', 'protected_branch = "release"') \
        if setup == "policy names release" else POLICY + ("\nnot_a_key = 1\n" if setup == "broken policy" else "")
    repo = ModelRepo(tmp_path / "clone", keys, policy=policy)
    if setup != "empty":
        repo.git("push", "-q", str(bare), "main", "main:release")
    if setup == "config names release":
        git("--git-dir", str(bare), "config", "mvpromote.protectedBranch", "release", cwd=tmp_path)
    fast = hooks.protected_refs_fast(str(bare))
    refs = enforce.protected_branch_state(Repo.open_for_hook(str(bare)))[0]
    assert fast == refs
    if setup == "broken policy":
        assert fast is None  # neither can tell: every branch update is examined
