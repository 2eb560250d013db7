"""`attest`: a version's evidence in the formats supply-chain tools verify on their own.

For the version's artifacts (subjects, sha256): SLSA Provenance v1, one in-toto Test Result v0.1
per gate evaluation (each stage record that promoted it), a SLSA Verification Summary v1 for a
promotion (`--stage`), each an in-toto Statement v1 in a DSSE envelope signed with an EC key; an
OpenSSF model signing v1.0 bundle that `model_signing verify key` accepts; with `--bom` a
CycloneDX 1.6 ML-BOM. `--store` appends the envelopes as signed records to
`refs/notes/mv-promote-attestations`, which `sync` pushes and `verify --attestations` checks.
"""

from __future__ import annotations

import hashlib
import json
import os
import posixpath
import shlex
import tempfile
from pathlib import Path
from typing import Any

from gitmv.errors import MvError, NotFoundError
from gitmv.hashing import md5_file, sha256_file
from gitmv.names import ATTESTATIONS_REF, check_names, check_stage_name, version_ref
from gitmv.ops.attest import bom as bom_mod
from gitmv.ops.attest import dsse, statements
from gitmv.ops.context import Context, now, open_context, push_hint
from gitmv.registry import StageEntry, Version

PUBLIC_KEY_FILE = "attest-key.pub.pem"
BUNDLE_FILE = "attestations.intoto.jsonl"
MODEL_SIG_FILE = "model.sig"
BOM_FILE = "bom.cdx.json"
SIGSTORE_BUNDLE = "application/vnd.dev.sigstore.bundle.v0.3+json"


def _tool_version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("git-mv-promote")
    except PackageNotFoundError:
        return "unknown"


def _key_path(ctx: Context, key: str | None) -> str:
    path = key or ctx.repo.config(dsse.KEY_CONFIG)
    if not path:
        raise MvError("no attestation key: attestations are signed with an elliptic-curve (P-256) private key",
                      f"make one ({dsse.MAKE_KEY}) and pass --key attest-key.pem, "
                      f"or: git config {dsse.KEY_CONFIG} /path/to/attest-key.pem")
    return path


def _remote_url(ctx: Context) -> str | None:
    return ctx.repo.config("remote.origin.url")


def _pin_sha256(ctx: Context, pin: dict) -> str | None:
    """sha256 of a pinned file when its content is here (work tree or DVC cache) and DVC's md5
    confirms it is the pinned content; None for directories and for what is not available."""
    from gitmv.dvc.cache import dvc_cache_candidates

    md5 = str(pin.get("md5") or "")
    if not md5 or md5.endswith(".dir"):
        return None
    candidates = [ctx.repo.workdir / pin["path"]] if ctx.repo.workdir is not None and pin.get("path") else []
    candidates += dvc_cache_candidates(ctx.repo, md5)
    for file in candidates:
        if file.is_file():
            if md5_file(file) == md5:
                return sha256_file(file)[0]
    return None


def _gate_entries(ctx: Context, v: Version) -> list[StageEntry]:
    """Every stage entry that promoted this version and carries the gate's verdict, in policy order."""
    reg = ctx.registry
    found = []
    for stage in reg.stages_present(v.record.model):
        for entry in reg.stage_history(v.record.model, stage):
            if entry.record.version == v.name and entry.record.kind == "promote" and entry.record.gate:
                found.append(entry)
    return found


def _payload_digest(envelope: dict) -> str:
    import base64

    return hashlib.sha256(base64.b64decode(envelope["payload"])).hexdigest()


