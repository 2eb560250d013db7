"""`eval` (evidence bound to artifact digests, stored as TOML notes on the version tag object) and
`check` (the gate: one criterion per row, exit 0 pass / 1 fail)."""

from __future__ import annotations

import hashlib
import json
import re
import tomllib

import pytest

from conftest import POLICY, ModelRepo

NOTES = "refs/notes/mv-promote"
COMMAND = "python3 eval.py {artifact} {output}"


def note_records(r, version: str) -> list[dict]:
    tag = r.git("rev-parse", f"refs/tags/mv/churn/{version}")
    text = r.git("notes", "--ref", "mv-promote", "show", tag, check=False)
    return tomllib.loads(text).get("record", []) if text else []


def failed(result) -> list[str]:
    return [c["name"] for c in result.json["criteria"] if not c["passed"]]


def criterion(result, name: str) -> dict:
    found = [c for c in result.json["criteria"] if c["name"] == name]
    assert found, f"no criterion {name!r} in {[c['name'] for c in result.json['criteria']]}"
    return found[0]


def write_json(path, data) -> str:
    path.write_text(data if isinstance(data, str) else json.dumps(data))
    return str(path)


# ================================================================ eval: the record

def test_eval_runs_the_policy_command_and_records_metrics_and_slices(model_repo):
    r = model_repo
    r.version(0.85, 0.80, evaluate=False)
    rec = r.mv("eval", "churn", "v1", "--json").json["record"]
    assert rec["kind"] == "eval" and rec["model"] == "churn" and rec["version"] == "v1"
    assert rec["metrics"] == {"auc": 0.85, "latency_ms": 5.0}
    assert rec["slices"] == {"region=eu": {"auc": 0.80}, "region=us": {"auc": 0.85}}


def test_eval_record_is_bound_to_the_artifact_digests(model_repo):
    r = model_repo
    r.version(0.85, 0.80, evaluate=False)
    rec = r.mv("eval", "churn", "v1", "--json").json["record"]
    assert rec["artifacts"] == {"model.bin": hashlib.sha256((r.path / "model.bin").read_bytes()).hexdigest()}


def test_eval_record_names_suite_command_exit_status_and_duration(model_repo):
    r = model_repo
    r.version(0.85, 0.80, evaluate=False)
    rec = r.mv("eval", "churn", "v1", "--json").json["record"]
    assert rec["suite"] == "holdout"
    assert rec["command"] == COMMAND
    assert rec["exit_status"] == 0
    assert isinstance(rec["duration_s"], float) and rec["duration_s"] >= 0
    # by is the principal of the signing key, not the typed user name; the record is signed
    assert rec["by"] == "alice@example.com" and rec["at"] == "2026-11-01T09:00:00Z"
    assert rec["signature"].startswith("-----BEGIN SSH SIGNATURE-----")


def test_eval_record_is_stored_intact_in_the_note(model_repo):
    from gitmv import records

    r = model_repo
    r.version(0.85, 0.80, evaluate=False)
    rec = r.mv("eval", "churn", "v1", "--json").json["record"]
    stored = note_records(r, "v1")
    assert stored == [rec]
    assert records.record_is_intact(stored[0])


def test_eval_text_output_names_the_record_and_metrics(model_repo):
    r = model_repo
    r.version(0.85, 0.80, evaluate=False)
    out = r.mv("eval", "churn", "v1").out
    assert re.match(r"recorded eval sha256:[0-9a-f]{12}… for churn v1 on suite holdout", out)
    assert "auc=0.85" in out and "region=eu: auc=0.8" in out


def test_eval_from_file_imports_a_report_made_elsewhere(model_repo, tmp_path):
    r = model_repo
    r.version(0.85, 0.80, evaluate=False)
    f = write_json(tmp_path / "ci-metrics.json", {"metrics": {"auc": 0.87}, "slices": {"region=eu": {"auc": 0.81}}})
    rec = r.mv("eval", "churn", "v1", "--from-file", f, "--json").json["record"]
    assert rec["metrics"] == {"auc": 0.87}
    assert rec["slices"] == {"region=eu": {"auc": 0.81}}
    assert rec["from_file"] == "ci-metrics.json"
    assert "command" not in rec
    assert rec["artifacts"] == {"model.bin": hashlib.sha256((r.path / "model.bin").read_bytes()).hexdigest()}


