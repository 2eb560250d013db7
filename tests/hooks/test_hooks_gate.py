"""What counts as evidence, and which version numbers and artifacts a version may have, through
real pushes to real servers (git daemon and http-backend, pre-receive hook installed).

Every attack is written by hand the way a hostile client could: records made with the same
canonical renderer and correctly re-hashed ids, tags signed by an allowed key, so that only the
content is the attack. Each must be refused and leave the server's refs unchanged; `check` in
the same clone reports the same failure.
"""

from __future__ import annotations

import json
import tomllib

import pytest

from conftest import ModelRepo, accepted, published_repo, push, refused
from gitmv.records import VersionRecord, make_note_record, parse_note, render_note

NOTES = "refs/notes/mv-promote"


@pytest.fixture
def published(server, tmp_path, keys):
    """v1 (auc 0.85, eu 0.80) evaluated and in production on the server."""
    return published_repo(server, tmp_path, keys, stages=("production",))


def digests(repo: ModelRepo, version: str) -> dict:
    message = repo.git("cat-file", "tag", f"refs/tags/mv/churn/{version}").split("\n\n", 2)[2]
    record = tomllib.loads(message.split("-----BEGIN SSH SIGNATURE-----")[0])
    return {path: meta["sha256"] for path, meta in record["artifacts"].items()}


def add_eval(repo: ModelRepo, version: str, metrics: dict, slices: dict | None = None, *,
             at: str = "2099-01-01T00:00:00Z") -> dict:
    """A hand-made eval (canonical, id re-hashed) appended to the version's note in a new notes commit."""
    tag = repo.git("rev-parse", f"refs/tags/mv/churn/{version}")
    rec = make_note_record("eval", {"model": "churn", "version": version, "suite": "holdout",
                                    "artifacts": digests(repo, version), "metrics": metrics,
                                    "slices": slices if slices is not None else {}},
                           at=at, by="Mallory <mallory@example.com>")
    current = repo.git("notes", "--ref", "mv-promote", "show", tag, check=False)
    have = parse_note(current.encode() + b"\n") if current else []
    (repo.path / "n.toml").write_text(render_note(have + [rec]))
    repo.git("notes", "--ref", "mv-promote", "add", "-f", "-F", str(repo.path / "n.toml"), tag)
    return rec


def forge_stage_tag(repo: ModelRepo, version: str, stage: str, seq: int) -> str:
    """A signed stage tag written by hand, bypassing the local gate."""
    from gitmv.records import PromotionRecord

    version_tag = repo.git("rev-parse", f"refs/tags/mv/churn/{version}")
    record = PromotionRecord(kind="promote", model="churn", version=version, version_tag=version_tag, stage=stage,
                             seq=seq, at="2026-11-01T09:00:00Z", by="Alice <alice@example.com>",
                             policy_digest="sha256:x", reason="forged")
    return _signed_tag(repo, f"mv/churn/{stage}/{seq}", record.to_message(), version_tag)


def forge_version_tag(repo: ModelRepo, number: int, **changes) -> str:
    """A signed, well-formed version tag for churn v<number> on HEAD, its record crafted from v1's."""
    message = repo.git("cat-file", "tag", "refs/tags/mv/churn/v1").split("\n\n", 2)[2]
    data = tomllib.loads(message.split("-----BEGIN SSH SIGNATURE-----")[0])
    data.update(version=f"v{number}", commit=repo.git("rev-parse", "HEAD"), parent="v1", **changes)
    record = VersionRecord.from_dict(data)
    return _signed_tag(repo, f"mv/churn/v{number}", record.to_message(), record.commit)


def _signed_tag(repo: ModelRepo, name: str, message: str, target: str) -> str:
    msg = repo.path / "tag-msg"
    msg.write_text(message)
    repo.git("-c", "advice.nestedTag=false", "-c", f"user.signingkey={repo.keys.private('alice')}",
             "tag", "-s", "--cleanup=verbatim", "-F", str(msg), name, target)
    msg.unlink()
    return f"refs/tags/{name}"


def check(repo: ModelRepo, version: str) -> dict:
    result = repo.mv("check", "churn", version, "--stage", "production", "--json", code=None)
    return json.loads(result.out)


def failures(repo: ModelRepo, version: str) -> dict:
    return {c["name"]: c["detail"] for c in check(repo, version)["criteria"] if not c["passed"]}


# ---------------------------------------------------------------- evidence must be finite and non-empty

