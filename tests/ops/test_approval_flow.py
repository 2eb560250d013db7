"""Approval by pull-request review, end to end: a bare server with the hook installed, a
requester clone (alice) and a reviewer clone (bob), each signing with their own real ssh key.

Identity is a signature: the requester is whoever signed the request commit; approvers are the
signers of approve commits naming the merged request's sha256, the signer of the merge, and the
author of a host's web merge signed by a key in host_signers. Trailers and names never count.
"""

from __future__ import annotations

import os
import subprocess

import pytest

from conftest import ModelRepo, accepted, approval_team, push, promote_and_push, refused

@pytest.fixture
def team(server, tmp_path, keys):
    """alice publishes v1 in production (approved by bob's signed merge) and registers a better v2.
    bob and carol may sign; mallory's key is the host "github"'s web-merge key."""
    alice, bob, v2 = approval_team(server, tmp_path, keys, "".join(keys.allowed_line(n) for n in ("alice", "bob", "carol")),
                                   "Allow bob and carol; trust github's web merges")
    return alice, bob, v2


def _refused_everywhere(alice: ModelRepo, server, version: str, why: str = "") -> None:
    """The local promote refuses, and a hand-made stage tag is refused by the server hook."""
    from conftest import forge_stage_tag

    alice.git("pull", "-q", "--no-rebase", "origin", "main")
    out = alice.mv("promote", "churn", version, "--stage", "production", code=1)
    assert "approvals" in out.err and why in out.err, out.err
    forge_stage_tag(alice, version, "production", 2)
    before = server.refs()
    refused(push(alice, "refs/tags/mv/churn/production/2", "refs/notes/mv-promote"), "R1 approvals")
    assert server.refs() == before


def _self_merge(alice: ModelRepo, branch: str, trailers: str = "") -> None:
    alice.git("fetch", "-q", "origin")
    alice.git("checkout", "-q", "main")
    alice.git("merge", "-S", "--no-ff", "-q", "-m", f"Merge {branch}\n\n{trailers}", f"origin/{branch}")
    accepted(push(alice, "main"))


def _edit_request(repo, branch: str, old: str, new: str) -> None:
    """A signed commit on the request branch that edits the request file, pushed."""
    repo.git("fetch", "-q", "origin")
    repo.git("checkout", "-q", "-B", branch, f"origin/{branch}")
    path = repo.path / "promotions" / "churn" / "production.toml"
    text = path.read_text()
    assert old in text
    path.write_text(text.replace(old, new))
    repo.git("commit", "-S", "-q", "-am", "edit the request")
    repo.git("push", "-q", "origin", branch)
    repo.git("checkout", "-q", "main")


# ---------------------------------------------------------------- what counts

def test_a_signed_merge_by_another_principal_approves_and_the_server_accepts(team, server):
    alice, bob, v2 = team
    alice.mv("request", "churn", v2, "--stage", "production", "--push")
    bob.merge(f"mv-promote/churn/{v2}-production", sign=True)
    approval = promote_and_push(alice, v2, 2)
    assert approval["approvers"] == ["bob@example.com"]
    assert approval["requester"] == "alice@example.com"
    assert [a["kind"] for a in approval["approvals"]] == ["merge"]
    assert approval["pr"] == 7
    status = alice.mv("approvals", "churn", v2, "--json").json
    assert [r["kind"] for r in status["recorded"]] == ["approval"]


def test_an_approve_commit_by_bob_and_a_merge_by_the_requester_is_accepted_with_bob(team, server):
    alice, bob, v2 = team
    alice.mv("request", "churn", v2, "--stage", "production", "--push")
    bob.git("fetch", "-q", "origin")
    done = bob.mv("approve", "churn", v2, "--stage", "production", "-m", "metrics look right", "--push", "--json").json
    assert done["approver"] == "bob@example.com" and done["requester"] == "alice@example.com" and done["pushed"]
    _self_merge(alice, f"mv-promote/churn/{v2}-production")
    approval = promote_and_push(alice, v2, 2)
    assert approval["approvers"] == ["bob@example.com"]
    assert approval["approvals"] == [{"principal": "bob@example.com", "commit": done["commit"], "kind": "approve"}]


def test_a_host_web_merge_signed_by_a_listed_host_key_counts_its_author(team, server, keys):
    alice, bob, v2 = team
    alice.mv("request", "churn", v2, "--stage", "production", "--push")
    web = {**os.environ, "GIT_AUTHOR_NAME": "Bob", "GIT_AUTHOR_EMAIL": "bob@example.com",
           "GIT_COMMITTER_NAME": "GitHub", "GIT_COMMITTER_EMAIL": "noreply@github.com"}
    bob.merge(f"mv-promote/churn/{v2}-production", sign=True, key=str(keys.private("mallory")), env=web)
    approval = promote_and_push(alice, v2, 2)
    assert approval["approvers"] == ["bob@example.com"]
    assert [a["kind"] for a in approval["approvals"]] == ["host-merge"]


