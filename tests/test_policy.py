"""`.mv-promote.toml` validation: every error names the key path; a bad policy never silently
disables a check. Through the CLI a bad committed policy is exit 1 and a one-line cause."""

from __future__ import annotations

import pytest

from conftest import POLICY
from gitmv.errors import PolicyError
from gitmv.policy import parse_policy


def policy_error(text: str) -> str:
    with pytest.raises(PolicyError) as info:
        parse_policy(text.encode())
    return str(info.value)


def edit(old: str, new: str, base: str = POLICY) -> str:
    assert old in base, old
    return base.replace(old, new, 1)


# ---------------------------------------------------------------- the good case

def test_the_reference_policy_parses_into_stages_models_and_gate():
    p = parse_policy(POLICY.encode())
    assert p.stages == ("staging", "production")
    assert p.protected_stages == ("production",)
    assert p.require_previous_stage is False
    assert p.experiment_retention == 30 * 86400
    churn = p.model("churn")
    assert churn.tier == "production"
    assert churn.artifacts == ("model.bin",)
    assert churn.eval_suite == "holdout"
    assert churn.gate.metrics == {"auc": "max", "latency_ms": "min"}
    assert churn.gate.thresholds == {"auc": 0.80}
    assert churn.gate.protected_slices == ("region=eu",)


def test_policy_digest_is_sha256_of_the_exact_bytes():
    import hashlib

    assert parse_policy(POLICY.encode()).digest == "sha256:" + hashlib.sha256(POLICY.encode()).hexdigest()


def test_every_key_of_the_design_page_is_accepted():
    full = '''schema = 1
[registry]
stages = ["staging", "production"]
protected_stages = ["production"]
protected_branch = "main"
allowed_signers = ".mv-promote/allowed_signers"
require_previous_stage = true
rollback_requires_approval = true
experiment_retention = "2w"
host_signers = ".mv-promote/host_signers"
policy_approvals = 2
[models.churn]
tier = "regulated"
artifacts = ["model.bin", "prompts/churn.txt"]
model_card = "MODEL_CARD.md"
data = ["data/train.dvc"]
params = "params.yaml"
lockfile = "requirements.lock"
[models.churn.eval]
suite = "holdout"
command = "python3 eval.py {artifact} {output}"
[models.churn.train]
command = "dvc repro"
[models.churn.gate]
metrics = { auc = "max", latency_ms = "min" }
thresholds = { auc = 0.80 }
max_regression = { auc = 0.0 }
protected_slices = ["region=eu"]
approvals = 1
eval_signers = ["ci@example.com"]
'''
    p = parse_policy(full.encode())
    assert p.host_signers == ".mv-promote/host_signers" and p.policy_approvals == 2
    assert p.model("churn").eval_signers == ("ci@example.com",)
    assert p.require_previous_stage and p.rollback_requires_approval
    assert p.experiment_retention == 14 * 86400
    assert p.model("churn").required_approvals == 2  # regulated: at least two


# ---------------------------------------------------------------- errors name the key path

def test_unknown_registry_key_is_named_with_its_path():
    msg = policy_error(edit('protected_branch = "main"', 'protected_branch = "main"\nstagez = ["x"]'))
    assert "registry.stagez" in msg


def test_unknown_top_level_table_is_named():
    msg = policy_error(POLICY + '\n[registy]\nstages = ["a"]\n')
    assert "registy" in msg


def test_unknown_key_in_a_model_eval_table_is_named_with_its_path():
    msg = policy_error(edit('suite = "holdout"', 'suite = "holdout"\nsuit = "x"'))
    assert "models.churn.eval.suit" in msg


def test_threshold_on_a_metric_not_declared_in_metrics_is_named():
    msg = policy_error(edit("thresholds = { auc = 0.80 }", "thresholds = { auc = 0.80, f1 = 0.5 }"))
    assert "models.churn.gate.thresholds.f1" in msg
    assert "metrics" in msg


def test_max_regression_on_a_metric_not_declared_is_named():
    msg = policy_error(edit("max_regression = { auc = 0.0, latency_ms = 1.0 }", "max_regression = { recall = 0.0 }"))
    assert "models.churn.gate.max_regression.recall" in msg