@pytest.mark.parametrize("bad", ["inf", "nan"])
def test_a_note_with_a_non_finite_metric_is_refused(published, server, bad):
    add_eval(published, "v1", {"auc": float(bad), "latency_ms": 5.0}, {"region=eu": {"auc": 0.9}})
    before = server.refs()
    refused(push(published, NOTES), "R3 notes-valid")
    assert server.refs() == before


def test_a_note_with_an_empty_eval_dated_2099_is_refused(published, server):
    add_eval(published, "v1", {}, at="2099-01-01T00:00:00Z")
    before = server.refs()
    proc = push(published, NOTES)
    refused(proc, "R3 notes-valid")
    assert "malformed 'metrics'" in proc.stdout + proc.stderr
    assert server.refs() == before


def test_an_empty_baseline_eval_dated_2099_does_not_let_a_worse_version_through(published, server):
    """The server never takes the empty eval, so the gate compares with v1's real eval."""
    v2 = published.version(0.84, 0.81)  # above the threshold, below v1 overall
    accepted(push(published, f"refs/tags/mv/churn/{v2}", NOTES))
    add_eval(published, "v1", {}, at="2099-01-01T00:00:00Z")
    refused(push(published, NOTES), "R3 notes-valid")
    forge_stage_tag(published, v2, "production", 2)
    before = server.refs()
    proc = push(published, "refs/tags/mv/churn/production/2")
    refused(proc, "R1 gate")
    assert "auc vs v1 (production)" in proc.stdout + proc.stderr
    assert server.refs() == before


def test_check_refuses_to_read_a_note_holding_an_empty_eval(published):
    add_eval(published, "v1", {}, at="2099-01-01T00:00:00Z")
    result = published.mv("check", "churn", "v1", "--stage", "production", code=1)
    assert "malformed 'metrics'" in result.err


# ---------------------------------------------------------------- the newest eval is the last one added

def _eval_dated_2099_then_an_honest_reeval(repo: ModelRepo) -> str:
    v2 = repo.version(0.84, 0.81, evaluate=False)  # truly worse than v1 overall
    add_eval(repo, v2, {"auc": 0.95, "latency_ms": 5.0}, {"region=eu": {"auc": 0.95}}, at="2099-01-01T00:00:00Z")
    repo.mv("eval", "churn", v2)  # the re-evaluation, made after, dated now
    return v2


def test_an_eval_dated_2099_does_not_outrank_the_reevaluation_made_after_it(published, server):
    v2 = _eval_dated_2099_then_an_honest_reeval(published)
    forge_stage_tag(published, v2, "production", 2)
    before = server.refs()
    proc = push(published, f"refs/tags/mv/churn/{v2}", NOTES, "refs/tags/mv/churn/production/2")
    refused(proc, "R1 gate")
    assert "auc vs v1 (production)" in proc.stdout + proc.stderr
    assert server.refs() == before


def test_check_uses_the_reevaluation_not_the_eval_dated_2099(published):
    v2 = _eval_dated_2099_then_an_honest_reeval(published)
    assert "0.84 vs 0.85" in failures(published, v2)["auc vs v1 (production)"]


# ---------------------------------------------------------------- the baseline must have what is compared

def _baseline_evaluated_with(repo: ModelRepo, tmp_path, report: dict) -> str:
    """v1 in production whose only eval is `report`; v2 better on everything, honestly evaluated."""
    v1 = repo.version(0.85, 0.80, evaluate=False)
    (tmp_path / "report.json").write_text(json.dumps(report))
    repo.mv("eval", "churn", v1, "--from-file", str(tmp_path / "report.json"))
    repo.mv("promote", "churn", v1, "--stage", "production")  # first entry: thresholds alone decide
    accepted(push(repo, "refs/tags/mv/*:refs/tags/mv/*", NOTES))
    return repo.version(0.90, 0.85)


@pytest.fixture
def clone(server, tmp_path, keys):
    repo = ModelRepo(tmp_path / "bob", keys)
    repo.git("remote", "add", "origin", server.url)
    accepted(push(repo, "main"))
    return repo


def test_a_baseline_whose_eval_lacks_a_gated_metric_fails_the_promotion_on_the_server(clone, server, tmp_path):
    v2 = _baseline_evaluated_with(clone, tmp_path, {"metrics": {"auc": 0.85}, "slices": {"region=eu": {"auc": 0.80}}})
    forge_stage_tag(clone, v2, "production", 2)
    before = server.refs()
    proc = push(clone, f"refs/tags/mv/churn/{v2}", NOTES, "refs/tags/mv/churn/production/2")
    refused(proc, "R1 gate")
    assert "the eval of baseline v1 (production) lacks latency_ms" in proc.stdout + proc.stderr
    assert server.refs() == before


