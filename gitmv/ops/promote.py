"""`check`, `promote` and `rollback`: the gate's verdict, then a signed stage tag."""

from __future__ import annotations

import os
from typing import Any
import tempfile

from gitmv.errors import ConflictError, MvError, NotFoundError, RefusedError, UsageError
from gitmv.git import notes, record_signing
from gitmv.git.signing import signing_key_fingerprint
from gitmv.ops import artifacts as artifacts_mod
from gitmv.ops.artifacts import from_dvc_remote
from gitmv.ops.context import (Context, gate_refusal, now, open_context, push_hint, require_complete,
                                require_current)
from gitmv.names import NOTES_REF, check_names, stage_ref, stage_tag_name
from gitmv import records
from gitmv.records import PromotionRecord, parse_time, promotion_schema
from gitmv.registry import Version
from gitmv.rules import artifacts as artifact_rules
from gitmv.rules import promotion as rules
from gitmv.rules import rollout as rollout_rules


def _approval_check():
    from gitmv import approvals

    return approvals.check


def now_ts() -> int:
    """The client's moment of a promotion, as the soak measures it (honours the fixed clock)."""
    return int(parse_time(now()).timestamp())


def check(model: str, version: str, stage: str, path: str | os.PathLike = ".") -> dict:
    check_names(model, version)
    ctx = open_context(path)
    # a remote's unfetched tags are warned about, not refused: check decides nothing
    require_complete(ctx, f"check {model} {version} for {stage}", needs=("history", "notes"))
    verdict = rules.promotion_verdict(ctx.registry, model, version, stage, approval_check=_approval_check(),
                                      at=now_ts())
    return {**verdict.to_dict(), "warnings": ctx.warnings}


def _traffic_for(ctx: Context, stage: str, traffic: int | None, command: str) -> int | None:
    """`--traffic` is required for a rollout stage and refused for any other (usage errors)."""
    ctx.policy.stage_index(stage)
    if not ctx.policy.is_rollout(stage):
        if traffic is not None:
            raise UsageError(f"{stage} is not a rollout stage: its stage records carry no traffic share",
                             f"drop --traffic, or add {stage} to registry.rollout_stages in the policy")
        return None
    if traffic is None:
        raise UsageError(f"{stage} is a rollout stage: {command} into it needs the share it gives the version",
                         f"add --traffic N (percent, {rollout_rules.MIN_TRAFFIC}..{rollout_rules.MAX_TRAFFIC})")
    problem = rollout_rules.traffic_problem(traffic)
    if problem is not None:
        raise UsageError(f"--traffic {problem}")
    return traffic


def promote(model: str, version: str, stage: str, *, reason: str = "", traffic: int | None = None,
            offline: bool = False, path: str | os.PathLike = ".") -> dict:
    """`offline` skips the comparison with the remote's registry tags (`require_current`)."""
    check_names(model, version)
    return _promote(model, version, stage, reason, traffic, path, offline, None)


