"""`replay` on two real scikit-learn versions: the comparison it records, the gate's replay bound
in `check`/`promote`, the evidence binding, DVC-pinned inputs, and the reviewer page."""

from __future__ import annotations

import shutil
import subprocess

import pytest

from conftest import REPLAY_POLICY, SklearnRepo, dvc, note_text

pytest.importorskip("sklearn")


@pytest.fixture
def repo(tmp_path, keys) -> SklearnRepo:
    return SklearnRepo(tmp_path / "repo", keys)


@pytest.fixture
def live_lr(repo):
    """v1 (logistic regression, C=1) in production."""
    v1 = repo.classifier("lr-1")
    repo.mv("promote", "churn", v1, "--stage", "production")
    return repo


def test_replay_records_the_agreement_of_two_real_versions_on_the_pinned_inputs(live_lr):
    v2 = live_lr.classifier("tree-2")
    result = live_lr.mv("replay", "churn", v2, "--json").json
    rec = result["record"]
    assert (result["against"], result["against_stage"]) == ("v1", "production")
    assert rec["kind"] == "replay" and rec["rows"] == 169
    assert rec["agree"] == 154 and rec["agreement"] == pytest.approx(154 / 169)
    assert rec["output"] == "labels" and "max_abs_diff" not in rec
    assert len(rec["top"]) == 10
    assert all(row["candidate"] != row["baseline"] for row in rec["top"])
    assert [row["row"] for row in rec["top"]] == sorted(row["row"] for row in rec["top"])


def test_the_replay_record_is_signed_and_bound_to_both_artifacts_the_inputs_and_the_command(live_lr):
    v2 = live_lr.classifier("tree-2")
    rec = live_lr.mv("replay", "churn", v2, "--json").json["record"]
    shown = live_lr.mv("show", "churn", "v1", "--json").json
    import hashlib

    assert rec["signature"].startswith("-----BEGIN SSH SIGNATURE-----") and rec["by"] == "alice@example.com"
    assert rec["artifacts"] == {"model.bin": hashlib.sha256((live_lr.path / "model.bin").read_bytes()).hexdigest()}
    assert rec["against"]["tag"] == live_lr.git("rev-parse", "refs/tags/mv/churn/v1")
    assert rec["against"]["artifacts"] == {k: v["sha256"] for k, v in shown["record"]["artifacts"].items()}
    assert rec["inputs"] == {"path": "data/prod.csv", "size": (live_lr.path / "data/prod.csv").stat().st_size,
                             "sha256": hashlib.sha256((live_lr.path / "data/prod.csv").read_bytes()).hexdigest()}
    assert rec["command_digest"].startswith("sha256:") and rec["code_commit"] == live_lr.git("rev-parse", "HEAD")
    assert rec["id"] in note_text(live_lr, v2)


def test_replay_against_an_explicit_version(live_lr):
    v2 = live_lr.classifier("lr-0.1")
    v3 = live_lr.classifier("tree-2")
    result = live_lr.mv("replay", "churn", v3, "--against", v2, "--json").json
    assert result["against"] == v2 and result["against_stage"] is None
    assert result["record"]["against"]["version"] == v2


def test_replay_prints_the_agreement_and_the_rows_that_differ_most(live_lr):
    v2 = live_lr.classifier("tree-2")
    out = live_lr.mv("replay", "churn", v2).out
    assert "agreement 0.9112 (154/169 rows agree)" in out
    assert "rows that differ most (of 15 that differ):" in out
    assert "recorded replay sha256:" in out


def test_check_and_promote_refuse_below_min_agreement_naming_replay(live_lr):
    v2 = live_lr.classifier("tree-2")
    live_lr.mv("replay", "churn", v2)
    check = live_lr.mv("check", "churn", v2, "--stage", "production", "--json", code=1).json
    failed = [c for c in check["criteria"] if not c["passed"]]
    assert [c["name"] for c in failed] == ["replay"]
    assert "agreement 0.9112 (154/169 rows) < 0.98 required vs v1 (production)" in failed[0]["detail"]
    refused = live_lr.mv("promote", "churn", v2, "--stage", "production", code=1)
    assert "replay" in refused.err
    assert live_lr.ref("refs/tags/mv/churn/production/2") is None


