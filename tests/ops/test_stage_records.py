"""Stage records are checked, not trusted: each claim of a promotion or rollback record is
recomputed by the server hook (through real pushes, `--no-verify`) and by `verify`.

Every attack starts from a legitimate promotion made by the tool, then re-writes one claim of its
record and re-signs the tag with an allowed key: the signature is valid, the claim is false.
"""

from __future__ import annotations

import os
import subprocess

import pytest

from conftest import ModelRepo, accepted, push, refused
from gitmv.records import PromotionRecord, split_signature




def rewrite(repo: ModelRepo, ref: str, *, date: str | None = None, **changes) -> None:
    """Re-create the local stage tag `ref` with its record's fields changed, signed by alice."""
    raw = repo.git("cat-file", "tag", ref).encode()
    message, _ = split_signature(raw.split(b"\n\n", 1)[1])
    record = PromotionRecord.from_message(message.decode())
    forged = PromotionRecord(**{**record.__dict__, **changes})
    target = repo.git("cat-file", "-p", ref).split()[1]
    name = ref.removeprefix("refs/tags/")
    repo.git("tag", "-d", name)
    env = dict(os.environ, GIT_COMMITTER_DATE=date or os.environ["GIT_COMMITTER_DATE"])
    subprocess.run(["git", "-c", "advice.nestedTag=false", "tag", "-s", "--cleanup=verbatim", "-F", "-", name, target],
                   input=forged.to_message().encode(), cwd=repo.path, env=env, check=True, capture_output=True)


def promote_and_forge(repo: ModelRepo, **changes) -> str:
    repo.mv("promote", "churn", "v2", "--stage", "production")
    ref = "refs/tags/mv/churn/production/2"
    rewrite(repo, ref, **changes)
    return ref


def test_an_honest_promotion_is_accepted(live, server):
    live.mv("promote", "churn", "v2", "--stage", "production")
    accepted(push(live, "refs/tags/mv/churn/production/2"))
    assert "refs/tags/mv/churn/production/2" in server.refs()


@pytest.mark.parametrize("claim, value, says", [
    ("previous", "v7", "previous: the record says v7"),
    ("previous", None, "previous: the record says none"),
    ("by", "bob@example.com", "by: the record says 'bob@example.com' but the tag is signed by 'alice@example.com'"),
    ("at", "2026-10-01T09:00:00Z", "at: the record says 2026-10-01T09:00:00Z"),
    ("policy_digest", "sha256:" + "0" * 64, "policy_digest"),
    ("eval_record", "sha256:" + "1" * 64, "eval_record: the record names sha256:1111"),
    ("approval", {"merge_commit": "f" * 40, "approvers": ["bob@example.com"]}, "approval: the recorded approval evidence"),
])
def test_a_false_claim_in_a_signed_stage_record_is_refused(live, server, claim, value, says):
    before = server.refs()
    ref = promote_and_forge(live, **{claim: value})
    proc = push(live, ref)
    refused(proc, "R1 stage-record")
    assert says in proc.stderr
    assert server.refs() == before


def test_a_stage_tag_dated_in_the_future_is_refused(live, server):
    before = server.refs()
    ref = promote_and_forge(live, at="2099-01-01T00:00:00Z")
    rewrite(live, ref, date="2099-01-01T00:00:00Z")
    proc = push(live, ref)
    refused(proc, "R1 stage-record")
    assert "is in the future" in proc.stderr
    assert server.refs() == before


def test_a_stage_tag_dated_before_the_previous_entry_is_refused(live, server):
    ref = promote_and_forge(live, at="2020-01-01T00:00:00Z")
    rewrite(live, ref, at="2020-01-01T00:00:00Z", date="2020-01-01T00:00:00Z")
    proc = push(live, ref)
    refused(proc, "R1 stage-record")
    assert "is before the previous stage tag's" in proc.stderr


def test_a_rollback_and_a_promotion_in_one_push_are_judged_against_what_is_live(live, server):
    """v3 beats v1 but not v2: rolling production back to v1 and promoting v3 in the same push
    must not let v3 be judged against v1, which never went live again."""
    live.mv("promote", "churn", "v2", "--stage", "production")
    accepted(push(live, "refs/tags/mv/churn/production/2"))
    v3 = live.version(0.87, 0.82)
    live.mv("rollback", "churn", "--stage", "production", "--to", "v1")
    live.mv("promote", "churn", v3, "--stage", "production")
    before = server.refs()
    proc = push(live, f"refs/tags/mv/churn/{v3}", "refs/tags/mv/churn/production/3", "refs/tags/mv/churn/production/4",
                "refs/notes/mv-promote")
    refused(proc, "R1 gate")
    assert "against the state live before this push" in proc.stderr
    assert server.refs() == before


def test_verify_reports_each_false_claim_of_a_local_stage_record(live):
    ref = promote_and_forge(live, previous="v7", by="bob@example.com")
    failures = live.mv("verify", "--json", code=1).json["failures"]
    assert any(f.startswith(f"{ref}: previous: the record says v7") for f in failures), failures
    assert any(f.startswith(f"{ref}: by: the record says 'bob@example.com'") for f in failures), failures


def test_verify_reports_an_approval_naming_a_merge_off_the_protected_branch(live):
    ref = promote_and_forge(live, approval={"merge_commit": "f" * 40, "approvers": ["bob@example.com"]})
    failures = live.mv("verify", "--json", code=1).json["failures"]
    assert f"{ref}: approval: merge ffffffffffff is not on the protected branch main" in failures, failures


def test_history_and_log_show_the_tag_time_and_signer_not_the_record_claims(live):
    ref = promote_and_forge(live, at="2030-01-01T00:00:00Z", by="bob@example.com")
    rows = live.mv("history", "churn", "--stage", "production", "--json").json["stages"]["production"]
    assert rows[-1]["ref"] == ref
    assert rows[-1]["at"] == "2026-11-01T09:00:00Z" and rows[-1]["by"] == "alice@example.com"
    event = next(e for e in live.mv("log", "--json").json["events"] if e.get("ref") == ref)
    assert event["at"] == "2026-11-01T09:00:00Z" and event["by"] == "alice@example.com"
