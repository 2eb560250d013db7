"""The promotion rules, assembled over a registry view.

One function decides whether a version may enter a stage; `check`, `promote`, `request` and the
server hook all call it, over local state or over the server's state respectively. The view is
anything satisfying `rules.view.RegistryView` (the `Registry` does); no I/O happens here.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Callable

from gitmv.errors import MvError, PolicyError
from gitmv.rules import gate, replay, soak
from gitmv.rules.gate import Criterion
from gitmv.rules.view import V, RegistryView

if TYPE_CHECKING:
    from gitmv.policy import ModelPolicy, Policy


@dataclass
class Verdict:
    model: str
    version: str
    stage: str
    kind: str
    criteria: list[Criterion] = field(default_factory=list)
    eval_record: dict[str, Any] | None = None
    baseline: str | None = None
    baseline_stage: str | None = None
    approval: dict[str, Any] | None = None
    replay_record: dict[str, Any] | None = None  # the replay the gate's replay bound judged

    @property
    def passed(self) -> bool:
        return gate.passed(self.criteria)

    def failures(self) -> list[Criterion]:
        return [c for c in self.criteria if not c.passed]

    def to_dict(self) -> dict[str, Any]:
        return {
            "model": self.model, "version": self.version, "stage": self.stage, "kind": self.kind,
            "passed": self.passed, "baseline": self.baseline, "baseline_stage": self.baseline_stage,
            "eval_record": self.eval_record["id"] if self.eval_record else None,
            "replay_record": self.replay_record["id"] if self.replay_record else None,
            "criteria": [c.to_dict() for c in self.criteria],
            "approval": self.approval,
        }

    def gate_summary(self) -> dict[str, Any]:
        return {"passed": self.passed, "baseline": self.baseline,
                "criteria": [f"{'pass' if c.passed else 'FAIL'}: {c.name}: {c.detail}" for c in self.criteria]}


# (view, version, stage, approvals needed) -> (criterion, approval evidence or None). It is called
# with the view the verdict was asked over, typed Any: the caller's check takes its concrete view.
ApprovalCheck = Callable[[Any, V, str, int], tuple[Criterion, "dict[str, Any] | None"]]


def _open(reg: RegistryView[V], model: str, version_name: str, stage: str,
          kind: str) -> tuple[Verdict, ModelPolicy, V | None]:
    """The verdict every decision starts with: the model's policy, and the version when it is
    registered (else the verdict already holds the failed "registered" criterion)."""
    mp = _policy(reg).model(model)
    verdict = Verdict(model, version_name, stage, kind)
    try:
        version = reg.version(model, version_name)
    except MvError as exc:
        verdict.criteria.append(Criterion("registered", False, exc.cause))
        return verdict, mp, None
    on = f" on commit {version.record.commit[:12]}" if kind == "promote" else ""
    verdict.criteria.append(Criterion("registered", True, f"tag {version.tag.id[:12]}{on}"))
    return verdict, mp, version


def _policy(reg: RegistryView[V]) -> Policy:
    if reg.policy is None:
        raise PolicyError("no policy to decide a promotion by", "run 'git mv-promote init' and commit .mv-promote/policy.toml")
    return reg.policy


def baseline_for(reg: RegistryView[V], model: str, stage: str, candidate: str) -> tuple[V | None, str | None]:
    """The gate baseline: the stage's current version; else the most protected stage's; else none."""
    policy = _policy(reg)
    for probe in dict.fromkeys([stage, policy.stages[-1]]):
        entry = reg.current(model, probe)
        if entry is not None:
            return reg.version(model, entry.record.version), probe
    return None, None


def promotion_verdict(reg: RegistryView[V], model: str, version_name: str, stage: str, *,
                      approval_check: ApprovalCheck[V] | None = None, count_approvals: bool = True,
                      at: int | None = None, check_soak: bool = True) -> Verdict:
    """`at` is the moment of the promotion (epoch seconds): the new stage tag's time on the
    server, the clock on the client. Only a soak (rules/soak.py) measures with it; `request`
    leaves it out (`check_soak=False`), so review can run while the version soaks."""
    policy = _policy(reg)
    policy.stage_index(stage)
    verdict, mp, version = _open(reg, model, version_name, stage, "promote")
    if version is None:
        return verdict
    crit = verdict.criteria
    sig = reg.signature(version.tag)
    if sig.ok:
        crit.append(Criterion("signature", True, f"signed by {sig.principal} ({sig.fingerprint})"))
    elif not mp.signed:
        crit.append(Criterion("signature", True, f"research tier: unsigned allowed ({sig.reason})"))
    else:
        crit.append(Criterion("signature", False, f"{sig.reason}; the {mp.tier} tier needs a version signed by an allowed signer"))
    if mp.tier == "research" and policy.is_protected(stage):
        crit.append(Criterion("tier", False, f"research-tier models cannot enter protected stage {stage}"))
    else:
        crit.append(Criterion("tier", True, mp.tier))
    if mp.tier == "regulated":
        crit.extend(_regulated(reg, mp, version))
    dep = reg.deprecation(version)
    crit.append(Criterion("not deprecated", dep is None,
                          "not deprecated" if dep is None else f"deprecated on {dep.get('at')}: {dep.get('reason', '')}"))
    if policy.require_previous_stage:
        idx = policy.stage_index(stage)
        if idx > 0:
            prev = policy.stages[idx - 1]
            was = any(e.record.version == version_name for e in reg.stage_history(model, prev))
            crit.append(Criterion("previous stage", was,
                                  f"was in {prev}" if was else f"{version_name} has never been in {prev}; promote it there first"))
    if mp.gated:
        _gate_criteria(reg, mp, version, stage, verdict)
    if check_soak and soak.applies(policy, mp.gate.soak, stage, "promote"):
        crit.append(soak_criterion(reg, model, version_name, at))
    if count_approvals:
        needed = mp.required_approvals if policy.is_protected(stage) else 0
        if needed == 0:
            crit.append(Criterion("approvals", True, "none required"))
        elif approval_check is None:
            crit.append(Criterion("approvals", False, f"needs {needed} approval(s) and none is recorded"))
        else:
            criterion, evidence = approval_check(reg, version, stage, needed)
            crit.append(criterion)
            verdict.approval = evidence
    if mp.tier == "regulated" and policy.is_protected(stage):
        crit.append(separation_of_duties(reg, version, verdict))
    return verdict


def soak_criterion(reg: RegistryView[V], model: str, version_name: str, at: int | None) -> Criterion:
    """The model's soak, measured over its soak stage's entries (their tagger times)."""
    rule = _policy(reg).model(model).gate.soak
    assert rule is not None
    holds = [soak.Hold(e.tagger_time, e.record.version, e.record.traffic) for e in reg.stage_history(model, rule.stage)]
    return soak.criterion(holds, version_name, rule, at)


def rollout_verdict(reg: RegistryView[V], model: str, stage: str, version_name: str) -> Verdict:
    """A share change (kind = rollout) of the version a rollout stage already holds: it passed the
    gate when it entered, so the gate is not run again; it must still be signed as the tier needs,
    not deprecated, still carry the eval it entered with, and be the stage's current version. The
    verdict carries that entry's eval and approval, which the rollout record repeats."""
    policy = _policy(reg)
    verdict, mp, version = _open(reg, model, version_name, stage, "rollout")
    if version is None:
        return verdict
    crit = verdict.criteria
    if not policy.is_rollout(stage):
        crit.append(Criterion("rollout stage", False, f"{stage} is not in registry.rollout_stages"))
        return verdict
    current = reg.current(model, stage)
    if current is None or current.record.version != version_name:
        now = current.record.version if current else "no version"
        crit.append(Criterion("current", False, f"{stage} holds {now}, not {version_name}: "
                              f"'git mv-promote promote {model} {version_name} --stage {stage} --traffic N' first"))
        return verdict
    crit.append(Criterion("current", True, f"{stage} #{current.seq} at {current.record.traffic}%"))
    sig = reg.signature(version.tag)
    crit.append(Criterion("signature", sig.ok or not mp.signed,
                          f"signed by {sig.principal}" if sig.ok else sig.reason))
    entered_eval = current.record.eval_record  # the entry's, repeated by every rollout record after it
    if entered_eval is not None:
        have = {r["id"]: r for r in reg.evals(version, None)}
        crit.append(Criterion("eval", entered_eval in have,
                              f"still carries {entered_eval[:19]}…" if entered_eval in have else
                              f"the eval it entered {stage} with ({entered_eval}) is gone from the notes"))
        verdict.eval_record = have.get(entered_eval)
    dep = reg.deprecation(version)
    crit.append(Criterion("not deprecated", dep is None,
                          "not deprecated" if dep is None else f"deprecated: {dep.get('reason', '')}"))
    verdict.approval = current.record.approval
    return verdict