def _promote(model: str, version: str, stage: str, reason: str, traffic: int | None, path: str | os.PathLike,
             offline: bool, compared: list[str] | None) -> dict:
    """`compared`: the warnings of the remote comparison already made by the caller (None: make
    it), so a promotion that turns into a rollout, or back, asks the remote once."""
    for _ in range(10):
        ctx = open_context(path)
        what = f"promote {model} {version} to {stage}"
        require_complete(ctx, what)
        if compared is None:
            compared = require_current(ctx, model, what, offline=offline)
        ctx.warnings.extend(compared)
        mp = ctx.policy.model(model)
        traffic = _traffic_for(ctx, stage, traffic, "a promotion")
        current = ctx.registry.current(model, stage)
        if current is not None and current.record.version == version and traffic is not None \
                and traffic != current.record.traffic:
            # the version is already in the stage: what changes is its share, a rollout
            return _rollout(model, version, stage, traffic, reason, False, path, offline, compared)
        if current is not None and current.record.version == version:
            # a second stage tag would say nothing new and would read as a fresh promotion in history
            return {"model": model, "version": version, "stage": stage, "noop": True, "seq": current.record.seq,
                    "ref": current.ref, "tag": current.tag.id,
                    "notice": f"{model} {version} is already the current {stage} version ({current.ref}); nothing written",
                    "next": [], "warnings": ctx.warnings}
        verdict = rules.promotion_verdict(ctx.registry, model, version, stage, approval_check=_approval_check(),
                                          at=now_ts())
        if not verdict.passed:
            raise RefusedError(gate_refusal(f"promotion of {model} {version} to {stage} refused by the gate",
                                            verdict.failures()),
                               f"see 'git mv-promote check {model} {version} --stage {stage}'")
        try:
            return _write_stage_tag(ctx, mp, verdict, reason, kind="promote", traffic=traffic)
        except ConflictError:
            continue  # someone took the seq: re-read the stage and decide again
    raise ConflictError(f"{stage} of {model} kept changing", "run the command again")


def rollout(model: str, version: str, stage: str, *, traffic: int, reason: str = "", dry_run: bool = False,
            offline: bool = False, path: str | os.PathLike = ".") -> dict:
    """Set the share of `stage` (a rollout stage) that `version` gets. The version's first entry
    into the stage is a promotion (the gate decides, the record is kind = promote with the
    share); a later change of the current version's share is a stage tag of kind = rollout."""
    check_names(model, version)
    return _rollout(model, version, stage, traffic, reason, dry_run, path, offline, None)


def _rollout(model: str, version: str, stage: str, traffic: int, reason: str, dry_run: bool,
             path: str | os.PathLike, offline: bool, compared: list[str] | None) -> dict:
    for _ in range(10):
        ctx = open_context(path)
        what = f"roll out {model} {version} in {stage}"
        require_complete(ctx, what)
        if compared is None:  # a dry run compares too: it reports what the decision would do
            compared = require_current(ctx, model, what, offline=offline)
        ctx.warnings.extend(compared)
        mp = ctx.policy.model(model)
        _traffic_for(ctx, stage, traffic, "a rollout")
        current = ctx.registry.current(model, stage)
        if current is None or current.record.version != version:
            if dry_run:
                verdict = rules.promotion_verdict(ctx.registry, model, version, stage,
                                                  approval_check=_approval_check(), at=now_ts())
                return _rollout_plan(ctx, verdict, current, traffic)
            return _promote(model, version, stage, reason, traffic, path, offline, compared)
        if current.record.traffic == traffic:
            return {"model": model, "version": version, "stage": stage, "noop": True, "seq": current.record.seq,
                    "ref": current.ref, "tag": current.tag.id, "traffic": traffic, "dry_run": dry_run,
                    "notice": f"{model} {version} already has {traffic}% of {stage} ({current.ref}); nothing written",
                    "next": [], "warnings": ctx.warnings}
        verdict = rules.rollout_verdict(ctx.registry, model, stage, version)
        if dry_run:
            return _rollout_plan(ctx, verdict, current, traffic)
        if not verdict.passed:
            raise RefusedError(gate_refusal(f"rollout of {model} {version} to {traffic}% of {stage} refused",
                                            verdict.failures()),
                               f"rehearse with 'git mv-promote rollout {model} {version} --stage {stage} "
                               f"--traffic {traffic} --dry-run'")
        try:
            return _write_stage_tag(ctx, mp, verdict, reason, kind=rollout_rules.ROLLOUT_KIND, traffic=traffic)
        except ConflictError:
            continue
    raise ConflictError(f"{stage} of {model} kept changing", "run the command again")


def _rollout_plan(ctx: Context, verdict: rules.Verdict, current, traffic: int) -> dict:
    return {"model": verdict.model, "version": verdict.version, "stage": verdict.stage, "kind": verdict.kind,
            "traffic": traffic, "from": {"version": current.record.version, "traffic": current.record.traffic}
            if current else None, "verdict": verdict.to_dict(), "dry_run": True, "noop": False,
            "warnings": ctx.warnings}


