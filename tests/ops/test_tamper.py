"""Tampering is detected by `verify`: exit 1, each case reported by the ref (and record id) it hit.

The registry under attack: v1 (promoted to production) and v2, both evaluated; HEAD is v2's commit.
Each case edits Git data directly, as someone with write access to a clone could, then runs
`git mv-promote verify`. A last test prints how many tamper cases were detected.
"""

from __future__ import annotations

import sys
import tomllib

import pytest

from conftest import POLICY, ModelRepo, accepted, push, remake_tag, tag_message
from gitmv import records

NOTES = "refs/notes/mv-promote"
DETECTED: list[str] = []


def note_of(r: ModelRepo, version: str) -> tuple[str, str]:
    tag = r.git("rev-parse", f"refs/tags/mv/churn/{version}")
    return tag, r.git("notes", "--ref", "mv-promote", "show", tag) + "\n"


def write_note(r: ModelRepo, tag: str, text: str) -> None:
    r.git("notes", "--ref", "mv-promote", "add", "-f", "-m", text.rstrip("\n"), tag)


# ================================================================ the cases
# each edits the registry and returns the failure lines verify must report (substrings)

def note_record_edited(r):
    """A metric edited in place, the record keeping its old id."""
    tag, note = note_of(r, "v2")
    rid = tomllib.loads(note)["record"][0]["id"]
    edited = note.replace("auc = 0.9\n", "auc = 0.99\n", 1)
    assert edited != note
    write_note(r, tag, edited)
    return [f"refs/tags/mv/churn/v2: note record {rid} (eval) does not match its id: tampered",
            f"notes: record {rid} on {tag[:12]} was changed in {NOTES}"]


def note_record_forged(r):
    """A record added by hand with a made-up id (appended as text: not the canonical note)."""
    tag, note = note_of(r, "v1")
    fake = "sha256:" + "0" * 64
    forged = note + f'\n[[record]]\nid = "{fake}"\nkind = "approval"\nat = "2026-11-01T09:00:00Z"\nby = "Mallory"\n'
    write_note(r, tag, forged)
    return [f"refs/tags/mv/churn/v1: note: note on {tag[:12]} is not in canonical form"]


def note_record_forged_canonically(r):
    """A record with a made-up id, written with the canonical renderer."""
    tag, note = note_of(r, "v1")
    fake = "sha256:" + "0" * 64
    recs = tomllib.loads(note)["record"] + [{"id": fake, "kind": "approval", "at": "2026-11-01T09:00:00Z", "by": "Mallory"}]
    write_note(r, tag, records.render_note(recs))
    return [f"refs/tags/mv/churn/v1: note record {fake} (approval) does not match its id: tampered"]


def note_record_deleted(r):
    """A later notes commit lacks a record an earlier one had."""
    tag, note = note_of(r, "v1")
    rid = tomllib.loads(note)["record"][0]["id"]
    write_note(r, tag, "schema = 1")
    return [f"notes: record {rid} on {tag[:12]} disappeared from {NOTES}"]


def version_tag_recreated_unsigned(r):
    ref = "refs/tags/mv/churn/v1"
    remake_tag(r, ref, target=r.git("rev-parse", f"{ref}^{{commit}}"), message=tag_message(r, ref), key=None)
    return [f"{ref}: signature: unsigned"]


def version_tag_recreated_by_mallory(r):
    ref = "refs/tags/mv/churn/v2"
    remake_tag(r, ref, target=r.git("rev-parse", f"{ref}^{{commit}}"), message=tag_message(r, ref), key="mallory")
    return [f"{ref}: signature: signed by a key not in allowed signers"]


def version_tag_repointed(r):
    """v1 moved onto v2's commit, its record unchanged, validly signed."""
    ref = "refs/tags/mv/churn/v1"
    remake_tag(r, ref, target=r.git("rev-parse", "HEAD"), message=tag_message(r, ref), key="alice")
    return [f"{ref}: {ref} points at"]


def version_tag_repointed_and_rewritten_by_mallory(r):
    """v1 moved onto v2's commit with a record rewritten to match, signed by a key not allowed."""
    ref = "refs/tags/mv/churn/v1"
    old_commit = r.git("rev-parse", f"{ref}^{{commit}}")
    head = r.git("rev-parse", "HEAD")
    message = tag_message(r, ref).replace(old_commit.encode(), head.encode())
    remake_tag(r, ref, target=head, message=message, key="mallory")
    return [f"{ref}: signature: signed by a key not in allowed signers"]


def stage_tag_recreated_unsigned(r):
    ref = "refs/tags/mv/churn/production/1"
    remake_tag(r, ref, target=r.git("rev-parse", "refs/tags/mv/churn/v1"), message=tag_message(r, ref), key=None)
    return [f"{ref}: signature: unsigned"]