def test_wrong_type_for_a_boolean_names_the_key_and_the_type():
    msg = policy_error(edit('protected_branch = "main"', 'protected_branch = "main"\nrequire_previous_stage = "yes"'))
    assert "registry.require_previous_stage" in msg
    assert "true or false" in msg


def test_wrong_type_for_artifacts_names_the_key():
    msg = policy_error(edit('artifacts = ["model.bin"]', 'artifacts = "model.bin"'))
    assert "models.churn.artifacts" in msg
    assert "array" in msg


def test_non_numeric_threshold_names_the_key():
    msg = policy_error(edit("thresholds = { auc = 0.80 }", 'thresholds = { auc = "high" }'))
    assert "models.churn.gate.thresholds.auc" in msg
    assert "number" in msg


def test_metric_direction_other_than_max_or_min_is_refused():
    msg = policy_error(edit('latency_ms = "min" }', 'latency_ms = "lowest" }'))
    assert "models.churn.gate.metrics.latency_ms" in msg


def test_invalid_tier_names_the_key_and_the_valid_tiers():
    msg = policy_error(edit('tier = "production"', 'tier = "prod"'))
    assert "models.churn.tier" in msg
    assert "research" in msg and "regulated" in msg


def test_production_tier_without_an_eval_suite_is_refused():
    msg = policy_error(edit('suite = "holdout"\n', ""))
    assert "models.churn.eval.suite" in msg


def test_production_tier_without_gate_metrics_is_refused():
    text = POLICY.split("[models.churn.gate]")[0]
    msg = policy_error(text)
    assert "models.churn.gate.metrics" in msg


def test_research_tier_needs_neither_eval_suite_nor_gate():
    text = POLICY.split("[models.churn.eval]")[0].replace('tier = "production"', 'tier = "research"')
    assert parse_policy(text.encode()).model("churn").tier == "research"


def test_regulated_tier_without_a_model_card_is_refused():
    msg = policy_error(edit('tier = "production"', 'tier = "regulated"'))
    assert "models.churn.model_card" in msg
    assert "regulated" in msg


@pytest.mark.parametrize("bad", ["Churn", "churn.v2", "-churn", "a" * 65])
def test_invalid_model_name_key_is_refused_naming_it(bad):
    msg = policy_error(POLICY.replace("models.churn", f'models."{bad}"'))
    assert f"models.{bad}" in msg
    assert "model name" in msg


def test_stage_that_looks_like_a_version_is_refused():
    msg = policy_error(edit('stages = ["staging", "production"]', 'stages = ["staging", "v2"]'))
    assert "registry.stages[1]" in msg
    assert "'v2'" in msg


def test_stage_with_an_invalid_name_is_refused():
    msg = policy_error(edit('stages = ["staging", "production"]', 'stages = ["staging", "Prod/1"]'))
    assert "registry.stages[1]" in msg


def test_protected_stage_not_in_stages_is_refused():
    msg = policy_error(edit('protected_stages = ["production"]', 'protected_stages = ["prod"]'))
    assert "registry.protected_stages" in msg
    assert "'prod'" in msg


@pytest.mark.parametrize("bad", ["30 days", "30", "d30", "1y", ""])
def test_bad_duration_is_refused_naming_the_key(bad):
    msg = policy_error(edit('protected_branch = "main"', f'protected_branch = "main"\nexperiment_retention = "{bad}"'))
    assert "registry.experiment_retention" in msg


@pytest.mark.parametrize("value, seconds", [("45s", 45), ("12h", 43200), ("30d", 2592000), ("2w", 1209600)])
def test_durations_in_each_unit_are_read(value, seconds):
    text = edit('protected_branch = "main"', f'protected_branch = "main"\nexperiment_retention = "{value}"')
    assert parse_policy(text.encode()).experiment_retention == seconds


def test_unsupported_schema_is_refused():
    assert "schema" in policy_error(POLICY.replace("schema = 1", "schema = 2"))


def test_missing_schema_is_refused():
    assert "schema" in policy_error(POLICY.replace("schema = 1\n", ""))


def test_invalid_toml_is_a_policy_error():
    assert "not valid TOML" in policy_error("schema = 1\n[registry\n")


def test_absolute_artifact_path_is_refused():
    msg = policy_error(edit('artifacts = ["model.bin"]', 'artifacts = ["/etc/passwd"]'))
    assert "models.churn.artifacts" in msg