def test_eval_suite_option_overrides_the_policy_suite(model_repo):
    r = model_repo
    r.version(0.85, 0.80, evaluate=False)
    assert r.mv("eval", "churn", "v1", "--suite", "nightly", "--json").json["record"]["suite"] == "nightly"


def test_evals_accumulate_in_one_note(model_repo, tmp_path):
    r = model_repo
    r.version(0.85, 0.80, evaluate=False)
    r.mv("eval", "churn", "v1")
    r.mv("eval", "churn", "v1", "--suite", "nightly")
    assert sorted(rec["suite"] for rec in note_records(r, "v1")) == ["holdout", "nightly"]


def test_eval_uses_the_registered_bytes_when_the_work_tree_artifact_changed(model_repo):
    r = model_repo
    r.version(0.85, 0.80, evaluate=False)
    (r.path / "model.bin").write_text("0.10 0.10 99\n")
    rec = r.mv("eval", "churn", "v1", "--json").json["record"]
    assert rec["metrics"] == {"auc": 0.85, "latency_ms": 5.0}
    assert rec["slices"]["region=eu"] == {"auc": 0.80}


def test_eval_of_an_older_version_uses_its_git_blob(model_repo):
    r = model_repo
    r.version(0.85, 0.80, evaluate=False)
    r.version(0.90, 0.88, evaluate=False)
    assert r.mv("eval", "churn", "v1", "--json").json["record"]["metrics"]["auc"] == 0.85


def test_eval_refuses_when_no_copy_has_the_registered_digest(tmp_path, keys):
    # an ignored artifact without a DVC pin registers only in the research tier (issue 17)
    r = ModelRepo(tmp_path / "research", keys, POLICY.replace('tier = "production"', 'tier = "research"'))
    (r.path / ".gitignore").write_text("model.bin\n")
    r.commit("untracked artifact")
    r.write_model(0.85, 0.80)
    r.mv("register", "churn")
    (r.path / "model.bin").write_text("0.5 0.5\n")
    before = r.ref(NOTES)
    result = r.mv("eval", "churn", "v1", code=1)
    assert "model.bin is not retrievable" in result.err
    assert r.ref(NOTES) == before


def test_eval_of_an_unregistered_version_is_exit_1(model_repo):
    result = model_repo.mv("eval", "churn", "v3", code=1)
    assert "v3" in result.err


# ================================================================ eval: nothing recorded on failure

def test_failing_eval_command_exits_1_and_records_nothing(model_repo):
    r = model_repo
    r.version(0.85, 0.80)
    before = r.ref(NOTES)
    (r.path / "eval.py").write_text("import sys\nsys.stderr.write('cuda out of memory\\n')\nsys.exit(3)\n")
    r.commit("break the eval script")  # eval runs only committed command files
    result = r.mv("eval", "churn", "v1", code=1)
    assert "exited 3" in result.err and "cuda out of memory" in result.err
    assert r.ref(NOTES) == before


def test_failing_first_eval_leaves_no_notes_ref(model_repo):
    r = model_repo
    r.version(0.85, 0.80, evaluate=False)
    (r.path / "eval.py").write_text("raise SystemExit(1)\n")
    r.commit("break the eval script")  # eval runs only committed command files
    r.mv("eval", "churn", "v1", code=1)
    assert r.ref(NOTES) is None


def test_eval_command_writing_no_metrics_exits_1_and_records_nothing(model_repo):
    r = model_repo
    r.version(0.85, 0.80, evaluate=False)
    (r.path / "eval.py").write_text("pass\n")
    r.commit("break the eval script")  # eval runs only committed command files
    result = r.mv("eval", "churn", "v1", code=1)
    assert "no metrics file" in result.err
    assert r.ref(NOTES) is None


def test_eval_command_writing_malformed_json_exits_1_and_records_nothing(model_repo):
    r = model_repo
    r.version(0.85, 0.80, evaluate=False)
    (r.path / "eval.py").write_text("import sys\nopen(sys.argv[2], 'w').write('auc: 0.9')\n")
    r.commit("break the eval script")  # eval runs only committed command files
    result = r.mv("eval", "churn", "v1", code=1)
    assert "not JSON" in result.err
    assert r.ref(NOTES) is None


