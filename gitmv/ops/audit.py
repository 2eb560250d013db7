"""`audit`: the periodic review of the workflow, in one command.

1. Every entry of every protected stage is re-judged by the server hook's own rule
   (`gitmv.hooks.enforce.judge_tag`), over the registry as it was when the tag was made: the
   policy and allowed signers of the protected branch's state at the tag's time (its first-parent
   history), approvals read at that state, the stage's earlier entries only, and only evidence
   records made by then. A tag pushed around the hook (no gate, no approval, a forged record)
   is a finding, however long ago it was pushed.
2. The rollback path is rehearsed: the version `rollback` would pick for each protected stage
   must pass the rollback rules and have its artifacts and data retrievable (the DVC remote is
   asked whether it has each object; nothing is downloaded from it).
3. Drift between the current policy and the records; deprecated versions live past their sunset.

A clone that cannot see all of it (shallow, notes not fetched or not merged) is refused with the
gap named (`require_complete`): missing state is never read as clean.
"""

from __future__ import annotations

import os
import tempfile
from datetime import datetime, timezone
from pathlib import Path

from gitmv import records
from gitmv.dvc.cache import dvc_pin_for
from gitmv.errors import MvError, NotFoundError, UsageError
from gitmv.git.repo import ZERO, Repo
from gitmv.names import STAGE_REF_RE, check_model_name, stage_ref, version_ref
from gitmv.ops import artifacts as artifacts_mod
from gitmv.approvals import protected_tip
from gitmv.ops.context import Context, now, open_context, policy_history, require_complete
from gitmv.policy import POLICY_PATH, Policy, parse_policy
from gitmv.registry import Registry, Version
from gitmv.rules import audit as rules
from gitmv.rules import promotion
from gitmv.rules.audit import Finding



class AsOf(Registry):
    """The registry view as the server saw it when a stage tag was pushed: later stage tags hidden
    (by the caller), approvals read at a past commit of the protected branch, and only the
    evidence records made by then (a record's `at` is signed with it)."""

    def __init__(self, repo: Repo, policy: Policy, signers: bytes | None, notes_commit: str | None, *,
                 hidden: set[str], protected_commit: str, at: int):
        super().__init__(repo, policy, signers, notes_commit, hidden=hidden)
        self.protected_commit = protected_commit
        self.at = at

    def note_records(self, target: str) -> list[dict]:
        return [r for r in super().note_records(target) if rules.existed_then(r, self.at)]


def audit(model: str | None = None, since: str | None = None, path: str | os.PathLike = ".") -> dict:
    """Findings (kind, model, stage, ref, message, fix); `ok` when there is none."""
    if model:
        check_model_name(model)
    since_ts = _since(since)
    ctx = open_context(path, cached=False)
    require_complete(ctx, "audit the registry")
    reg = ctx.registry
    if model and model not in reg.model_names:
        raise NotFoundError(f"unknown model '{model}' (known: {', '.join(reg.model_names) or 'none'})",
                            "see 'git mv-promote show'")
    models = [model] if model else reg.model_names
    chain, tip = branch_chain(ctx)
    findings: list[Finding] = []
    checked = {"stage_entries": 0, "rollback_targets": 0, "live_versions": 0}
    for name in models:
        findings += _entries(ctx, chain, name, since_ts, checked)
        findings += _rollbacks(ctx, name, checked)
        findings += _drift(ctx, chain, name, checked)
    found = rules.ordered(findings)
    return {"ok": not found, "findings": [f.to_dict() for f in found], "checked": checked,
            "models": models, "since": since, "protected_branch": ctx.policy.protected_branch,
            "protected_tip": tip, "policy_digest": ctx.policy.digest, "at": now(), "warnings": ctx.warnings}


def _since(since: str | None) -> int | None:
    if not since:
        return None
    try:
        return int(records.parse_time(since).timestamp())
    except MvError as exc:
        raise UsageError(f"--since: {exc.cause}", "use RFC 3339, e.g. 2026-11-02T10:00:00Z") from None


# ---------------------------------------------------------------- 1. stage entries

def branch_chain(ctx: Context) -> tuple[list[rules.BranchPoint], str | None]:
    """The protected branch's first-parent history, newest first, with the policy at each commit."""
    branch = ctx.policy.protected_branch
    tip = protected_tip(ctx.registry)
    if tip is None:
        raise NotFoundError(f"the protected branch {branch} is not in this clone",
                            f"git fetch origin {branch}")
    chain = [rules.BranchPoint(info["id"], info["time"], digest) for info, _raw, digest in policy_history(ctx.repo, tip)]
    return chain, tip


