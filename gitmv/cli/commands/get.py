"""`get`: deploy what is live, verified, with a stamp."""

from __future__ import annotations

import click

from gitmv import output
from gitmv.cli.commands import CONTEXT, json_option, warn
from gitmv.cli.params import REFERENCE

LARGE = 16 << 20  # a progress bar for artifacts at least this big (when stderr is a terminal)


def _bar(label: str, done: int, total: int | None) -> None:
    if total is None or total < LARGE:
        return
    if done < 0:
        output.progress_done()
        return
    width = 30
    filled = min(width, width * done // total)
    output.progress(f"{label} [{'#' * filled}{'.' * (width - filled)}] {100 * done // total:3d}%")


@click.command(context_settings=CONTEXT)
@click.argument("reference", type=REFERENCE)
@click.option("-o", "--output", "out", metavar="DIR", help="Directory to write the artifacts and the stamp into (default ./MODEL).")
@click.option("--remote", metavar="URL", help="Read the registry from URL without a clone (a cached partial clone under $XDG_CACHE_HOME/git-mv-promote).")
@click.option("--at", "at", metavar="TIME", help="The version the stage held at TIME (RFC 3339), as 'history --at' answers.")
@json_option
def get(reference, out, remote, at, as_json):
    """Verify and retrieve MODEL@STAGE or MODEL@vN, with a stamp of what was deployed.

    Verifies the whole chain (version tag signature and record, evidence note, the stage tag and
    its checked record, the eval and approvals the policy asked for) and refuses (exit 1, one
    line naming the broken link, nothing written) unless all hold. Then retrieves every artifact
    (work tree, Git blob, DVC cache, DVC remote), checks each sha256 while streaming, and writes
    the files and DIR/mv-promote.json. A DIR that already holds the same stamp and files is left
    untouched.
    """
    from gitmv.ops.get import get_result

    result = get_result(reference, out, remote, at, progress=None if as_json else _bar)
    warn(result)
    if as_json:
        return output.emit_json(result)
    s = result["stamp"]
    what = f"{s['model']} {s['version']}" + (f" ({s['stage']} #{s['seq']})" if s["stage"] else "")
    if s.get("traffic") is not None:
        what += f", traffic {s['traffic']}%"
    if result["unchanged"]:
        output.line(f"{what}: verified; {result['dir']} already holds it, nothing written")
    else:
        came = ", ".join(f"{rel} from {src}" for rel, src in sorted(result["sources"].items()))
        output.line(f"{what}: verified; wrote {came} and {result['dir']}/mv-promote.json")


COMMANDS = (get,)