@pytest.mark.parametrize("content, complaint", [
    ("this is not json", "not JSON"),
    ('{"slices": {}}', "no metrics"),
    ('{"metrics": {}}', "no metrics"),
    ('{"metrics": {"auc": "0.9"}}', "metrics.auc is not a finite number"),
    ('{"metrics": {"auc": true}}', "metrics.auc is not a finite number"),
    ('{"metrics": {"auc": NaN}}', "metrics.auc is not a finite number"),
    ('{"metrics": {"auc": Infinity}}', "metrics.auc is not a finite number"),
    ('{"metrics": {"auc": 0.9}, "slices": {"region=eu": {"auc": NaN}}}', "slices.region=eu.auc is not a finite number"),
    ('{"metrics": {"auc": 0.9}, "slices": {"region=eu": 0.8}}', "slices.region=eu must be a table"),
    ('{"metrics": {"auc": 0.9}, "extra": 1}', "unexpected key"),
    ('[1, 2]', "no metrics"),
])
def test_malformed_metrics_file_exits_1_and_records_nothing(model_repo, tmp_path, content, complaint):
    r = model_repo
    r.version(0.85, 0.80)
    before = r.ref(NOTES)
    f = write_json(tmp_path / "bad.json", content)
    result = r.mv("eval", "churn", "v1", "--from-file", f, code=1)
    assert complaint in result.err
    assert "Traceback" not in result.err
    assert r.ref(NOTES) == before


def test_missing_from_file_is_exit_1_and_records_nothing(model_repo, tmp_path):
    r = model_repo
    r.version(0.85, 0.80, evaluate=False)
    result = r.mv("eval", "churn", "v1", "--from-file", str(tmp_path / "nope.json"), code=1)
    assert "not found" in result.err
    assert r.ref(NOTES) is None


def test_eval_command_with_an_unknown_placeholder_is_a_policy_fault_not_a_crash(tmp_path, keys):
    policy = POLICY.replace("{artifact} {output}", "{artifact} {output} {bogus}")
    r = ModelRepo(tmp_path / "placeholder", keys, policy)
    r.write_model(0.85, 0.80)
    r.commit("train")
    result = r.mv("register", "churn", code=None)
    assert result.code == 1, result.err
    assert "models.churn.eval.command" in result.err and "{bogus}" in result.err and "bug:" not in result.err


# ================================================================ notes on disk

def test_the_note_hangs_on_the_version_tag_object_and_git_notes_shows_the_toml(model_repo):
    r = model_repo
    r.version(0.85, 0.80)
    tag = r.git("rev-parse", "refs/tags/mv/churn/v1")
    text = r.git("notes", "--ref", "mv-promote", "show", tag)
    data = tomllib.loads(text)
    assert data["schema"] == 1
    assert [rec["kind"] for rec in data["record"]] == ["eval"]
    assert r.git("notes", "--ref", "mv-promote", "show", "HEAD", check=False) == ""


def test_notes_tree_uses_2_38_fan_out(model_repo):
    r = model_repo
    r.version(0.85, 0.80)
    r.version(0.90, 0.85)
    entries = r.git("ls-tree", "-r", "--name-only", NOTES).splitlines()
    tags = {r.git("rev-parse", f"refs/tags/mv/churn/{v}") for v in ("v1", "v2")}
    assert sorted(entries) == sorted(f"{t[:2]}/{t[2:]}" for t in tags)
    assert all(re.fullmatch(r"[0-9a-f]{2}/[0-9a-f]{38}", e) for e in entries)


def test_each_append_is_a_notes_commit_on_top_of_the_previous(model_repo):
    r = model_repo
    r.version(0.85, 0.80)
    first = r.ref(NOTES)
    r.mv("eval", "churn", "v1", "--suite", "nightly")
    assert r.git("rev-parse", f"{NOTES}^") == first


def test_a_flat_note_written_by_git_notes_is_kept_and_moved_under_the_fan_out(model_repo):
    from gitmv import records

    r = model_repo
    r.version(0.85, 0.80, evaluate=False)
    tag = r.git("rev-parse", "refs/tags/mv/churn/v1")
    foreign = records.render_note([records.make_note_record(
        "observation", {"model": "churn", "version": "v1", "what": "drift"}, at="2026-10-01T00:00:00Z", by="ops")])
    r.git("notes", "--ref", "mv-promote", "add", "-m", foreign, tag)
    assert r.git("ls-tree", "--name-only", NOTES) == tag  # git itself writes it flat
    r.mv("eval", "churn", "v1")
    assert r.git("ls-tree", "-r", "--name-only", NOTES) == f"{tag[:2]}/{tag[2:]}"
    assert sorted(rec["kind"] for rec in note_records(r, "v1")) == ["eval", "observation"]


