"""The gate and the stages: `check`, `promote`, `rollback`."""

from __future__ import annotations

import click

from gitmv import output
from gitmv.cli.commands import CONTEXT, api, json_option, warn
from gitmv.cli.params import MODEL, STAGE, VERSION
from gitmv.errors import EXIT_FAULT, EXIT_OK


def _render_verdict(v: dict) -> None:
    rows = [("pass" if c["passed"] else "FAIL", c["name"], c["detail"]) for c in v["criteria"]]
    output.table(["", "criterion", "detail"], rows)
    output.line("")
    verb = "may enter" if v["passed"] else "may NOT enter"
    output.line(f"{v['model']} {v['version']} {verb} {v['stage']}")


@click.command(context_settings=CONTEXT)
@click.argument("model", type=MODEL)
@click.argument("version", type=VERSION)
@click.option("--stage", type=STAGE, required=True, help="Target stage.")
@json_option
def check(model, version, stage, as_json):
    """Dry-run the gate for VERSION entering STAGE: one row per criterion. Exit 0 pass, 1 fail."""
    result = api().check(model, version, stage)
    warn(result)
    if as_json:
        output.emit_json(result)
    else:
        _render_verdict(result)
    return EXIT_OK if result["passed"] else EXIT_FAULT


TRAFFIC = click.IntRange(min=0)  # the range itself (1..100) is the rule's, checked with the policy
OFFLINE = click.option("--offline", is_flag=True,
                       help="Skip the comparison of the model's registry tags with the remote's (decide on this clone's state).")


def _share(result: dict) -> str:
    return f" at {result['traffic']}%" if result.get("traffic") is not None else ""


@click.command(context_settings=CONTEXT)
@click.argument("model", type=MODEL)
@click.argument("version", type=VERSION)
@click.option("--stage", type=STAGE, required=True, help="Target stage.")
@click.option("--traffic", type=TRAFFIC, metavar="PERCENT",
              help="Share of a rollout stage's traffic (1..100); required for, and only for, a rollout stage.")
@click.option("-m", "--message", "reason", default="", help="Why.")
@OFFLINE
@json_option
def promote(model, version, stage, traffic, reason, offline, as_json):
    """Promote VERSION into STAGE with a signed stage tag, if the gate passes."""
    result = api().promote(model, version, stage, reason=reason, traffic=traffic, offline=offline)
    warn(result)
    if as_json:
        return output.emit_json(result)
    if result["noop"]:
        return output.line(result["notice"])
    if result.get("kind") == "rollout":
        output.line(f"rolled out {model} {version} to {result['traffic']}% of {stage} ({result['ref']})")
    else:
        output.line(f"promoted {model} {version} to {stage}{_share(result)} ({result['ref']})")
    output.lines(f"push it: {n}" for n in result["next"])


@click.command(context_settings=CONTEXT)
@click.argument("model", type=MODEL)
@click.argument("version", type=VERSION)
@click.option("--stage", type=STAGE, required=True, help="A rollout stage (registry.rollout_stages).")
@click.option("--traffic", type=TRAFFIC, metavar="PERCENT", required=True,
              help="The share of the stage's traffic VERSION gets, 1..100.")
@click.option("--dry-run", is_flag=True, help="Check everything, write nothing.")
@click.option("-m", "--message", "reason", default="", help="Why.")
@OFFLINE
@json_option
def rollout(model, version, stage, traffic, dry_run, reason, offline, as_json):
    """Give VERSION PERCENT of a rollout STAGE with a new signed stage tag.

    \b
    Entering the stage is a promotion (the gate decides); changing the share of the stage's
    current version is a stage tag of kind = rollout."""
    result = api().rollout(model, version, stage, traffic=traffic, reason=reason, dry_run=dry_run, offline=offline)
    warn(result)
    if as_json:
        output.emit_json(result)
        return EXIT_OK if not dry_run or result.get("noop") or result["verdict"]["passed"] else EXIT_FAULT
    if result["noop"]:
        return output.line(result["notice"])
    if dry_run:
        _render_verdict(result["verdict"])
        if not result["verdict"]["passed"]:
            output.line(f"dry run: {version} at {traffic}% of {stage} would be refused (see FAIL above); nothing written")
            return EXIT_FAULT
        output.line(f"dry run: {stage} would give {version} {traffic}%; nothing written")
        return EXIT_OK
    verb = "rolled out" if result["kind"] == "rollout" else "promoted"
    output.line(f"{verb} {model} {version} to {traffic}% of {stage} ({result['ref']})")
    output.lines(f"push it: {n}" for n in result["next"])


@click.command(context_settings=CONTEXT)
@click.argument("model", type=MODEL)
@click.option("--stage", type=STAGE, required=True, help="Stage to roll back.")
@click.option("--to", "to", type=VERSION, metavar="VERSION", help="Target version (default: the one before the current).")
@click.option("--dry-run", is_flag=True, help="Rehearse: check everything, write nothing.")
@click.option("--force", is_flag=True, help="Roll back even if artifacts are not retrievable (recorded).")
@click.option("--traffic", type=TRAFFIC, metavar="PERCENT",
              help="Share for a rollout stage (default: the share the stage gives now).")
@click.option("-m", "--message", "reason", default="", help="Why.")
@OFFLINE
@json_option
def rollback(model, stage, to, dry_run, force, traffic, reason, offline, as_json):
    """Return STAGE to an earlier version with a new signed stage tag (kind = rollback)."""
    result = api().rollback(model, stage, to=to, dry_run=dry_run, reason=reason, force=force, traffic=traffic,
                            offline=offline)
    warn(result)
    if as_json:
        output.emit_json(result)
        return EXIT_OK if (not dry_run or result["verdict"]["passed"]) else EXIT_FAULT
    if dry_run:
        _render_verdict(result["verdict"])
        if not result["verdict"]["passed"]:  # a refused rollback would go nowhere: say so, not where
            output.line(f"dry run: a rollback of {stage} to {result['to']} would be refused (see FAIL above); "
                        "nothing written")
            return EXIT_FAULT
        output.line(f"dry run: {stage} would go from {result['from']} to {result['to']}; nothing written")
        return EXIT_OK
    output.line(f"rolled back {model} {stage} from {result['from']} to {result['to']}{_share(result)} ({result['ref']})")


COMMANDS = (check, promote, rollout, rollback)
