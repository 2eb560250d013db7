"""The traffic claims of stage records (gitmv.rules.rollout), decided without a repository."""

from __future__ import annotations

import pytest

from gitmv.records import PromotionRecord, promotion_schema
from gitmv.rules.rollout import traffic_mismatches, traffic_problem


def entry(version="v1", kind="promote", traffic: int | None = 25, stage="canary", seq=1) -> PromotionRecord:
    return PromotionRecord(kind=kind, model="churn", version=version, version_tag="t" * 40, stage=stage, seq=seq,
                           at="2026-11-02T10:00:00Z", by="alice", policy_digest="sha256:p", traffic=traffic,
                           schema=promotion_schema(traffic))


@pytest.mark.parametrize("share", [1, 50, 100])
def test_a_whole_percent_from_1_to_100_is_a_share(share):
    assert traffic_problem(share) is None


@pytest.mark.parametrize("share", [0, -5, 101])
def test_a_share_outside_1_to_100_is_named(share):
    assert traffic_problem(share) == f"must be a whole percent from 1 to 100, got {share}"


def test_a_first_entry_into_a_rollout_stage_with_a_share_holds():
    assert traffic_mismatches(entry(), rollout_stage=True, previous=None) == []


def test_a_rollout_stage_record_without_traffic_is_a_mismatch():
    [found] = traffic_mismatches(entry(traffic=None), rollout_stage=True, previous=None)
    assert found.startswith("traffic: canary is a rollout stage")


def test_traffic_on_a_stage_that_is_not_a_rollout_stage_is_a_mismatch():
    [found] = traffic_mismatches(entry(stage="staging"), rollout_stage=False, previous=None)
    assert found.startswith("traffic: staging is not a rollout stage")


def test_presence_is_not_judged_when_the_policy_is_unknown():
    assert traffic_mismatches(entry(traffic=None), rollout_stage=None, previous=None) == []


def test_a_share_out_of_range_is_a_mismatch_whatever_the_policy():
    assert traffic_mismatches(entry(traffic=0), rollout_stage=None, previous=None) == [
        "traffic: must be a whole percent from 1 to 100, got 0"]


def test_a_rollout_changes_the_share_of_the_current_version():
    assert traffic_mismatches(entry(kind="rollout", traffic=50, seq=2), rollout_stage=True, previous=entry()) == []


def test_a_rollout_of_another_version_than_the_current_one_is_a_mismatch():
    [found] = traffic_mismatches(entry("v2", kind="rollout", traffic=50), rollout_stage=True, previous=entry())
    assert found == "kind: a rollout changes the share of canary's current version (v1), not of v2"


def test_a_rollout_into_an_empty_stage_is_a_mismatch():
    [found] = traffic_mismatches(entry(kind="rollout"), rollout_stage=True, previous=None)
    assert "current version (none)" in found


def test_a_rollout_to_the_same_share_is_a_mismatch():
    [found] = traffic_mismatches(entry(kind="rollout", traffic=25), rollout_stage=True, previous=entry())
    assert found == "traffic: v1 already has 25% of canary; a rollout changes the share"


def test_a_promotion_of_the_current_version_of_a_rollout_stage_is_a_mismatch():
    [found] = traffic_mismatches(entry(traffic=50), rollout_stage=True, previous=entry())
    assert 'kind = "rollout"' in found


def test_a_rollback_to_another_version_at_a_share_holds():
    assert traffic_mismatches(entry("v1", kind="rollback"), rollout_stage=True, previous=entry("v2")) == []
