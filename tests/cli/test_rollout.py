"""Progressive rollout through the CLI: `rollout` writes signed stage tags with the share,
`promote` and `rollback` into a rollout stage carry `--traffic`, `show` and `history --at` report
the current share, and the canary soak holds promotion to production back until the version has
held its share long enough (times from the tags, set with the fixed clock: no sleeps)."""

from __future__ import annotations

import json

import pytest

from conftest import ROLLOUT_POLICY, SOAK_POLICY, ModelRepo, forge_stage_tag, set_clock, tag_message
from gitmv.records import PromotionRecord

T0 = "2026-11-02T10:00:00+00:00"


def record_of(repo: ModelRepo, ref: str) -> PromotionRecord:
    return PromotionRecord.from_message(tag_message(repo, ref).decode())


@pytest.fixture
def canary(tmp_path, keys, monkeypatch) -> ModelRepo:
    """v1 registered and evaluated under a policy with a canary rollout stage (no soak)."""
    repo = ModelRepo(tmp_path / "repo", keys, policy=ROLLOUT_POLICY)
    repo.version(0.85, 0.80)
    set_clock(monkeypatch, T0)
    return repo


@pytest.fixture
def soaking(tmp_path, keys, monkeypatch) -> ModelRepo:
    """Under the soak policy: v1 entered canary at 25% at T0 and went to 50% at T0 + 1h."""
    repo = ModelRepo(tmp_path / "repo", keys, policy=SOAK_POLICY)
    repo.version(0.85, 0.80)
    set_clock(monkeypatch, T0)
    repo.mv("rollout", "churn", "v1", "--stage", "canary", "--traffic", "25")
    set_clock(monkeypatch, "2026-11-02T11:00:00+00:00")
    repo.mv("rollout", "churn", "v1", "--stage", "canary", "--traffic", "50")
    return repo


# ---------------------------------------------------------------- rollout writes stage tags

def test_rollout_of_a_version_not_in_the_stage_is_a_promotion_carrying_the_share(canary):
    result = canary.mv("rollout", "churn", "v1", "--stage", "canary", "--traffic", "25", "--json").json
    assert (result["kind"], result["traffic"], result["ref"]) == ("promote", 25, "refs/tags/mv/churn/canary/1")
    record = record_of(canary, "refs/tags/mv/churn/canary/1")
    assert (record.kind, record.traffic, record.schema) == ("promote", 25, 2)


def test_rollout_of_the_current_version_writes_a_rollout_stage_tag_with_the_new_share(canary):
    canary.mv("rollout", "churn", "v1", "--stage", "canary", "--traffic", "25")
    result = canary.mv("rollout", "churn", "v1", "--stage", "canary", "--traffic", "50", "--json").json
    assert (result["kind"], result["traffic"], result["seq"]) == ("rollout", 50, 2)
    record = record_of(canary, "refs/tags/mv/churn/canary/2")
    assert (record.kind, record.version, record.previous, record.traffic) == ("rollout", "v1", "v1", 50)


def test_a_rollout_repeats_the_eval_record_of_the_entry_it_changes(canary):
    canary.mv("rollout", "churn", "v1", "--stage", "canary", "--traffic", "25")
    canary.mv("rollout", "churn", "v1", "--stage", "canary", "--traffic", "50")
    first = record_of(canary, "refs/tags/mv/churn/canary/1")
    assert record_of(canary, "refs/tags/mv/churn/canary/2").eval_record == first.eval_record is not None


def test_the_rollout_tag_is_signed(canary):
    canary.mv("rollout", "churn", "v1", "--stage", "canary", "--traffic", "25")
    signers = canary.path / ".mv-promote" / "allowed_signers"
    proc = canary.git("-c", f"gpg.ssh.allowedSignersFile={signers}", "tag", "-v", "mv/churn/canary/1")
    assert proc is not None  # git tag -v exits non-zero (and git() raises) unless the signature is good


def test_rollout_to_the_share_the_version_already_has_writes_nothing(canary):
    canary.mv("rollout", "churn", "v1", "--stage", "canary", "--traffic", "25")
    result = canary.mv("rollout", "churn", "v1", "--stage", "canary", "--traffic", "25")
    assert "already has 25% of canary" in result.out
    assert canary.ref("refs/tags/mv/churn/canary/2") is None


def test_rollout_dry_run_writes_nothing(canary):
    canary.mv("rollout", "churn", "v1", "--stage", "canary", "--traffic", "25", "--dry-run")
    assert canary.ref("refs/tags/mv/churn/canary/1") is None