def build(ctx: Context, v: Version, key: dsse.SigningKey, stage: str | None, with_bom: bool) -> dict[str, Any]:
    """Every document, signed, in memory: {file name: bytes} plus what was made (nothing written)."""
    record = v.record.to_dict()
    url = _remote_url(ctx)
    ref = version_ref(v.record.model, v.name)
    pins = [statements.pin_dependency(p, _pin_sha256(ctx, p)) for p in v.record.data if isinstance(p, dict)]
    docs: list[tuple[str, dict]] = []
    prov = statements.provenance(record, url=url, tag=v.tag.id, ref=ref, pins=pins, version=_tool_version())
    docs.append(("provenance.intoto.json", prov))
    entries = _gate_entries(ctx, v)
    results: dict[str, dict] = {}
    for entry in entries:
        name = f"test-result-{entry.record.stage}-{entry.seq}.intoto.json"
        results[entry.ref] = statements.test_result(record["artifacts"], entry.record.to_dict(), url=url,
                                                    stage_tag=entry.tag.id)
        docs.append((name, results[entry.ref]))
    envelopes = {name: dsse.sign_statement(st, key) for name, st in docs}
    if stage is not None:
        mine = [e for e in entries if e.record.stage == stage]
        if not mine:
            raise NotFoundError(f"{v.record.model} {v.name} was never promoted to {stage}: there is no promotion "
                                "to summarise", f"attest without --stage, or promote it first: git mv-promote promote "
                                f"{v.record.model} {v.name} --stage {stage}")
        entry = mine[-1]
        inputs = [{"uri": "provenance.intoto.json", "digest": {"sha256": _payload_digest(envelopes["provenance.intoto.json"])}}]
        test_name = f"test-result-{entry.record.stage}-{entry.seq}.intoto.json"
        inputs.append({"uri": test_name, "digest": {"sha256": _payload_digest(envelopes[test_name])}})
        vsa = statements.verification_summary(record["artifacts"], entry.record.to_dict(), url=url, stage_tag=entry.tag.id,
                                              protected_branch=ctx.policy.protected_branch, inputs=inputs)
        name = f"vsa-{entry.record.stage}-{entry.seq}.intoto.json"
        docs.append((name, vsa))
        envelopes[name] = dsse.sign_statement(vsa, key)
    model_dir, signing_statement = statements.model_signing_payload(record["artifacts"])
    sig_envelope = dsse.sign_statement(signing_statement, key)
    bundle = {"mediaType": SIGSTORE_BUNDLE,
              "verificationMaterial": {"publicKey": {"hint": key.keyid}, "tlogEntries": []},
              "dsseEnvelope": sig_envelope}
    files: dict[str, bytes] = {name: (json.dumps(env, indent=2) + "\n").encode() for name, env in envelopes.items()}
    files[BUNDLE_FILE] = b"".join((json.dumps(env, separators=(",", ":"), sort_keys=True) + "\n").encode()
                                  for env in [*envelopes.values(), sig_envelope])
    files[MODEL_SIG_FILE] = (json.dumps(bundle, indent=2) + "\n").encode()
    files[PUBLIC_KEY_FILE] = key.public_pem
    if with_bom:
        latest = _newest_eval(ctx, v)
        doc = bom_mod.ml_bom(record, tag=v.tag.id, url=url, eval_record=latest, tool_version=_tool_version(),
                             stages=sorted({e.record.stage for e in entries}))
        files[BOM_FILE] = (json.dumps(doc, indent=2) + "\n").encode()
    kinds = {name: st["predicateType"] for name, st in docs}
    kinds[MODEL_SIG_FILE] = statements.MODEL_SIGNING
    stored = [(kinds[name], name, env) for name, env in envelopes.items()] + [(statements.MODEL_SIGNING, MODEL_SIG_FILE,
                                                                               sig_envelope)]
    return {"files": files, "kinds": kinds, "model_dir": model_dir, "stored": stored}


def _newest_eval(ctx: Context, v: Version) -> dict | None:
    mp = ctx.policy.models.get(v.record.model)
    suite = mp.eval_suite if mp is not None else None
    try:
        return ctx.registry.latest_eval(v, suite) or ctx.registry.latest_eval(v, None)
    except MvError:
        return None


def _write(out: Path, files: dict[str, bytes]) -> None:
    """Each file replaced whole (written beside, then renamed): a reader never sees half a document."""
    out.mkdir(parents=True, exist_ok=True)
    for name, data in files.items():
        fd, tmp = tempfile.mkstemp(prefix=f".{name}.", dir=out)
        try:
            with os.fdopen(fd, "wb") as fh:
                fh.write(data)
            os.replace(tmp, out / name)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise


def _store(ctx: Context, v: Version, key: dsse.SigningKey, stored: list, warnings: list) -> dict:
    from gitmv.git import notes, record_signing

    mp = ctx.policy.models.get(v.record.model)
    signed = mp is None or mp.signed
    signer = record_signing.Signer(ctx.repo, ctx.registry.allowed_signers)
    at = now()
    recs = [record_signing.new_record(ctx.repo, "attestation",
                                      {"model": v.record.model, "version": v.name, "predicate_type": kind, "name": name,
                                       "envelope": env, "public_key": key.public_pem.decode()},
                                      at=at, allowed_signers=ctx.registry.allowed_signers, signed=signed,
                                      warnings=warnings, signer=signer)
            for kind, name, env in stored]
    commit = notes.append(ctx.repo, v.tag.id, recs, f"mv-promote: attestations of {v.record.model} {v.name}",
                          ref=ATTESTATIONS_REF)
    return {"ref": ATTESTATIONS_REF, "commit": commit, "records": [r["id"] for r in recs]}


def _work_tree_holds(ctx: Context, v: Version) -> bool:
    """Does the work tree hold exactly this version's artifact bytes (so model_signing can verify it there)?"""
    root = ctx.repo.workdir
    if root is None:
        return False
    for rel, meta in v.record.artifacts.items():
        file = root / rel
        if not file.is_file() or sha256_file(file)[0] != meta.get("sha256"):
            return False
    return True


def _holds_others(ctx: Context, model_dir: str, v: Version) -> bool:
    """Does the artifacts' directory hold other files (then model_signing must be told to ignore them)?"""
    root = ctx.repo.workdir
    if root is None:
        return model_dir == "."
    base = root / model_dir
    ignored = {".git", ".gitattributes", ".gitignore", ".github"}
    for dirpath, dirnames, filenames in os.walk(base):
        dirnames[:] = [d for d in dirnames if d not in ignored]
        for f in filenames:
            rel = Path(dirpath, f).relative_to(root).as_posix()
            if f not in ignored and rel not in v.record.artifacts:
                return True
    return False