def test_the_gate_accepts_when_the_agreement_meets_the_bound(live_lr):
    v2 = live_lr.classifier("lr-0.1")
    live_lr.mv("replay", "churn", v2)
    check = live_lr.mv("check", "churn", v2, "--stage", "production", "--json").json
    replay = next(c for c in check["criteria"] if c["name"] == "replay")
    assert replay["passed"] and "agreement 0.9941 (168/169 rows) ≥ 0.98 required" in replay["detail"]
    live_lr.mv("promote", "churn", v2, "--stage", "production")


def test_the_gate_needs_a_replay_record(live_lr):
    v2 = live_lr.classifier("lr-0.1")
    check = live_lr.mv("check", "churn", v2, "--stage", "production", "--json", code=1).json
    replay = next(c for c in check["criteria"] if c["name"] == "replay")
    assert not replay["passed"] and f"git mv-promote replay churn {v2} --against production" in replay["detail"]


def test_a_first_version_has_nothing_to_replay_against(repo):
    v1 = repo.classifier("lr-1")
    check = repo.mv("check", "churn", v1, "--stage", "production", "--json").json
    replay = next(c for c in check["criteria"] if c["name"] == "replay")
    assert replay["passed"] and "nothing to replay against" in replay["detail"]


def test_a_replay_record_bound_to_another_artifact_digest_does_not_count(live_lr):
    """A real, signed replay record whose candidate digest is not the version's: not evidence."""
    from gitmv.git import notes, record_signing
    from gitmv.ops.context import open_context

    v2 = live_lr.classifier("lr-0.1")
    rec = live_lr.mv("replay", "churn", v2, "--json").json["record"]
    body = {k: v for k, v in rec.items() if k not in ("id", "signature", "kind", "at", "by")}
    ctx = open_context(live_lr.path)
    for changed in ({**body, "artifacts": {"model.bin": "0" * 64}},
                    {**body, "against": {**body["against"], "artifacts": {"model.bin": "0" * 64}}}):
        forged = record_signing.new_record(ctx.repo, "replay", changed, at="2026-11-01T09:00:01Z",
                                           allowed_signers=ctx.registry.allowed_signers, signed=True)
        assert forged["signature"]
        notes.append(ctx.repo, rec_target(live_lr, v2), [forged], "forged replay")
    # drop the honest record: put back a note holding only the forged ones
    text = note_text(live_lr, v2)
    assert text.count("kind = \"replay\"") == 3
    from gitmv import records

    kept = [r for r in records.parse_note(text.encode()) if r["id"] != rec["id"]]
    live_lr.git("notes", "--ref", "mv-promote", "add", "-f", "-m", records.render_note(kept).rstrip("\n"),
                rec_target(live_lr, v2))
    check = live_lr.mv("check", "churn", v2, "--stage", "production", "--json", code=1).json
    replay = next(c for c in check["criteria"] if c["name"] == "replay")
    assert not replay["passed"] and "no signed replay" in replay["detail"]


def rec_target(repo, version: str) -> str:
    return repo.git("rev-parse", f"refs/tags/mv/churn/{version}")


def test_replay_in_a_signed_tier_needs_a_signing_key_and_records_nothing_without_one(live_lr):
    v2 = live_lr.classifier("lr-0.1")
    live_lr.git("config", "user.signingkey", "")
    result = live_lr.mv("replay", "churn", v2, code=1)
    assert "cannot sign the replay record: no signing key configured" in result.err
    assert 'kind = "replay"' not in note_text(live_lr, v2)


def test_replay_refuses_when_the_replay_command_is_dirty(live_lr):
    v2 = live_lr.classifier("lr-0.1")
    (live_lr.path / "predict.py").write_text((live_lr.path / "predict.py").read_text() + "# edited\n")
    result = live_lr.mv("replay", "churn", v2, code=1)
    assert "uncommitted changes in files that define the replay of churn: predict.py" in result.err


def test_replay_refuses_when_the_inputs_are_dirty(live_lr):
    v2 = live_lr.classifier("lr-0.1")
    with open(live_lr.path / "data" / "prod.csv", "a") as fh:
        fh.write("1.0" + ",1.0" * 29 + "\n")
    result = live_lr.mv("replay", "churn", v2, code=1)
    assert "data/prod.csv" in result.err and "uncommitted" in result.err