def test_rollout_into_a_stage_that_is_not_a_rollout_stage_is_a_usage_error(canary):
    result = canary.mv("rollout", "churn", "v1", "--stage", "staging", "--traffic", "25", code=2)
    assert "staging is not a rollout stage" in result.err
    assert canary.ref("refs/tags/mv/churn/staging/1") is None


@pytest.mark.parametrize("share", ["0", "101"])
def test_a_share_out_of_range_is_a_usage_error_naming_the_range(canary, share):
    result = canary.mv("rollout", "churn", "v1", "--stage", "canary", "--traffic", share, code=2)
    assert "1 to 100" in result.err
    assert canary.ref("refs/tags/mv/churn/canary/1") is None


def test_promote_into_a_rollout_stage_needs_traffic(canary):
    result = canary.mv("promote", "churn", "v1", "--stage", "canary", code=2)
    assert "--traffic" in result.err
    assert canary.ref("refs/tags/mv/churn/canary/1") is None


def test_promote_with_traffic_into_a_stage_that_is_not_a_rollout_stage_is_a_usage_error(canary):
    result = canary.mv("promote", "churn", "v1", "--stage", "staging", "--traffic", "50", code=2)
    assert "not a rollout stage" in result.err


def test_promote_of_the_current_canary_version_with_a_new_share_is_a_rollout(canary):
    canary.mv("promote", "churn", "v1", "--stage", "canary", "--traffic", "10")
    result = canary.mv("promote", "churn", "v1", "--stage", "canary", "--traffic", "30", "--json").json
    assert (result["kind"], result["traffic"]) == ("rollout", 30)


def test_stage_records_of_other_stages_carry_no_traffic_and_stay_schema_1(canary):
    canary.mv("promote", "churn", "v1", "--stage", "staging")
    record = record_of(canary, "refs/tags/mv/churn/staging/1")
    assert (record.traffic, record.schema) == (None, 1)


def test_rollback_in_a_rollout_stage_keeps_the_stage_share_by_default(canary, monkeypatch):
    canary.mv("rollout", "churn", "v1", "--stage", "canary", "--traffic", "25")
    canary.version(0.90, 0.85)
    canary.mv("rollout", "churn", "v2", "--stage", "canary", "--traffic", "40")
    result = canary.mv("rollback", "churn", "--stage", "canary", "--json").json
    assert (result["to"], result["record"]["traffic"]) == ("v1", 40)


def test_verify_passes_on_a_registry_with_rollouts(canary):
    canary.mv("rollout", "churn", "v1", "--stage", "canary", "--traffic", "25")
    canary.mv("rollout", "churn", "v1", "--stage", "canary", "--traffic", "75")
    assert canary.mv("verify", "--json").json["ok"] is True


def test_verify_reports_a_stage_record_with_a_share_out_of_range(canary):
    canary.mv("rollout", "churn", "v1", "--stage", "canary", "--traffic", "25")
    forge_stage_tag(canary, "v1", "canary", 2, kind="rollout", traffic=150)
    failures = canary.mv("verify", "--json", code=1).json["failures"]
    assert "refs/tags/mv/churn/canary/2: traffic: must be a whole percent from 1 to 100, got 150" in failures


# ---------------------------------------------------------------- show and history report the share

def test_show_model_json_reports_the_current_share_per_rollout_stage(canary):
    canary.mv("rollout", "churn", "v1", "--stage", "canary", "--traffic", "25")
    canary.mv("promote", "churn", "v1", "--stage", "staging")
    shown = canary.mv("show", "churn", "--json").json
    assert shown["traffic"] == {"canary": 25}
    assert shown["versions"][0]["traffic"] == {"canary": 25}


def test_show_version_json_reports_the_share_of_each_stage_it_holds(canary):
    canary.mv("rollout", "churn", "v1", "--stage", "canary", "--traffic", "25")
    assert canary.mv("show", "churn", "v1", "--json").json["traffic"] == {"canary": 25}


def test_show_all_models_json_reports_the_share(canary):
    canary.mv("rollout", "churn", "v1", "--stage", "canary", "--traffic", "25")
    assert canary.mv("show", "--json").json["models"][0]["traffic"] == {"canary": 25}


def test_show_prints_the_share_after_the_stage(canary):
    canary.mv("rollout", "churn", "v1", "--stage", "canary", "--traffic", "25")
    assert "canary (25%)" in canary.mv("show", "churn").out
    assert "canary (25%)" in canary.mv("show", "churn", "v1").out


def test_history_at_answers_the_share_at_that_time(canary, monkeypatch):
    canary.mv("rollout", "churn", "v1", "--stage", "canary", "--traffic", "25")
    set_clock(monkeypatch, "2026-11-02T12:00:00+00:00")
    canary.mv("rollout", "churn", "v1", "--stage", "canary", "--traffic", "50")
    at = lambda t: canary.mv("history", "churn", "--at", t, "--json").json["stages"]["canary"]
    assert (at("2026-11-02T11:00Z")["traffic"], at("2026-11-02T13:00Z")["traffic"]) == (25, 50)
    assert at("2026-11-02T09:00Z")["traffic"] is None


