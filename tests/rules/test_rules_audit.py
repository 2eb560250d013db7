"""The audit's own decisions, without a repository: which state of the protected branch a stage
tag was judged under, which evidence existed then, what the policy now asks that a record lacks,
which deprecations are past their sunset, and the version `rollback` picks."""

from __future__ import annotations

from datetime import datetime, timezone

from gitmv.policy import ModelPolicy
from gitmv.records import VersionRecord
from gitmv.rules.audit import (DRIFT, ENTRY, ROLLBACK, BranchPoint, Finding, branch_states_at, existed_then,
                               missing_keys, newest_at, ordered, past_sunset)
from gitmv.rules.promotion import default_rollback_target

T = 1_000_000
A, B = "sha256:a", "sha256:b"
# newest first: a policy change to B at T+100, and before it A since T-1000
CHAIN = [BranchPoint("c3", T + 100, B), BranchPoint("c2", T - 10, A), BranchPoint("c1", T - 1000, A)]


def test_a_tag_is_judged_at_the_newest_commit_made_at_or_before_it():
    assert branch_states_at(CHAIN, T, A) == [1]


def test_a_commit_made_after_the_tag_is_not_the_state_it_was_judged_under():
    assert branch_states_at(CHAIN, T + 1000, B) == [0]
    assert branch_states_at(CHAIN, T + 99, A) == [1]


def test_within_the_clock_skew_the_commit_holding_the_recorded_policy_is_preferred():
    assert branch_states_at(CHAIN, T + 50, B) == [0]


def test_beyond_the_clock_skew_a_recorded_policy_does_not_move_the_state():
    assert branch_states_at(CHAIN, T - 400, B) == [2]


def test_a_cited_merge_made_within_the_clock_skew_after_the_tag_is_a_candidate_state():
    chain = [BranchPoint("m", T + 30, A), BranchPoint("c", T - 10, A)]
    assert branch_states_at(chain, T, A, cited="m") == [1, 0]


def test_a_cited_merge_made_in_the_same_second_as_a_later_commit_is_a_candidate_state():
    # equal commit times do not say which came first: the tip or the merge the record cites
    chain = [BranchPoint("tip", T, A), BranchPoint("m2", T, A), BranchPoint("m1", T, A)]
    assert branch_states_at(chain, T, A, cited="m1") == [0, 2]


def test_a_cited_merge_older_than_the_state_at_the_tag_is_not_a_candidate():
    # later commits had reached the branch: an old approval does not stand for the state then
    chain = [BranchPoint("tip", T - 10, A), BranchPoint("m", T - 3600, A)]
    assert branch_states_at(chain, T, A, cited="m") == [0]


def test_a_tag_made_before_the_branch_had_any_commit_has_no_state():
    assert branch_states_at(CHAIN, T - 5000, A) == []
    assert newest_at(CHAIN, T - 5000) is None


def test_newest_at_ignores_the_policy():
    assert newest_at(CHAIN, T + 100) == 0


def _rec(kind: str, at: str) -> dict:
    return {"kind": kind, "at": at}


def test_an_eval_made_within_the_clock_skew_after_the_tag_counts():
    at = int(datetime(2026, 11, 1, 9, tzinfo=timezone.utc).timestamp())
    assert existed_then(_rec("eval", "2026-11-01T09:04:00Z"), at)
    assert not existed_then(_rec("eval", "2026-11-01T09:06:00Z"), at)


def test_a_deprecation_counts_only_when_made_before_the_tag():
    at = int(datetime(2026, 11, 1, 9, tzinfo=timezone.utc).timestamp())
    assert existed_then(_rec("deprecation", "2026-11-01T08:59:59Z"), at)
    assert not existed_then(_rec("deprecation", "2026-11-01T09:00:00Z"), at)


def test_a_record_without_a_readable_time_counts():
    assert existed_then({"kind": "eval", "at": "yesterday"}, T)


def _model(**kw) -> ModelPolicy:
    return ModelPolicy(name="churn", tier=kw.pop("tier", "production"), artifacts=kw.pop("artifacts", ("model.bin",)),
                       **kw)


def _version(**kw) -> VersionRecord:
    base = dict(model="churn", version="v1", commit="0" * 40, created_at="2026-11-01T09:00:00Z", created_by="alice",
                artifacts={"model.bin": {"sha256": "f" * 64, "size": 1}}, tier="production", policy_digest=A)
    return VersionRecord(**{**base, **kw})


def test_a_record_meeting_the_policy_lacks_nothing():
    assert missing_keys(_model(), _version()) == []


def test_each_key_the_policy_now_asks_for_is_named():
    mp = _model(artifacts=("model.bin", "vocab.txt"), data=("data/train.dvc",), params="params.yaml",
                lockfile="requirements.lock", model_card="MODEL_CARD.md")
    assert [m.split(":")[0] for m in missing_keys(mp, _version())] == ["artifacts", "data", "params", "lockfile",
                                                                        "model_card"]


def test_a_data_pin_counts_by_the_dvc_file_it_came_from():
    mp = _model(data=("data/train.dvc",))
    assert missing_keys(mp, _version(data=[{"source": "data/train.dvc", "path": "data/train"}])) == []


def test_a_version_registered_in_the_research_tier_lacks_the_tier_now_asked():
    assert missing_keys(_model(), _version(tier="research")) == [
        "tier: registered in the research tier, the policy now says production"]


NOW = datetime(2026, 11, 10, tzinfo=timezone.utc)


def test_a_deprecation_whose_sunset_has_passed_is_returned():
    dep = {"reason": "drifted", "sunset": "2026-11-05T00:00:00Z"}
    assert past_sunset([{"reason": "no date"}, dep], NOW) == dep


def test_a_deprecation_without_a_sunset_or_with_a_future_one_sets_no_deadline():
    assert past_sunset([{"reason": "x"}, {"reason": "y", "sunset": "2026-12-01T00:00:00Z"}], NOW) is None


def test_rollback_picks_the_last_other_version_of_the_stage():
    assert default_rollback_target(["v1", "v3", "v1"]) == "v3"
    assert default_rollback_target(["v1", "v2", "v2"]) == "v1"


def test_rollback_has_no_target_when_the_stage_held_one_version_only():
    assert default_rollback_target(["v1", "v1"]) is None
    assert default_rollback_target([]) is None


def test_findings_are_reported_once_each_by_kind_then_model_then_ref():
    drift = Finding(DRIFT, "a", None, None, "m", "f")
    entry = Finding(ENTRY, "b", "production", "refs/tags/mv/b/production/1", "m", "f")
    back = Finding(ROLLBACK, "a", "production", "refs/tags/mv/a/production/2", "m", "f")
    assert ordered([drift, back, entry, drift]) == [entry, back, drift]
