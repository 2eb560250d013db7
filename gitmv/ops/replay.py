"""`replay`: run a candidate and the version it would replace on the same pinned inputs, compare
their outputs row by row, and record the comparison as signed evidence on the candidate.

The command, the inputs and the code are HEAD's (both versions run the same `predict.py` on the
same bytes; only the artifact differs), under the same clean-tree rule as `eval`. Artifacts are
retrieved like everywhere else (never bytes whose digest differs from the record); the inputs are
the Git blob at HEAD, or the data a DVC pin at HEAD names (its md5 checked). The comparison itself
is the pure `rules.replay`.
"""

from __future__ import annotations

import os
import posixpath
import shlex
import tempfile
import time
from pathlib import Path

from gitmv.dvc import pins as dvcpins
from gitmv.dvc.cache import dvc_cache_candidates
from gitmv.errors import MvError, NotFoundError, ReplayError, UsageError
from gitmv.git import notes, record_signing
from gitmv.hashing import md5_file, sha256_bytes, sha256_file
from gitmv.names import NOTES_REF, VERSION_RE, check_names
from gitmv.ops.artifacts import fetch_artifact
from gitmv.ops.context import Context, now, open_context, push_hint
from gitmv.ops.evidence import _refuse_dirty, _run_in_own_group, command_blobs, command_digest, substitute
from gitmv.policy import POLICY_PATH
from gitmv.registry import Version
from gitmv.rules import promotion as rules
from gitmv.rules import replay as comparison


def replay(model: str, version: str, *, against: str | None = None, path: str | os.PathLike = ".") -> dict:
    """Replay `version` and the version it is compared with (`against`: a stage, whose current
    version is taken, or vN; default: the gate baseline rule) on the policy's replay inputs."""
    check_names(model, version)
    ctx = open_context(path)
    mp = ctx.policy.model(model)
    if mp.replay is None:
        raise UsageError(f"no replay for {model} in the policy",
                         f"add [models.{model}.replay] with command and inputs to {POLICY_PATH} and commit it")
    candidate = ctx.registry.version(model, version)
    baseline, stage = _against(ctx, model, version, against)
    command_files = command_blobs(ctx.repo, ctx.head, mp.replay.command)
    _refuse_dirty(ctx.repo, model, sorted(set(command_files) | {mp.replay.inputs, POLICY_PATH}), what="replay")
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="mv-replay-") as tmp:
        inputs_file, inputs = _inputs(ctx, mp.replay.inputs, tmp)
        outputs = {}
        for role, v in (("candidate", candidate), ("baseline", baseline)):
            outputs[role] = _run(ctx, mp.replay.command, model, v, inputs_file, Path(tmp, role))
        result = comparison.compare(outputs["candidate"], outputs["baseline"], candidate_name=candidate.name,
                                    baseline_name=baseline.name)
    body = {
        "model": model, "version": version, "artifacts": candidate.digests,
        "against": {"version": baseline.name, "tag": baseline.tag.id, "artifacts": baseline.digests, "stage": stage},
        "inputs": inputs, "command": mp.replay.command, "command_digest": command_digest(mp.replay.command, command_files),
        "code_commit": ctx.head, "duration_s": round(time.monotonic() - started, 3), **result,
    }
    rec = record_signing.new_record(ctx.repo, "replay", body, at=now(), allowed_signers=ctx.registry.allowed_signers,
                                    signed=mp.signed, warnings=ctx.warnings)
    notes.append(ctx.repo, candidate.tag.id, [rec], f"mv-promote: replay {model} {version} against {baseline.name}",
                 cache=ctx.registry.cache)
    return {"model": model, "version": version, "against": baseline.name, "against_stage": stage, "record": rec,
            "next": [push_hint(NOTES_REF)], "warnings": ctx.warnings}


def _against(ctx: Context, model: str, version: str, against: str | None) -> tuple[Version, str | None]:
    """The version to compare with and the stage it was taken from (None for an explicit vN)."""
    reg = ctx.registry
    if against is not None and VERSION_RE.match(against):
        other, stage = reg.version(model, against), None
    else:
        if against is None:
            mp = ctx.policy.model(model)
            target = mp.gate.replay.against if mp.gate.replay else ctx.policy.stages[-1]
            found, stage = rules.baseline_for(reg, model, target, version)
            if found is None:
                raise NotFoundError(f"nothing to replay {model} {version} against: {target} and "
                                    f"{ctx.policy.stages[-1]} have no version",
                                    f"pass --against vN (a registered version of {model})")
            other = found
        else:
            ctx.policy.stage_index(against)  # an unknown stage: the policy's error, with a guess
            entry = reg.current(model, against)
            if entry is None:
                raise NotFoundError(f"{against} has no version of {model} to replay against",
                                    "promote one first, or pass --against vN")
            other, stage = reg.version(model, entry.record.version), against
    if other.name == version:
        raise UsageError(f"{model} {version} is the version it would be replayed against"
                         + (f" (current in {stage})" if stage else ""), "replay another version, or pass --against vN")
    return other, stage


