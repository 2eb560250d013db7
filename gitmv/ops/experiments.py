"""Experiments (refs/mv-exp/<model>/<id>: annotated objects, unsigned allowed, never pushed),
their garbage collection, and the lineage graph of a version."""

from __future__ import annotations

from gitmv import records
from gitmv.errors import ConflictError, UsageError
from gitmv.git.repo import Repo
from gitmv.records import VersionRecord
from gitmv.names import NAME_RULE, VERSION_RE, experiment_ref, is_experiment_name
from gitmv.registry import Registry


def register_experiment(repo: Repo, model: str, name: str | None, fields: dict) -> dict:
    exp_id = name or "e" + records.record_id({**fields, "kind": "experiment"})[7:19]
    if not is_experiment_name(exp_id):
        raise UsageError(f"invalid experiment name '{exp_id}'",
                         f"experiment names are {NAME_RULE}, and not a version or a number (v1, 2)")
    record = VersionRecord(version=exp_id, kind="experiment", **{**fields, "parent": fields.get("parent")})
    tag_id = repo.create_tag_object(f"mv-exp/{model}/{exp_id}", fields["commit"], record.to_message())
    ref = experiment_ref(model, exp_id)
    if not repo.update_ref(ref, tag_id, None, f"mv-promote: experiment {model} {exp_id}"):
        raise ConflictError(f"experiment {model} {exp_id} already exists", "pick another name")
    return {"model": model, "experiment": exp_id, "version": exp_id, "tag": tag_id, "ref": ref, "record": record.to_dict()}


def named_experiments(reg: Registry, model: str) -> dict[str, str]:
    """Experiment id -> the version that names it as its origin."""
    out: dict[str, str] = {}
    for name in reg.versions(model):
        exp = reg.version(model, name).record.experiment
        if exp and exp.get("id"):
            out.setdefault(exp["id"], name)
    return out


def list_experiments(reg: Registry, model: str) -> list[dict]:
    named = named_experiments(reg, model)
    rows = []
    for exp_id, oid in reg.experiments(model):
        exp = reg.version_by_tag(oid, experiment_ref(model, exp_id))
        rows.append({"id": exp_id, "tag": oid, "created_at": exp.record.created_at, "created_by": exp.record.created_by,
                     "commit": exp.record.commit, "message": exp.record.message,
                     "evals": len(reg.records_of(oid, "eval")), "named_by": named.get(exp_id)})
    return rows


def gc(reg: Registry, now_epoch: int, older_than: int, dry_run: bool) -> dict:
    removed, kept = [], []
    for model in sorted({ref.split("/")[2] for ref, _ in reg.repo.refs_under("refs/mv-exp/")}):
        named = named_experiments(reg, model) if model in reg.model_names else {}
        for exp_id, oid in reg.experiments(model):
            ref = experiment_ref(model, exp_id)
            tag = reg.repo.tag(oid, ref)
            age = now_epoch - (tag.tagger_time if tag else 0)
            if exp_id in named:
                kept.append({"ref": ref, "why": f"{model} {named[exp_id]} came from it"})
            elif age <= older_than:
                kept.append({"ref": ref, "why": f"{age // 86400} day(s) old, within the retention window"})
            else:
                if not dry_run:
                    reg.repo.delete_ref(ref, oid)
                removed.append({"ref": ref, "age_days": age // 86400})
    return {"removed": removed, "kept": kept, "dry_run": dry_run}


# ---------------------------------------------------------------- lineage

def lineage(reg: Registry, model: str, version: str) -> dict:
    nodes: dict[str, dict] = {}
    edges: list[dict] = []

    def node(nid: str, kind: str, label: str) -> str:
        nodes.setdefault(nid, {"id": nid, "kind": kind, "label": label})
        return nid

    current = reg.version(model, version)
    top = node(f"{model}/{version}", "version", f"{model} {version}")
    _describe_version(reg, model, current, top, node, edges, full=True)
    seen = {version}
    parent = current.record.parent
    child = top
    while parent and parent not in seen and VERSION_RE.match(parent):
        seen.add(parent)
        v = reg.version(model, parent)
        pid = node(f"{model}/{parent}", "version", f"{model} {parent}")
        edges.append({"from": child, "to": pid, "label": "parent"})
        _describe_version(reg, model, v, pid, node, edges, full=False)
        child, parent = pid, v.record.parent
    return {"model": model, "version": version, "nodes": list(nodes.values()), "edges": edges}


def _describe_version(reg: Registry, model: str, v, vid: str, node, edges: list, full: bool) -> None:
    r = v.record
    edges.append({"from": vid, "to": node(f"commit/{r.commit}", "commit", f"commit {r.commit[:12]}"), "label": "code"})
    if r.experiment:
        eid = node(f"experiment/{r.experiment['id']}", "experiment", f"experiment {r.experiment['id']}")
        edges.append({"from": vid, "to": eid, "label": "from experiment"})
    if not full:
        return
    for pin in r.data:
        label = f"{pin.get('path')} @ {str(pin.get('md5', ''))[:12]}"
        edges.append({"from": vid, "to": node(f"data/{pin.get('path')}/{pin.get('md5')}", "data", label), "label": "data"})
    for rec in reg.records_of(v.tag.id, "eval"):
        metrics = ", ".join(f"{k}={val}" for k, val in sorted((rec.get("metrics") or {}).items()))
        eid = node(f"eval/{rec['id']}", "eval", f"eval {rec.get('suite')}: {metrics}")
        edges.append({"from": vid, "to": eid, "label": "evaluated"})
    for stage in reg.stages_present(model):
        for entry in reg.stage_history(model, stage):
            if entry.record.version == v.name:
                sid = node(f"stage/{stage}/{entry.seq}", "stage", f"{stage} #{entry.seq} ({entry.record.kind}, {entry.record.at})")
                edges.append({"from": sid, "to": vid, "label": entry.record.kind})


def to_dot(graph: dict) -> str:
    shapes = {"version": "box", "experiment": "box", "commit": "ellipse", "data": "cylinder", "eval": "note",
              "stage": "hexagon"}

    def q(text: str) -> str:
        return '"' + str(text).replace("\\", "\\\\").replace('"', '\\"') + '"'

    lines = ["digraph lineage {", "  rankdir=LR;", '  node [fontname="Helvetica", fontsize=10];']
    for n in graph["nodes"]:
        style = ', style="rounded,dashed"' if n["kind"] == "experiment" else ""
        lines.append(f"  {q(n['id'])} [label={q(n['label'])}, shape={shapes.get(n['kind'], 'box')}{style}];")
    for e in graph["edges"]:
        lines.append(f"  {q(e['from'])} -> {q(e['to'])} [label={q(e['label'])}];")
    lines.append("}")
    return "\n".join(lines) + "\n"