def stage_tag_recreated_by_mallory(r):
    ref = "refs/tags/mv/churn/production/1"
    remake_tag(r, ref, target=r.git("rev-parse", "refs/tags/mv/churn/v1"), message=tag_message(r, ref), key="mallory")
    return [f"{ref}: signature: signed by a key not in allowed signers"]


def stage_tag_retargeted(r):
    """production/1 re-pointed at v2's tag object while its record still names v1."""
    ref = "refs/tags/mv/churn/production/1"
    remake_tag(r, ref, target=r.git("rev-parse", "refs/tags/mv/churn/v2"), message=tag_message(r, ref), key="alice")
    return [f"{ref}: {ref} points at"]


def artifact_replaced_in_work_tree(r):
    """HEAD is v2's commit, so the work tree claims to be v2."""
    (r.path / "model.bin").write_text("0.99 0.99 1\n")
    return ["refs/tags/mv/churn/v2: artifact model.bin in the work tree has sha256"]


CASES = [note_record_edited, note_record_forged, note_record_forged_canonically, note_record_deleted, version_tag_recreated_unsigned,
         version_tag_recreated_by_mallory, version_tag_repointed, version_tag_repointed_and_rewritten_by_mallory,
         stage_tag_recreated_unsigned, stage_tag_recreated_by_mallory, stage_tag_retargeted,
         artifact_replaced_in_work_tree]


@pytest.mark.parametrize("case", CASES, ids=[c.__name__ for c in CASES])
def test_verify_detects(verified_registry, case):
    expected = case(verified_registry)
    result = verified_registry.mv("verify", "--json", code=1).json
    assert result["ok"] is False
    for wanted in expected:
        assert any(wanted in f for f in result["failures"]), f"{wanted!r} not in {result['failures']}"
    text = verified_registry.mv("verify", code=1)
    for wanted in expected:
        assert f"FAIL {wanted}" in text.err
    DETECTED.append(case.__name__)


def test_verify_detects_an_older_version_whose_stored_copy_is_gone(tmp_path, keys):
    """The Git history's copy of an artifact cannot be replaced (its blob id is its content); what
    can happen is an older version with no stored copy at all: registered from an untracked file,
    which later left the work tree (only the research tier registers one, issue 17). verify names
    it "not retrievable", with what it tried."""
    r = ModelRepo(tmp_path / "research", keys, POLICY.replace('tier = "production"', 'tier = "research"'))
    r.write_model(0.85, 0.80)  # untracked: registered, but never committed
    r.mv("register", "churn")
    assert r.mv("verify", "--json").json["ok"] is True  # HEAD is v1's commit: the work tree copy counts
    (r.path / "README.md").write_text("moving on\n")
    r.commit("a later commit")
    failures = r.mv("verify", "--json", code=1).json["failures"]
    commit = r.git("rev-parse", "HEAD~1")
    assert failures == [f"refs/tags/mv/churn/v1: model.bin is not retrievable (tried: no git blob at {commit[:12]}; "
                        "not tracked by DVC)"], failures
    DETECTED.append("artifact_not_retrievable")


def test_verify_reports_a_change_to_a_record_that_was_already_tampered(verified_registry):
    """A record may not change once it is in the notes history, even one whose id never matched:
    the server refuses that edge (gitmv/rules/notes.py), so verify reports it too."""
    r = verified_registry
    tag, note = note_of(r, "v1")
    kept = tomllib.loads(note)["record"]
    forged = {"id": "sha256:" + "0" * 64, "kind": "approval", "at": "2026-11-01T09:00:00Z", "by": "Mallory"}
    write_note(r, tag, records.render_note(kept + [forged]))
    write_note(r, tag, records.render_note(kept + [{**forged, "by": "Mallory's friend"}]))
    failures = r.mv("verify", "--json", code=1).json["failures"]
    assert f"notes: record {forged['id']} on {tag[:12]} was changed in {NOTES}" in failures


def test_a_tampered_note_is_refused_by_the_server_too(verified_registry, daemon_server):
    """verify is the offline check; the server hook refuses to publish the same tampering."""
    server = daemon_server
    r = verified_registry
    r.git("remote", "add", "origin", server.url)
    accepted(push(r, "main"))
    note_record_edited(r)
    result = r.mv("sync", code=1)
    assert "R3 notes-valid" in result.err and "does not match its id" in result.err
    assert "refs/notes/mv-promote" not in server.refs()
    DETECTED.append("tampered_note_refused_by_server")


def test_zz_report_tamper_cases_detected(capsys, record_property):
    """Runs last in this file: prints how many tamper cases verify (and the server) detected."""
    expected = len(CASES) + 2
    line = f"[reliability] tamper cases detected: {len(DETECTED)} of {expected} ({', '.join(DETECTED)})"
    print(line)
    record_property("tamper_cases_detected", len(DETECTED))
    with capsys.disabled():
        sys.stdout.write("\n" + line + "\n")
    if len(DETECTED) < expected:
        pytest.skip("only part of this file ran")
