"""Evidence is signed and canonical: through real pushes (`--no-verify`), the server counts only
records signed by an allowed signer whose principal is the record's `by`, accepts notes and
registry records only in their canonical bytes, and checks every notes commit a push adds.
"""

from __future__ import annotations

import tomllib


from conftest import POLICY, ModelRepo, accepted, forge_stage_tag, note_text, push, put_note, refused, tag_of
from gitmv import records










def eval_body(repo: ModelRepo, version: str, auc: float = 0.95) -> dict:
    record = repo.mv("show", "churn", version, "--json").json["record"]
    digest = record["artifacts"]["model.bin"]["sha256"]
    # an eval from a metrics file, at the version's commit (the server refuses evals that name none)
    return {"model": "churn", "version": version, "suite": "holdout", "artifacts": {"model.bin": digest},
            "code_commit": record["commit"], "metrics": {"auc": auc, "latency_ms": 4.0},
            "slices": {"region=eu": {"auc": auc}, "region=us": {"auc": auc}}}


def test_an_unsigned_eval_does_not_count_on_the_server(published_v2, server):
    rec = records.make_note_record("eval", eval_body(published_v2, "v2"), at="2026-11-01T09:00:00Z",
                                   by="alice@example.com")
    put_note(published_v2, "v2", records.render_note([rec]))
    accepted(push(published_v2, "refs/notes/mv-promote"))  # writing it is allowed: it is just not evidence
    assert published_v2.mv("check", "churn", "v2", "--stage", "production", "--json", code=1).json["passed"] is False
    before = server.refs()
    ref = forge_stage_tag(published_v2, "v2", "production", 2, eval_record=rec["id"])  # skips the local gate
    proc = push(published_v2, ref)
    refused(proc, "R1 eval")
    assert server.refs() == before


def test_an_eval_signed_by_alice_in_bobs_name_does_not_count(published_v2, keys):
    published_v2.mv("eval", "churn", "v2")
    note = tomllib.loads(note_text(published_v2, "v2"))["record"]
    rec = dict(note[0])
    rec.pop("signature")
    rec["by"] = "bob@example.com"
    rec = records.make_note_record("eval", {k: v for k, v in rec.items() if k not in ("id", "kind", "at", "by")},
                                   at=rec["at"], by="bob@example.com")
    rec["signature"] = note[0]["signature"]  # alice's signature, over another payload
    put_note(published_v2, "v2", records.render_note([rec]))
    result = published_v2.mv("check", "churn", "v2", "--stage", "production", "--json", code=1).json
    assert [c["name"] for c in result["criteria"] if not c["passed"]] == ["eval"]
    failures = published_v2.mv("verify", "--json", code=1).json["failures"]
    assert any("signature: bad signature" in f for f in failures), failures


def test_only_the_eval_signers_named_by_the_policy_count(tmp_path, keys):
    policy = POLICY.replace("approvals = 0", 'approvals = 0\neval_signers = ["bob@example.com"]')
    repo = ModelRepo(tmp_path / "repo", keys, policy=policy)
    with (repo.path / ".mv-promote" / "allowed_signers").open("a") as fh:
        fh.write(keys.allowed_line("bob"))
    repo.commit("Allow bob")
    v1 = repo.version(0.85, 0.80)  # evaluated by alice
    failed = repo.mv("check", "churn", v1, "--stage", "production", "--json", code=1).json
    assert [c["name"] for c in failed["criteria"] if not c["passed"]] == ["eval"]
    repo.git("config", "user.signingkey", str(keys.private("bob")))
    repo.mv("eval", "churn", v1)
    assert repo.mv("check", "churn", v1, "--stage", "production", "--json").json["passed"] is True


def test_a_note_re_encoded_to_hide_a_deprecation_is_refused(published_v2, server):
    published_v2.mv("deprecate", "churn", "v1", "-m", "leaks labels")
    canonical = note_text(published_v2, "v1")
    put_note(published_v2, "v1", canonical.replace('"deprecation"', "'deprecation'"))
    before = server.refs()
    proc = push(published_v2, "refs/notes/mv-promote")
    refused(proc, "R3 notes-valid")
    assert "not in canonical form" in proc.stderr
    assert server.refs() == before


def test_the_notes_ref_pointing_at_a_tag_object_is_refused(published_v2, server):
    notes = published_v2.git("rev-parse", "refs/notes/mv-promote")
    published_v2.mv("eval", "churn", "v2")
    new = published_v2.git("rev-parse", "refs/notes/mv-promote")
    published_v2.git("tag", "-a", "-m", "wrap", "notes-wrapper", new)
    wrapped = published_v2.git("rev-parse", "refs/tags/notes-wrapper")
    before = server.refs()
    proc = push(published_v2, f"{wrapped}:refs/notes/mv-promote")
    refused(proc, "R3 notes-valid")
    assert "must name a notes commit" in proc.stderr
    assert server.refs() == before and server.refs()["refs/notes/mv-promote"] == notes


def test_a_notes_history_with_a_bad_edge_is_refused_even_when_its_tip_looks_fine(published_v2, server):
    """A commit that drops a record, followed by one that puts it back: the tip is complete, but
    `verify` would report the dropped record forever, so the server refuses it."""
    tag = tag_of(published_v2, "v1")
    full = note_text(published_v2, "v1")
    put_note(published_v2, "v1", records.render_note([]))
    put_note(published_v2, "v1", full)
    assert note_text(published_v2, "v1") == full
    before = server.refs()
    proc = push(published_v2, "refs/notes/mv-promote")
    refused(proc, "R3 notes-append-only")
    assert "would be removed" in proc.stderr and tag[:12] in proc.stderr
    assert server.refs() == before


def test_a_version_tag_whose_record_is_not_canonical_is_refused(published_v2, server):
    published_v2.write_model(0.91, 0.9)
    published_v2.commit("model")
    v3 = published_v2.mv("register", "churn", "--json").json["version"]
    ref = f"refs/tags/mv/churn/{v3}"
    raw = published_v2.git("cat-file", "tag", ref)
    message = records.split_signature(raw.split("\n\n", 1)[1].encode())[0].decode()
    odd = message.replace('tier = "production"', "tier = 'production'")
    assert odd != message
    published_v2.git("tag", "-d", ref.removeprefix("refs/tags/"))
    (published_v2.path / "odd-msg").write_text(odd)
    published_v2.git("tag", "-s", "--cleanup=verbatim", "-F", str(published_v2.path / "odd-msg"), ref.removeprefix("refs/tags/"),
                  published_v2.git("rev-parse", "HEAD"))
    before = server.refs()
    proc = push(published_v2, ref)
    refused(proc, "valid-record")
    assert "not in canonical form" in proc.stderr
    assert server.refs() == before
