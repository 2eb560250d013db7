"""`gc`: experiments past the retention window."""

from __future__ import annotations

import click

from gitmv import output
from gitmv.cli.commands import CONTEXT, api, json_option, respond


@click.command(context_settings=CONTEXT)
@click.option("--older-than", metavar="AGE", help="Retention window, e.g. 30d (default: registry.experiment_retention).")
@click.option("--dry-run", is_flag=True, help="Say what would be removed; remove nothing.")
@json_option
def gc(older_than, dry_run, as_json):
    """Delete experiment refs older than the retention window (never one a version came from)."""
    respond(api().gc(older_than, dry_run), as_json, _render_gc)


def _render_gc(result: dict) -> None:
    verb = "would remove" if result["dry_run"] else "removed"
    for r in result["removed"]:
        output.line(f"{verb} {r['ref']} ({r['age_days']} days old)")
    for k in result["kept"]:
        output.line(f"kept {k['ref']}: {k['why']}")
    output.line(f"{verb} {len(result['removed'])} experiment(s), kept {len(result['kept'])}")


COMMANDS = (gc,)