def _inputs(ctx: Context, rel: str, tmp: str) -> tuple[str, dict]:
    """A local file with the inputs as HEAD pins them, and the record's description of them."""
    repo = ctx.repo
    blob = repo.blob_at(ctx.head, rel)
    if blob is None:
        raise NotFoundError(f"the replay inputs {rel} are not committed at HEAD",
                            f"commit them (git add {rel}, or dvc add and git add the .dvc file)")
    if not rel.endswith(".dvc"):
        out = Path(tmp, "inputs", posixpath.basename(rel))
        out.parent.mkdir()
        out.write_bytes(blob)
        return str(out), {"path": rel, "sha256": sha256_bytes(blob), "size": len(blob)}
    pins = [p for p in dvcpins.read_pins(lambda p: repo.blob_at(ctx.head, p), [rel]) if p.get("source") == rel]
    if len(pins) != 1 or not pins[0].get("md5") or str(pins[0]["md5"]).endswith(".dir"):
        raise ReplayError(f"{rel} must pin exactly one file (a directory or several outs cannot be replayed row by row)",
                          "dvc add the one input file and name its .dvc file as the replay inputs")
    pin = pins[0]
    found = _dvc_file(ctx, pin, Path(tmp, "inputs"))
    digest, size = sha256_file(found)
    return str(found), {"path": rel, "data": pin["path"], "md5": pin["md5"], "sha256": digest, "size": size}



def _dvc_file(ctx: Context, pin: dict, where: Path) -> Path:
    """The pinned file's bytes: the work-tree file when its md5 is the pin's, else the DVC cache,
    else the pin's DVC remote. Bytes with another md5 are never replayed on."""
    md5, rel = pin["md5"], pin["path"]
    tried = []
    local = (ctx.repo.workdir / rel) if ctx.repo.workdir is not None else None
    if local is not None and local.is_file():
        if md5_file(local) == md5:
            return local
        tried.append("work tree: the file differs from the pin")
    for candidate in dvc_cache_candidates(ctx.repo, md5):
        if candidate.is_file() and md5_file(candidate) == md5:
            return candidate
    tried.append(f"dvc cache: no object {md5}")
    from gitmv.dvc import remote as dvcremote
    from gitmv.ops import data as data_ops

    if ctx.repo.workdir is not None and (ctx.repo.workdir / ".dvc").is_dir() and dvcremote.dvc_available():
        remotes = data_ops.Remotes(ctx.repo)
        try:
            remote = remotes.get(pin.get("remote"))
            if remote.exists(md5):
                where.mkdir(exist_ok=True)
                dest = where / posixpath.basename(rel)
                remote.download(md5, dest)
                if md5_file(dest) == md5:
                    return dest
                tried.append(f"dvc remote {remote.name}: the object does not hash to {md5}")
            else:
                tried.append(f"dvc remote {remote.name}: no object {md5}")
        except MvError as exc:
            tried.append(f"dvc remote: {exc.cause}")
        finally:
            remotes.close()
    else:
        tried.append("dvc remote: not a DVC work tree, or DVC is not installed")
    raise ReplayError(f"the replay inputs {rel} (pinned by {pin['source']}) are not retrievable (tried: {'; '.join(tried)})",
                      "dvc pull them, or dvc push them to the pin's remote from where they were made")


def _run(ctx: Context, command: str, model: str, v: Version, inputs: str, where: Path) -> comparison.Output:
    """Run the replay command for one version (in its own process group, at the work tree's root)
    and read its predictions."""
    where.mkdir()
    files = {rel: fetch_artifact(ctx, v, rel, str(where)) for rel in sorted(v.record.artifacts)}
    output = where / "predictions"
    line = substitute(command, artifact=shlex.quote(files[sorted(files)[0]]), inputs=shlex.quote(inputs),
                      output=shlex.quote(str(output)), model=shlex.quote(model), version=shlex.quote(v.name))
    status, stderr = _run_in_own_group(line, str(ctx.repo.workdir or "."))
    if status != 0:
        err = stderr.decode(errors="replace").strip().splitlines()
        raise ReplayError(f"replay command for {model} {v.name} exited {status}: {err[-1] if err else line}",
                          "fix the replay command; nothing was recorded")
    if not output.is_file():
        raise ReplayError(f"replay command for {model} {v.name} wrote no {{output}} file",
                          "make it write one prediction per input row to the {output} path")
    return comparison.parse_output(output.read_bytes(), f"the output of {v.name}")
