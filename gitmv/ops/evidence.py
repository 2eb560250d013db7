"""Evidence records: `eval`, `reproduce`, `deprecate`."""

from __future__ import annotations

import json
import os
import shlex
import signal
import subprocess
import tempfile
import time
from pathlib import Path

from gitmv import records
from gitmv.dvc import pins as dvcpins
from gitmv.errors import EvalError, RefusedError, UsageError
from gitmv.git import notes, record_signing
from gitmv.git.repo import Repo
from gitmv.ops.artifacts import fetch_artifact, refuse_uri_artifacts
from gitmv.names import NOTES_REF, check_model_name, check_names, check_version_or_experiment
from gitmv.ops.context import now, open_context, push_hint
from gitmv.policy import POLICY_PATH
from gitmv.rules import provenance
from gitmv.schema import Errors, validate


# A metrics report is overall and per-slice numbers, not per-example output.
MAX_METRICS_BYTES = 1 << 20


def evaluate(model: str, version: str, *, suite: str | None = None, from_file: str | None = None,
             path: str | os.PathLike = ".") -> dict:
    check_model_name(model)
    check_version_or_experiment(version)
    ctx = open_context(path)
    repo, reg = ctx.repo, ctx.registry
    mp = ctx.policy.model(model)
    v = reg.resolve(model, version)
    suite = suite or mp.eval_suite
    if not suite:
        raise UsageError(f"no eval suite given and none in the policy for {model}", "pass --suite NAME")
    command_files = command_blobs(repo, ctx.head, mp.eval_command) if from_file is None and mp.eval_command else {}
    _refuse_dirty(repo, model, sorted(command_files) + [POLICY_PATH])
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="mv-eval-") as tmp:
        files = {rel: fetch_artifact(ctx, v, rel, tmp) for rel in sorted(v.record.artifacts)}
        provenance = None
        if from_file is not None:
            command, status = None, 0
            report = _read_metrics(Path(from_file), from_file)
            from gitmv.ops import data as data_ops

            provenance = data_ops.check_eval_provenance(repo, ctx.head, from_file, files, _eval_data_pin(repo, ctx.head, mp))
        else:
            if not mp.eval_command:
                raise UsageError(f"no eval command for {model} in the policy", "add [models.%s.eval] command, or pass --from-file" % model)
            output = Path(tmp, "metrics.json")
            first = files[sorted(files)[0]]
            command = substitute(mp.eval_command, artifact=shlex.quote(first), output=shlex.quote(str(output)),
                                 model=shlex.quote(model), version=shlex.quote(version), suite=shlex.quote(suite))
            status, stderr = _run_in_own_group(command, str(repo.workdir or "."))
            if status != 0:
                err = stderr.decode(errors="replace").strip().splitlines()
                raise EvalError(f"eval command exited {status}: {err[-1] if err else command}",
                                "fix the eval command; nothing was recorded")
            if not output.is_file():
                raise EvalError("eval command wrote no metrics file to {output}", "make it write JSON to the {output} path")
            report = _read_metrics(output, "the eval command's output")
    body = {
        "model": model, "version": version, "suite": suite,
        "artifacts": v.digests, "metrics": report["metrics"], "slices": report.get("slices") or {},
        "command": mp.eval_command if from_file is None else None,
        "from_file": os.path.basename(from_file) if from_file else None,
        "exit_status": status, "duration_s": round(time.monotonic() - started, 3),
        "data": _eval_data_pin(repo, ctx.head, mp), "provenance": provenance,
        "code_commit": ctx.head,
        "command_digest": command_digest(mp.eval_command, command_files) if mp.eval_command and from_file is None else None,
    }
    rec = record_signing.new_record(repo, "eval", body, at=now(), allowed_signers=ctx.registry.allowed_signers,
                              signed=mp.signed, warnings=ctx.warnings)
    notes.append(repo, v.tag.id, [rec], f"mv-promote: eval {model} {version} on {suite}", cache=reg.cache)
    return {"model": model, "version": version, "record": rec, "next": [push_hint(NOTES_REF)], "warnings": ctx.warnings}


def command_blobs(repo: Repo, commit: str, command: str) -> dict[str, str]:
    """The files an eval command names (a token, or the value of a `--opt=value` token, that is a
    path in `commit`'s tree, relative to the repository root), with their blob ids there."""
    return dict(sorted(repo.blob_ids(commit, provenance.command_paths(command)).items()))


command_digest = provenance.command_digest  # the one definition, shared with the server hook


def _refuse_dirty(repo: Repo, model: str, paths: list[str], what: str = "eval") -> None:
    """Evidence must say what produced it: the command's files and the policy as committed at HEAD
    (the record names HEAD), the same rule `register` applies to the files that define a version.
    `what` names the evidence (eval, replay)."""
    if repo.workdir is None:
        return
    out = repo.git("status", "--porcelain", "--untracked-files=no", "-z", "--", *paths).stdout.decode()
    dirty = sorted({entry[3:] for entry in out.split("\0") if len(entry) > 3})
    if dirty:
        raise RefusedError(f"uncommitted changes in files that define the {what} of {model}: {', '.join(dirty)}",
                           f"commit or stash them, so the {what} record's code commit is what ran")


def _run_in_own_group(command: str, cwd: str) -> tuple[int, bytes]:
    """Run the eval command in its own process group, so that an interrupt (Ctrl-C reaches only
    our foreground group) stops it and everything it started, not just the shell."""
    proc = subprocess.Popen(command, shell=True, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            start_new_session=True)
    try:
        _, stderr = proc.communicate()
    except BaseException:
        _kill_group(proc)
        raise
    return proc.returncode, stderr