def attest(model: str, version: str, *, stage: str | None = None, out: str | os.PathLike | None = None,
           bom: bool = False, key: str | None = None, store: bool = False, path: str | os.PathLike = ".") -> dict:
    check_names(model, version)
    if stage is not None:
        check_stage_name(stage)
    ctx = open_context(path)
    ctx.policy.model(model)
    if stage is not None:
        ctx.policy.stage_index(stage)
    v = ctx.registry.version(model, version)
    signing_key = dsse.load_key(_key_path(ctx, key))
    made = build(ctx, v, signing_key, stage, bom)
    target = (Path(out) if out is not None else Path(path, "attestations", f"{model}-{version}")).resolve()
    stored = _store(ctx, v, signing_key, made["stored"], ctx.warnings) if store else None
    _write(target, made["files"])
    model_dir = made["model_dir"]
    sig = target / MODEL_SIG_FILE
    pub = target / PUBLIC_KEY_FILE
    ignore = " --ignore_unsigned_files" if _holds_others(ctx, model_dir, v) else ""
    here = Path(path).resolve()  # the command is given relative to where it is run

    def rel(p: Path) -> str:
        return os.path.relpath(p, here)

    shown_dir = rel(ctx.repo.workdir / model_dir) if ctx.repo.workdir is not None else model_dir
    fetch = ""
    if not _work_tree_holds(ctx, v):
        # the work tree holds other bytes (another version, or none): verify a copy `get` fetched and checked
        files_dir = f"{model}-{version}"
        fetch = f"git mv-promote get {shlex.quote(f'{model}@{version}')} -o {shlex.quote(files_dir)} && "
        shown_dir = posixpath.normpath(posixpath.join(files_dir, model_dir))
        ignore = " --ignore_unsigned_files"  # get's stamp (mv-promote.json) sits beside the files
    return {
        "model": model, "version": version, "tag": v.tag.id, "dir": str(target), "keyid": signing_key.keyid,
        "public_key": str(pub),
        "statements": [{"file": name, "predicateType": kind} for name, kind in made["kinds"].items()],
        "files": sorted(made["files"]),
        "model_signing": {"file": str(sig), "model_dir": model_dir,
                            "verify": f"{fetch}model_signing verify key {shlex.quote(shown_dir)} --signature {shlex.quote(rel(sig))} "
                                      f"--public_key {shlex.quote(rel(pub))}{ignore}"},
        "bom": str(target / BOM_FILE) if bom else None,
        "stored": stored,
        "next": [push_hint(ATTESTATIONS_REF)] if stored else [],
        "warnings": ctx.warnings,
    }


def check_stored(ctx: Context, v: Version, notes_commit: str | None) -> tuple[list[str], int]:
    """(failures, records checked) for the attestations stored on a version: each record intact
    and signed by its `by` (an allowed signer, as evidence is), its envelope's DSSE signature
    verifying with the public key it names, the statement well-formed, its subjects the version's
    artifacts and digests."""
    from gitmv import records
    from gitmv.git import notes

    ref = version_ref(v.record.model, v.name)
    try:
        found = notes.read_records(ctx.repo, notes_commit, v.tag.id) if notes_commit else []
    except MvError as exc:
        return [f"{ref}: attestations: {exc.cause}"], 0
    failures = []
    mp = ctx.policy.models.get(v.record.model)
    for rec in found:
        what = f"{ref}: attestation {rec.get('id', '?')[:19]}… ({rec.get('name', rec.get('predicate_type'))})"
        if rec.get("kind") != "attestation":
            failures.append(f"{what}: a {rec.get('kind')} record does not belong in {ATTESTATIONS_REF}")
            continue
        if not records.record_is_intact(rec):
            failures.append(f"{what}: does not match its id: tampered")
            continue
        sig = ctx.registry.record_signature(rec)
        if not sig.ok and ("signature" in rec or mp is None or mp.signed):
            failures.append(f"{what}: record signature: {sig.reason}")
        if (rec.get("model"), rec.get("version")) != (v.record.model, v.name):
            failures.append(f"{what}: names {rec.get('model')} {rec.get('version')}, not {v.record.model} {v.name}")
        ok, reason, st = dsse.verify(rec["envelope"], rec["public_key"])
        if not ok or st is None:
            failures.append(f"{what}: DSSE signature: {reason}")
            continue
        problems = statements.statement_problems(st)
        if not problems and st.get("predicateType") != rec.get("predicate_type"):
            problems = [f"its predicateType {st.get('predicateType')} is not the record's {rec.get('predicate_type')}"]
        problems = problems or statements.subject_problems(st, v.record.artifacts)
        failures += [f"{what}: {p}" for p in problems]
    return failures, len(found)