# ---------------------------------------------------------------- what does not count

def test_a_self_merge_with_an_approved_by_trailer_is_not_an_approval(team, server):
    alice, bob, v2 = team
    alice.mv("request", "churn", v2, "--stage", "production", "--push")
    _self_merge(alice, f"mv-promote/churn/{v2}-production", "Approved-by: Bob <bob@example.com>")
    status = alice.mv("approvals", "churn", v2, "--json", code=1).json["stages"][0]
    assert status["approvers"] == [] and status["trailers"] == ["Bob <bob@example.com>"]
    _refused_everywhere(alice, server, v2, "has 0")


def test_a_requester_renaming_themselves_in_the_request_file_is_still_the_requester(team, server):
    alice, bob, v2 = team
    alice.mv("request", "churn", v2, "--stage", "production", "--push")
    branch = f"mv-promote/churn/{v2}-production"
    _edit_request(alice, branch, 'requester = "Alice <alice@example.com>"', 'requester = "Bob <bob@example.com>"')
    out = alice.mv("approve", "churn", v2, "--stage", "production", "--push", code=1)
    assert "never approves their own request" in out.err
    _self_merge(alice, branch)
    _refused_everywhere(alice, server, v2, "requester (alice@example.com)")


def test_an_approval_of_the_request_before_it_was_edited_is_void(team, server):
    alice, bob, v2 = team
    alice.mv("request", "churn", v2, "--stage", "production", "--push")
    branch = f"mv-promote/churn/{v2}-production"
    bob.git("fetch", "-q", "origin")
    bob.mv("approve", "churn", v2, "--stage", "production", "--push")
    _edit_request(alice, branch, 'reason = ""', 'reason = "edited after review"')
    _self_merge(alice, branch)
    _refused_everywhere(alice, server, v2, "edited after this approval")


def test_an_unsigned_merge_is_not_counted(team, server):
    alice, bob, v2 = team
    alice.mv("request", "churn", v2, "--stage", "production", "--push")
    bob.merge(f"mv-promote/churn/{v2}-production", sign=False, trailers="Approved-by: Bob <bob@example.com>")
    _refused_everywhere(alice, server, v2, "merge commit: unsigned")


def test_a_web_merge_signed_by_an_unlisted_host_key_is_not_counted(team, server, tmp_path):
    alice, bob, v2 = team
    alice.mv("request", "churn", v2, "--stage", "production", "--push")
    other = tmp_path / "otherhost"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(other)], check=True)
    web = {**os.environ, "GIT_AUTHOR_NAME": "Bob", "GIT_AUTHOR_EMAIL": "bob@example.com",
           "GIT_COMMITTER_NAME": "GitHub", "GIT_COMMITTER_EMAIL": "noreply@github.com"}
    bob.merge(f"mv-promote/churn/{v2}-production", sign=True, key=str(other), env=web)
    _refused_everywhere(alice, server, v2, "not in allowed signers")


def test_without_the_merge_promote_and_server_refuse(team, server):
    alice, bob, v2 = team
    alice.mv("request", "churn", v2, "--stage", "production", "--push")
    _refused_everywhere(alice, server, v2)


def test_a_merged_request_for_another_version_does_not_approve(team, server):
    alice, bob, v2 = team
    v3 = alice.version(0.91, 0.86)
    alice.mv("sync")
    alice.mv("request", "churn", v3, "--stage", "production", "--push")
    bob.merge(f"mv-promote/churn/{v3}-production", sign=True)
    _refused_everywhere(alice, server, v2, f"names {v3}")


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

    bob.merge(f"mv-promote/churn/{v2}-production", sign=True, edit=edit)
    _refused_everywhere(alice, server, v2, "changed on the protected branch after the merge")


# ---------------------------------------------------------------- the commands

def test_request_refuses_a_version_that_fails_the_gate(team):
    alice, bob, v2 = team
    bad = alice.version(0.90, 0.70)
    out = alice.mv("request", "churn", bad, "--stage", "production", code=1)
    assert "slice region=eu" in out.err
    assert alice.ref(f"refs/heads/mv-promote/churn/{bad}-production") is None


def test_request_signs_its_commit(team, keys):
    alice, bob, v2 = team
    commit = alice.mv("request", "churn", v2, "--stage", "production", "--json").json["commit"]
    assert "gpgsig " in alice.git("cat-file", "commit", commit)


