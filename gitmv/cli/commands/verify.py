"""`verify` and `reproduce`: checking what the registry claims."""

from __future__ import annotations

import click

from gitmv import output
from gitmv.cli.commands import CONTEXT, api, json_option, warn
from gitmv.cli.params import MODEL, VERSION
from gitmv.errors import EXIT_FAULT, EXIT_OK


@click.command(context_settings=CONTEXT)
@click.argument("model", type=MODEL, required=False)
@click.argument("version", type=VERSION, required=False)
@click.option("--data", "data", is_flag=True, help="Check instead that every object of MODEL's DVC pins and artifacts is in the DVC remote (needs the [dvc] extra).")
@click.option("--attestations", is_flag=True, help="Also check the attestations stored by 'attest --store' (signatures, subjects, statements).")
@json_option
def verify(model, version, data, attestations, as_json):
    """Verify signatures, records, artifact digests and the append-only notes history.

    The work-tree artifact is checked for the version registered at HEAD's commit; every other
    version through its stored copy (Git blob at its commit, DVC cache). Exit 1 names every failure.
    """
    if data:
        if not model:
            raise click.UsageError("--data needs a MODEL")
        result = api().verify_data(model, version)
        checked = f"{len(result['versions'])} version(s), {result['objects_checked']} DVC object(s)"
    else:
        result = api().verify(model, version, attestations=attestations)
        checked = f"{len(result['checked'])} version(s)" + (
            f", {result['attestations']} attestation(s)" if attestations else "")
    warn(result)
    if as_json:
        output.emit_json(result)
    else:
        for f in result["failures"]:
            output.error(f"FAIL {f}")
        unverifiable = result.get("unverifiable", [])
        for u in unverifiable:
            output.line(f"NOT VERIFIABLE OFFLINE {u}")
        if not result["ok"]:
            summary = f"{len(result['failures'])} failure(s)"
        elif unverifiable:  # no failure, but not everything could be checked: never "ok"
            summary = f"no failures; {len(unverifiable)} artifact(s) not verifiable offline (recorded by URI)"
        else:
            summary = "ok"
        output.line(f"verified {checked}: {summary}")
    return EXIT_OK if result["ok"] else EXIT_FAULT


@click.command(context_settings=CONTEXT)
@click.argument("model", type=MODEL)
@click.argument("version", type=VERSION)
@json_option
def reproduce(model, version, as_json):
    """Rebuild VERSION from its commit and pinned data and compare artifact digests.

    Checks the commit out into a temporary worktree (your work tree is never touched), pulls the
    pinned data from the DVC remote, runs the policy's train command (default 'dvc repro --force')
    and records a reproduction record: match, or mismatch with both digests. Exit 1 on mismatch.
    """
    result = api().reproduce(model, version)
    warn(result)
    if as_json:
        output.emit_json(result)
    else:
        for rel, want in sorted(result["recorded"].items()):
            got = result["produced"].get(rel)
            output.line(f"  {rel}: recorded {want[:16]}…, reproduced {(got or 'nothing')[:16]}{'…' if got else ''}"
                        f"  {'match' if got == want else 'MISMATCH'}")
        output.line(f"{model} {version}: {'reproduced, digests match' if result['match'] else 'NOT reproduced: digests differ'}"
                    f" (recorded {result['record']['id'][:19]}…)")
    return EXIT_OK if result["match"] else EXIT_FAULT


COMMANDS = (verify, reproduce)
