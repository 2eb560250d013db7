"""Read-only views: `show`, `history`, `log`, `diff`."""

from __future__ import annotations

import os
from typing import Any
from datetime import datetime, timezone

from gitmv import records
from gitmv.errors import MvError, NotFoundError
from gitmv.git.repo import Repo
from gitmv.ops.context import Context, open_context
from gitmv.names import check_model_name, check_names, check_version_name, stage_ref, version_ref
from gitmv.registry import Registry
from gitmv.rules import artifacts as artifact_rules


def show(model: str | None = None, version: str | None = None, path: str | os.PathLike = ".") -> dict:
    return show_in(open_context(path), model, version)


def show_in(ctx: Context, model: str | None = None, version: str | None = None) -> dict:
    """`show` on an open context (the report reads many models through one)."""
    reg = ctx.registry
    if model is None:
        out = []
        for name in reg.model_names:
            versions = reg.versions(name)
            stages: dict[str, Any] = {}
            traffic: dict[str, int] = {}
            for stage in reg.stages_present(name):
                seqs = reg.stage_seqs(name, stage)
                record = reg.stage_entry(stage_ref(name, stage, seqs[-1][0]), seqs[-1][1]).record
                stages[stage] = record.version
                if record.traffic is not None:
                    traffic[stage] = record.traffic
            out.append({"model": name, "latest": versions[-1] if versions else None, "versions": len(versions),
                        "stages": stages, "traffic": traffic, "in_policy": name in ctx.policy.models})
        return {"models": out, "warnings": ctx.warnings}
    check_model_name(model)
    if version is None:
        reg.read_ahead(model)  # every version's record and note is read below, in order
        entries = {s: reg.current(model, s) for s in reg.stages_present(model)}
        current = {s: e.record.version if e else None for s, e in entries.items()}
        shares = _shares(entries)
        rows = []
        for row in reg.version_summaries(model):
            row.pop("tag")
            rows.append({**row, "stages": sorted(s for s, cur in current.items() if cur == row["version"]),
                         "traffic": {s: t for s, t in shares.items() if current[s] == row["version"]}})
        if not rows and model not in ctx.policy.models:
            raise NotFoundError(f"no model '{model}' in the policy or the registry", "see 'git mv-promote show'")
        return {"model": model, "versions": rows, "stages": current, "traffic": shares, "warnings": ctx.warnings}
    check_version_name(version)
    v = reg.version(model, version)
    sig = reg.signature(v.tag)
    found = reg.note_records(v.tag.id)
    entries = {s: reg.current(model, s) for s in reg.stages_present(model)}
    mine = {s: e for s, e in entries.items() if e is not None and e.record.version == version}
    return {"model": model, "version": version, "ref": version_ref(model, version), "tag": v.tag.id,
            "record": v.record.to_dict(),
            "signature": {"ok": sig.ok, "reason": sig.reason, "principal": sig.principal, "fingerprint": sig.fingerprint},
            "evidence": found, "current_in": sorted(mine), "traffic": _shares(mine),
            "deprecated": reg.deprecation(v) is not None,
            "not_fetchable_offline": [artifact_rules.described(p, m) for p, m in sorted(v.record.uri_artifacts.items())],
            "warnings": ctx.warnings}


def _shares(entries: dict) -> dict[str, int]:
    """stage -> the traffic share its current entry gives (rollout stages only)."""
    return {s: e.record.traffic for s, e in entries.items() if e is not None and e.record.traffic is not None}


def history(model: str, *, stage: str | None = None, at: str | None = None, path: str | os.PathLike = ".") -> dict:
    check_model_name(model)
    return history_in(open_context(path), model, stage=stage, at=at)


def history_in(ctx: Context, model: str, *, stage: str | None = None, at: str | None = None) -> dict:
    """`history` on an open context."""
    check_model_name(model)
    reg = ctx.registry
    stages = [stage] if stage else (list(ctx.policy.stages) + [s for s in reg.stages_present(model) if s not in ctx.policy.stages])
    if stage:
        ctx.policy.stage_index(stage)
    when = records.parse_time(at) if at else None
    out: dict[str, Any] = {}
    for s in stages:
        rows = []
        for e in reg.stage_history(model, s):
            r = e.record
            rows.append({"seq": r.seq, "version": r.version, "kind": r.kind, "traffic": r.traffic,
                         **_checked_when_who(reg, e), "reason": r.reason, "previous": r.previous, "ref": e.ref})
        if when is not None:
            valid = [row for row in rows if records.parse_time(row["at"]) <= when]
            out[s] = {"version": valid[-1]["version"] if valid else None, "since": valid[-1]["at"] if valid else None,
                      "traffic": valid[-1]["traffic"] if valid else None, "entry": valid[-1] if valid else None}
        else:
            out[s] = rows
    return {"model": model, "at": at, "stages": out, "warnings": ctx.warnings}


