"""Reading the registry: `show`, `history`, `log`, `diff`, `lineage`. None of them writes."""

from __future__ import annotations

import click

from gitmv import output
from gitmv.cli.commands import CONTEXT, api, json_option, warn
from gitmv.cli.params import MODEL, STAGE, VERSION


@click.command(context_settings=CONTEXT)
@click.argument("model", type=MODEL, required=False)
@click.argument("version", type=VERSION, required=False)
@click.option("--experiments", is_flag=True, help="List MODEL's experiments (refs/mv-exp/) instead.")
@json_option
def show(model, version, experiments, as_json):
    """Show the registry: all models, one model's versions, or one version's full record."""
    if experiments:
        if not model:
            raise click.UsageError("--experiments needs a MODEL")
        result = api().experiments(model)
        warn(result)
        if as_json:
            return output.emit_json(result)
        rows: list[tuple[object, ...]] = [(e["id"], e["created_at"], e["commit"][:12], e["evals"],
                                           e["named_by"] or "-", e["message"]) for e in result["experiments"]]
        return output.table(["experiment", "created", "commit", "evals", "became", "message"], rows)
    result = api().show(model, version)
    warn(result)
    if as_json:
        return output.emit_json(result)
    if model is None:
        if not result["models"]:
            return output.line("no models yet: add one to .mv-promote.toml and run 'git mv-promote register MODEL'")
        rows = [(m["model"], m["latest"] or "-", m["versions"],
                 ", ".join(f"{s}={v}{_pct(m['traffic'].get(s))}" for s, v in m["stages"].items()) or "-")
                for m in result["models"]]
        return output.table(["model", "latest", "versions", "stages"], rows)
    if version is None:
        rows = [(v["version"], v["created_at"], v["created_by"], v["commit"][:12],
                 ",".join(f"{s}{_pct(v['traffic'].get(s))}" for s in v["stages"]) or "-",
                 "DEPRECATED" if v["deprecated"] else "", v["message"]) for v in result["versions"]]
        return output.table(["version", "created", "by", "commit", "current in", "status", "message"], rows)
    _render_version(model, version, result)


def _pct(traffic: int | None) -> str:
    """A rollout stage's share, as shown after the stage or version: " (25%)"."""
    return f" ({traffic}%)" if traffic is not None else ""


def _render_version(model: str, version: str, result: dict) -> None:
    from gitmv.records import to_toml

    sig = result["signature"]
    output.line(f"{model} {version}  {result['ref']}  tag {result['tag']}")
    output.line(f"signature: {'good, ' + str(sig['principal']) + ' ' + str(sig['fingerprint']) if sig['ok'] else 'NOT VALID: ' + sig['reason']}")
    current = ", ".join(f"{s}{_pct(result['traffic'].get(s))}" for s in result["current_in"])
    output.line(f"current in: {current or '-'}{'  DEPRECATED' if result['deprecated'] else ''}")
    for line in result.get("not_fetchable_offline", []):
        output.line(f"artifact {line}")
    output.line("")
    output.line(to_toml(result["record"]).rstrip())
    for rec in result["evidence"]:
        output.line("")
        output.line(f"[{rec.get('kind')} {rec.get('id', '')[:19]}… {rec.get('at')} by {rec.get('by')}]")
        if rec.get("kind") == "eval":
            output.line(f"  suite {rec.get('suite')}: " + ", ".join(f"{k}={v}" for k, v in sorted(rec.get("metrics", {}).items())))


@click.command(context_settings=CONTEXT)
@click.argument("model", type=MODEL)
@click.option("--stage", type=STAGE, help="Only this stage.")
@click.option("--at", "at", metavar="TIME", help="What each stage held at TIME (RFC 3339, e.g. 2026-11-02T10:00Z).")
@json_option
def history(model, stage, at, as_json):
    """The stage timeline of MODEL, or the state at a point in time."""
    result = api().history(model, stage=stage, at=at)
    warn(result)
    if as_json:
        return output.emit_json(result)
    # the traffic column only where a rollout stage has a share to show
    if at:
        shares = [v["traffic"] for v in result["stages"].values()]
        rows: list[tuple[object, ...]] = [(s, v["version"] or "-", *_share_cell(v["traffic"], shares), v["since"] or "")
                                          for s, v in result["stages"].items()]
        return output.table(["stage", f"version at {at}", *_share_head(shares), "since"], rows)
    shares = [r["traffic"] for entries in result["stages"].values() for r in entries]
    rows = [(s, r["seq"], r["version"], r["kind"], *_share_cell(r["traffic"], shares), r["at"], r["by"], r["reason"])
            for s, entries in result["stages"].items() for r in entries]
    output.table(["stage", "seq", "version", "kind", *_share_head(shares), "at", "by", "reason"], rows)


