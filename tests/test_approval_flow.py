"""Approval by pull-request review, end to end: a bare server with the hook installed, a
requester clone (alice) and a reviewer clone (bob). The reviewed merge into main is the approval;
the server accepts the production tag only with that evidence."""

from __future__ import annotations

import subprocess

import pytest

from conftest import POLICY, ModelRepo, accepted, git, push, refused

APPROVAL_POLICY = POLICY.replace("approvals = 0", "approvals = 1")


@pytest.fixture
def team(server, tmp_path, keys):
    """alice publishes v1 in production (approved by bob's merge) and registers a better v2."""
    alice = ModelRepo(tmp_path / "alice", keys, policy=APPROVAL_POLICY, signers=("alice", "bob", "carol"))
    alice.git("remote", "add", "origin", server.url)
    accepted(push(alice, "main"))
    bob = Reviewer(tmp_path / "bob", server.url, keys)
    v1 = alice.version(0.85, 0.80)
    alice.mv("promote", "churn", v1, "--stage", "staging")
    _request_merge_promote(alice, bob, v1)
    v2 = alice.version(0.90, 0.85)
    alice.mv("sync")
    return alice, bob, v2


class Reviewer:
    def __init__(self, path, url, keys):
        self.path = path
        self.keys = keys
        subprocess.run(["git", "clone", "-q", url, str(path)], check=True, capture_output=True)
        self.git("config", "user.name", "Bob")
        self.git("config", "user.email", "bob@example.com")
        # bob is an allowed signer and signs his merges: the server's protected-branch guard (R7)
        # accepts a change to promotions/** only as a merge signed by a reviewer
        self.git("config", "user.signingkey", str(keys.private("bob")))
        self.git("config", "commit.gpgSign", "true")

    def git(self, *args, check=True):
        return git(*args, cwd=self.path, check=check)

    def merge(self, branch: str, trailers: str = "Approved-by: Bob <bob@example.com>", edit=None) -> None:
        self.git("fetch", "-q", "origin")
        self.git("checkout", "-q", "main")
        self.git("reset", "-q", "--hard", "origin/main")
        self.git("merge", "--no-ff", "-q", "-m", f"Merge pull request #7 from {branch}\n\n{trailers}", f"origin/{branch}")
        if edit:
            edit(self)
        self.git("push", "-q", "origin", "main")


def _request_merge_promote(alice: ModelRepo, bob: Reviewer, version: str) -> None:
    alice.mv("request", "churn", version, "--stage", "production", "--push")
    bob.merge(f"mv-promote/churn/{version}-production")
    alice.git("pull", "-q", "--no-rebase", "origin", "main")
    alice.mv("promote", "churn", version, "--stage", "production")
    accepted(push(alice, "refs/tags/mv/churn/production/1", "refs/notes/mv-promote"))


def _forge_production(alice: ModelRepo, version: str, seq: int = 2) -> str:
    from test_hooks_server import forge_stage_tag

    return forge_stage_tag(alice, version, "production", seq)


def test_reviewed_merge_approves_and_the_server_accepts(team, server):
    alice, bob, v2 = team
    alice.mv("request", "churn", v2, "--stage", "production", "--push")
    bob.merge(f"mv-promote/churn/{v2}-production")
    alice.git("pull", "-q", "--no-rebase", "origin", "main")
    alice.mv("sync")
    result = alice.mv("promote", "churn", v2, "--stage", "production", "--json").json
    approval = result["record"]["approval"]
    assert approval["approvers"] == ["Bob <bob@example.com>"]
    assert approval["pr"] == 7
    accepted(push(alice, "refs/tags/mv/churn/production/2", "refs/notes/mv-promote"))
    status = alice.mv("approvals", "churn", v2, "--json").json
    assert [r["kind"] for r in status["recorded"]] == ["approval"]