def _kill_group(proc: subprocess.Popen) -> None:
    """TERM the group, give it a moment, then KILL whatever is left of it (a child that ignores
    TERM, or outlives the shell)."""
    for sig, grace in ((signal.SIGTERM, 2.0), (signal.SIGKILL, None)):
        try:
            os.killpg(proc.pid, sig)
        except (ProcessLookupError, PermissionError):
            break
        try:
            proc.wait(timeout=grace)
        except subprocess.TimeoutExpired:
            pass


def substitute(command: str, **values: str) -> str:
    """Replace {name} placeholders (validated by the policy); other braces are left alone."""
    for name, value in values.items():
        command = command.replace("{" + name + "}", value)
    return command


def _eval_data_pin(repo: Repo, head: str, mp) -> list | None:
    if not mp.eval_data:
        return None
    return dvcpins.read_pins(lambda p: repo.blob_at(head, p), [mp.eval_data]) or None


def _read_metrics(file: Path, what: str) -> dict:
    try:
        if file.stat().st_size > MAX_METRICS_BYTES:
            raise EvalError(f"{what} is {file.stat().st_size} bytes, over the {MAX_METRICS_BYTES} byte limit",
                            "report metrics overall and per slice, not per example")
        data = json.loads(file.read_bytes())
    except FileNotFoundError as exc:
        raise EvalError(f"metrics file {file} not found") from exc
    except RecursionError as exc:
        raise EvalError(f"{what} is nested too deeply to be a metrics report") from exc
    except (ValueError, UnicodeDecodeError) as exc:
        raise EvalError(f"{what} is not JSON: {exc}", "write {\"metrics\": {...}, \"slices\": {...}}") from exc
    shape = "expected {\"metrics\": {name: number}, \"slices\": {slice: {name: number}}}"
    # absent, empty or not even a JSON object: one message, which says what to write
    if not isinstance(data, dict) or not isinstance(data.get("metrics"), dict) or not data["metrics"]:
        raise EvalError(f"{what} has no metrics table", shape)
    if "slices" in data and not data["slices"]:
        data = {k: v for k, v in data.items() if k != "slices"}  # null, [] or {}: no slices, as ever accepted
    return validate(records.METRICS_REPORT, data, Errors(EvalError, where=what, unknown="unexpected key {keys}", fix=shape))


def reproduce(model: str, version: str, path: str | os.PathLike = ".") -> dict:
    """Rebuild a version from its commit and pinned data in a temporary worktree; record the result."""
    from gitmv.ops import data as data_ops

    check_names(model, version)
    ctx = open_context(path)
    mp = ctx.policy.model(model)
    v = ctx.registry.version(model, version)
    refuse_uri_artifacts(v, "reproduce")  # nothing to compare the rebuilt bytes with
    result = data_ops.reproduce(ctx.repo, v, mp)
    body = {"model": model, "version": version, "match": result["match"], "artifacts": v.digests,
            "produced": {k: d for k, d in result["produced"].items() if d}, "command": result["command"],
            "exit_status": result["exit_status"], "duration_s": result["duration_s"], "commit": v.record.commit}
    rec = record_signing.new_record(ctx.repo, "reproduction", body, at=now(), allowed_signers=ctx.registry.allowed_signers,
                              signed=mp.signed, warnings=ctx.warnings)
    notes.append(ctx.repo, v.tag.id, [rec], f"mv-promote: reproduction of {model} {version}", cache=ctx.registry.cache)
    return {"model": model, "version": version, "match": result["match"], "record": rec,
            "recorded": v.digests, "produced": result["produced"], "warnings": ctx.warnings}


def deprecate(model: str, version: str, *, reason: str, sunset: str | None = None, path: str | os.PathLike = ".") -> dict:
    check_names(model, version)
    if not reason.strip():
        raise UsageError("deprecate needs a reason", "pass -m 'why it is deprecated'")
    ctx = open_context(path)
    v = ctx.registry.version(model, version)
    if sunset:
        sunset = records.parse_time(sunset).isoformat().replace("+00:00", "Z")
    for earlier in ctx.registry.records_of(v.tag.id, "deprecation"):
        if earlier.get("reason") == reason and earlier.get("sunset") == sunset:
            raise RefusedError(f"{model} {version} is already deprecated with this reason and sunset "
                               f"(record {str(earlier.get('id'))[:19]}…)",
                               "nothing to do; to change the reason or the sunset, deprecate it with the new -m/--sunset")
    live = [s for s in ctx.registry.stages_present(model) if ctx.registry.current_version_name(model, s) == version]
    warnings = list(ctx.warnings) + [
        f"{model} {version} is current in {s}: deprecation blocks promoting it, but it stays in {s} until "
        f"you promote another version or roll back (git mv-promote rollback {model} --stage {s})" for s in live]
    rec = record_signing.new_record(ctx.repo, "deprecation",
                              {"model": model, "version": version, "reason": reason, "sunset": sunset},
                              at=now(), allowed_signers=ctx.registry.allowed_signers,
                              signed=ctx.policy.model(model).signed, warnings=ctx.warnings)
    notes.append(ctx.repo, v.tag.id, [rec], f"mv-promote: deprecate {model} {version}", cache=ctx.registry.cache)
    return {"model": model, "version": version, "record": rec, "current_in": live, "next": [push_hint(NOTES_REF)],
            "warnings": warnings}