def test_artifact_path_escaping_the_repository_is_refused():
    msg = policy_error(edit('artifacts = ["model.bin"]', 'artifacts = ["../model.bin"]'))
    assert "models.churn.artifacts" in msg


def test_empty_artifact_list_is_refused():
    msg = policy_error(edit('artifacts = ["model.bin"]', "artifacts = []"))
    assert "models.churn.artifacts" in msg


def test_unknown_stage_lookup_names_the_policy_stages():
    p = parse_policy(POLICY.encode())
    with pytest.raises(PolicyError) as info:
        p.stage_index("prod")
    assert "prod" in str(info.value) and "staging, production" in str(info.value)


# ---------------------------------------------------------------- through the CLI

def test_bad_committed_policy_exits_1_with_a_one_line_cause_and_no_traceback(model_repo, mv_proc):
    r = model_repo
    (r.path / ".mv-promote.toml").write_text(
        edit('protected_branch = "main"', 'protected_branch = "main"\nstagez = ["x"]'))
    r.commit("typo in policy")
    result = mv_proc("show", cwd=r.path, code=1)
    assert "Traceback" not in result.err
    first = result.err.strip().splitlines()[0]
    assert first.startswith("error:") and "registry.stagez" in first
    assert result.out == ""


def test_bad_committed_policy_refuses_register_too(model_repo):
    r = model_repo
    (r.path / ".mv-promote.toml").write_text(edit('tier = "production"', 'tier = "prod"'))
    r.write_model(0.9, 0.9)
    r.commit("bad tier")
    result = r.mv("register", "churn", code=1)
    assert "models.churn.tier" in result.err
    assert r.git("tag", "-l", "mv/*") == ""


def test_no_committed_policy_is_exit_1_telling_to_run_init(tmp_path, mv):
    from conftest import git

    git("init", "-q", cwd=tmp_path)
    (tmp_path / "README").write_text("x")
    git("add", "README", cwd=tmp_path)
    git("commit", "-q", "-m", "x", cwd=tmp_path)
    result = mv("show", cwd=tmp_path, code=1)
    assert "init" in result.err


def test_uncommitted_policy_edit_is_reported_and_the_committed_policy_is_used(model_repo):
    r = model_repo
    r.version(0.85, 0.80)
    (r.path / ".mv-promote.toml").write_text(POLICY.replace("thresholds = { auc = 0.80 }", "thresholds = { auc = 0.99 }"))
    result = r.mv("check", "churn", "v1", "--stage", "staging", "--json")
    assert "uncommitted" in result.err and ".mv-promote.toml" in result.err
    threshold = [c for c in result.json["criteria"] if c["name"] == "threshold auc"][0]
    assert threshold["passed"] is True
    assert "0.8" in threshold["detail"] and "0.99" not in threshold["detail"]
    assert any("uncommitted" in w for w in result.json["warnings"])


def test_uncommitted_broken_policy_does_not_break_commands_using_the_committed_one(model_repo):
    r = model_repo
    (r.path / ".mv-promote.toml").write_text("this is [not toml")
    result = r.mv("show", "--json")
    assert [m["model"] for m in result.json["models"]] == ["churn"]
    assert result.json["warnings"]


# ---------------------------------------------------------------- replay

REPLAY = POLICY + '''replay = { against = "production", min_agreement = 0.98 }

[models.churn.replay]
command = "python3 predict.py {artifact} {inputs} {output}"
inputs = "data/prod-sample.dvc"
'''


def test_replay_table_and_gate_key_are_read():
    churn = parse_policy(REPLAY.encode()).model("churn")
    assert (churn.replay.command, churn.replay.inputs) == ("python3 predict.py {artifact} {inputs} {output}",
                                                           "data/prod-sample.dvc")
    assert (churn.gate.replay.against, churn.gate.replay.min_agreement, churn.gate.replay.max_abs_diff) == \
        ("production", 0.98, None)


