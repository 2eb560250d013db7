"""`import --gto`: a GTO registry's versions and stages as mv-promote tags."""

from __future__ import annotations

import click

from gitmv import output
from gitmv.cli.commands import CONTEXT, json_option, respond


@click.command("import", context_settings=CONTEXT)
@click.option("--gto", "gto", is_flag=True, required=True, help="Import a GTO registry (name@vX.Y.Z and name#stage#N tags).")
@click.option("--write-policy", is_flag=True,
              help="First write .mv-promote.toml from GTO's annotations and stage tags and commit it (never overwrites one).")
@click.option("--dry-run", is_flag=True, help="Say what would be imported (and, with --write-policy, written); write nothing.")
@click.option("--no-sign", is_flag=True, help="Do not sign the imported tags (research tier only).")
@json_option
def import_cmd(gto, write_policy, dry_run, no_sign, as_json):
    """Import GTO's versions and stage history as signed mv-promote tags; GTO's tags stay untouched."""
    from gitmv.ops import gto_import

    respond(gto_import.import_gto(".", dry_run=dry_run, sign=not no_sign, write_policy=write_policy), as_json, _render)


def _render(result: dict) -> None:
    dry = result.get("dry_run")
    verb = "would import" if dry else "imported"
    policy = result.get("policy")
    if policy:
        what = f"{len(policy['models'])} model(s), stages {', '.join(policy['stages']) or '-'}"
        if dry:
            output.line(f"would write {policy['path']} ({what}):")
            for line in policy["text"].rstrip().splitlines():
                output.line(f"  {line}")
        else:
            output.line(f"wrote {policy['path']} from GTO's annotations ({what}) and committed it as {policy['commit'][:12]}")
            if policy.get("signer"):
                output.line(policy["signer"])
    for v in result["versions"]:
        offline = v.get("not_fetchable_offline") or []
        output.line(f"{verb} {v['gto']} as {v['model']} {v['version']}" + "".join(f"; artifact {o}" for o in offline))
    for s in result["stages"]:
        output.line(f"{verb} {s.get('gto', '')} as {s.get('ref', s)}")
    for d in result.get("deprecations", []):
        output.line(f"{verb} deprecation {d.get('gto', '')} of {d.get('model', '')} {d.get('version', '')}".rstrip())
    renamed = result.get("renamed", [])
    for r in renamed:
        if r["kind"] != "version":
            output.line(f"renamed GTO {r['kind']} '{r['gto']}' to '{r['as']}': {r['why']}")
    versions = [r for r in renamed if r["kind"] == "version"]
    if versions:
        output.line(f"renumbered {len(versions)} version(s): " + ", ".join(f"{r['gto']} -> {r['as']}" for r in versions)
                    + f" ({versions[0]['why']})")
    for s in result.get("skipped", []):
        output.line(f"skipped {s}")
    output.line(f"{'dry run: ' if dry else ''}{len(result['versions'])} version(s), {len(result['stages'])} stage "
                f"entr{'y' if len(result['stages']) == 1 else 'ies'}, {len(result.get('deprecations', []))} deprecation(s) "
                f"{'would be ' if dry else ''}imported; {len([r for r in renamed if r['kind'] != 'version'])} name(s) "
                f"renamed; {len(result.get('skipped', []))} skipped; "
                f"{len(result.get('already_imported', []))} imported before")


COMMANDS = (import_cmd,)
