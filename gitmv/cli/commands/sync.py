"""`sync`: exchange registry tags and evidence notes with a remote."""

from __future__ import annotations

import click

from gitmv import output
from gitmv.cli.commands import CONTEXT, api, json_option


@click.command(context_settings=CONTEXT)
@click.argument("remote", default="origin")
@json_option
def sync(remote, as_json):
    """Fetch, merge and push registry tags and evidence notes with REMOTE (default origin).

    Notes merge as a union of records; pushes are compare-and-swap and retried on a race. A
    version number taken on the remote meanwhile is re-registered as the next free one.
    """
    try:
        result = api().sync(remote, on_progress=output.progress)
    finally:
        output.progress_done()
    if as_json:
        return output.emit_json(result)
    for r in result["renumbered"]:
        output.line(f"renumbered {r['from']} -> {r['to']} (the remote already had that number)")
    for d in result["dropped"]:
        output.line(f"dropped {d['ref']}: {d['why']}")
    tags = [r for r in result["fetched"] if r.startswith("refs/tags/")]
    output.line(f"synced with {remote}: fetched {len(tags)} tag(s) and {result['fetched_records']} evidence record(s), "
                f"pushed {len(result['pushed'])} ref(s)")


COMMANDS = (sync,)