def _checked_when_who(reg: Registry, entry) -> dict:
    """When and by whom a stage entry was made, from what can be checked: the tag's own time and
    its signature's principal, never the record's claims (those are checked by verify and the hook)."""
    sig = reg.signature(entry.tag)
    at = datetime.fromtimestamp(entry.tag.tagger_time, timezone.utc).isoformat().replace("+00:00", "Z")
    return {"at": at, "by": sig.principal if sig.ok else f"unverified ({sig.reason}): {entry.record.by}"}


def log(model: str | None = None, path: str | os.PathLike = ".") -> dict:
    ctx = open_context(path)
    reg = ctx.registry
    models = [model] if model else reg.model_names
    events: list[dict[str, Any]] = []
    for name in models:
        check_model_name(name)
        # every version's record and note, then every version's tag signature, then every stage
        # entry and its signature, is read below: a helper may do part of it meanwhile (Registry.read_ahead)
        reg.read_ahead(name, full=True)
        registered = []  # (event, version): whose signature names who registered it, asked last
        for vname in reg.versions(name):
            try:
                v = reg.version(name, vname)
            except MvError as exc:
                events.append({"at": "", "model": name, "version": vname, "event": "invalid", "why": exc.cause})
                continue
            r = v.record
            events.append({"at": r.created_at, "model": name, "version": vname, "event": "register", "by": None,
                           "why": r.message, "evidence": v.tag.id, "commit": r.commit})
            registered.append((events[-1], v))
            try:
                found = reg.note_records(v.tag.id)
            except MvError as exc:  # named, never read as "no evidence"
                events.append({"at": "", "model": name, "version": vname, "event": "invalid", "why": exc.cause})
                found = []
            for rec in found:
                events.append({"at": rec.get("at", ""), "model": name, "version": vname, "event": rec.get("kind"),
                               "by": rec.get("by"), "why": rec.get("reason") or _evidence_summary(rec),
                               "evidence": rec.get("id")})
        for event, v in registered:
            sig = reg.signature(v.tag)
            event["by"] = sig.principal if sig.ok else f"unverified ({sig.reason}): {v.record.created_by}"
        for stage in reg.stages_present(name):
            for e in reg.stage_history(name, stage):
                sr = e.record
                approval = sr.approval or {}
                approvers = list(approval.get("approvers") or [])
                approved = (f"approved by {', '.join(approvers)} in {str(approval.get('merge_commit', ''))[:12]}"
                            if approvers else "")
                events.append({**_checked_when_who(reg, e), "model": name, "version": sr.version, "event": sr.kind,
                               "stage": stage, "seq": sr.seq, "why": "; ".join(t for t in (sr.reason, approved) if t),
                               "evidence": sr.eval_record, "approval": approval.get("merge_commit"),
                               "approvers": approvers, "ref": e.ref})
    events.sort(key=lambda e: (e.get("at") or "", e.get("event") or ""), reverse=True)
    return {"events": events, "warnings": ctx.warnings}


def _evidence_summary(rec: dict) -> str:
    if rec.get("kind") == "eval":
        shown = ", ".join(f"{k}={v}" for k, v in sorted((rec.get("metrics") or {}).items()))
        return f"suite {rec.get('suite')}: {shown}"
    if rec.get("kind") == "approval":
        return f"approved by {', '.join(rec.get('approvers') or [])} in {str(rec.get('merge_commit', ''))[:12]}"
    if rec.get("kind") == "reproduction":
        return "reproduced: match" if rec.get("match") else "reproduced: MISMATCH"
    return ""


def diff(model: str, va: str, vb: str, path: str | os.PathLike = ".") -> dict:
    check_names(model, va, vb)
    return diff_in(open_context(path), model, va, vb)


