"""Evidence on a version: `eval` (an eval report) and `deprecate`."""

from __future__ import annotations

import click

from gitmv import output
from gitmv.cli.commands import CONTEXT, api, json_option, warn
from gitmv.cli.params import MODEL, VERSION, VERSION_OR_EXPERIMENT


@click.command("eval", context_settings=CONTEXT)
@click.argument("model", type=MODEL)
@click.argument("version", type=VERSION_OR_EXPERIMENT)
@click.option("--suite", help="Eval suite name (default: the policy's).")
@click.option("--from-file", type=click.Path(dir_okay=False), help="Import a metrics JSON made elsewhere instead of running the command.")
@json_option
def eval_cmd(model, version, suite, from_file, as_json):
    """Evaluate VERSION and record the report as evidence bound to its artifact digests.

    Runs the policy's eval command with {artifact} and {output} substituted (after checking the
    artifact's sha256), reads {"metrics": {...}, "slices": {...}} from {output}, and appends an
    eval record to the version's note. A failing command or malformed report records nothing.
    """
    result = api().evaluate(model, version, suite=suite, from_file=from_file)
    warn(result)
    if as_json:
        return output.emit_json(result)
    rec = result["record"]
    output.line(f"recorded eval {rec['id'][:19]}… for {model} {version} on suite {rec['suite']}")
    output.line("  " + ", ".join(f"{k}={v}" for k, v in sorted(rec["metrics"].items())))
    for name, metrics in sorted(rec.get("slices", {}).items()):
        output.line(f"  {name}: " + ", ".join(f"{k}={v}" for k, v in sorted(metrics.items())))
    output.lines(f"push it: {n}" for n in result["next"])


@click.command(context_settings=CONTEXT)
@click.argument("model", type=MODEL)
@click.argument("version", type=VERSION)
@click.option("-m", "--message", "reason", required=True, help="Why it is deprecated.")
@click.option("--sunset", metavar="DATE", help="When it must be out of every stage.")
@json_option
def deprecate(model, version, reason, sunset, as_json):
    """Mark VERSION deprecated: 'show' flags it and the gate refuses promoting it."""
    result = api().deprecate(model, version, reason=reason, sunset=sunset)
    warn(result)
    if as_json:
        return output.emit_json(result)
    output.line(f"deprecated {model} {version} ({result['record']['id'][:19]}…)")
    output.lines(f"push it: {n}" for n in result["next"])


COMMANDS = (eval_cmd, deprecate)