def _share_head(shares: list) -> tuple[str, ...]:
    return ("traffic",) if any(t is not None for t in shares) else ()


def _share_cell(traffic: int | None, shares: list) -> tuple[str, ...]:
    return (f"{traffic}%" if traffic is not None else "-",) if _share_head(shares) else ()


@click.command(context_settings=CONTEXT)
@click.argument("model", type=MODEL, required=False)
@json_option
def log(model, as_json):
    """The audit trail, newest first: registrations, evals, approvals, promotions, rollbacks, deprecations."""
    result = api().log(model)
    warn(result)
    if as_json:
        return output.emit_json(result)
    rows = [(e["at"], e["model"], e["version"], e["event"] + (f" {e['stage']}" if e.get("stage") else ""),
             e.get("by") or "", e.get("why") or "", (e.get("evidence") or "")[:19]) for e in result["events"]]
    output.table(["at", "model", "version", "event", "by", "why", "evidence"], rows)


@click.command(context_settings=CONTEXT)
@click.argument("model", type=MODEL)
@click.argument("version_a", type=VERSION)
@click.argument("version_b", type=VERSION)
@json_option
def diff(model, version_a, version_b, as_json):
    """What changed between two versions: code, data pins, params, lockfile, artifacts, metrics."""
    result = api().diff(model, version_a, version_b)
    warn(result)
    if as_json:
        return output.emit_json(result)
    code = result["code"]
    output.line(f"code: {code['a'][:12]}..{code['b'][:12]}, {len(code['commits'])} commit(s), {len(code['files'])} file(s) changed")
    for c in code["commits"][:20]:
        output.line(f"  {c['id'][:12]} {c['subject']}")
    for title, key in (("artifacts", "artifacts"), ("params", "params")):
        output.line(f"{title}: " + ("unchanged" if not result[key] else ""))
        for ch in result[key]:
            output.line(f"  {ch['status']} {ch['key']}: {ch['a']} -> {ch['b']}")
    output.line("data: " + ("unchanged" if not result["data"] else ""))
    for ch in result["data"]:
        output.line(f"  {ch['status']} {ch['path']} ({ch['source']}): {ch['a']} -> {ch['b']}")
        for f in ch.get("files") or []:
            output.line(f"    {f['status']} {f['path']}")
        if ch.get("note"):
            output.line(f"    {ch['note']}")
    lock = result["lockfile"]
    output.line(f"lockfile: {'changed' if lock['changed'] else 'unchanged'}")
    _render_metric_deltas(result["metrics"])


def _render_metric_deltas(m: dict) -> None:
    if not m["available"]:
        output.line("metrics: not comparable (an eval on the policy suite is missing for one side)")
        return
    output.line(f"metrics (suite {m.get('suite')}):")
    output.lines(f"  eval of {side}: code {(e['code_commit'] or 'not recorded')[:12]}, command {e['command_digest'] or 'not recorded'}"
                 for side, e in (("a", m["a_provenance"]), ("b", m["b_provenance"])))
    for r in m["overall"]:
        output.line(f"  {r['metric']}: {r['a']} -> {r['b']} ({r['delta']:+g})" if r["delta"] is not None else f"  {r['metric']}: {r['a']} -> {r['b']}")
    for s, rows in m["slices"].items():
        for r in rows:
            output.line(f"  {s} {r['metric']}: {r['a']} -> {r['b']}" + (f" ({r['delta']:+g})" if r["delta"] is not None else ""))


@click.command(context_settings=CONTEXT)
@click.argument("model", type=MODEL)
@click.argument("version", type=VERSION)
@click.option("--dot", "as_dot", is_flag=True, help="Print Graphviz DOT (render with: dot -Tsvg).")
@json_option
def lineage(model, version, as_dot, as_json):
    """The lineage of VERSION: parents, experiment, code commit, data pins, evals, stage history."""
    result = api().lineage(model, version)
    warn(result)
    if as_json:
        return output.emit_json({k: v for k, v in result.items() if k != "dot"})
    if as_dot:
        return output.line(result["dot"].rstrip("\n"))
    labels = {n["id"]: n["label"] for n in result["nodes"]}
    for e in result["edges"]:
        output.line(f"{labels[e['from']]}  --{e['label']}-->  {labels[e['to']]}")


COMMANDS = (show, history, log, diff, lineage)