def test_history_shows_no_traffic_column_when_no_entry_has_a_share(canary):
    canary.mv("promote", "churn", "v1", "--stage", "staging")
    assert "traffic" not in canary.mv("history", "churn").out


def test_history_prints_the_share_of_each_entry(canary):
    canary.mv("rollout", "churn", "v1", "--stage", "canary", "--traffic", "25")
    assert "25%" in canary.mv("history", "churn", "--at", "2026-11-02T11:00Z").out
    assert "25%" in canary.mv("history", "churn", "--stage", "canary").out


# ---------------------------------------------------------------- the soak, on the client

def test_check_refuses_production_before_the_soak_naming_share_and_time_left(soaking, monkeypatch):
    set_clock(monkeypatch, "2026-11-02T21:00:00+00:00")  # 10h at 50% of the 24h
    result = soaking.mv("check", "churn", "v1", "--stage", "production", code=1)
    assert "soak" in result.out and "50% of canary" in result.out
    assert "14h left of 24h" in result.out


def test_promote_to_production_before_the_soak_ended_is_refused_and_writes_nothing(soaking, monkeypatch):
    set_clock(monkeypatch, "2026-11-02T21:00:00+00:00")
    result = soaking.mv("promote", "churn", "v1", "--stage", "production", code=1)
    assert "soak" in result.err and "held 50% of canary" in result.err and "14h left" in result.err
    assert soaking.ref("refs/tags/mv/churn/production/1") is None


def test_the_soak_counts_only_the_time_at_or_above_its_share(soaking, monkeypatch):
    # 25% from 10:00, 50% from 11:00: at 10:00 the next day only 23h at ≥ 50% have passed
    set_clock(monkeypatch, "2026-11-03T10:00:00+00:00")
    assert "1h left of 24h" in soaking.mv("check", "churn", "v1", "--stage", "production", code=1).out


def test_promote_to_production_after_the_soak_is_accepted(soaking, monkeypatch):
    set_clock(monkeypatch, "2026-11-03T11:00:00+00:00")
    result = soaking.mv("promote", "churn", "v1", "--stage", "production", "--json").json
    assert result["ref"] == "refs/tags/mv/churn/production/1"
    soak = [c for c in result["verdict"]["criteria"] if c["name"] == "soak"]
    assert soak[0]["passed"] is True


def test_a_version_below_the_soak_share_is_refused_with_its_share(tmp_path, keys, monkeypatch):
    repo = ModelRepo(tmp_path / "repo", keys, policy=SOAK_POLICY)
    repo.version(0.85, 0.80)
    set_clock(monkeypatch, T0)
    repo.mv("rollout", "churn", "v1", "--stage", "canary", "--traffic", "25")
    set_clock(monkeypatch, "2026-11-09T10:00:00+00:00")
    result = repo.mv("check", "churn", "v1", "--stage", "production", code=1)
    assert "v1 holds 25% of canary" in result.out


def test_a_rollback_is_not_held_to_the_soak(soaking, monkeypatch):
    set_clock(monkeypatch, "2026-11-03T11:00:00+00:00")
    soaking.mv("promote", "churn", "v1", "--stage", "production")
    soaking.version(0.90, 0.85)
    soaking.mv("rollout", "churn", "v2", "--stage", "canary", "--traffic", "50")
    set_clock(monkeypatch, "2026-11-04T12:00:00+00:00")
    soaking.mv("promote", "churn", "v2", "--stage", "production")
    soaking.mv("rollback", "churn", "--stage", "production", "--to", "v1")  # v1 left canary: no soak now


def test_request_does_not_wait_for_the_soak(soaking, monkeypatch):
    set_clock(monkeypatch, "2026-11-02T12:00:00+00:00")
    soaking.mv("request", "churn", "v1", "--stage", "production")


# ---------------------------------------------------------------- get reports the share

def test_get_of_a_rollout_stage_stamps_the_current_share(canary, tmp_path):
    canary.mv("rollout", "churn", "v1", "--stage", "canary", "--traffic", "25")
    canary.mv("rollout", "churn", "v1", "--stage", "canary", "--traffic", "50")
    out = tmp_path / "deploy"
    result = canary.mv("get", "churn@canary", "-o", str(out), "--json").json
    stamp = json.loads((out / "mv-promote.json").read_text())
    assert (result["stamp"]["traffic"], stamp["traffic"], stamp["seq"]) == (50, 50, 2)
