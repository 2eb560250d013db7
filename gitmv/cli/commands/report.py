"""`report`: the registry as a static HTML page."""

from __future__ import annotations

import click

from gitmv import output
from gitmv.cli.commands import CONTEXT, json_option


@click.command(context_settings=CONTEXT)
@click.option("--html", "html_dir", required=True, metavar="DIR", help="Write a self-contained HTML page to DIR/index.html.")
@json_option
def report(html_dir, as_json):
    """Write the registry as a static, self-contained HTML page: models, versions, stage timelines,
    lineage graphs and per-slice metric charts (no network needed to view it)."""
    from gitmv.ops import report as report_ops

    result = report_ops.build(html_dir)
    if as_json:
        return output.emit_json(result)
    output.line(f"wrote {result['path']} ({result['models']} model(s), {result['versions']} version(s))")


COMMANDS = (report,)