def tagger_times(reg: Registry, model: str) -> dict[str, int]:
    """Tagger time of each stage tag of `model` (by ref)."""
    out = {}
    for ref, oid in sorted(reg.refs_of(model).items()):
        if STAGE_REF_RE.match(ref):
            tag = reg.repo.tag(oid, ref)
            out[ref] = tag.tagger_time if tag is not None else 0
    return out


def _entries(ctx: Context, chain: list[rules.BranchPoint], model: str, since: int | None,
             checked: dict) -> list[Finding]:
    reg = ctx.registry
    times = tagger_times(reg, model)
    out = []
    for stage in reg.stages_present(model):
        seqs = reg.stage_seqs(model, stage)
        for seq, oid in seqs:
            if since is not None and times.get(stage_ref(model, stage, seq), 0) < since:
                continue
            outcome = judge_entry(ctx, chain, times, model, stage, seqs, seq, oid)
            if outcome is not None:
                checked["stage_entries"] += 1
                out += outcome
    return out


def judge_entry(ctx: Context, chain: list[rules.BranchPoint], times: dict[str, int], model: str, stage: str,
                seqs: list[tuple[int, str]], seq: int, oid: str) -> list[Finding] | None:
    """The server hook's rule for stage entry `seq` (tag `oid`) of `seqs`, over the registry as it
    was when the tag was made (`times`: every stage tag's tagger time, by ref): [] when it passes,
    its refusals as findings, None when the stage is protected neither then nor now (not judged).
    `audit` judges every entry with it, `get` the one it deploys."""
    reg = ctx.registry
    ref = stage_ref(model, stage, seq)
    at = times.get(ref, 0)
    try:
        record = reg.stage_entry(ref, oid).record
        cited = (record.approval or {}).get("merge_commit")
        digest = record.policy_digest
    except MvError:
        cited, digest = None, ""  # the hook's rule names the broken record below
    states = rules.branch_states_at(chain, at, digest, cited if isinstance(cited, str) else None)
    if not states:
        if not ctx.policy.is_protected(stage):
            return None
        return [Finding(rules.ENTRY, model, stage, ref,
                        f"made at {_time(at)}, before {ctx.policy.protected_branch} had any commit",
                        "no policy governed it: investigate who pushed it")]
    hidden = {r for r, t in times.items() if t > at} | {stage_ref(model, stage, s) for s, _ in seqs if s >= seq}
    outcome: list[Finding] | None = None
    for index in states:  # passing in any state the branch may have been in is no finding
        found = _judge_at(ctx, chain[index], model, stage, ref, oid, at, hidden)
        if found is None:  # not a protected stage, then or now: not audited
            break
        outcome = found if outcome is None else outcome  # the likeliest state's refusal
        if not found:
            return []
    return outcome


def _judge_at(ctx: Context, point: rules.BranchPoint, model: str, stage: str, ref: str, oid: str, at: int,
              hidden: set[str]) -> list[Finding] | None:
    """The hook's rule for one stage tag over the registry as it was at `point` of the protected
    branch: [] when it passes, its refusals as findings, None when the stage is not audited."""
    from gitmv.hooks import enforce

    repo, branch = ctx.repo, ctx.policy.protected_branch
    raw = repo.blob_at(point.id, POLICY_PATH)
    if raw is None:
        return [Finding(rules.ENTRY, model, stage, ref, f"{branch} had no {POLICY_PATH} at {point.id[:12]} when it "
                        f"was made ({_time(at)})", "no policy governed it: investigate who pushed it")]
    try:
        policy = parse_policy(raw, f"{POLICY_PATH} at {point.id[:12]}")
    except MvError as exc:
        return [Finding(rules.ENTRY, model, stage, ref, f"the policy in force then is invalid: {exc.cause}",
                        "no valid policy governed it: investigate who pushed it")]
    if not (policy.is_protected(stage) or ctx.policy.is_protected(stage)):
        return None
    view = AsOf(repo, policy, repo.blob_at(point.id, policy.allowed_signers), ctx.registry.notes_commit,
                hidden=hidden, protected_commit=point.id, at=at)
    refusal = enforce.judge_tag(view, policy, ZERO, oid, ref) or _cited_eval_refusal(view, policy, ref, oid, point.id)
    return [Finding(rules.ENTRY, model, stage, ref,
                    f"[{rule}] {cause} (judged as of {_time(at)}, under the policy of {branch} at {point.id[:12]})",
                    f"this entry did not pass the server's rules: investigate how it was pushed; to restore a "
                    f"gated state: git mv-promote rollback {model} --stage {stage} (hook rule's fix: {fix})")
            for rule, cause, fix in (refusal.items if refusal is not None else ())]