def test_check_fails_a_baseline_whose_eval_lacks_a_gated_metric(clone, tmp_path):
    v2 = _baseline_evaluated_with(clone, tmp_path, {"metrics": {"auc": 0.85}, "slices": {"region=eu": {"auc": 0.80}}})
    detail = failures(clone, v2)["latency_ms vs v1 (production)"]
    assert "git mv-promote eval churn v1" in detail


def test_a_baseline_whose_eval_lacks_the_protected_slice_fails_the_promotion_on_the_server(clone, server, tmp_path):
    v2 = _baseline_evaluated_with(clone, tmp_path, {"metrics": {"auc": 0.85, "latency_ms": 5.0}})
    forge_stage_tag(clone, v2, "production", 2)
    before = server.refs()
    proc = push(clone, f"refs/tags/mv/churn/{v2}", NOTES, "refs/tags/mv/churn/production/2")
    refused(proc, "R1 gate")
    assert "lacks the protected slice region=eu" in proc.stdout + proc.stderr
    assert server.refs() == before


def test_check_fails_a_baseline_whose_eval_lacks_the_protected_slice(clone, tmp_path):
    v2 = _baseline_evaluated_with(clone, tmp_path, {"metrics": {"auc": 0.85, "latency_ms": 5.0}})
    assert "lacks the protected slice region=eu" in failures(clone, v2)["slice region=eu"]


# ---------------------------------------------------------------- version hygiene

def test_a_far_ahead_version_number_is_refused(published, server):
    forge_version_tag(published, 999999999)
    before = server.refs()
    proc = push(published, "refs/tags/mv/churn/v999999999")
    refused(proc, "R1 version-seq")
    assert "next churn version is v2" in proc.stdout + proc.stderr
    assert server.refs() == before


def test_a_skipped_version_number_is_refused(published, server):
    forge_version_tag(published, 3)
    before = server.refs()
    refused(push(published, "refs/tags/mv/churn/v3"), "R1 version-seq")
    assert server.refs() == before


def test_versions_pushed_together_are_judged_in_number_order(published, server):
    made = [published.version(0.86 + n / 1000, 0.80, evaluate=False) for n in range(9)]
    assert made[-1] == "v10"
    accepted(push(published, *(f"refs/tags/mv/churn/{v}" for v in made)))
    assert "refs/tags/mv/churn/v10" in server.refs()


def test_a_version_skipping_a_number_after_one_accepted_earlier_in_the_same_push_is_refused(published, server):
    """Each version of a push is judged against the state the earlier ones left (v2 accepted, so the
    next is v3), without listing the model's versions again per tag."""
    v2 = published.version(0.86, 0.80, evaluate=False)
    forge_version_tag(published, 4)
    before = server.refs()
    proc = push(published, f"refs/tags/mv/churn/{v2}", "refs/tags/mv/churn/v4")
    refused(proc, "R1 version-seq")
    assert "v4 but the server's next churn version is v3" in proc.stdout + proc.stderr
    assert server.refs() == before


def test_a_version_record_without_artifacts_is_refused(published, server):
    forge_version_tag(published, 2, artifacts={})
    before = server.refs()
    refused(push(published, "refs/tags/mv/churn/v2"), "R1 version-artifacts")
    assert server.refs() == before


def test_a_version_record_with_an_artifact_not_in_the_policy_is_refused(published, server):
    arts = {"model.bin": {"sha256": "ab" * 32, "size": 1}, "extra.bin": {"sha256": "cd" * 32, "size": 1}}
    forge_version_tag(published, 2, artifacts=arts)
    before = server.refs()
    proc = push(published, "refs/tags/mv/churn/v2")
    refused(proc, "R1 version-artifacts")
    assert "extra.bin" in proc.stdout + proc.stderr
    assert server.refs() == before


def test_register_refuses_artifacts_other_than_the_policys(model_repo):
    (model_repo.path / "other.bin").write_text("x\n")
    model_repo.write_model(0.9, 0.9)
    model_repo.commit("train")
    result = model_repo.mv("register", "churn", "--artifact", "other.bin", code=1)
    assert "policy's artifacts (model.bin)" in result.err
    assert model_repo.ref("refs/tags/mv/churn/v1") is None