# ================================================================ check: table and exit codes

def test_check_prints_one_row_per_criterion_and_exits_0_on_pass(model_repo):
    r = model_repo
    r.version(0.85, 0.80)
    result = r.mv("check", "churn", "v1", "--stage", "production")
    lines = result.out.splitlines()
    assert lines[0].split() == ["criterion", "detail"]
    rows = [line.split()[0] for line in lines[2:] if line.strip() and not line.startswith("churn")]
    assert set(rows) == {"pass"}
    for name in ("registered", "signature", "tier", "not deprecated", "eval", "threshold auc", "approvals"):
        assert any(line.split(None, 1)[1].startswith(name) for line in lines[2:] if line.startswith("pass")), name
    assert lines[-1] == "churn v1 may enter production"


def test_check_exits_1_and_marks_the_failing_row(model_repo):
    r = model_repo
    r.version(0.75, 0.80)
    result = r.mv("check", "churn", "v1", "--stage", "production", code=1)
    assert any(line.startswith("FAIL  threshold auc") for line in result.out.splitlines())
    assert result.out.splitlines()[-1] == "churn v1 may NOT enter production"


def test_check_without_an_eval_fails_on_the_eval_criterion(model_repo):
    r = model_repo
    r.version(0.85, 0.80, evaluate=False)
    result = r.mv("check", "churn", "v1", "--stage", "production", "--json", code=1)
    assert failed(result) == ["eval"]
    assert "no eval report on suite holdout" in criterion(result, "eval")["detail"]


def test_check_with_an_eval_only_on_another_suite_names_that_suite(model_repo):
    r = model_repo
    r.version(0.85, 0.80, evaluate=False)
    r.mv("eval", "churn", "v1", "--suite", "nightly")
    result = r.mv("check", "churn", "v1", "--stage", "production", "--json", code=1)
    assert failed(result) == ["eval"]
    assert "has evals on: nightly" in criterion(result, "eval")["detail"]


def test_check_below_the_threshold_fails_on_the_threshold(model_repo):
    r = model_repo
    r.version(0.79, 0.80)
    result = r.mv("check", "churn", "v1", "--stage", "staging", "--json", code=1)
    assert failed(result) == ["threshold auc"]
    assert criterion(result, "threshold auc")["detail"] == "0.79 ≥ 0.8 required"


def test_check_at_exactly_the_threshold_passes(model_repo):
    r = model_repo
    r.version(0.80, 0.80)
    r.mv("check", "churn", "v1", "--stage", "staging")


def test_check_fails_on_an_overall_regression_against_the_stage_version(model_repo):
    r = model_repo
    r.version(0.90, 0.80)
    r.mv("promote", "churn", "v1", "--stage", "production")
    r.version(0.88, 0.85)
    result = r.mv("check", "churn", "v2", "--stage", "production", "--json", code=1)
    assert failed(result) == ["auc vs v1 (production)"]
    assert result.json["baseline"] == "v1" and result.json["baseline_stage"] == "production"


def test_check_fails_on_a_lower_is_better_metric_beyond_its_tolerance(model_repo):
    r = model_repo
    r.version(0.90, 0.80, latency=5.0)
    r.mv("promote", "churn", "v1", "--stage", "production")
    r.version(0.91, 0.81, latency=6.5)
    result = r.mv("check", "churn", "v2", "--stage", "production", "--json", code=1)
    assert failed(result) == ["latency_ms vs v1 (production)"]


def test_check_passes_a_lower_is_better_regression_within_its_tolerance(model_repo):
    r = model_repo
    r.version(0.90, 0.80, latency=5.0)
    r.mv("promote", "churn", "v1", "--stage", "production")
    r.version(0.91, 0.81, latency=6.0)
    r.mv("check", "churn", "v2", "--stage", "production")


def test_check_fails_on_a_protected_slice_regression_even_when_overall_improves(model_repo):
    r = model_repo
    r.version(0.85, 0.80)
    r.mv("promote", "churn", "v1", "--stage", "production")
    r.version(0.95, 0.79)
    result = r.mv("check", "churn", "v2", "--stage", "production", "--json", code=1)
    assert failed(result) == ["slice region=eu auc vs v1 (production)"]