def _write_stage_tag(ctx: Context, mp, verdict: rules.Verdict, reason: str, kind: str, forced: dict | None = None,
                     traffic: int | None = None) -> dict:
    reg, repo = ctx.registry, ctx.repo
    version = reg.version(verdict.model, verdict.version)
    seqs = reg.stage_seqs(verdict.model, verdict.stage)
    seq = seqs[-1][0] + 1 if seqs else 1
    current = reg.current(verdict.model, verdict.stage)
    signer = record_signing.Signer(repo, reg.allowed_signers)  # one probe for the tag's `by` and the approval's
    record = PromotionRecord(
        kind=kind, model=verdict.model, version=verdict.version, version_tag=version.tag.id, stage=verdict.stage,
        seq=seq, at=now(), by=signer.by() if mp.signed and signer.key else repo.identity(), policy_digest=ctx.policy.digest,
        previous=current.record.version if current else None,
        eval_record=verdict.eval_record["id"] if verdict.eval_record else None,
        gate=verdict.gate_summary(), approval=verdict.approval, reason=reason,
        signer=signing_key_fingerprint(repo.config("user.signingkey"), repo.config("gpg.format")) if mp.signed else None,
        forced=forced, traffic=traffic, schema=promotion_schema(traffic),
    )
    if verdict.approval and kind == "promote":
        approval = record_signing.new_record(
            repo, "approval", {**verdict.approval, "model": verdict.model, "version": verdict.version, "stage": verdict.stage},
            at=record.at, allowed_signers=reg.allowed_signers, signed=mp.signed, warnings=ctx.warnings, signer=signer)
        notes.append(repo, version.tag.id, [approval], f"mv-promote: approval of {verdict.model} {verdict.version}")
        record = PromotionRecord(**{**record.__dict__, "approval": {**verdict.approval, "record": approval["id"]}})
    name = stage_tag_name(verdict.model, verdict.stage, seq)
    tag_id = repo.create_tag(name, version.tag.id, record.to_message(), sign=mp.signed, date=record.at)
    return {"model": verdict.model, "version": verdict.version, "stage": verdict.stage, "seq": seq, "kind": kind,
            "traffic": traffic, "ref": stage_ref(verdict.model, verdict.stage, seq), "tag": tag_id, "record": record.to_dict(), "verdict": verdict.to_dict(),
            "noop": False, "next": [push_hint(stage_ref(verdict.model, verdict.stage, seq), NOTES_REF)], "warnings": ctx.warnings}