def _cited_eval_refusal(view: AsOf, policy: Policy, ref: str, oid: str, protected_commit: str):
    """R9 over the eval the entry rests on, as the hook judged it when the eval reached it: the
    code it names is published and its eval command is the protected branch's (as the branch
    stood at the tag's time). Only an eval that names its code commit: one from before R9
    existed stays evidence (docs/security.md). On a host without the hook nothing else judged it."""
    from gitmv.hooks import enforce

    try:
        record = view.stage_entry(ref, oid).record
        cited = [r for r in view.note_records(record.version_tag)
                 if r.get("id") == record.eval_record and r.get("kind") == "eval" and r.get("code_commit")]
    except MvError:
        return None  # the stage record or the note is refused by the rules that read them
    try:
        if cited:
            enforce.check_eval_provenance(view, policy, record.version_tag, cited, protected_commit, [])
    except enforce.Refusal as found:
        return found
    return None


def _time(epoch: int) -> str:
    return datetime.fromtimestamp(epoch, timezone.utc).isoformat().replace("+00:00", "Z")


# ---------------------------------------------------------------- 2. the rollback path

def _rollbacks(ctx: Context, model: str, checked: dict) -> list[Finding]:
    from gitmv.ops.promote import pins_retrievability

    reg = ctx.registry
    out = []
    for stage in reg.stages_present(model):
        if not ctx.policy.is_protected(stage) or model not in ctx.policy.models:
            continue
        try:
            history = [e.record.version for e in reg.stage_history(model, stage)]
        except MvError:
            continue  # an unreadable stage record is a stage-entry finding
        target = promotion.default_rollback_target(history)
        if target is None:
            continue  # one version ever: nothing to roll back to (not a broken path)
        checked["rollback_targets"] += 1
        ref = stage_ref(model, stage, len(history))
        fix = (f"rehearse: git mv-promote rollback {model} --stage {stage} --dry-run; restore the artifacts "
               f"(dvc push from a clone that has them) or name a retrievable version with --to")
        # approvals are not rehearsed: a rollback needing a fresh approval is process, not a broken path
        verdict = promotion.rollback_verdict(reg, model, stage, target, count_approvals=False)
        version = reg.version(model, target) if any(c.name == "registered" and c.passed
                                                    for c in verdict.criteria) else None
        if version is not None:
            out += _retrievable(ctx, version, model, stage, ref, fix)
            pins_retrievability(ctx, version, verdict, False)  # presence in the DVC remote, no download
        for c in verdict.failures():
            out.append(Finding(rules.ROLLBACK, model, stage, ref,
                               f"rollback to {target} (what 'rollback' picks) fails: {c.name}: {c.detail}", fix))
    return out


def _retrievable(ctx: Context, version: Version, model: str, stage: str, ref: str, fix: str) -> list[Finding]:
    """Each artifact from the work tree, the Git blob or the DVC cache; one tracked by DVC may
    instead be in the DVC remote, which `pins_retrievability` asks object by object."""
    out = []
    with tempfile.TemporaryDirectory(prefix="mv-audit-") as tmp:
        for rel, meta in sorted(version.record.artifacts.items()):
            got = artifacts_mod.retrieve(ctx.repo, version.record.commit, rel, meta["sha256"],
                                         use_worktree=True, tmpdir=tmp)
            if got.ok or dvc_pin_for(ctx.repo, version.record.commit, rel):
                continue
            out.append(Finding(rules.ROLLBACK, model, stage, ref,
                               f"rollback to {version.name} (what 'rollback' picks) fails: {got.describe_failure()}",
                               fix))
    return out


# ---------------------------------------------------------------- 3. drift and sunsets

def _drift(ctx: Context, chain: list[rules.BranchPoint], model: str, checked: dict) -> list[Finding]:
    reg, policy = ctx.registry, ctx.policy
    out = []
    mp = policy.models.get(model)
    present = reg.stages_present(model)
    if mp is None and present:
        out.append(Finding(rules.DRIFT, model, None, None,
                           f"{model} has stage tags but no [models.{model}] in the current policy",
                           f"add [models.{model}] to {POLICY_PATH}, or retire the model deliberately"))
    for stage in present:
        if stage not in policy.stages:
            out.append(Finding(rules.DRIFT, model, stage, None,
                               f"stage '{stage}' has stage tags but is not in the current policy's stages "
                               f"({', '.join(policy.stages)})",
                               f"add '{stage}' to registry.stages, or promote {model} into a current stage"))
    live: dict[str, list[tuple[str, str]]] = {}  # version -> [(stage, stage ref)]
    for stage in present:
        seqs = reg.stage_seqs(model, stage)
        try:
            entry = reg.stage_entry(stage_ref(model, stage, seqs[-1][0]), seqs[-1][1])
        except MvError:
            continue  # reported as a stage-entry finding
        live.setdefault(entry.record.version, []).append((stage, entry.ref))
        out += _gone_signer(ctx, chain, model, stage, entry.ref, entry.tag)
    today = records.parse_time(now())  # the clock every record takes (honours GIT_COMMITTER_DATE)
    for vname, where in sorted(live.items()):
        try:
            version = reg.version(model, vname)
        except MvError:
            continue  # reported with its stage entry
        checked["live_versions"] += 1
        stages = ", ".join(s for s, _ in where)
        vref = version_ref(model, vname)
        if mp is not None:
            for key in rules.missing_keys(mp, version.record):
                out.append(Finding(rules.DRIFT, model, where[0][0], vref,
                                   f"{vname}, live in {stages}, lacks what the policy now asks: {key}",
                                   f"register a version that meets the policy (git mv-promote register {model}) "
                                   f"and promote it, or relax models.{model} deliberately"))
        out += _gone_signer(ctx, chain, model, where[0][0], vref, version.tag)
        try:
            deprecations = [r for r in reg.records_of(version.tag.id, "deprecation")
                            if reg.counts_as_evidence(r, model)]
        except MvError:
            continue
        dep = rules.past_sunset(deprecations, today)
        if dep is not None:
            for stage, sref in where:
                out.append(Finding(rules.SUNSET, model, stage, sref,
                                   f"{vname} is deprecated ({dep.get('reason', '')}) with sunset {dep.get('sunset')}, "
                                   f"and is still live in {stage}",
                                   f"promote a successor (git mv-promote promote {model} VERSION --stage {stage}) "
                                   f"or roll back (git mv-promote rollback {model} --stage {stage})"))
    return out