def test_unprotected_slice_regression_does_not_fail_the_gate(model_repo, tmp_path):
    r = model_repo
    r.version(0.85, 0.80)
    r.mv("promote", "churn", "v1", "--stage", "production")
    r.version(0.86, 0.81, evaluate=False)
    f = write_json(tmp_path / "m.json", {"metrics": {"auc": 0.86, "latency_ms": 5},
                                          "slices": {"region=eu": {"auc": 0.81}, "region=us": {"auc": 0.10}}})
    r.mv("eval", "churn", "v2", "--from-file", f)
    r.mv("check", "churn", "v2", "--stage", "production")


def test_check_fails_when_the_protected_slice_is_missing_from_the_report(model_repo, tmp_path):
    r = model_repo
    r.version(0.85, 0.80)
    r.mv("promote", "churn", "v1", "--stage", "production")
    r.version(0.86, 0.81, evaluate=False)
    r.mv("eval", "churn", "v2", "--from-file", write_json(tmp_path / "m.json", {"metrics": {"auc": 0.86, "latency_ms": 5}}))
    result = r.mv("check", "churn", "v2", "--stage", "production", "--json", code=1)
    assert failed(result) == ["slice region=eu"]


def test_check_refuses_a_deprecated_version(model_repo):
    r = model_repo
    r.version(0.85, 0.80)
    r.mv("deprecate", "churn", "v1", "-m", "trained on leaked labels")
    result = r.mv("check", "churn", "v1", "--stage", "staging", "--json", code=1)
    assert failed(result) == ["not deprecated"]
    assert "trained on leaked labels" in criterion(result, "not deprecated")["detail"]


def test_check_on_an_unknown_stage_is_exit_1_naming_it(model_repo):
    r = model_repo
    r.version(0.85, 0.80)
    result = r.mv("check", "churn", "v1", "--stage", "prod", code=1)
    assert "unknown stage 'prod'" in result.err
    assert "staging, production" in result.err


def test_check_on_an_unregistered_version_fails_the_registered_criterion(model_repo):
    result = model_repo.mv("check", "churn", "v4", "--stage", "staging", "--json", code=1)
    assert failed(result) == ["registered"]


def test_check_on_an_unknown_model_is_exit_1(model_repo):
    result = model_repo.mv("check", "fraud", "v1", "--stage", "staging", code=1)
    assert "unknown model 'fraud'" in result.err


def test_check_refuses_an_unsigned_version_in_the_production_tier(model_repo):
    r = model_repo
    r.version(0.85, 0.80, evaluate=False)
    from gitmv.records import split_signature

    raw = r.git("cat-file", "tag", "mv/churn/v1") + "\n"
    message, _ = split_signature(raw.split("\n\n", 1)[1].encode())
    (r.path.parent / "msg").write_bytes(message)
    r.git("tag", "-d", "mv/churn/v1")
    r.git("tag", "-a", "--cleanup=verbatim", "-F", str(r.path.parent / "msg"), "mv/churn/v1", "HEAD")
    r.mv("eval", "churn", "v1")
    result = r.mv("check", "churn", "v1", "--stage", "staging", "--json", code=1)
    assert failed(result) == ["signature"]
    assert criterion(result, "signature")["detail"].startswith("unsigned")


def test_check_refuses_a_version_signed_by_a_key_not_allowed(model_repo, keys):
    r = model_repo
    r.git("config", "user.signingkey", str(keys.private("mallory")))
    r.version(0.85, 0.80)
    result = r.mv("check", "churn", "v1", "--stage", "staging", "--json", code=1)
    # mallory's eval of it is signed by the same key, so it is no evidence either
    assert failed(result) == ["signature", "eval"]
    assert "not in allowed signers" in criterion(result, "signature")["detail"]


# ================================================================ check: the baseline

def test_with_an_empty_registry_thresholds_alone_decide(model_repo):
    r = model_repo
    r.version(0.81, 0.10)
    result = r.mv("check", "churn", "v1", "--stage", "production", "--json")
    assert result.json["baseline"] is None
    assert not [c for c in result.json["criteria"] if " vs " in c["name"]]


def test_the_stage_current_version_is_the_baseline(model_repo):
    r = model_repo
    r.version(0.85, 0.80)
    r.mv("promote", "churn", "v1", "--stage", "staging")
    r.version(0.86, 0.81)
    result = r.mv("check", "churn", "v2", "--stage", "staging", "--json")
    assert (result.json["baseline"], result.json["baseline_stage"]) == ("v1", "staging")
    assert criterion(result, "auc vs v1 (staging)")["passed"]


