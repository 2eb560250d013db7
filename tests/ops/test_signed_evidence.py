"""Evidence is signed and canonical: through real pushes (`--no-verify`), the server counts only
records signed by an allowed signer whose principal is the record's `by`, accepts notes and
registry records only in their canonical bytes, and checks every notes commit a push adds.
"""

from __future__ import annotations

import tomllib

import pytest

from conftest import POLICY, ModelRepo, accepted, published_repo, push, refused
from gitmv import records
from conftest import forge_stage_tag


@pytest.fixture
def published(server, tmp_path, keys):
    """v1 live in production on the server, v2 registered (not evaluated) and pushed."""
    repo = published_repo(server, tmp_path, keys, stages=("production",))
    repo.version(0.90, 0.85, evaluate=False)
    accepted(push(repo, "refs/tags/mv/churn/v2"))
    return repo


def tag_of(repo: ModelRepo, version: str) -> str:
    return repo.git("rev-parse", f"refs/tags/mv/churn/{version}")


def note_text(repo: ModelRepo, version: str) -> str:
    return repo.git("notes", "--ref", "mv-promote", "show", tag_of(repo, version)) + "\n"


def put_note(repo: ModelRepo, version: str, text: str) -> None:
    """Replace the note (a new notes commit on top of the current one: a fast-forward)."""
    repo.git("notes", "--ref", "mv-promote", "add", "-f", "-m", text.rstrip("\n"), tag_of(repo, version))


def eval_body(repo: ModelRepo, version: str, auc: float = 0.95) -> dict:
    digest = repo.mv("show", "churn", version, "--json").json["record"]["artifacts"]["model.bin"]["sha256"]
    return {"model": "churn", "version": version, "suite": "holdout", "artifacts": {"model.bin": digest},
            "metrics": {"auc": auc, "latency_ms": 4.0},
            "slices": {"region=eu": {"auc": auc}, "region=us": {"auc": auc}}}


def test_an_unsigned_eval_does_not_count_on_the_server(published, server):
    rec = records.make_note_record("eval", eval_body(published, "v2"), at="2026-11-01T09:00:00Z",
                                   by="alice@example.com")
    put_note(published, "v2", records.render_note([rec]))
    accepted(push(published, "refs/notes/mv-promote"))  # writing it is allowed: it is just not evidence
    assert published.mv("check", "churn", "v2", "--stage", "production", "--json", code=1).json["passed"] is False
    before = server.refs()
    ref = forge_stage_tag(published, "v2", "production", 2, eval_record=rec["id"])  # skips the local gate
    proc = push(published, ref)
    refused(proc, "R1 eval")
    assert server.refs() == before


def test_an_eval_signed_by_alice_in_bobs_name_does_not_count(published, keys):
    published.mv("eval", "churn", "v2")
    note = tomllib.loads(note_text(published, "v2"))["record"]
    rec = dict(note[0])
    rec.pop("signature")
    rec["by"] = "bob@example.com"
    rec = records.make_note_record("eval", {k: v for k, v in rec.items() if k not in ("id", "kind", "at", "by")},
                                   at=rec["at"], by="bob@example.com")
    rec["signature"] = note[0]["signature"]  # alice's signature, over another payload
    put_note(published, "v2", records.render_note([rec]))
    result = published.mv("check", "churn", "v2", "--stage", "production", "--json", code=1).json
    assert [c["name"] for c in result["criteria"] if not c["passed"]] == ["eval"]
    failures = published.mv("verify", "--json", code=1).json["failures"]
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


def test_a_note_re_encoded_to_hide_a_deprecation_is_refused(published, server):
    published.mv("deprecate", "churn", "v1", "-m", "leaks labels")
    canonical = note_text(published, "v1")
    put_note(published, "v1", canonical.replace('"deprecation"', "'deprecation'"))
    before = server.refs()
    proc = push(published, "refs/notes/mv-promote")
    refused(proc, "R3 notes-valid")
    assert "not in canonical form" in proc.stderr
    assert server.refs() == before


def test_the_notes_ref_pointing_at_a_tag_object_is_refused(published, server):
    notes = published.git("rev-parse", "refs/notes/mv-promote")
    published.mv("eval", "churn", "v2")
    new = published.git("rev-parse", "refs/notes/mv-promote")
    published.git("tag", "-a", "-m", "wrap", "notes-wrapper", new)
    wrapped = published.git("rev-parse", "refs/tags/notes-wrapper")
    before = server.refs()
    proc = push(published, f"{wrapped}:refs/notes/mv-promote")
    refused(proc, "R3 notes-valid")
    assert "must name a notes commit" in proc.stderr
    assert server.refs() == before and server.refs()["refs/notes/mv-promote"] == notes


def test_a_notes_history_with_a_bad_edge_is_refused_even_when_its_tip_looks_fine(published, server):
    """A commit that drops a record, followed by one that puts it back: the tip is complete, but
    `verify` would report the dropped record forever, so the server refuses it."""
    tag = tag_of(published, "v1")
    full = note_text(published, "v1")
    put_note(published, "v1", records.render_note([]))
    put_note(published, "v1", full)
    assert note_text(published, "v1") == full
    before = server.refs()
    proc = push(published, "refs/notes/mv-promote")
    refused(proc, "R3 notes-append-only")
    assert "would be removed" in proc.stderr and tag[:12] in proc.stderr
    assert server.refs() == before


def test_a_version_tag_whose_record_is_not_canonical_is_refused(published, server):
    published.write_model(0.91, 0.9)
    published.commit("model")
    v3 = published.mv("register", "churn", "--json").json["version"]
    ref = f"refs/tags/mv/churn/{v3}"
    raw = published.git("cat-file", "tag", ref)
    message = records.split_signature(raw.split("\n\n", 1)[1].encode())[0].decode()
    odd = message.replace('tier = "production"', "tier = 'production'")
    assert odd != message
    published.git("tag", "-d", ref.removeprefix("refs/tags/"))
    (published.path / "odd-msg").write_text(odd)
    published.git("tag", "-s", "--cleanup=verbatim", "-F", str(published.path / "odd-msg"), ref.removeprefix("refs/tags/"),
                  published.git("rev-parse", "HEAD"))
    before = server.refs()
    proc = push(published, ref)
    refused(proc, "valid-record")
    assert "not in canonical form" in proc.stderr
    assert server.refs() == before
