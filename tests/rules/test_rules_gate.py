"""The gate's metric criteria as a pure function: no repository, just records and a gate policy."""

from __future__ import annotations

from gitmv.policy import GatePolicy
from gitmv.rules import gate

GATE = GatePolicy(metrics={"auc": "max", "latency_ms": "min"}, thresholds={"auc": 0.80},
                  max_regression={"auc": 0.0, "latency_ms": 1.0}, protected_slices=("region=eu",))


def ev(metrics: dict, slices: dict | None = None) -> dict:
    return {"metrics": metrics, "slices": slices if slices is not None else {}}


GOOD = ev({"auc": 0.90, "latency_ms": 5.0}, {"region=eu": {"auc": 0.85}})


def by_name(criteria) -> dict:
    return {c.name: c for c in criteria}


def test_a_candidate_that_beats_a_complete_baseline_passes_every_criterion():
    criteria = gate.evaluate(GATE, GOOD, ev({"auc": 0.85, "latency_ms": 5.0}, {"region=eu": {"auc": 0.80}}), "v1 (production)")
    assert gate.passed(criteria), criteria


def test_a_baseline_eval_lacking_a_gated_metric_fails_that_metric():
    base = ev({"auc": 0.85}, {"region=eu": {"auc": 0.80}})
    c = by_name(gate.evaluate(GATE, GOOD, base, "v1 (production)", "churn"))["latency_ms vs v1 (production)"]
    assert not c.passed


def test_the_failure_for_a_missing_baseline_metric_names_the_baseline_and_the_fix():
    base = ev({"auc": 0.85}, {"region=eu": {"auc": 0.80}})
    c = by_name(gate.evaluate(GATE, GOOD, base, "v1 (production)", "churn"))["latency_ms vs v1 (production)"]
    assert "the eval of baseline v1 (production) lacks latency_ms" in c.detail
    assert "git mv-promote eval churn v1" in c.detail


def test_an_empty_baseline_eval_fails_every_comparison():
    criteria = gate.evaluate(GATE, GOOD, ev({}), "v1 (production)", "churn")
    failed = {c.name for c in criteria if not c.passed}
    assert failed == {"auc vs v1 (production)", "latency_ms vs v1 (production)", "slice region=eu"}


def test_a_baseline_eval_lacking_the_protected_slice_fails_the_slice():
    c = by_name(gate.evaluate(GATE, GOOD, ev({"auc": 0.85, "latency_ms": 5.0}), "v1 (production)", "churn"))["slice region=eu"]
    assert not c.passed
    assert "lacks the protected slice region=eu" in c.detail and "git mv-promote eval churn v1" in c.detail


def test_a_baseline_slice_lacking_a_metric_the_candidate_slice_reports_fails():
    cand = ev({"auc": 0.90, "latency_ms": 5.0}, {"region=eu": {"auc": 0.85, "latency_ms": 5.0}})
    base = ev({"auc": 0.85, "latency_ms": 5.0}, {"region=eu": {"auc": 0.80}})
    c = by_name(gate.evaluate(GATE, cand, base, "v1 (production)", "churn"))["slice region=eu latency_ms vs v1 (production)"]
    assert not c.passed and "lacks latency_ms on slice region=eu" in c.detail


def test_a_candidate_slice_lacking_a_metric_the_baseline_slice_reports_fails():
    base = ev({"auc": 0.85, "latency_ms": 5.0}, {"region=eu": {"auc": 0.80, "latency_ms": 5.0}})
    c = by_name(gate.evaluate(GATE, GOOD, base, "v1 (production)"))["slice region=eu latency_ms vs v1 (production)"]
    assert not c.passed and "missing from the candidate" in c.detail


def test_a_gated_metric_neither_slice_reports_is_not_compared():
    base = ev({"auc": 0.85, "latency_ms": 5.0}, {"region=eu": {"auc": 0.80}})
    names = {c.name for c in gate.evaluate(GATE, GOOD, base, "v1 (production)")}
    assert "slice region=eu latency_ms vs v1 (production)" not in names


def test_slice_metrics_not_declared_in_the_gate_are_not_compared():
    cand = ev({"auc": 0.90, "latency_ms": 5.0}, {"region=eu": {"auc": 0.85, "recall": 0.1}})
    base = ev({"auc": 0.85, "latency_ms": 5.0}, {"region=eu": {"auc": 0.80, "recall": 0.9}})
    criteria = gate.evaluate(GATE, cand, base, "v1 (production)")
    assert gate.passed(criteria) and not any("recall" in c.name for c in criteria)


def test_a_non_finite_candidate_metric_counts_as_missing():
    criteria = by_name(gate.evaluate(GATE, ev({"auc": float("inf"), "latency_ms": 5.0}, {"region=eu": {"auc": 0.9}}), None, None))
    assert not criteria["threshold auc"].passed


def test_a_non_finite_baseline_metric_fails_the_comparison():
    base = ev({"auc": float("nan"), "latency_ms": 5.0}, {"region=eu": {"auc": 0.80}})
    assert not by_name(gate.evaluate(GATE, GOOD, base, "v1 (production)"))["auc vs v1 (production)"].passed


def test_without_a_baseline_thresholds_alone_decide():
    criteria = gate.evaluate(GATE, GOOD, None, None)
    assert [c.name for c in criteria] == ["threshold auc"] and gate.passed(criteria)