def separation_of_duties(reg: RegistryView[V], version: V, verdict: Verdict) -> Criterion:
    """Regulated tier: the registrant, the eval signer and every approver are different principals."""
    roles: list[tuple[str, str | None]] = [("registrant", reg.signature(version.tag).principal)]
    if verdict.eval_record is not None:
        roles.append(("eval signer", reg.record_signature(verdict.eval_record).principal))
    roles += [("approver", who) for who in (verdict.approval or {}).get("approvers", [])]
    seen: dict[str, str] = {}
    for role, who in roles:
        if who is None:
            continue
        if who in seen:
            return Criterion("separation of duties", False,
                             f"{who} is both {seen[who]} and {role}; the regulated tier needs different principals")
        seen[who] = role
    return Criterion("separation of duties", True, ", ".join(f"{r}: {w}" for r, w in roles if w))


def _gate_criteria(reg: RegistryView[V], mp: ModelPolicy, version: V, stage: str, verdict: Verdict) -> None:
    crit = verdict.criteria
    ev = reg.latest_eval(version, mp.eval_suite)
    if ev is None:
        other = [str(r.get("suite")) for r in reg.evals(version, None)]
        hint = f" (has evals on: {', '.join(sorted(set(other)))})" if other else ""
        crit.append(Criterion("eval", False, f"no eval report on suite {mp.eval_suite} bound to {version.name}'s artifact digests{hint}"))
        return
    verdict.eval_record = ev
    crit.append(Criterion("eval", True, f"{ev['id'][:19]}… on suite {mp.eval_suite} at {ev.get('at')}"))
    baseline, base_stage = baseline_for(reg, mp.name, stage, version.name)
    base_eval = None
    label = None
    if baseline is not None:
        verdict.baseline, verdict.baseline_stage = baseline.name, base_stage
        label = f"{baseline.name} ({base_stage})"
        base_eval = reg.latest_eval(baseline, mp.eval_suite)
        if base_eval is None and baseline.name != version.name:
            crit.append(Criterion("baseline eval", False,
                                  f"current {base_stage} version {baseline.name} has no eval on suite {mp.eval_suite} to compare with"))
    crit.extend(gate.evaluate(mp.gate, ev, base_eval, label, mp.name))
    if mp.gate.replay is not None:
        crit.append(replay_criterion(reg, mp, version, verdict))


