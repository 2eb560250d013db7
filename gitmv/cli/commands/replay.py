"""`replay`: a candidate and the version it would replace, run on the same pinned inputs and
compared row by row; the comparison is recorded as signed evidence the gate can require."""

from __future__ import annotations

import click

from gitmv import output
from gitmv.cli.commands import CONTEXT, api, json_option, respond
from gitmv.cli.params import MODEL, VERSION


def _value(x) -> str:
    return f"{x:.6g}" if isinstance(x, float) else str(x)


def render(result: dict) -> None:
    rec = result["record"]
    where = f" ({result['against_stage']})" if result.get("against_stage") else ""
    output.line(f"replayed {result['model']} {result['version']} against {result['against']}{where} on "
                f"{rec['inputs']['path']}: {rec['rows']} rows of {rec['output']}")
    output.line(f"  agreement {rec['agreement']:.4g} ({rec['agree']}/{rec['rows']} rows agree)")
    if "max_abs_diff" in rec:
        output.line(f"  max abs diff {_value(rec['max_abs_diff'])}, mean abs diff {_value(rec['mean_abs_diff'])}")
    if rec.get("top"):
        output.line(f"  rows that differ most (of {rec['rows'] - rec['agree']} that differ):")
        numbers = "max_abs_diff" in rec
        ids = any("id" in row for row in rec["top"])
        headers = ["row"] + (["id"] if ids else []) + [result["version"], result["against"]] + (["abs diff"] if numbers else [])
        rows = [[row["row"]] + ([row.get("id", "")] if ids else []) + [_value(row["candidate"]), _value(row["baseline"])]
                + ([_value(row["abs_diff"])] if numbers else []) for row in rec["top"]]
        output.table(headers, rows)
    output.line(f"recorded replay {rec['id'][:19]}… on {result['model']} {result['version']}")
    output.lines(f"push it: {n}" for n in result["next"])


@click.command(context_settings=CONTEXT)
@click.argument("model", type=MODEL)
@click.argument("version", type=VERSION)
@click.option("--against", metavar="STAGE|vN",
              help="Compare with this stage's current version, or this version (default: the gate baseline).")
@json_option
def replay(model, version, against, as_json):
    """Run VERSION and the version it would replace on the policy's replay inputs; compare row by row.

    Runs [models.MODEL.replay] command once per version ({artifact} checked against its sha256,
    {inputs} the Git file or DVC pin as committed at HEAD, {output} one prediction per row), then
    records a signed replay record on VERSION: rows, agreement, max and mean absolute difference
    for numbers, and the rows that differ most, bound to both versions' artifact digests.
    """
    respond(api().replay(model, version, against=against), as_json, render)


COMMANDS = (replay,)
