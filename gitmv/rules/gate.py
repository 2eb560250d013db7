"""Pure gate evaluation: (gate policy, candidate eval, baseline eval) -> criteria.

No I/O here: the same function decides for `check`, `promote`, `request` and the server hook,
so they can never disagree.

Beat-or-match applies to every metric the policy declares, overall and on every protected slice,
with `max_regression[metric]` as the tolerance (0 when not given: a metric that is declared is
never silently exempt). A comparison needs both sides: a baseline whose eval lacks a declared
metric or a protected slice fails that criterion (the fix is to re-evaluate the baseline), because
"nothing to compare" passing would let an empty baseline eval wave any candidate through. Within
a protected slice, a declared metric that neither side reports is skipped (slices often carry a
subset of the metrics); one that only one side reports fails.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any, TypeGuard

from gitmv.records import is_finite_number

if TYPE_CHECKING:
    from gitmv.policy import GatePolicy


@dataclass(frozen=True)
class Criterion:
    name: str
    passed: bool
    detail: str

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _fmt(x: object) -> str:
    return f"{x:.6g}" if isinstance(x, float) else str(x)


def _number(value: object) -> TypeGuard[float]:
    return is_finite_number(value)


def _lacks(what: str, baseline_label: str | None, model: str | None) -> str:
    """Why a comparison with the baseline fails when its eval lacks `what`, and the fix."""
    version = (baseline_label or "VBASE").split(" ")[0]
    return (f"the eval of baseline {baseline_label} lacks {what}; re-evaluate the baseline: "
            f"git mv-promote eval {model or 'MODEL'} {version}")


def evaluate(gate: GatePolicy, candidate: dict[str, Any] | None, baseline: dict[str, Any] | None, baseline_label: str | None,
             model: str | None = None) -> list[Criterion]:
    """Metric criteria. `candidate`/`baseline` are eval records ({"metrics", "slices"}) or None;
    `model` only names the fix."""
    out: list[Criterion] = []
    if candidate is None:
        return out
    metrics = candidate.get("metrics") or {}
    slices = candidate.get("slices") or {}
    for name, limit in sorted(gate.thresholds.items()):
        value = metrics.get(name)
        direction = gate.metrics[name]
        if not _number(value):
            out.append(Criterion(f"threshold {name}", False, f"{name} missing from the eval report"))
            continue
        ok = value >= limit if direction == "max" else value <= limit
        op = "≥" if direction == "max" else "≤"
        out.append(Criterion(f"threshold {name}", ok, f"{_fmt(value)} {op} {_fmt(limit)} required"))
    if baseline is None:
        return out
    base_metrics = baseline.get("metrics") or {}
    base_slices = baseline.get("slices") or {}
    for name in sorted(gate.metrics):
        out.append(_compare(gate, name, f"{name} vs {baseline_label}", metrics.get(name), base_metrics.get(name),
                            _lacks(name, baseline_label, model)))
    for slice_name in gate.protected_slices:
        cand_slice = slices.get(slice_name)
        base_slice = base_slices.get(slice_name)
        if not isinstance(cand_slice, dict):
            out.append(Criterion(f"slice {slice_name}", False, f"slice {slice_name} missing from the eval report"))
            continue
        if not isinstance(base_slice, dict):
            out.append(Criterion(f"slice {slice_name}", False,
                                 _lacks(f"the protected slice {slice_name}", baseline_label, model)))
            continue
        for name in sorted(gate.metrics):
            if name not in cand_slice and name not in base_slice:
                continue
            out.append(_compare(gate, name, f"slice {slice_name} {name} vs {baseline_label}",
                                cand_slice.get(name), base_slice.get(name),
                                _lacks(f"{name} on slice {slice_name}", baseline_label, model)))
    return out


def _compare(gate: GatePolicy, name: str, label: str, value: Any, base: Any, lacks: str | None = None) -> Criterion:
    direction = gate.metrics[name]
    tolerance = gate.max_regression.get(name, 0.0)
    if not _number(value):
        return Criterion(label, False, f"{name} missing from the candidate's eval report")
    if not _number(base):
        return Criterion(label, False, lacks or f"the baseline's eval lacks {name}")
    delta = value - base
    if direction == "max":
        ok = value >= base - tolerance
    else:
        ok = value <= base + tolerance
    sign = "+" if delta >= 0 else ""
    return Criterion(label, ok, f"{_fmt(value)} vs {_fmt(base)} ({sign}{_fmt(round(delta, 10))}, "
                                f"tolerance {_fmt(tolerance)}, {'higher' if direction == 'max' else 'lower'} is better)")


def passed(criteria: list[Criterion]) -> bool:
    return all(c.passed for c in criteria)