@pytest.mark.parametrize("old, new, words", [
    ('against = "production"', 'against = "prod"', "models.churn.gate.replay.against names 'prod', which is not in registry.stages"),
    ("min_agreement = 0.98", "min_agreement = 1.5", "models.churn.gate.replay.min_agreement must be ≤ 1"),
    ("min_agreement = 0.98", "max_abs_diff = -1", "models.churn.gate.replay.max_abs_diff must be ≥ 0"),
    (', min_agreement = 0.98', '', "models.churn.gate.replay needs min_agreement or max_abs_diff"),
    ("{inputs} {output}", "{output}", "models.churn.replay.command must use {inputs}"),
    ("{inputs} {output}\"", "{inputs} {output} {suite}\"", "models.churn.replay.command uses unknown placeholder(s) {suite}"),
    ('inputs = "data/prod-sample.dvc"', 'inputs = "../prod.csv"', "models.churn.replay.inputs must be a path relative"),
    ('inputs = "data/prod-sample.dvc"', 'inputs = "d.csv"\nrows = 10', "unknown key models.churn.replay.rows"),
])
def test_bad_replay_keys_are_named_with_their_path(old, new, words):
    assert words in policy_error(edit(old, new, REPLAY))


def test_a_gate_replay_bound_needs_the_replay_table():
    text = REPLAY.split("[models.churn.replay]")[0]
    assert "models.churn.gate.replay needs [models.<name>.replay]" in policy_error(text)


# ---------------------------------------------------------------- rollout stages and the soak

ROLLOUT = edit('stages = ["staging", "production"]\n',
               'stages = ["staging", "canary", "production"]\nrollout_stages = ["canary"]\n')
SOAK = ROLLOUT + 'soak = { stage = "canary", traffic = 50, duration = "24h" }\n'


def test_rollout_stages_default_to_none():
    assert parse_policy(POLICY.encode()).rollout_stages == ()


def test_rollout_stages_are_read():
    p = parse_policy(ROLLOUT.encode())
    assert p.rollout_stages == ("canary",) and p.is_rollout("canary") and not p.is_rollout("production")


def test_a_rollout_stage_not_in_stages_is_refused_with_its_key_path():
    text = policy_error(edit('rollout_stages = ["canary"]', 'rollout_stages = ["canari"]', ROLLOUT))
    assert "registry.rollout_stages names 'canari', which is not in registry.stages" in text


def test_the_soak_is_read_with_its_duration_in_seconds():
    rule = parse_policy(SOAK.encode()).model("churn").gate.soak
    assert (rule.stage, rule.traffic, rule.duration, rule.duration_text) == ("canary", 50, 86400, "24h")


def test_a_soak_in_a_stage_that_is_not_a_rollout_stage_is_refused():
    text = policy_error(edit('stage = "canary"', 'stage = "staging"', SOAK))
    assert "models.churn.gate.soak.stage names 'staging', which is not in registry.rollout_stages" in text


def test_a_soak_in_an_unknown_stage_is_refused():
    text = policy_error(edit('stage = "canary"', 'stage = "canari"', SOAK))
    assert "models.churn.gate.soak.stage names 'canari', which is not in registry.stages" in text


def test_a_soak_in_the_last_stage_is_refused():
    text = policy_error(edit('rollout_stages = ["canary"]', 'rollout_stages = ["canary", "production"]',
                             edit('stage = "canary"', 'stage = "production"', SOAK)))
    assert "models.churn.gate.soak.stage names 'production', the last stage" in text


@pytest.mark.parametrize("share", ["0", "101"])
def test_a_soak_share_out_of_range_is_refused(share):
    text = policy_error(edit("traffic = 50", f"traffic = {share}", SOAK))
    assert f"models.churn.gate.soak.traffic must be a whole percent from 1 to 100, got {share}" in text


def test_a_soak_duration_that_is_not_a_duration_is_refused():
    text = policy_error(edit('duration = "24h"', 'duration = "a day"', SOAK))
    assert "models.churn.gate.soak.duration must be a duration" in text


def test_an_unknown_soak_key_is_refused():
    assert "models.churn.gate.soak.share" in policy_error(edit("traffic = 50", "traffic = 50, share = 50", SOAK))


# ---------------------------------------------------------------- defaults and messages docs/policy.md states

def test_policy_approvals_default_to_one():
    assert parse_policy(POLICY.encode()).policy_approvals == 1


def test_a_boolean_key_of_the_wrong_type_is_named_with_its_path():
    msg = policy_error(edit('protected_branch = "main"\n', 'protected_branch = "main"\nrequire_previous_stage = "yes"\n'))
    assert "registry.require_previous_stage must be true or false, got 'yes'" in msg
