"""Writing a planned GTO import: version tags, stage tags, deprecation records. GTO's tags are never touched."""

from __future__ import annotations

import dataclasses
from typing import Callable

from gitmv.errors import MvError
from gitmv.git import notes, record_signing
from gitmv.git.signing import signing_key_fingerprint
from gitmv.names import stage_ref, stage_tag_name, version_number, version_ref
from gitmv.ops.context import Context, now
from gitmv.ops.gto_import.planning import REASON_PREFIX, Plan, PlannedVersion
from gitmv.ops.versions import create_version_tag
from gitmv.records import PromotionRecord, VersionRecord
from gitmv.rules import artifacts as artifact_rules

NOT_GATED = {"passed": True, "criteria": ["imported from GTO: not gated"]}


def write(ctx: Context, plan: Plan, *, dry_run: bool, sign: bool) -> dict:
    """Carry out `plan` (or, with `dry_run`, only report it)."""
    repo = ctx.repo
    signer = signing_key_fingerprint(repo.config("user.signingkey"), repo.config("gpg.format")) if sign and not dry_run else None
    versions_out = _write_versions(ctx, plan, signer, dry_run=dry_run, sign=sign)
    stages_out = _write_stages(ctx, plan, signer, dry_run=dry_run, sign=sign)
    deprecations_out = _write_deprecations(ctx, plan, dry_run=dry_run, sign=sign)
    return {"versions": versions_out, "stages": stages_out, "deprecations": deprecations_out,
            "renamed": _renamed(plan), "skipped": plan.skipped, "already_imported": sorted(set(plan.already)),
            "dry_run": dry_run, "warnings": ctx.warnings}


def _renamed(plan: Plan) -> list[dict]:
    """Models and stages whose GTO name our grammar changes, and every version's new number (as written)."""
    numbers = {pv.gto.name: f"{pv.model} {pv.version}" for pv in plan.versions}
    return [{**r, "as": numbers.get(r["gto"], r["as"])} if r["kind"] == "version" else r for r in plan.renamed]


def _record_maker(pv: PlannedVersion, signer: str | None) -> Callable[[str], VersionRecord]:
    """The planned record under the number the tag gets (another writer may have taken the planned one)."""
    base = pv.record
    assert base is not None  # a version to write was planned with its record
    return lambda version: dataclasses.replace(base, version=version, signer=signer)


def _write_versions(ctx: Context, plan: Plan, signer: str | None, *, dry_run: bool, sign: bool) -> list[dict]:
    out = []
    for pv in plan.versions:
        if not dry_run:
            record, pv.tag_id = create_version_tag(
                ctx.repo, pv.model, pv.version, pv.gto.commit,
                _record_maker(pv, signer),
                sign, "run the import again")
            if record.version != pv.version:  # another writer took a number: later parents follow
                _renumber(plan, pv, record.version)
            pv.record = record
        out.append({"gto": pv.gto.name, "model": pv.model, "version": pv.version, "commit": pv.gto.commit,
                    "parent": pv.record.parent, "artifacts": pv.record.artifacts, "artifacts_from": pv.source,
                    "not_fetchable_offline": [artifact_rules.described(p, m) for p, m in sorted(pv.record.uri_artifacts.items())],
                    "ref": version_ref(pv.model, pv.version), "tag": pv.tag_id})
    return out


def _write_stages(ctx: Context, plan: Plan, signer: str | None, *, dry_run: bool, sign: bool) -> list[dict]:
    repo = ctx.repo
    importer = repo.identity()
    if sign and not dry_run and plan.stages:
        importer = record_signing.signer_principal(repo, ctx.registry.allowed_signers) or importer
    out = []
    for ps in plan.stages:
        ref = stage_ref(ps.model, ps.stage, ps.seq)
        row = {"gto": ps.gto.name, "model": ps.model, "stage": ps.stage, "seq": ps.seq, "version": ps.version.version,
               "kind": ps.kind, "previous": ps.previous, "at": ps.gto.at, "ref": ref, "tag": None}
        if not dry_run:
            record = PromotionRecord(
                kind=ps.kind, model=ps.model, version=ps.version.version, version_tag=ps.version.tag_id,
                stage=ps.stage, seq=ps.seq, at=ps.gto.at if ps.gto.epoch else now(),
                by=importer, policy_digest=ctx.policy.digest, previous=ps.previous,
                gate=dict(NOT_GATED), reason=f"{REASON_PREFIX}{ps.gto.name}", signer=signer)
            # the tag takes GTO's time, so `at` stays a checkable fact; `by` is whoever signs the import
            row["tag"] = repo.create_tag(stage_tag_name(ps.model, ps.stage, ps.seq), ps.version.tag_id,
                                         record.to_message(), sign, date=record.at)
        out.append(row)
    return out


def _write_deprecations(ctx: Context, plan: Plan, *, dry_run: bool, sign: bool) -> list[dict]:
    repo = ctx.repo
    out = []
    for pv, t, reason in plan.deprecations:
        if pv.tag_id is not None and _deprecation_exists(ctx, pv.tag_id, reason):
            if t.name not in plan.already:
                plan.already.append(t.name)
            continue
        out.append({"gto": t.name, "model": pv.model, "version": pv.version, "reason": reason})
        if dry_run:
            continue
        rec = record_signing.new_record(repo, "deprecation", {"model": pv.model, "version": pv.version, "reason": reason},
                                        at=t.at if t.epoch else now(), allowed_signers=ctx.registry.allowed_signers,
                                        signed=sign, warnings=ctx.warnings)
        notes.append(repo, pv.tag_id, [rec], f"mv-promote: deprecate {pv.model} {pv.version} (imported from GTO)")
    return out


def _deprecation_exists(ctx: Context, tag_id: str, reason: str) -> bool:
    try:
        return any(r.get("reason") == reason for r in ctx.registry.records_of(tag_id, "deprecation"))
    except MvError:
        return False


def _renumber(plan: Plan, moved: PlannedVersion, new_name: str) -> None:
    """A version took another number than planned: shift the later planned versions of that model."""
    old = version_number(moved.version)
    shift = version_number(new_name) - old
    renamed = {moved.version: new_name}
    moved.version = new_name
    for pv in plan.versions:
        if pv.model == moved.model and not pv.existing and pv.tag_id is None and pv is not moved:
            n = version_number(pv.version)
            if n > old:
                renamed[pv.version] = f"v{n + shift}"
                pv.version = renamed[pv.version]
    for pv in plan.versions:
        if pv.model == moved.model and pv.tag_id is None and pv.record.parent in renamed:
            pv.record = dataclasses.replace(pv.record, parent=renamed[pv.record.parent], version=pv.version)
    for ps in plan.stages:
        if ps.model == moved.model and ps.previous in renamed:
            ps.previous = renamed[ps.previous]
