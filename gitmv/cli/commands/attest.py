"""`attest`: standard attestations (in-toto/SLSA, OpenSSF model signing, CycloneDX) for a version."""

from __future__ import annotations

import os

import click

from gitmv import output
from gitmv.cli.commands import CONTEXT, api, json_option, respond
from gitmv.cli.params import MODEL, STAGE, VERSION


@click.command(context_settings=CONTEXT)
@click.argument("model", type=MODEL)
@click.argument("version", type=VERSION)
@click.option("--stage", type=STAGE, help="Also summarise VERSION's promotion to STAGE (SLSA Verification Summary).")
@click.option("-o", "--output", "out", type=click.Path(file_okay=False), help="Directory to write to (default attestations/MODEL-VERSION).")
@click.option("--bom", is_flag=True, help="Also write a CycloneDX 1.6 ML-BOM (bom.cdx.json).")
@click.option("--key", type=click.Path(dir_okay=False), help="EC (P-256) private key in PEM that signs (default: git config mv-promote.attestKey).")
@click.option("--store", is_flag=True, help="Also append the signed envelopes to refs/notes/mv-promote-attestations (pushed by 'sync').")
@json_option
def attest(model, version, stage, out, bom, key, store, as_json):
    """Write VERSION's attestations in the formats supply-chain tools verify.

    \b
    In-toto Statement v1 documents in DSSE envelopes, subjects = the artifacts' sha256:
      provenance.intoto.json           SLSA Provenance v1 (commit, data pins, lockfile, params, seeds, run id)
      test-result-STAGE-SEQ.intoto.json  in-toto Test Result v0.1 per gate evaluation
      vsa-STAGE-SEQ.intoto.json        SLSA Verification Summary v1 (with --stage)
      attestations.intoto.jsonl        all envelopes, one per line (an in-toto bundle)
    model.sig (OpenSSF model signing v1.0, for 'model_signing verify key'), attest-key.pub.pem
    (the public key that verifies every signature) and with --bom bom.cdx.json.
    Make a key with: openssl ecparam -genkey -name prime256v1 -noout -out attest-key.pem
    """
    result = api().attest(model, version, stage=stage, out=out, bom=bom, key=key, store=store)

    def render(r: dict) -> None:
        where = os.path.relpath(r["dir"])
        output.line(f"{r['model']} {r['version']}: attestations in {where}/ (key {r['keyid'][:16]}…)")
        for s in r["statements"]:
            output.line(f"  {s['file']:<36} {s['predicateType']}")
        if r["bom"]:
            output.line(f"  {'bom.cdx.json':<36} CycloneDX 1.6 ML-BOM")
        output.line(f"  {'attest-key.pub.pem':<36} public key (verifies every signature)")
        output.line(f"verify the model files: {r['model_signing']['verify']}")
        if r["stored"]:
            output.line(f"stored {len(r['stored']['records'])} attestation record(s) in {r['stored']['ref']}")
        for hint in r["next"]:
            output.line(f"next: {hint}")

    respond(result, as_json, render)


COMMANDS = (attest,)