def rollback(model: str, stage: str, *, to: str | None = None, dry_run: bool = False, reason: str = "",
             force: bool = False, traffic: int | None = None, offline: bool = False,
             path: str | os.PathLike = ".") -> dict:
    check_names(model, to)
    ctx = open_context(path)
    require_complete(ctx, f"roll back {stage} of {model}")
    # a dry run compares too: it reports what the rollback would do
    ctx.warnings.extend(require_current(ctx, model, f"roll back {stage} of {model}", offline=offline))
    reg, repo = ctx.registry, ctx.repo
    mp = ctx.policy.model(model)
    ctx.policy.stage_index(stage)
    history = reg.stage_history(model, stage)
    if not history:
        raise NotFoundError(f"{model} has never been in {stage}: nothing to roll back", f"see 'git mv-promote history {model}'")
    if ctx.policy.is_rollout(stage) and traffic is None:
        # the earlier version takes over the share the stage gives now, unless told otherwise
        traffic = history[-1].record.traffic or rollout_rules.MAX_TRAFFIC
    traffic = _traffic_for(ctx, stage, traffic, "a rollback")
    current = history[-1].record.version
    if to is None:
        to = rules.default_rollback_target([e.record.version for e in history])
        if to is None:
            raise NotFoundError(f"{stage} of {model} has had no version before {current}", "name one with --to")
    if to == current:
        raise RefusedError(f"{model} {to} is already the current {stage} version", "name an earlier one with --to")
    verdict = rules.rollback_verdict(reg, model, stage, to, approval_check=_approval_check())
    target = reg.version(model, to) if any(c.name == "registered" and c.passed for c in verdict.criteria) else None
    retrievability: list[dict[str, Any]] = []
    if target is not None:
        with tempfile.TemporaryDirectory(prefix="mv-rollback-") as tmp:
            for rel, meta in sorted(target.record.artifacts.items()):
                if records.is_uri_artifact(meta):  # never fetched: the rollback needs --force
                    retrievability.append({"path": rel, "ok": False, "source": None,
                                           "tried": [artifact_rules.not_retrievable(rel, meta)]})
                    continue
                got = artifacts_mod.retrieve(repo, target.record.commit, rel, meta["sha256"],
                                             use_worktree=True, tmpdir=tmp)
                if not got.ok and from_dvc_remote(ctx, target, rel, tmp, got.tried):
                    got.source, got.file = "dvc remote", "remote"
                retrievability.append({"path": rel, "ok": got.ok, "source": got.source, "tried": got.tried})
    missing = [r for r in retrievability if not r["ok"]]
    from gitmv.rules.gate import Criterion

    for item in retrievability:
        verdict.criteria.append(Criterion(f"retrievable {item['path']}", item["ok"] or force,
                                          f"from {item['source']}" if item["ok"] else
                                          ("FORCED: " if force else "") + "; ".join(item["tried"])))
    missing_objects = pins_retrievability(ctx, target, verdict, force) if target is not None else []
    plan = {"model": model, "stage": stage, "from": current, "to": to, "traffic": traffic, "verdict": verdict.to_dict(),
            "retrievable": retrievability, "missing_objects": missing_objects, "dry_run": dry_run,
            "warnings": ctx.warnings}
    if dry_run:
        return plan
    if not verdict.passed:
        raise RefusedError(gate_refusal(f"rollback of {model} {stage} to {to} refused", verdict.failures()),
                           f"rehearse with 'git mv-promote rollback {model} --stage {stage} --to {to} --dry-run'")
    forced = ({"missing_artifacts": [m["path"] for m in missing], "missing_objects": [m["object"] for m in missing_objects]}
              if (force and (missing or missing_objects)) else None)
    result = _write_stage_tag(ctx, mp, verdict, reason, kind="rollback", forced=forced, traffic=traffic)
    return {**plan, **result}


def pins_retrievability(ctx: Context, target: Version, verdict: rules.Verdict, force: bool) -> list[dict]:
    """Every object of the target's DVC pins must be in its remote; adds one criterion."""
    from gitmv.dvc import remote as dvcremote
    from gitmv.ops import data as data_ops
    from gitmv.rules.gate import Criterion

    pins = data_ops.version_pins(ctx.repo, target)
    if not pins:
        return []
    if not dvcremote.dvc_available() or ctx.repo.workdir is None or not (ctx.repo.workdir / ".dvc").is_dir():
        verdict.criteria.append(Criterion("data retrievable", force, ("FORCED: " if force else "") +
                                          f"{len(pins)} DVC pin(s) cannot be checked here: {dvcremote.EXTRA_HINT}"))
        return []
    remotes = data_ops.Remotes(ctx.repo)
    try:
        missing, checked = data_ops.missing_objects(ctx.repo, pins, remotes)
    except MvError as exc:
        verdict.criteria.append(Criterion("data retrievable", force, ("FORCED: " if force else "") + exc.cause))
        return []
    finally:
        remotes.close()
    verdict.criteria.append(Criterion("data retrievable", not missing or force,
                                      f"{checked} object(s) in the DVC remote" if not missing else
                                      ("FORCED: " if force else "") + data_ops.describe_missing(missing)))
    return missing