def test_without_the_merge_promote_and_server_refuse(team, server):
    alice, bob, v2 = team
    alice.mv("request", "churn", v2, "--stage", "production", "--push")
    out = alice.mv("promote", "churn", v2, "--stage", "production", code=1)
    assert "approvals" in out.err
    _forge_production(alice, v2)
    before = server.refs()
    refused(push(alice, "refs/tags/mv/churn/production/2", "refs/notes/mv-promote"), "R1 approvals")
    assert server.refs() == before


def test_a_merged_request_for_another_version_does_not_approve(team, server):
    alice, bob, v2 = team
    v3 = alice.version(0.91, 0.86)
    alice.mv("sync")
    alice.mv("request", "churn", v3, "--stage", "production", "--push")
    bob.merge(f"mv-promote/churn/{v3}-production")
    alice.git("pull", "-q", "--no-rebase", "origin", "main")
    out = alice.mv("promote", "churn", v2, "--stage", "production", code=1)
    assert f"names {v3}" in out.err
    _forge_production(alice, v2)
    refused(push(alice, "refs/tags/mv/churn/production/2", "refs/notes/mv-promote"), "R1 approvals")


def test_the_requester_alone_is_not_an_approver(team, server):
    alice, bob, v2 = team
    alice.mv("request", "churn", v2, "--stage", "production", "--push")
    branch = f"mv-promote/churn/{v2}-production"
    alice.git("checkout", "-q", "main")
    alice.git("merge", "--no-ff", "-q", "-m", f"Merge {branch}\n\nApproved-by: Alice <alice@example.com>", branch)
    refused(push(alice, "main"), "R7 protected-branch-approvals")  # the server's main never gets it
    out = alice.mv("promote", "churn", v2, "--stage", "production", code=1)
    assert "has 0" in out.err
    _forge_production(alice, v2)
    refused(push(alice, "refs/tags/mv/churn/production/2", "refs/notes/mv-promote"), "R1 approvals")


def test_a_request_file_edited_after_the_merge_does_not_approve(team, server):
    alice, bob, v2 = team
    alice.mv("request", "churn", v2, "--stage", "production", "--push")

    def edit(reviewer):
        # the edit reaches main as a reviewed change too (bob writes it, carol signs the merge)
        reviewer.git("checkout", "-q", "-b", "tweak")
        path = reviewer.path / "promotions" / "churn" / "production.toml"
        path.write_text(path.read_text().replace('reason = ""', 'reason = "edited"') + "# edited\n")
        reviewer.git("commit", "-q", "-am", "tweak the request")
        reviewer.git("checkout", "-q", "main")
        reviewer.git("-c", "user.name=Carol", "-c", "user.email=carol@example.com",
                     "-c", f"user.signingkey={reviewer.keys.private('carol')}",
                     "merge", "--no-ff", "-q", "-m", "Merge tweak", "tweak")

    bob.merge(f"mv-promote/churn/{v2}-production", edit=edit)
    alice.git("pull", "-q", "--no-rebase", "origin", "main")
    out = alice.mv("promote", "churn", v2, "--stage", "production", code=1)
    assert "changed on the protected branch after the merge" in out.err
    _forge_production(alice, v2)
    refused(push(alice, "refs/tags/mv/churn/production/2", "refs/notes/mv-promote"), "R1 approvals")


def test_request_refuses_a_version_that_fails_the_gate(team):
    alice, bob, v2 = team
    bad = alice.version(0.90, 0.70)
    out = alice.mv("request", "churn", bad, "--stage", "production", code=1)
    assert "slice region=eu" in out.err
    assert alice.ref(f"refs/heads/mv-promote/churn/{bad}-production") is None


def test_a_web_merge_on_github_counts_the_person_who_merged_not_github():
    from gitmv.approvals import merger

    web = {"committer": "GitHub <noreply@github.com>", "author": "Bob <bob@example.com>"}
    cli = {"committer": "Bob <bob@example.com>", "author": "Alice <alice@example.com>"}
    assert merger(web) == "Bob <bob@example.com>"
    assert merger(cli) == "Bob <bob@example.com>"