def replay_criterion(reg: RegistryView[V], mp: ModelPolicy, version: V, verdict: Verdict | None = None) -> Criterion:
    """The gate's replay bound: the newest counted replay record of this version against the
    current version of `gate.replay.against` must meet the bound. Nothing live there: nothing to
    replay against. The record the criterion judged goes to `verdict.replay_record`."""
    bound = mp.gate.replay
    assert bound is not None
    entry = reg.current(mp.name, bound.against)
    if entry is None:
        return Criterion("replay", True, f"{bound.against} has no version yet: nothing to replay against")
    live = reg.version(mp.name, entry.record.version)
    label = f"{live.name} ({bound.against})"
    if live.name == version.name:
        return Criterion("replay", True, f"{version.name} is the current {bound.against} version")
    chosen = counted_replay(reg, mp, version, live)
    if chosen is None:
        return replay.missing(mp.name, version.name, label, bound.against)
    if verdict is not None:
        verdict.replay_record = chosen
    return replay.judge(bound, chosen, label)


def counted_replay(reg: RegistryView[V], mp: ModelPolicy, version: V, against: V) -> dict[str, Any] | None:
    """The replay record that counts for `version` against `against`: well formed, bound to both
    versions' digests and `against`'s tag, on the policy's inputs, signed by an allowed signer (as
    the tier needs; by an eval signer when the policy names them); the newest in the notes history."""
    if mp.replay is None:
        return None
    found = [r for r in reg.records_of(version.tag.id, "replay")
             if replay.well_formed(r) and replay.bound_to(
                 r, model=mp.name, version=version.name, digests=version.digests, against=against.name,
                 against_tag=against.tag.id, against_digests=against.digests, inputs=mp.replay.inputs)
             and (not mp.signed or reg.record_signature(r).ok)
             and (not mp.eval_signers or reg.record_signature(r).principal in mp.eval_signers)]
    if len(found) <= 1:
        return found[0] if found else None
    return replay.newest(found, reg.note_positions(version.tag.id))