def _gone_signer(ctx: Context, chain: list[rules.BranchPoint], model: str, stage: str, ref: str, tag) -> list[Finding]:
    """A live tag whose signer has been removed from the current allowed signers."""
    reg = ctx.registry
    if reg.signature(tag).ok:
        return []
    index = rules.newest_at(chain, tag.tagger_time)
    if index is None:
        return []
    then = ctx.repo.blob_at(chain[index].id, _signers_path(ctx.repo, chain[index].id, ctx.policy))
    past = Registry(ctx.repo, ctx.policy, then, reg.notes_commit).signature(tag)
    if not past.ok:
        return []  # never signed by an allowed signer: the stage-entry re-check (or verify) reports it
    return [Finding(rules.DRIFT, model, stage, ref,
                    f"signed by {past.principal} ({past.fingerprint}), who is no longer in the current "
                    f"allowed_signers ({ctx.policy.allowed_signers})",
                    f"re-sign it by promoting again (git mv-promote promote/rollback) with a current signer, "
                    f"or restore {past.principal} to allowed_signers if the removal was a mistake")]


def _signers_path(repo: Repo, commit: str, current: Policy) -> str:
    raw = repo.blob_at(commit, POLICY_PATH)
    try:
        return parse_policy(raw).allowed_signers if raw is not None else current.allowed_signers
    except MvError:
        return current.allowed_signers


# ---------------------------------------------------------------- the report

def markdown(result: dict) -> str:
    """A report an auditor can file: scope, what was checked, every finding with its fix."""
    found = result["findings"]
    lines = ["# git mv-promote audit", "",
             f"- Audited at: {result['at']}",
             f"- Models: {', '.join(result['models']) or 'none'}",
             f"- Stage entries since: {result['since'] or 'the beginning'}",
             f"- Protected branch: {result['protected_branch']} at {result['protected_tip']}",
             f"- Current policy: {result['policy_digest']}",
             f"- Checked: {result['checked']['stage_entries']} protected stage entries, "
             f"{result['checked']['rollback_targets']} rollback targets, {result['checked']['live_versions']} live versions",
             f"- Result: {'clean, no findings' if not found else f'{len(found)} finding(s)'}", ""]
    if found:
        lines += ["| kind | model | stage | ref | finding | fix |", "|---|---|---|---|---|---|"]
        cell = lambda v: str(v or "").replace("|", "\\|").replace("\n", " ")
        lines += [f"| {cell(f['kind'])} | {cell(f['model'])} | {cell(f['stage'])} | {cell(f['ref'])} | "
                  f"{cell(f['message'])} | {cell(f['fix'])} |" for f in found]
        lines.append("")
    if result.get("warnings"):
        lines += ["## Warnings", ""] + [f"- {w}" for w in result["warnings"]] + [""]
    return "\n".join(lines)


def write_markdown(result: dict, path: str | os.PathLike) -> None:
    """Written whole or not at all (a temporary file renamed into place)."""
    target = Path(path)
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", dir=target.parent if str(target.parent) else ".")
    except OSError as exc:
        raise MvError(f"cannot write the report {target}: {exc.strerror}", "pass --markdown a writable path") from None
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(markdown(result))
        os.replace(tmp, target)
    except OSError as exc:
        os.unlink(tmp)
        raise MvError(f"cannot write the report {target}: {exc.strerror}", "pass --markdown a writable path") from None