def test_request_without_signing_set_up_fails_and_leaves_no_branch(team, hermetic):
    alice, bob, v2 = team
    config = hermetic / ".gitconfig"
    config.write_text("".join(line for line in config.read_text().splitlines(True) if "signingkey" not in line))
    out = alice.mv("request", "churn", v2, "--stage", "production", code=1)
    assert "could not sign the commit" in out.err and "user.signingkey" in out.err
    assert "Traceback" not in out.err
    assert alice.ref(f"refs/heads/mv-promote/churn/{v2}-production") is None


def test_approve_refuses_the_requesters_own_request(team):
    alice, bob, v2 = team
    alice.mv("request", "churn", v2, "--stage", "production")
    branch = f"refs/heads/mv-promote/churn/{v2}-production"
    before = alice.ref(branch)
    out = alice.mv("approve", "churn", v2, "--stage", "production", code=1)
    assert "alice@example.com signed the request" in out.err
    assert alice.ref(branch) == before


def test_approve_without_signing_set_up_fails_and_moves_nothing(team, hermetic):
    alice, bob, v2 = team
    alice.mv("request", "churn", v2, "--stage", "production", "--push")
    bob.git("fetch", "-q", "origin")
    bob.git("config", "--unset", "user.signingkey")
    config = hermetic / ".gitconfig"
    config.write_text("".join(line for line in config.read_text().splitlines(True) if "signingkey" not in line))
    out = bob.mv("approve", "churn", v2, "--stage", "production", code=1)
    assert "could not sign the commit" in out.err
    assert bob.git("rev-parse", "-q", "--verify", f"refs/heads/mv-promote/churn/{v2}-production", check=False) == ""


def test_approve_prints_the_push_hint_and_leaves_the_work_tree_alone(team):
    alice, bob, v2 = team
    alice.mv("request", "churn", v2, "--stage", "production", "--push")
    bob.git("fetch", "-q", "origin")
    head = bob.git("rev-parse", "HEAD")
    out = bob.mv("approve", "churn", v2, "--stage", "production")
    assert f"push it: git push origin mv-promote/churn/{v2}-production" in out.out
    assert bob.git("rev-parse", "HEAD") == head and bob.git("status", "--porcelain") == ""
    bob.git("push", "-q", "origin", f"mv-promote/churn/{v2}-production")


def test_approve_of_a_branch_that_does_not_exist_says_how_to_get_it(team):
    alice, bob, v2 = team
    bob.git("fetch", "-q", "--tags", "origin")
    out = bob.mv("approve", "churn", v2, "--stage", "production", code=1)
    assert "no request branch" in out.err and "git fetch origin" in out.err


# ---------------------------------------------------------------- the request file as approval reads it (pure)

REQUEST_TOML = b'''schema = 1
kind = "request"
model = "churn"
version = "v2"
version_tag = "9c9c9c9c9c9c9c9c9c9c9c9c9c9c9c9c9c9c9c9c"
stage = "production"
reason = "beats v1"
future_field = [1, 2]
'''


def test_a_request_file_is_read_with_fields_it_does_not_know():
    from gitmv.approvals import _read_request

    req, why = _read_request(REQUEST_TOML)
    assert why == "" and req["version"] == "v2" and req["future_field"] == [1, 2]


@pytest.mark.parametrize("raw, why", [
    (REQUEST_TOML.replace(b'version = "v2"', b"version = 2"), "version must be a string, got 2"),
    (REQUEST_TOML.replace(b'stage = "production"\n', b""), "stage is required"),
    (b"version = [", "not UTF-8 TOML"),
])
def test_a_request_file_without_its_four_names_asks_for_nothing_and_says_why(raw, why):
    from gitmv.approvals import _read_request

    req, not_a_request = _read_request(raw)
    assert req is None and why in not_a_request


def test_log_shows_the_approvers_in_the_approval_row_and_the_promotion_row(team, server):
    alice, bob, v2 = team
    alice.mv("request", "churn", v2, "--stage", "production", "--push")
    bob.merge(f"mv-promote/churn/{v2}-production", sign=True)
    promote_and_push(alice, v2, 2)
    events = alice.mv("log", "churn", "--json").json["events"]
    approval = next(e for e in events if e["event"] == "approval" and e["version"] == v2)
    assert "approved by bob@example.com" in approval["why"]
    promotion = next(e for e in events if e["event"] == "promote" and e.get("seq") == 2)
    assert promotion["approvers"] == ["bob@example.com"]
    table = alice.mv("log", "churn").out
    assert any("promote production" in row and "approved by bob@example.com" in row for row in table.splitlines())