def diff_in(ctx: Context, model: str, va: str, vb: str) -> dict:
    reg, repo = ctx.registry, ctx.repo
    mp = ctx.policy.model(model)
    a, b = reg.version(model, va), reg.version(model, vb)
    ra, rb = a.record, b.record
    out: dict[str, Any] = {"model": model, "a": va, "b": vb, "warnings": ctx.warnings}
    out["code"] = {"a": ra.commit, "b": rb.commit, "commits": repo.commits_between(ra.commit, rb.commit),
                   "files": repo.changed_files(ra.commit, rb.commit) if ra.commit != rb.commit else []}
    out["artifacts"] = _dict_changes({k: artifact_rules.identity(v) for k, v in ra.artifacts.items()},
                                     {k: artifact_rules.identity(v) for k, v in rb.artifacts.items()})
    out["data"] = data_changes(repo, ra.data, rb.data)
    out["params"] = _dict_changes(_flatten((ra.params or {}).get("values") or {}), _flatten((rb.params or {}).get("values") or {}))
    la, lb = (ra.lockfile or {}).get("sha256"), (rb.lockfile or {}).get("sha256")
    out["lockfile"] = {"changed": la != lb, "a": la, "b": lb}
    out["metrics"] = metric_deltas(reg.latest_eval(a, mp.eval_suite), reg.latest_eval(b, mp.eval_suite))
    return out


def _flatten(d: dict, prefix: str = "") -> dict:
    out = {}
    for k, v in d.items():
        key = f"{prefix}{k}"
        if isinstance(v, dict):
            out.update(_flatten(v, key + "."))
        else:
            out[key] = v
    return out


def _dict_changes(a: dict, b: dict) -> list[dict]:
    out = []
    for key in sorted(set(a) | set(b)):
        if a.get(key) != b.get(key):
            status = "added" if key not in a else "removed" if key not in b else "changed"
            out.append({"key": key, "status": status, "a": a.get(key), "b": b.get(key)})
    return out


def data_changes(repo: Repo, pins_a: list, pins_b: list) -> list[dict]:
    """Pin changes; directory manifests come from the DVC cache, else the DVC remote when DVC is here."""
    from gitmv.dvc import diff as dvcdata
    from gitmv.dvc import remote as dvcremote
    from gitmv.ops import data as data_ops

    remote_ok = repo.workdir is not None and (repo.workdir / ".dvc").is_dir() and dvcremote.dvc_available()
    remotes = data_ops.Remotes(repo) if remote_ok else None
    names = {p.get("md5"): p.get("remote") for p in list(pins_a) + list(pins_b)}

    def manifest(oid: str):
        found = dvcdata.load_manifest(repo, oid)
        if found is None and remotes is not None:
            try:
                found = remotes.get(names.get(oid)).manifest(oid)
            except MvError:
                found = None
        return found

    try:
        return dvcdata.pin_changes(repo, pins_a, pins_b, manifest)
    finally:
        if remotes is not None:
            remotes.close()


def metric_deltas(ea: dict | None, eb: dict | None) -> dict:
    if ea is None or eb is None:
        return {"available": False, "a_eval": ea["id"] if ea else None, "b_eval": eb["id"] if eb else None,
                "overall": [], "slices": {}}

    def rows(ma: dict, mb: dict) -> list:
        out = []
        for k in sorted(set(ma) | set(mb)):
            x, y = ma.get(k), mb.get(k)
            out.append({"metric": k, "a": x, "b": y,
                        "delta": round(y - x, 10) if isinstance(x, (int, float)) and isinstance(y, (int, float)) else None})
        return out

    slices = {}
    for s in sorted(set(ea.get("slices") or {}) | set(eb.get("slices") or {})):
        slices[s] = rows((ea.get("slices") or {}).get(s, {}), (eb.get("slices") or {}).get(s, {}))
    return {"available": True, "a_eval": ea["id"], "b_eval": eb["id"], "suite": eb.get("suite"),
            "a_provenance": eval_provenance(ea), "b_provenance": eval_provenance(eb),
            "overall": rows(ea.get("metrics") or {}, eb.get("metrics") or {}), "slices": slices}


def eval_provenance(rec: dict | None) -> dict:
    """What produced an eval: the code commit it ran at and its command digest (None in records
    written before they were recorded)."""
    rec = rec or {}
    return {"code_commit": rec.get("code_commit"), "command_digest": rec.get("command_digest")}
