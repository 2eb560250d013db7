"""`import --gto`: a GTO registry's versions and stages as mv-promote tags."""

from __future__ import annotations

import click

from gitmv import output
from gitmv.cli.commands import CONTEXT, json_option, respond


@click.command("import", context_settings=CONTEXT)
@click.option("--gto", "gto", is_flag=True, required=True, help="Import a GTO registry (name@vX.Y.Z and name#stage#N tags).")
@click.option("--dry-run", is_flag=True, help="Say what would be imported; write nothing.")
@click.option("--no-sign", is_flag=True, help="Do not sign the imported tags (research tier only).")
@json_option
def import_cmd(gto, dry_run, no_sign, as_json):
    """Import GTO's versions and stage history as signed mv-promote tags; GTO's tags stay untouched."""
    from gitmv.ops import gto_import

    respond(gto_import.import_gto(".", dry_run=dry_run, sign=not no_sign), as_json, _render)


def _render(result: dict) -> None:
    verb = "would import" if result.get("dry_run") else "imported"
    for v in result["versions"]:
        output.line(f"{verb} {v['gto']} as {v['model']} {v['version']}")
    for s in result["stages"]:
        output.line(f"{verb} {s.get('gto', '')} as {s.get('ref', s)}")
    for d in result.get("deprecations", []):
        output.line(f"{verb} deprecation {d.get('gto', '')} of {d.get('model', '')} {d.get('version', '')}".rstrip())
    for s in result.get("skipped", []):
        output.line(f"skipped {s}")


COMMANDS = (import_cmd,)