def _regulated(reg: RegistryView[V], mp: ModelPolicy, version: V) -> list[Criterion]:
    out = []
    card = version.record.model_card
    out.append(Criterion("model card", bool(card and card.get("sha256")),
                         f"{card['path']} sha256 {card['sha256'][:12]}…" if card else "the version record holds no model card digest"))
    repro = [r for r in reg.records_of(version.tag.id, "reproduction") if r.get("match") is True
             and r.get("artifacts") == version.digests]
    out.append(Criterion("reproduction", bool(repro),
                         f"matched at {repro[-1].get('at')}" if repro else
                         f"no matching reproduction record — run 'git mv-promote reproduce {mp.name} {version.name}'"))
    return out


def default_rollback_target(history: list[str]) -> str | None:
    """The version `rollback` picks without --to: the last one in the stage's history (its
    versions, oldest first) other than the current one. `audit` rehearses the same pick."""
    if not history:
        return None
    earlier = [v for v in history if v != history[-1]]
    return earlier[-1] if earlier else None


def rollback_verdict(reg: RegistryView[V], model: str, stage: str, target: str, *,
                     approval_check: ApprovalCheck[V] | None = None, count_approvals: bool = True) -> Verdict:
    """Rollback: not held to beat-or-match; the target must have been in the stage before, still
    carry the eval it was promoted with, be signed and not deprecated."""
    policy = _policy(reg)
    verdict, mp, version = _open(reg, model, target, stage, "rollback")
    if version is None:
        return verdict
    crit = verdict.criteria
    sig = reg.signature(version.tag)
    crit.append(Criterion("signature", sig.ok or not mp.signed, f"signed by {sig.principal}" if sig.ok else sig.reason))
    earlier = [e for e in reg.stage_history(model, stage) if e.record.version == target]
    if not earlier:
        crit.append(Criterion("earlier in stage", False, f"{target} was never in {stage}; use 'promote' instead"))
        return verdict
    last = earlier[-1]
    crit.append(Criterion("earlier in stage", True, f"{stage} #{last.seq} ({last.record.kind})"))
    promoted_eval = next((e.record.eval_record for e in reversed(earlier) if e.record.eval_record), None)
    if mp.gated:
        have = {r["id"]: r for r in reg.evals(version, None)}
        if promoted_eval is not None and promoted_eval in have:
            crit.append(Criterion("eval", True, f"still carries {promoted_eval[:19]}…"))
            verdict.eval_record = have[promoted_eval]
        else:
            crit.append(Criterion("eval", False, f"the eval it was promoted with ({promoted_eval}) is gone from the notes"))
    dep = reg.deprecation(version)
    crit.append(Criterion("not deprecated", dep is None, "not deprecated" if dep is None else f"deprecated: {dep.get('reason', '')}"))
    verdict.approval = next((e.record.approval for e in reversed(earlier) if e.record.approval), None)
    if count_approvals and policy.rollback_requires_approval and policy.is_protected(stage):
        needed = mp.required_approvals
        if needed and approval_check is not None:
            criterion, evidence = approval_check(reg, version, stage, needed)
            crit.append(criterion)
            verdict.approval = evidence
        elif needed:
            crit.append(Criterion("approvals", False, f"rollback needs {needed} approval(s) by policy"))
    return verdict
