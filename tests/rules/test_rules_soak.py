"""The canary soak (gitmv.rules.soak and the soak criterion of the promotion verdict), decided
without a repository: holds are (tagger time, version, share) triples, times epoch seconds."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from gitmv.policy import parse_policy
from gitmv.records import PromotionRecord, VersionRecord, promotion_schema
from gitmv.registry import Version
from gitmv.rules import soak
from gitmv.rules.promotion import promotion_verdict, soak_criterion
from gitmv.rules.soak import Hold

H = 3600
POLICY = b"""
schema = 1
[registry]
stages = ["staging", "canary", "production"]
protected_stages = ["production"]
rollout_stages = ["canary"]
[models.churn]
tier = "research"
artifacts = ["model.bin"]
[models.churn.gate]
soak = { stage = "canary", traffic = 50, duration = "24h" }
"""
RULE = parse_policy(POLICY).model("churn").gate.soak


@pytest.fixture
def policy():
    return parse_policy(POLICY)


# ---------------------------------------------------------------- where it applies

@pytest.mark.parametrize("stage, kind, applies", [
    ("production", "promote", True), ("canary", "promote", False), ("staging", "promote", False),
    ("production", "rollback", False), ("production", "rollout", False)])
def test_a_soak_guards_promotions_into_the_stages_after_its_own(policy, stage, kind, applies):
    assert soak.applies(policy, RULE, stage, kind) is applies


# ---------------------------------------------------------------- the hold

def test_the_hold_starts_at_the_first_entry_at_or_above_the_share():
    holds = [Hold(0, "v1", 25), Hold(1 * H, "v1", 50), Hold(2 * H, "v1", 75)]
    assert soak.held_since(holds, "v1", 50, 3 * H) == 1 * H


def test_dropping_below_the_share_breaks_the_hold():
    holds = [Hold(0, "v1", 50), Hold(1 * H, "v1", 10), Hold(2 * H, "v1", 50)]
    assert soak.held_since(holds, "v1", 50, 3 * H) == 2 * H


def test_another_version_in_between_breaks_the_hold():
    holds = [Hold(0, "v1", 50), Hold(1 * H, "v2", 50), Hold(2 * H, "v1", 50)]
    assert soak.held_since(holds, "v1", 50, 3 * H) == 2 * H


def test_a_version_that_left_the_stage_holds_nothing():
    assert soak.held_since([Hold(0, "v1", 100), Hold(H, "v2", 5)], "v1", 50, 2 * H) is None


def test_a_record_without_a_share_holds_nothing():
    assert soak.held_since([Hold(0, "v1", None)], "v1", 1, H) is None


def test_entries_made_after_the_promotion_are_not_counted():
    holds = [Hold(0, "v1", 50), Hold(5 * H, "v2", 50)]
    assert soak.held_since(holds, "v1", 50, 4 * H) == 0


# ---------------------------------------------------------------- the criterion

def test_a_hold_as_long_as_the_duration_passes():
    assert soak.criterion([Hold(0, "v1", 50)], "v1", RULE, 24 * H).passed


def test_a_short_hold_fails_naming_the_share_and_the_time_left():
    c = soak.criterion([Hold(0, "v1", 60)], "v1", RULE, 10 * H)
    assert (c.name, c.passed) == ("soak", False)
    assert "has held 60% of canary (≥ 50%) for 10h since 1970-01-01T00:00:00Z; 14h left of 24h" in c.detail


def test_a_share_below_the_soak_fails_naming_the_share_held():
    c = soak.criterion([Hold(0, "v1", 25)], "v1", RULE, 48 * H)
    assert not c.passed and "v1 holds 25% of canary" in c.detail


def test_no_time_to_measure_against_fails():
    assert not soak.criterion([Hold(0, "v1", 50)], "v1", RULE, None).passed


@pytest.mark.parametrize("seconds, text", [(0, "0s"), (59, "59s"), (90, "1m 30s"), (14 * H, "14h"),
                                           (25 * H + 60, "1d 1h")])
def test_spans_read_in_their_two_largest_units(seconds, text):
    assert soak.span(seconds) == text


# ---------------------------------------------------------------- in the promotion verdict

@dataclass(frozen=True)
class Entry:
    seq: int
    record: PromotionRecord
    tagger_time: int


@dataclass
class View:
    """Just what the soak asks: the policy and the canary's entries."""

    policy: object
    canary: list

    def stage_history(self, model, stage):
        return self.canary if stage == "canary" else []

    def current(self, model, stage):
        history = self.stage_history(model, stage)
        return history[-1] if history else None

    # what every promotion verdict asks first: a registered, unsigned (research tier) version
    def version(self, model, version):
        return Version(Tag("tag-v1"), VersionRecord(
            model="churn", version=version, commit="c" * 40, created_at="2026-01-01T00:00:00Z", created_by="alice",
            artifacts={"model.bin": {"sha256": "d" * 64, "size": 1}}, tier="research", policy_digest="sha256:p"))

    def signature(self, tag):
        return Signature()

    def deprecation(self, version):
        return None


@dataclass(frozen=True)
class Tag:
    id: str


@dataclass(frozen=True)
class Signature:
    ok: bool = False
    reason: str = "unsigned"
    principal: str | None = None
    fingerprint: str | None = None


def canary_entry(seq: int, at: int, traffic: int, version: str = "v1") -> Entry:
    record = PromotionRecord(kind="promote" if seq == 1 else "rollout", model="churn", version=version,
                             version_tag="t" * 40, stage="canary", seq=seq, at="2026-11-02T10:00:00Z", by="alice",
                             policy_digest="sha256:p", traffic=traffic, schema=promotion_schema(traffic))
    return Entry(seq, record, at)


def test_the_verdict_measures_the_soak_from_the_entries_tagger_times(policy):
    view = View(policy, [canary_entry(1, 0, 25), canary_entry(2, 2 * H, 50)])
    assert not soak_criterion(view, "churn", "v1", 25 * H).passed
    assert soak_criterion(view, "churn", "v1", 26 * H).passed


def test_a_promotion_verdict_past_the_soak_stage_carries_the_soak_criterion(policy):
    view = View(policy, [canary_entry(1, 0, 50)])
    verdict = promotion_verdict(view, "churn", "v1", "production", at=10 * H)
    [c] = [c for c in verdict.criteria if c.name == "soak"]
    assert not c.passed and "14h left of 24h" in c.detail


def test_a_promotion_verdict_into_the_soak_stage_itself_has_no_soak_criterion(policy):
    verdict = promotion_verdict(View(policy, []), "churn", "v1", "canary", at=0)
    assert "soak" not in [c.name for c in verdict.criteria]


def test_a_verdict_asked_without_the_soak_leaves_it_out(policy):
    verdict = promotion_verdict(View(policy, []), "churn", "v1", "production", at=0, check_soak=False)
    assert "soak" not in [c.name for c in verdict.criteria]
