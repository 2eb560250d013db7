"""`audit`: the periodic review of the workflow (docs/hooks.md, "Periodic audit")."""

from __future__ import annotations

import click

from gitmv import output
from gitmv.cli.commands import CONTEXT, api, json_option, respond
from gitmv.cli.params import MODEL
from gitmv.errors import EXIT_FAULT, EXIT_OK


@click.command(context_settings=CONTEXT)
@click.argument("model", type=MODEL, required=False)
@click.option("--since", metavar="TIME", help="Re-check only stage entries made at or after TIME (RFC 3339); "
              "the rollback rehearsal and the drift checks always look at the current state.")
@click.option("--markdown", "markdown", metavar="FILE", type=click.Path(dir_okay=False),
              help="Also write the report as Markdown to FILE (written whole or not at all).")
@json_option
def audit(model, since, markdown, as_json):
    """Re-check the whole workflow: every protected stage entry, the rollback path, drift.

    \b
    - every entry of every protected stage is re-judged by the server hook's rules under the policy,
      allowed signers and approvals of the protected branch as they were when it was made
      (an entry pushed around the hook is a finding);
    - the version 'rollback' would pick in each protected stage must pass the rollback rules and
      have its artifacts and data retrievable (work tree, Git blob, DVC cache, DVC remote);
    - drift: live versions lacking keys the policy now asks for, stages no longer in the policy,
      live tags signed by a signer since removed from allowed_signers; deprecated versions still
      live past their sunset.

    Exit 1 when there is any finding, or when this clone cannot see everything (shallow, notes
    not fetched): missing state is named, never read as clean.
    """
    from gitmv.ops import audit as audit_ops

    result = api().audit(model, since)
    if markdown:
        audit_ops.write_markdown(result, markdown)
    respond(result, as_json, _render)
    return EXIT_OK if result["ok"] else EXIT_FAULT


def _render(result: dict) -> None:
    for f in result["findings"]:
        where = " ".join(x for x in (f["model"], f["stage"] or "", f["ref"] or "") if x)
        output.line(f"FINDING {f['kind']} {where}: {f['message']}")
        output.line(f"  fix: {f['fix']}")
    c = result["checked"]
    summary = (f"{c['stage_entries']} protected stage entries, {c['rollback_targets']} rollback target(s), "
               f"{c['live_versions']} live version(s)")
    if result["ok"]:
        output.line(f"audit: clean ({summary})")
    else:
        output.line(f"audit: {len(result['findings'])} finding(s) ({summary})")


COMMANDS = (audit,)