def test_first_promotion_to_a_stage_compares_with_the_most_protected_stage(model_repo):
    r = model_repo
    r.version(0.90, 0.85)
    r.mv("promote", "churn", "v1", "--stage", "production")
    r.version(0.88, 0.86)
    result = r.mv("check", "churn", "v2", "--stage", "staging", "--json", code=1)
    assert (result.json["baseline"], result.json["baseline_stage"]) == ("v1", "production")
    assert failed(result) == ["auc vs v1 (production)"]


def test_the_stage_version_takes_precedence_over_the_most_protected_one(model_repo):
    r = model_repo
    r.version(0.85, 0.80)
    r.mv("promote", "churn", "v1", "--stage", "staging")
    r.mv("promote", "churn", "v1", "--stage", "production")
    r.version(0.95, 0.90)
    r.mv("promote", "churn", "v2", "--stage", "production")
    r.version(0.90, 0.85)  # beats staging's v1, not production's v2
    result = r.mv("check", "churn", "v3", "--stage", "staging", "--json")
    assert (result.json["baseline"], result.json["baseline_stage"]) == ("v1", "staging")


def test_first_promotion_to_the_most_protected_stage_is_decided_by_thresholds_alone(model_repo):
    r = model_repo
    r.version(0.85, 0.80)
    r.mv("promote", "churn", "v1", "--stage", "staging")
    r.version(0.86, 0.75)  # worse on the eu slice than staging's v1
    result = r.mv("check", "churn", "v2", "--stage", "production", "--json", code=None)
    assert result.json["baseline"] is None
    assert result.code == 0


def test_baseline_without_an_eval_on_the_suite_fails_the_baseline_eval_criterion(model_repo, tmp_path):
    r = model_repo
    r.version(0.85, 0.80)
    r.mv("promote", "churn", "v1", "--stage", "production")
    r.version(0.86, 0.81)
    # production's v1 loses its evidence (removed behind the tool's back)
    tag = r.git("rev-parse", "refs/tags/mv/churn/v1")
    r.git("notes", "--ref", "mv-promote", "remove", tag)
    result = r.mv("check", "churn", "v2", "--stage", "production", "--json", code=1)
    assert "baseline eval" in failed(result)


# ================================================================ check: stage order

def ordered_repo(tmp_path, keys) -> ModelRepo:
    policy = POLICY.replace('allowed_signers = ".mv-promote/allowed_signers"',
                            'allowed_signers = ".mv-promote/allowed_signers"\nrequire_previous_stage = true')
    return ModelRepo(tmp_path / "ordered", keys, policy)


def test_require_previous_stage_refuses_production_before_staging(tmp_path, keys):
    r = ordered_repo(tmp_path, keys)
    r.version(0.85, 0.80)
    result = r.mv("check", "churn", "v1", "--stage", "production", "--json", code=1)
    assert failed(result) == ["previous stage"]
    assert "never been in staging" in criterion(result, "previous stage")["detail"]
    r.mv("promote", "churn", "v1", "--stage", "production", code=1)
    assert r.git("tag", "-l", "mv/churn/production/*") == ""


def test_require_previous_stage_allows_production_after_staging(tmp_path, keys):
    r = ordered_repo(tmp_path, keys)
    r.version(0.85, 0.80)
    r.mv("promote", "churn", "v1", "--stage", "staging")
    result = r.mv("check", "churn", "v1", "--stage", "production", "--json")
    assert criterion(result, "previous stage")["passed"]


def test_without_require_previous_stage_production_may_come_first(model_repo):
    r = model_repo
    r.version(0.85, 0.80)
    result = r.mv("check", "churn", "v1", "--stage", "production", "--json")
    assert "previous stage" not in [c["name"] for c in result.json["criteria"]]


# ================================================================ research tier

def test_research_tier_model_is_not_gated_but_cannot_enter_a_protected_stage(tmp_path, keys):
    policy = POLICY.replace('tier = "production"', 'tier = "research"')
    r = ModelRepo(tmp_path / "research", keys, policy)
    r.write_model(0.10, 0.10)
    r.commit("m")
    r.mv("register", "churn", "--no-sign")
    staging = r.mv("check", "churn", "v1", "--stage", "staging", "--json")
    assert "eval" not in [c["name"] for c in staging.json["criteria"]]
    production = r.mv("check", "churn", "v1", "--stage", "production", "--json", code=1)
    assert failed(production) == ["tier"]
