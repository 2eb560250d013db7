"""Promotion and rollback verdicts, decided without a repository.

The rules ask a registry view (`gitmv.rules.view.RegistryView`) a few questions; here the view is
a handful of dicts holding real policy and record objects, so each test states the registry's
facts and the verdict they must give. The end-to-end tests (test_eval_gate, test_promote_rollback,
test_hooks_gate) cover the same rules through real repositories and pushes.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest

from gitmv.errors import NotFoundError, PolicyError
from gitmv.policy import parse_policy
from gitmv.records import PromotionRecord, VersionRecord
from gitmv.registry import Version  # the registry's own (a frozen record holder), with a stand-in tag
from gitmv.rules.gate import Criterion
from gitmv.rules.promotion import baseline_for, promotion_verdict, rollback_verdict

POLICY = b"""
schema = 1
[registry]
stages = ["staging", "production"]
protected_stages = ["production"]
{registry}
[models.churn]
tier = "{tier}"
artifacts = ["model.bin"]
[models.churn.eval]
suite = "holdout"
[models.churn.gate]
metrics = {{ auc = "max" }}
thresholds = {{ auc = 0.7 }}
approvals = {approvals}
"""


def policy(tier="production", approvals=1, registry=""):
    return parse_policy(POLICY.decode().format(tier=tier, approvals=approvals, registry=registry).encode())


@dataclass(frozen=True)
class Tag:
    id: str


@dataclass(frozen=True)
class Entry:
    seq: int
    record: PromotionRecord


@dataclass(frozen=True)
class Signature:
    ok: bool
    reason: str = ""
    principal: str | None = None
    fingerprint: str | None = None


@dataclass
class View:
    """A registry as facts: versions, stage histories, evidence per version tag, who signed what."""

    policy: object
    versions: dict = field(default_factory=dict)
    stages: dict = field(default_factory=dict)
    notes: dict = field(default_factory=dict)
    signers: dict = field(default_factory=dict)

    # -- building the facts

    def register(self, name, signer="alice"):
        tag = Tag(f"tag-{name}")
        record = VersionRecord(model="churn", version=name, commit=f"commit-{name}" + "0" * 20,
                               created_at="2026-01-01T00:00:00Z", created_by=signer or "someone",
                               artifacts={"model.bin": {"sha256": f"digest-{name}", "size": 1}},
                               tier="production", policy_digest="sha256:p")
        self.versions[name] = Version(tag, record)
        self.signers[tag.id] = signer
        return self.versions[name]

    def eval(self, name, auc, suite="holdout", by="ci"):
        rec = {"id": f"sha256:eval-{name}-{len(self.notes.get(f'tag-{name}', []))}", "kind": "eval",
               "suite": suite, "metrics": {"auc": auc}, "at": "2026-01-02T00:00:00Z", "by": by}
        self.notes.setdefault(f"tag-{name}", []).append(rec)
        return rec

    def deprecate(self, name):
        self.notes.setdefault(f"tag-{name}", []).append(
            {"id": "sha256:dep", "kind": "deprecation", "at": "2026-01-03T00:00:00Z", "reason": "leaks labels"})

    def assign(self, stage, name, kind="promote", eval_record=None, approval=None):
        history = self.stages.setdefault(stage, [])
        seq = len(history) + 1
        history.append(Entry(seq, PromotionRecord(
            kind=kind, model="churn", version=name, version_tag=f"tag-{name}", stage=stage, seq=seq,
            at="2026-01-04T00:00:00Z", by="alice", policy_digest="sha256:p", eval_record=eval_record,
            approval=approval)))

    # -- the RegistryView questions

    def version(self, model, version):
        if version not in self.versions:
            raise NotFoundError(f"{model} {version} is not registered")
        return self.versions[version]

    def current(self, model, stage):
        history = self.stages.get(stage, [])
        return history[-1] if history else None

    def stage_history(self, model, stage):
        return list(self.stages.get(stage, []))

    def signature(self, tag):
        who = self.signers.get(tag.id)
        return Signature(True, "", who, "SHA256:x") if who else Signature(False, "unsigned")

    def record_signature(self, rec):
        return Signature(True, "", rec.get("by"))

    def records_of(self, target, kind):
        return [r for r in self.notes.get(target, []) if r.get("kind") == kind]

    def evals(self, version, suite):
        return [r for r in self.records_of(version.tag.id, "eval") if suite is None or r["suite"] == suite]

    def latest_eval(self, version, suite):
        found = self.evals(version, suite)
        return found[-1] if found else None

    def deprecation(self, version):
        found = self.records_of(version.tag.id, "deprecation")
        return found[-1] if found else None


def criterion(verdict, name) -> Criterion:
    found = [c for c in verdict.criteria if c.name == name]
    assert len(found) == 1, f"{name} not decided exactly once: {verdict.criteria}"
    return found[0]


def approved_by(*who):
    """An approval check that found `who` approving: what gitmv.approvals.check answers."""
    calls = []

    def check(reg, version, stage, needed):
        calls.append((reg, version.name, stage, needed))
        return Criterion("approvals", len(who) >= needed, f"{len(who)} approver(s)"), {"approvers": list(who)}

    check.calls = calls
    return check


# ---------------------------------------------------------------- promotion


def test_a_signed_version_whose_eval_meets_the_threshold_may_enter_an_unprotected_stage():
    view = View(policy())
    view.register("v1")
    view.eval("v1", 0.8)
    verdict = promotion_verdict(view, "churn", "v1", "staging")
    assert verdict.passed, verdict.failures()
    assert criterion(verdict, "approvals").detail == "none required"


def test_an_unregistered_version_fails_with_the_registry_cause_and_nothing_else_is_judged():
    verdict = promotion_verdict(View(policy()), "churn", "v9", "staging")
    assert [(c.name, c.passed, c.detail) for c in verdict.criteria] == [("registered", False, "churn v9 is not registered")]


def test_an_unsigned_version_fails_the_signature_criterion_outside_the_research_tier():
    view = View(policy())
    view.register("v1", signer=None)
    view.eval("v1", 0.8)
    c = criterion(promotion_verdict(view, "churn", "v1", "staging"), "signature")
    assert not c.passed and "needs a version signed by an allowed signer" in c.detail


def test_the_research_tier_accepts_unsigned_versions_but_never_a_protected_stage():
    view = View(policy(tier="research"))
    view.register("v1", signer=None)
    verdict = promotion_verdict(view, "churn", "v1", "production")
    assert criterion(verdict, "signature").passed
    tier = criterion(verdict, "tier")
    assert not tier.passed and "cannot enter protected stage production" in tier.detail


def test_a_threshold_miss_fails_the_gate():
    view = View(policy())
    view.register("v1")
    view.eval("v1", 0.6)
    verdict = promotion_verdict(view, "churn", "v1", "staging")
    assert [c.name for c in verdict.failures()] == ["threshold auc"]


def test_no_eval_on_the_policy_suite_fails_and_names_the_suites_there_are():
    view = View(policy())
    view.register("v1")
    view.eval("v1", 0.9, suite="smoke")
    c = criterion(promotion_verdict(view, "churn", "v1", "staging"), "eval")
    assert not c.passed and "no eval report on suite holdout" in c.detail and "(has evals on: smoke)" in c.detail


def test_the_newest_eval_the_view_gives_is_the_one_the_verdict_records():
    view = View(policy())
    view.register("v1")
    view.eval("v1", 0.5)
    newest = view.eval("v1", 0.8)
    verdict = promotion_verdict(view, "churn", "v1", "staging")
    assert verdict.passed and verdict.eval_record == newest


def test_a_candidate_worse_than_the_stage_current_version_fails_beat_or_match():
    view = View(policy())
    view.register("v1")
    view.eval("v1", 0.9)
    view.assign("staging", "v1")
    view.register("v2")
    view.eval("v2", 0.8)
    verdict = promotion_verdict(view, "churn", "v2", "staging")
    assert (verdict.baseline, verdict.baseline_stage) == ("v1", "staging")
    assert [c.name for c in verdict.failures()] == ["auc vs v1 (staging)"]


def test_an_empty_stage_compares_with_the_most_protected_stage():
    view = View(policy())
    for name in ("v1", "v2"):
        view.register(name)
    view.assign("production", "v1")
    base, stage = baseline_for(view, "churn", "staging", "v2")
    assert (base.name, stage) == ("v1", "production")


def test_no_version_anywhere_means_no_baseline():
    view = View(policy())
    view.register("v1")
    assert baseline_for(view, "churn", "staging", "v1") == (None, None)


def test_a_baseline_without_an_eval_on_the_suite_fails_the_comparison():
    view = View(policy())
    view.register("v1")
    view.assign("staging", "v1")
    view.register("v2")
    view.eval("v2", 0.8)
    c = criterion(promotion_verdict(view, "churn", "v2", "staging"), "baseline eval")
    assert not c.passed and "current staging version v1 has no eval on suite holdout" in c.detail


def test_a_previous_stage_is_required_when_the_policy_says_so():
    view = View(policy(registry="require_previous_stage = true"))
    view.register("v1")
    view.eval("v1", 0.8)
    c = criterion(promotion_verdict(view, "churn", "v1", "production", count_approvals=False), "previous stage")
    assert not c.passed and "v1 has never been in staging; promote it there first" in c.detail


def test_a_deprecated_version_fails():
    view = View(policy())
    view.register("v1")
    view.eval("v1", 0.8)
    view.deprecate("v1")
    c = criterion(promotion_verdict(view, "churn", "v1", "staging"), "not deprecated")
    assert not c.passed and "leaks labels" in c.detail


def test_a_protected_stage_without_an_approval_check_fails_for_want_of_approvals():
    view = View(policy(approvals=2))
    view.register("v1")
    view.eval("v1", 0.8)
    c = criterion(promotion_verdict(view, "churn", "v1", "production"), "approvals")
    assert not c.passed and c.detail == "needs 2 approval(s) and none is recorded"


def test_the_approval_check_is_asked_over_the_same_view_and_its_evidence_is_kept():
    view = View(policy(approvals=1))
    view.register("v1")
    view.eval("v1", 0.8)
    check = approved_by("bob")
    verdict = promotion_verdict(view, "churn", "v1", "production", approval_check=check)
    assert verdict.passed and verdict.approval == {"approvers": ["bob"]}
    assert check.calls == [(view, "v1", "production", 1)]


def test_a_request_verdict_does_not_judge_approvals():
    view = View(policy(approvals=1))
    view.register("v1")
    view.eval("v1", 0.8)
    verdict = promotion_verdict(view, "churn", "v1", "production", count_approvals=False)
    assert verdict.passed and "approvals" not in [c.name for c in verdict.criteria]


def test_an_unknown_stage_is_a_policy_error():
    view = View(policy())
    view.register("v1")
    with pytest.raises(PolicyError, match="unknown stage 'prod'"):
        promotion_verdict(view, "churn", "v1", "prod")


def test_a_view_without_a_policy_is_a_policy_error_not_a_crash():
    with pytest.raises(PolicyError, match="no policy"):
        promotion_verdict(View(None), "churn", "v1", "staging")


# ---------------------------------------------------------------- rollback


def rolled_forward():
    """v1 promoted to staging with its eval, then v2 (better) over it."""
    view = View(policy())
    view.register("v1")
    first = view.eval("v1", 0.75)
    view.assign("staging", "v1", eval_record=first["id"], approval={"approvers": ["bob"]})
    view.register("v2")
    second = view.eval("v2", 0.9)
    view.assign("staging", "v2", eval_record=second["id"])
    return view


def test_a_rollback_to_a_version_once_in_the_stage_passes_without_beating_the_current_one():
    verdict = rollback_verdict(rolled_forward(), "churn", "staging", "v1")
    assert verdict.passed, verdict.failures()
    assert verdict.kind == "rollback" and verdict.eval_record["metrics"] == {"auc": 0.75}
    assert criterion(verdict, "earlier in stage").detail == "staging #1 (promote)"


def test_a_rollback_keeps_the_approval_the_target_was_promoted_with():
    assert rollback_verdict(rolled_forward(), "churn", "staging", "v1").approval == {"approvers": ["bob"]}


def test_a_rollback_to_a_version_never_in_the_stage_fails_and_points_to_promote():
    view = rolled_forward()
    view.register("v3")
    verdict = rollback_verdict(view, "churn", "staging", "v3")
    c = criterion(verdict, "earlier in stage")
    assert not c.passed and "use 'promote' instead" in c.detail


def test_a_rollback_fails_when_the_eval_it_was_promoted_with_is_gone():
    view = rolled_forward()
    view.notes["tag-v1"] = []
    c = criterion(rollback_verdict(view, "churn", "staging", "v1"), "eval")
    assert not c.passed and "is gone from the notes" in c.detail


def test_a_rollback_into_a_protected_stage_needs_approvals_when_the_policy_says_so():
    view = View(policy(registry="rollback_requires_approval = true"))
    view.register("v1")
    first = view.eval("v1", 0.8)
    view.assign("production", "v1", eval_record=first["id"])
    view.register("v2")
    view.assign("production", "v2")
    c = criterion(rollback_verdict(view, "churn", "production", "v1"), "approvals")
    assert not c.passed and c.detail == "rollback needs 1 approval(s) by policy"
    assert rollback_verdict(view, "churn", "production", "v1", approval_check=approved_by("bob")).passed