def test_outputs_of_unequal_length_are_a_clear_error_and_nothing_is_recorded(live_lr):
    v2 = live_lr.classifier("lr-0.1")
    (live_lr.path / "predict.py").write_text(
        (live_lr.path / "predict.py").read_text().replace("model.predict(rows)", "model.predict(rows)[: 100 + int('C=' in repr(model))]"))
    live_lr.commit("predict: truncated for one kind of model")
    before = note_text(live_lr, v2)
    result = live_lr.mv("replay", "churn", v2, code=1)
    assert "v2 wrote 101 rows and v1 wrote 100: a replay compares the outputs row by row" in result.err
    assert "Traceback" not in result.err and note_text(live_lr, v2) == before


def test_a_failing_replay_command_records_nothing(live_lr):
    v2 = live_lr.classifier("lr-0.1")
    (live_lr.path / "predict.py").write_text("import sys\nsys.exit('no model today')\n")
    live_lr.commit("break predict")
    before = note_text(live_lr, v2)
    result = live_lr.mv("replay", "churn", v2, code=1)
    assert "replay command for churn v2 exited 1: no model today" in result.err
    assert note_text(live_lr, v2) == before


def test_replay_without_a_policy_table_is_a_usage_error(tmp_path, keys):
    r = SklearnRepo(tmp_path / "r", keys, policy=REPLAY_POLICY.split("[models.churn.replay]")[0].replace(
        'replay = { against = "production", min_agreement = 0.98 }\n', ""))
    v1 = r.classifier("lr-1", evaluate=False)
    result = r.mv("replay", "churn", v1, code=2)
    assert "no replay for churn in the policy" in result.err


def test_replay_with_nothing_live_names_the_fix(repo):
    v1 = repo.classifier("lr-1", evaluate=False)
    result = repo.mv("replay", "churn", v1, code=1)
    assert "nothing to replay churn v1 against" in result.err and "--against vN" in result.err


def test_the_reviewer_page_shows_the_replay_and_the_most_different_rows(live_lr):
    v2 = live_lr.classifier("lr-0.1")
    rec = live_lr.mv("replay", "churn", v2, "--json").json["record"]
    page = live_lr.mv("request", "churn", v2, "--stage", "production", "--json").json["page"]
    assert "## Replay against v1 (production)" in page
    assert "| agreement | 0.9941 (168/169 rows) |" in page
    row = rec["top"][0]
    assert f"| {row['row']} | {row['candidate']} | {row['baseline']} |" in page


# ---------------------------------------------------------------- inputs pinned by DVC

DVC_INPUTS = REPLAY_POLICY.replace('inputs = "data/prod.csv"', 'inputs = "data/prod.csv.dvc"')


def test_replay_on_inputs_pinned_by_dvc_reads_them_from_the_remote(tmp_path, keys, dvc_env, local_remote):
    pytest.importorskip("dvc")
    local_remote.mkdir()
    r = SklearnRepo(tmp_path / "repo", keys, policy=DVC_INPUTS, inputs=False)
    (r.path / "data" / "prod.csv").write_text(r.inputs)
    dvc("init", "-q", cwd=r.path)
    dvc("config", "core.analytics", "false", cwd=r.path)
    dvc("remote", "add", "-d", "store", str(local_remote), cwd=r.path)
    dvc("add", "-q", "data/prod.csv", cwd=r.path)
    dvc("push", "-q", cwd=r.path)
    r.commit("pin the production inputs with DVC")
    v1 = r.classifier("lr-1")
    r.mv("promote", "churn", v1, "--stage", "production")
    v2 = r.classifier("tree-2")
    data = (r.path / "data" / "prod.csv").read_bytes()
    (r.path / "data" / "prod.csv").unlink()
    shutil.rmtree(r.path / ".dvc" / "cache")
    rec = r.mv("replay", "churn", v2, "--json").json["record"]
    import hashlib

    md5 = subprocess.run(["git", "show", "HEAD:data/prod.csv.dvc"], cwd=r.path, capture_output=True, text=True).stdout
    assert rec["inputs"]["path"] == "data/prod.csv.dvc" and rec["inputs"]["data"] == "data/prod.csv"
    assert rec["inputs"]["md5"] == hashlib.md5(data).hexdigest() and rec["inputs"]["md5"] in md5
    assert rec["inputs"]["sha256"] == hashlib.sha256(data).hexdigest()
    assert (rec["rows"], rec["agree"]) == (169, 154)
