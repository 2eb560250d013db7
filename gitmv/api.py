"""The operations of git mv-promote, for the CLI and for pipelines. Nothing here prints.

Every function returns plain data (dicts and lists that `json.dumps` accepts) and raises a
`gitmv.errors.MvError` subclass for anything that is the user's or the repository's fault.
"""

from __future__ import annotations

import json
import os
import shlex
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Callable

from gitmv import artifacts as artifacts_mod
from gitmv import dvcpins, notes, record_signing, records
from gitmv.rules import promotion as rules
from gitmv.errors import (ArtifactError, ConflictError, EvalError, MvError, NotFoundError, PolicyError,
                          RefusedError, UsageError)
from gitmv.hashing import sha256_bytes, sha256_file
from gitmv.policy import POLICY_PATH, Policy, parse_policy, template
from gitmv.records import NAME_RE, PromotionRecord, VersionRecord
from gitmv.registry import Registry, Version, stage_ref, version_ref
from gitmv.repo import NOTES_REF, Repo, parse_git_date
from gitmv.signing import signing_key_fingerprint

# A one-star pattern rather than the exact ref: an exact source that the remote lacks (no notes
# pushed yet) makes every plain `git fetch` fail; the pattern maps the same ref and matches
# nothing silently until the notes exist.
MAX_METRICS_BYTES = 1 << 20
NOTES_FETCH_REFSPEC = "+refs/notes/mv-promote*:refs/notes/remotes/{remote}/mv-promote*"


# ---------------------------------------------------------------- context

@dataclass
class Context:
    repo: Repo
    policy: Policy
    head: str
    registry: Registry
    warnings: list = field(default_factory=list)


def now() -> str:
    """UTC now; honours GIT_COMMITTER_DATE so records and their tags' tagger dates agree."""
    fixed = os.environ.get("GIT_COMMITTER_DATE")
    parsed = parse_git_date(fixed) if fixed else None
    if parsed:
        return datetime.fromtimestamp(parsed[0], timezone.utc).isoformat().replace("+00:00", "Z")
    return records.utc_now()


def open_context(path: str | os.PathLike = ".", cached: bool = True) -> Context:
    """Repository, committed policy, allowed signers and a registry view. `cached=False` reads
    every record from its object (verify must not trust anything derived)."""
    repo = Repo.discover(path)
    head = repo.head_commit()
    raw = repo.blob_at(head, POLICY_PATH)
    if raw is None:
        raise PolicyError(f"no {POLICY_PATH} committed at HEAD",
                          f"run 'git mv-promote init', then commit {POLICY_PATH}")
    policy = parse_policy(raw)
    warnings = []
    if repo.workdir is not None:
        local = repo.workdir / POLICY_PATH
        if local.is_file() and local.read_bytes() != raw:
            warnings.append(f"{POLICY_PATH} has uncommitted changes; using the committed version (commit it to use it)")
    signers = repo.blob_at(head, policy.allowed_signers)
    from gitmv.cache import RecordCache

    registry = Registry(repo, policy, signers, repo.ref(NOTES_REF),
                        cache=RecordCache(repo.git_dir) if cached else None)
    return Context(repo, policy, head, registry, warnings)


def _check_model_name(model: str) -> None:
    if not NAME_RE.match(model):
        raise UsageError(f"invalid model name '{model}'",
                         "model names are [a-z0-9][a-z0-9_-]{0,63}: lower case, no dots or slashes")


# ---------------------------------------------------------------- init

def init(model: str | None = None, artifacts: tuple = (), add_signer: bool = False, install_hook: bool = True,
         path: str | os.PathLike = ".") -> dict:
    repo = Repo.discover(path)
    if repo.workdir is None:
        raise UsageError("init needs a work tree", "run it in a clone, not in a bare repository")
    if model:
        _check_model_name(model)
    done = []
    policy_file = repo.workdir / POLICY_PATH
    if policy_file.exists():
        done.append(f"kept the existing {POLICY_PATH}")
    else:
        policy_file.write_text(template(model, tuple(artifacts)))
        done.append(f"wrote {POLICY_PATH}")
    remotes = repo.git("remote").stdout.decode().split()
    for remote in remotes:
        spec = NOTES_FETCH_REFSPEC.format(remote=remote)
        have = repo.git("config", "--get-all", f"remote.{remote}.fetch", check=False).stdout.decode().split()
        if spec not in have:
            repo.git("config", "--add", f"remote.{remote}.fetch", spec)
            done.append(f"added notes fetch refspec to remote {remote}")
    if add_signer:
        done.append(_add_signer(repo, policy_file))
    if install_hook:
        from gitmv import hooks_install

        done.extend(hooks_install.install_client(repo))
    return {"done": done, "next": [f"git add {POLICY_PATH} .mv-promote && git commit -m 'Add mv-promote policy'"]}


def _add_signer(repo: Repo, policy_file: Path) -> str:
    fmt = repo.config("gpg.format")
    key = repo.config("user.signingkey")
    email = repo.config("user.email")
    if fmt != "ssh" or not key:
        raise MvError("--add-signer needs ssh signing (gpg.format=ssh and user.signingkey)",
                      "git config gpg.format ssh; git config user.signingkey ~/.ssh/id_ed25519.pub")
    if key.startswith("key::"):
        public = key[5:]
    else:
        key_path = Path(os.path.expanduser(key))
        pub_path = key_path if key_path.suffix == ".pub" else key_path.with_name(key_path.name + ".pub")
        if not pub_path.is_file():
            raise MvError(f"no public key next to {key_path}", "set user.signingkey to the .pub file")
        public = pub_path.read_text().strip()
    public = " ".join(public.split()[:2])
    try:
        policy = parse_policy(policy_file.read_bytes())
        signers_rel = policy.allowed_signers
    except PolicyError:
        signers_rel = ".mv-promote/allowed_signers"
    signers = repo.workdir / signers_rel
    signers.parent.mkdir(parents=True, exist_ok=True)
    existing = signers.read_text() if signers.exists() else ""
    if public in existing:
        return f"{signers_rel} already allows your key"
    from gitmv.signing import allowed_signers_line

    with open(signers, "a") as fh:
        fh.write(allowed_signers_line(email or "*", public))
    return f"added your signing key to {signers_rel}"


# ---------------------------------------------------------------- register

def register(model: str, *, artifacts: tuple = (), run_id: str | None = None, parent: str | None = None,
             seeds: tuple = (), message: str = "", sign: bool = True, allow_dirty: bool = False,
             experiment: str | None = None, from_experiment: str | None = None,
             path: str | os.PathLike = ".", on_progress: Callable[[str, int, int], None] | None = None) -> dict:
    """Register a signed version, or with `experiment` (a name, or "" for a generated id) an
    experiment under refs/mv-exp/ (unsigned, not pushed, collected by gc)."""
    _check_model_name(model)
    ctx = open_context(path)
    repo, reg = ctx.repo, ctx.registry
    mp = ctx.policy.model(model)
    is_experiment = experiment is not None
    if repo.workdir is None:
        raise UsageError("register needs a work tree", "run it in a clone, not in a bare repository")
    if is_experiment and from_experiment:
        raise UsageError("--experiment and --from-experiment do not go together")
    if not is_experiment:
        if not sign and mp.signed:
            raise RefusedError(f"unsigned registration refused: {model} is in the {mp.tier} tier",
                               "drop --no-sign and set up signing, or set tier = \"research\" in the policy")
        if allow_dirty and mp.tier != "research":
            raise RefusedError(f"--allow-dirty refused: {model} is in the {mp.tier} tier",
                               "commit your changes first; --allow-dirty is for the research tier only")
    dirty = _dirty_tracked_files(repo)
    if dirty and not (allow_dirty or is_experiment):
        shown = ", ".join(dirty[:5]) + (" …" if len(dirty) > 5 else "")
        raise RefusedError(f"uncommitted changes in files that define the version: {shown}",
                           "commit or stash them, so the version's code commit is what you trained")
    paths = tuple(artifacts) or tuple(mp.artifacts)
    if not paths:
        raise PolicyError(f"{model} has no artifacts to register", f"list its files in models.{model}.artifacts in {POLICY_PATH}")
    if not is_experiment and sorted(set(paths)) != sorted(mp.artifacts):
        # the server takes a version only with exactly the policy's artifacts (R1 version-artifacts)
        raise RefusedError(f"a version of {model} is defined by the policy's artifacts ({', '.join(mp.artifacts) or 'none'}), "
                           f"not {', '.join(paths)}",
                           f"drop --artifact, or change models.{model}.artifacts in {POLICY_PATH} and commit it")
    digests = _hash_artifacts(repo, paths, on_progress)
    if not is_experiment:
        _refuse_known_digest(reg, model, digests)
    latest = reg.latest(model)
    if parent is not None:
        reg.version(model, parent)
    elif not is_experiment:
        parent = latest
    head = ctx.head
    read = lambda p: repo.blob_at(head, p)  # noqa: E731
    pins = dvcpins.read_pins(read, mp.data) if (mp.data or read(dvcpins.DVC_LOCK) is not None) else []
    origin = _experiment_lineage(reg, model, from_experiment) if from_experiment else None
    base = dict(
        model=model, commit=head, created_at=now(), created_by=repo.identity(), artifacts=digests,
        tier=mp.tier, policy_digest=ctx.policy.digest, message=message, parent=parent, run_id=run_id,
        seeds=list(seeds), data=pins, params=_params(read, mp.params), lockfile=_file_digest(read, mp.lockfile, "lockfile"),
        model_card=_file_digest(read, mp.model_card, "model_card"), experiment=origin,
        signer=signing_key_fingerprint(repo.config("user.signingkey"), repo.config("gpg.format"))
        if sign and not is_experiment else None,
    )
    if is_experiment:
        from gitmv import lifecycle

        return {**lifecycle.register_experiment(repo, model, experiment, base), "warnings": ctx.warnings}
    number = records.version_number(latest) + 1 if latest else 1
    for _ in range(20):
        record = VersionRecord(version=f"v{number}", **base)
        try:
            tag_id = repo.create_tag(f"mv/{model}/v{number}", head, record.to_message(), sign)
            break
        except ConflictError:
            number += 1
    else:
        raise ConflictError(f"could not find a free version number for {model}", "run the command again")
    return {"model": model, "version": record.version, "tag": tag_id, "ref": version_ref(model, record.version),
            "record": record.to_dict(), "warnings": ctx.warnings}


def _hash_artifacts(repo: Repo, paths: tuple, on_progress) -> dict:
    digests = {}
    for rel in paths:
        file = repo.workdir / rel
        if not file.is_file():
            raise ArtifactError(f"artifact {rel} not found in the work tree", "train the model first, or fix the path in the policy")
        cb = (lambda done, total, rel=rel: on_progress(rel, done, total)) if on_progress else None
        digest, size = sha256_file(file, cb)
        digests[rel] = {"sha256": digest, "size": size}
    return digests


def _experiment_lineage(reg: Registry, model: str, exp_id: str) -> dict:
    """What a version keeps of the experiment it came from: enough for lineage once the ref is gone."""
    exp = reg.experiment(model, exp_id)
    evals = [{"id": r["id"], "suite": r.get("suite"), "metrics": r.get("metrics"), "at": r.get("at")}
             for r in reg.records_of(exp.tag.id, "eval")]
    return {"id": exp_id, "tag": exp.tag.id, "record": exp.record.to_dict(), "evals": evals}


def _dirty_tracked_files(repo: Repo) -> list[str]:
    out = repo.git("status", "--porcelain", "--untracked-files=no", "-z").stdout.decode()
    return sorted({entry[3:] for entry in out.split("\0") if len(entry) > 3})


def _refuse_known_digest(reg: Registry, model: str, digests: dict) -> None:
    wanted = {p: d["sha256"] for p, d in digests.items()}
    for name in reversed(reg.versions(model)):
        try:
            if reg.version(model, name).digests == wanted:
                raise RefusedError(f"these artifact digests are already registered as {model} {name}",
                                   f"use {model} {name}, or retrain to make a new version")
        except MvError as exc:
            if isinstance(exc, RefusedError):
                raise


def _file_digest(read, path: str | None, key: str) -> dict | None:
    if not path:
        return None
    data = read(path)
    if data is None:
        raise MvError(f"{key} {path} named in the policy is not committed", f"git add {path} and commit it")
    return {"path": path, "sha256": sha256_bytes(data)}


def _params(read, path: str | None) -> dict | None:
    found = _file_digest(read, path, "params")
    if found is None:
        return None
    data = read(path)
    import yaml  # only when a params file is named: keeps start-up fast

    try:
        values = yaml.safe_load(data.decode("utf-8")) if path.endswith((".yaml", ".yml")) else json.loads(data)
    except (yaml.YAMLError, ValueError, UnicodeDecodeError) as exc:
        raise MvError(f"params file {path} does not parse: {str(exc).splitlines()[0]}") from exc
    if isinstance(values, dict):
        found["values"] = json.loads(json.dumps(values, default=str))
    return found


# ---------------------------------------------------------------- show

def show(model: str | None = None, version: str | None = None, path: str | os.PathLike = ".") -> dict:
    ctx = open_context(path)
    reg = ctx.registry
    if model is None:
        out = []
        for name in reg.model_names:
            versions = reg.versions(name)
            stages = {}
            for stage in reg.stages_present(name):
                seqs = reg.stage_seqs(name, stage)
                stages[stage] = reg.stage_entry(stage_ref(name, stage, seqs[-1][0]), seqs[-1][1]).record.version
            out.append({"model": name, "latest": versions[-1] if versions else None, "versions": len(versions),
                        "stages": stages, "in_policy": name in ctx.policy.models})
        return {"models": out, "warnings": ctx.warnings}
    _check_model_name(model)
    if version is None:
        current = {s: reg.current_version_name(model, s) for s in reg.stages_present(model)}
        rows = []
        for row in reg.version_summaries(model):
            row.pop("tag")
            rows.append({**row, "stages": sorted(s for s, cur in current.items() if cur == row["version"]),
                         "deprecated": reg.is_deprecated(reg.version(model, row["version"]))})
        if not rows and model not in ctx.policy.models:
            raise NotFoundError(f"no model '{model}' in the policy or the registry", "see 'git mv-promote show'")
        return {"model": model, "versions": rows, "stages": current, "warnings": ctx.warnings}
    v = reg.version(model, version)
    sig = reg.signature(v.tag)
    found = reg.note_records(v.tag.id)
    stages = {s: reg.current_version_name(model, s) == version for s in reg.stages_present(model)}
    return {"model": model, "version": version, "ref": version_ref(model, version), "tag": v.tag.id,
            "record": v.record.to_dict(),
            "signature": {"ok": sig.ok, "reason": sig.reason, "principal": sig.principal, "fingerprint": sig.fingerprint},
            "evidence": found, "current_in": sorted(s for s, yes in stages.items() if yes),
            "deprecated": reg.deprecation(v) is not None, "warnings": ctx.warnings}


# ---------------------------------------------------------------- verify

def verify(model: str | None = None, version: str | None = None, path: str | os.PathLike = ".") -> dict:
    """Signatures, records, artifact digests, note integrity and notes history. Never raises for
    a failed check: every failure is collected and named."""
    ctx = open_context(path, cached=False)
    reg, repo = ctx.registry, ctx.repo
    failures: list[str] = []
    checked: list[str] = []
    models = [model] if model else reg.model_names
    if model:
        _check_model_name(model)
    digests = None
    with tempfile.TemporaryDirectory(prefix="mv-verify-") as tmp:
        for name in models:
            versions = [version] if version else reg.versions(name)
            mp = ctx.policy.models.get(name)
            for vname in versions:
                checked.append(f"{name} {vname}")
                _verify_version(ctx, name, vname, mp, tmp, failures)
            if version is None:
                for stage in reg.stages_present(name):
                    if digests is None:
                        digests = _policy_digests(ctx)
                    _verify_stage(ctx, name, stage, mp, failures, digests)
    try:
        repo.check_notes_commit(NOTES_REF)
        failures.extend(_verify_notes_history(repo, reg.notes_commit))
    except MvError as exc:
        failures.append(f"notes: {exc.cause}")
    return {"ok": not failures, "checked": checked, "failures": failures, "warnings": ctx.warnings}


def _verify_version(ctx: Context, model: str, vname: str, mp, tmp: str, failures: list) -> None:
    reg, repo = ctx.registry, ctx.repo
    ref = version_ref(model, vname)
    try:
        v = reg.version(model, vname)
    except MvError as exc:
        failures.append(f"{ref}: {exc.cause}")
        return
    sig = reg.signature(v.tag)
    if not sig.ok and (mp is None or mp.signed):
        failures.append(f"{ref}: signature: {sig.reason}")
    use_worktree = repo.workdir is not None and ctx.head == v.record.commit
    for rel, meta in sorted(v.record.artifacts.items()):
        if use_worktree:
            file = repo.workdir / rel
            if not file.is_file():
                failures.append(f"{ref}: artifact {rel} is missing from the work tree")
                continue
            digest, _ = sha256_file(file)
            if digest != meta["sha256"]:
                failures.append(f"{ref}: artifact {rel} in the work tree has sha256 {digest}, the record says {meta['sha256']}")
            continue
        got = artifacts_mod.retrieve(repo, v.record.commit, rel, meta["sha256"], use_worktree=False, tmpdir=tmp)
        if not got.ok and not _from_dvc_remote(ctx, v, rel, tmp, got.tried):
            failures.append(f"{ref}: {got.describe_failure()}")
    for rec in reg.note_records(v.tag.id) if _note_parses(reg, v, ref, failures) else []:
        if not records.record_is_intact(rec):
            failures.append(f"{ref}: note record {rec.get('id')} ({rec.get('kind')}) does not match its id: tampered")
        elif "signature" in rec and not reg.record_signature(rec).ok:
            failures.append(f"{ref}: note record {rec.get('id')} ({rec.get('kind')}): signature: "
                            f"{reg.record_signature(rec).reason}")
        elif "signature" not in rec and (mp is None or mp.signed):
            ctx.warnings.append(f"{ref}: note record {rec.get('id')} ({rec.get('kind')}) is unsigned: not evidence")


def _note_parses(reg: Registry, v: Version, ref: str, failures: list) -> bool:
    try:
        reg.note_records(v.tag.id)
        return True
    except MvError as exc:
        failures.append(f"{ref}: note: {exc.cause}")
        return False


def _verify_stage(ctx: Context, model: str, stage: str, mp, failures: list, policy_digests: frozenset) -> None:
    """Every entry of a stage, in order: the tag, its signature, and each claim of its record
    recomputed against the entries before it (the same rule the server hook applies)."""
    from gitmv.rules import stage_record

    reg = ctx.registry
    previous = None
    for seq, oid in reg.stage_seqs(model, stage):
        ref = stage_ref(model, stage, seq)
        try:
            entry = reg.stage_entry(ref, oid)
            target = reg.version(model, entry.record.version)
        except MvError as exc:
            failures.append(f"{ref}: {exc.cause}")
            previous = None
            continue
        if target.tag.id != entry.record.version_tag:
            failures.append(f"{ref}: points at {entry.record.version_tag[:12]}, not at {model} {entry.record.version}")
        sig = reg.signature(entry.tag)
        if not sig.ok and (mp is None or mp.signed):
            failures.append(f"{ref}: signature: {sig.reason}")
        rec = entry.record
        try:
            valid_evals = {r["id"] for r in reg.evals(target, None)}
        except MvError:
            valid_evals = set()  # the unreadable note is reported with its version
        if rec.eval_record is not None and rec.eval_record not in valid_evals:
            failures.append(f"{ref}: eval_record: {rec.eval_record} is not a valid, signed eval bound to "
                            f"{model} {rec.version}'s artifact digests")
        facts = stage_record.StageFacts(
            target_version=rec.version, previous_version=previous.record.version if previous else None,
            previous_seq=previous.seq if previous else seq - 1,
            previous_time=previous.tag.tagger_time if previous else None, tagger_time=entry.tag.tagger_time,
            signer=sig.principal if sig.ok else None, fingerprint=sig.fingerprint, policy_digests=policy_digests,
            approval=_recomputed_approval(ctx, target, stage, rec.approval, ref, failures, entry.tag.tagger_time))
        failures.extend(f"{ref}: {m}" for m in stage_record.mismatches(rec, facts))
        previous = entry


def _recomputed_approval(ctx: Context, target: Version, stage: str, claimed: dict | None, ref: str,
                         failures: list, at: int):
    """The approval evidence recomputed at the merge a stage record names, which must be on the
    protected branch; UNKNOWN when the record claims none (nothing to recompute)."""
    from gitmv import approvals
    from gitmv.rules import stage_record

    merge = (claimed or {}).get("merge_commit")
    if not merge:
        return stage_record.UNKNOWN
    tip = approvals.protected_tip(ctx.registry)
    if tip is None or not ctx.repo.exists(merge) or not ctx.repo.is_ancestor(merge, tip):
        failures.append(f"{ref}: approval: merge {str(merge)[:12]} is not on the protected branch "
                        f"{ctx.policy.protected_branch}")
        return stage_record.UNKNOWN
    found, _ = approvals.find(ctx.registry, target, stage, tip=merge, at=at)
    return found


def _policy_digests(ctx: Context) -> frozenset:
    """Digests of every policy the protected branch has held: a stage record's policy_digest must
    name one of them (the policy the decision was made under)."""
    import hashlib

    repo = ctx.repo
    branch = ctx.policy.protected_branch
    tip = repo.ref(f"refs/heads/{branch}") or repo.ref(f"refs/remotes/origin/{branch}") or ctx.head
    found = set()
    for n, info in enumerate(repo.first_parent_walk(tip)):
        raw = repo.blob_at(info["id"], POLICY_PATH)
        if raw is not None:
            found.add("sha256:" + hashlib.sha256(raw).hexdigest())
        if n >= 100000:
            break
    return frozenset(found)


def _verify_notes_history(repo: Repo, head: str | None) -> list[str]:
    """Append-only, step by step: along every parent -> child edge of the notes history, each
    record of a changed note must survive unchanged. Cost follows the changes, not history × notes."""
    missing, changed = set(), set()
    for commit in repo.notes_history(head):
        for parent in repo.commit_info(commit)["parents"]:
            for target in repo.changed_note_targets(parent, commit):
                after = {r["id"]: records.canonical_json(r) for r in _safe_records(repo, commit, target)}
                for rec in _safe_records(repo, parent, target):
                    have = after.get(rec["id"])
                    if have is None:
                        missing.add((target, rec["id"]))
                    elif have != records.canonical_json(rec) and records.record_is_intact(rec):
                        changed.add((target, rec["id"]))
    return ([f"notes: record {rid} on {target[:12]} disappeared from {NOTES_REF}" for target, rid in sorted(missing)] +
            [f"notes: record {rid} on {target[:12]} was changed in {NOTES_REF}" for target, rid in sorted(changed)])


def _safe_records(repo: Repo, commit: str, target: str) -> list[dict]:
    try:
        return notes.read_records(repo, commit, target)
    except MvError:
        return []


# ---------------------------------------------------------------- eval

def evaluate(model: str, version: str, *, suite: str | None = None, from_file: str | None = None,
             path: str | os.PathLike = ".") -> dict:
    ctx = open_context(path)
    repo, reg = ctx.repo, ctx.registry
    mp = ctx.policy.model(model)
    v = reg.resolve(model, version)
    suite = suite or mp.eval_suite
    if not suite:
        raise UsageError(f"no eval suite given and none in the policy for {model}", "pass --suite NAME")
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="mv-eval-") as tmp:
        files = {rel: _retrieve(ctx, v, rel, tmp) for rel in sorted(v.record.artifacts)}
        provenance = None
        if from_file is not None:
            command, status = None, 0
            report = _read_metrics(Path(from_file), from_file)
            from gitmv import data_ops

            provenance = data_ops.check_eval_provenance(repo, ctx.head, from_file, files, _eval_data_pin(repo, ctx.head, mp))
        else:
            if not mp.eval_command:
                raise UsageError(f"no eval command for {model} in the policy", "add [models.%s.eval] command, or pass --from-file" % model)
            output = Path(tmp, "metrics.json")
            first = files[sorted(files)[0]]
            command = substitute(mp.eval_command, artifact=shlex.quote(first), output=shlex.quote(str(output)),
                                 model=shlex.quote(model), version=shlex.quote(version), suite=shlex.quote(suite))
            proc = subprocess.run(command, shell=True, cwd=str(repo.workdir or "."), capture_output=True)
            status = proc.returncode
            if status != 0:
                err = proc.stderr.decode(errors="replace").strip().splitlines()
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
    }
    rec = record_signing.new_record(repo, "eval", body, at=now(), allowed_signers=ctx.registry.allowed_signers,
                              signed=mp.signed, warnings=ctx.warnings)
    notes.append(repo, v.tag.id, [rec], f"mv-promote: eval {model} {version} on {suite}")
    return {"model": model, "version": version, "record": rec, "warnings": ctx.warnings}


def _retrieve(ctx: Context, v: Version, rel: str, tmp: str) -> str:
    """A local file with exactly the registered bytes of artifact `rel`, or ArtifactError."""
    got = artifacts_mod.retrieve(ctx.repo, v.record.commit, rel, v.record.artifacts[rel]["sha256"],
                                 use_worktree=True, tmpdir=tmp)
    if got.ok:
        return got.file
    remote_file = _from_dvc_remote(ctx, v, rel, tmp, got.tried)
    if remote_file:
        return remote_file
    raise ArtifactError(f"{v.record.model} {v.name}: {got.describe_failure()}",
                        "restore the registered artifact (dvc pull / git checkout) and try again")


def _from_dvc_remote(ctx: Context, v: Version, rel: str, tmp: str, tried: list) -> str | None:
    from gitmv import data_ops, dvcremote

    if ctx.repo.workdir is None or not (ctx.repo.workdir / ".dvc").is_dir():
        return None  # not a DVC repository: there is no remote to try
    if not dvcremote.dvc_available():
        tried.append(f"dvc remote: DVC is not installed ({dvcremote.EXTRA_HINT})")
        return None
    remotes = data_ops.Remotes(ctx.repo)
    try:
        found = data_ops.retrieve_from_remote(ctx.repo, v, rel, tmp, remotes)
    except MvError as exc:
        tried.append(f"dvc remote: {exc.cause}")
        return None
    finally:
        remotes.close()
    if found is None:
        tried.append("dvc remote: no object with the recorded digest")
    return found


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
    if not isinstance(data, dict) or not isinstance(data.get("metrics"), dict) or not data["metrics"]:
        raise EvalError(f"{what} has no metrics table", shape)
    unknown = set(data) - {"metrics", "slices"}
    if unknown:
        raise EvalError(f"{what} has unexpected key(s) {', '.join(sorted(unknown))}", shape)

    def numbers(table: dict, where: str) -> dict:
        for key, value in table.items():
            if not isinstance(key, str) or not isinstance(value, (int, float)) or isinstance(value, bool) \
                    or value != value or value in (float("inf"), float("-inf")):
                raise EvalError(f"{what}: {where}.{key} is not a finite number", shape)
        return table

    numbers(data["metrics"], "metrics")
    slices = data.get("slices") or {}
    if not isinstance(slices, dict):
        raise EvalError(f"{what}: slices must be a table", shape)
    for name, table in slices.items():
        if not isinstance(table, dict):
            raise EvalError(f"{what}: slices.{name} must be a table of metrics", shape)
        numbers(table, f"slices.{name}")
    return data


# ---------------------------------------------------------------- check / promote / rollback

def _approval_check():
    from gitmv import approvals

    return approvals.check


def check(model: str, version: str, stage: str, path: str | os.PathLike = ".") -> dict:
    ctx = open_context(path)
    verdict = rules.promotion_verdict(ctx.registry, model, version, stage, approval_check=_approval_check())
    return {**verdict.to_dict(), "warnings": ctx.warnings}


def promote(model: str, version: str, stage: str, *, reason: str = "", path: str | os.PathLike = ".") -> dict:
    _check_model_name(model)
    for _ in range(10):
        ctx = open_context(path)
        mp = ctx.policy.model(model)
        verdict = rules.promotion_verdict(ctx.registry, model, version, stage, approval_check=_approval_check())
        if not verdict.passed:
            failed = "; ".join(f"{c.name}: {c.detail}" for c in verdict.failures())
            raise RefusedError(f"promotion of {model} {version} to {stage} refused by the gate: {failed}",
                               f"see 'git mv-promote check {model} {version} --stage {stage}'")
        try:
            return _write_stage_tag(ctx, mp, verdict, reason, kind="promote")
        except ConflictError:
            continue  # someone took the seq: re-read the stage and decide again
    raise ConflictError(f"{stage} of {model} kept changing", "run the command again")


def _principal_or_identity(ctx: Context, mp) -> str:
    """`by` of a record the user signs: the principal their key has (what readers recompute from
    the signature); the typed identity only where nothing is signed."""
    if mp.signed and ctx.repo.config("user.signingkey"):
        return record_signing.signer_principal(ctx.repo, ctx.registry.allowed_signers) or ctx.repo.identity()
    return ctx.repo.identity()


def _write_stage_tag(ctx: Context, mp, verdict: rules.Verdict, reason: str, kind: str, forced: dict | None = None) -> dict:
    reg, repo = ctx.registry, ctx.repo
    version = reg.version(verdict.model, verdict.version)
    seqs = reg.stage_seqs(verdict.model, verdict.stage)
    seq = seqs[-1][0] + 1 if seqs else 1
    current = reg.current(verdict.model, verdict.stage)
    record = PromotionRecord(
        kind=kind, model=verdict.model, version=verdict.version, version_tag=version.tag.id, stage=verdict.stage,
        seq=seq, at=now(), by=_principal_or_identity(ctx, mp), policy_digest=ctx.policy.digest,
        previous=current.record.version if current else None,
        eval_record=verdict.eval_record["id"] if verdict.eval_record else None,
        gate=verdict.gate_summary(), approval=verdict.approval, reason=reason,
        signer=signing_key_fingerprint(repo.config("user.signingkey"), repo.config("gpg.format")) if mp.signed else None,
        forced=forced,
    )
    if verdict.approval and kind == "promote":
        approval = record_signing.new_record(
            repo, "approval", {**verdict.approval, "model": verdict.model, "version": verdict.version, "stage": verdict.stage},
            at=record.at, allowed_signers=reg.allowed_signers, signed=mp.signed, warnings=ctx.warnings)
        notes.append(repo, version.tag.id, [approval], f"mv-promote: approval of {verdict.model} {verdict.version}")
        record = PromotionRecord(**{**record.__dict__, "approval": {**verdict.approval, "record": approval["id"]}})
    name = f"mv/{verdict.model}/{verdict.stage}/{seq}"
    tag_id = repo.create_tag(name, version.tag.id, record.to_message(), sign=mp.signed, date=record.at)
    return {"model": verdict.model, "version": verdict.version, "stage": verdict.stage, "seq": seq, "kind": kind,
            "ref": f"refs/tags/{name}", "tag": tag_id, "record": record.to_dict(), "verdict": verdict.to_dict(),
            "warnings": ctx.warnings}


def rollback(model: str, stage: str, *, to: str | None = None, dry_run: bool = False, reason: str = "",
             force: bool = False, path: str | os.PathLike = ".") -> dict:
    _check_model_name(model)
    ctx = open_context(path)
    reg, repo = ctx.registry, ctx.repo
    mp = ctx.policy.model(model)
    ctx.policy.stage_index(stage)
    history = reg.stage_history(model, stage)
    if not history:
        raise NotFoundError(f"{model} has never been in {stage}: nothing to roll back", f"see 'git mv-promote history {model}'")
    current = history[-1].record.version
    if to is None:
        earlier = [e.record.version for e in history if e.record.version != current]
        if not earlier:
            raise NotFoundError(f"{stage} of {model} has had no version before {current}", "name one with --to")
        to = earlier[-1]
    if to == current:
        raise RefusedError(f"{model} {to} is already the current {stage} version", "name an earlier one with --to")
    verdict = rules.rollback_verdict(reg, model, stage, to, approval_check=_approval_check())
    target = reg.version(model, to) if any(c.name == "registered" and c.passed for c in verdict.criteria) else None
    retrievability = []
    if target is not None:
        with tempfile.TemporaryDirectory(prefix="mv-rollback-") as tmp:
            for rel, meta in sorted(target.record.artifacts.items()):
                got = artifacts_mod.retrieve(repo, target.record.commit, rel, meta["sha256"],
                                             use_worktree=True, tmpdir=tmp)
                if not got.ok and _from_dvc_remote(ctx, target, rel, tmp, got.tried):
                    got.source, got.file = "dvc remote", "remote"
                retrievability.append({"path": rel, "ok": got.ok, "source": got.source, "tried": got.tried})
    missing = [r for r in retrievability if not r["ok"]]
    from gitmv.rules.gate import Criterion

    for item in retrievability:
        verdict.criteria.append(Criterion(f"retrievable {item['path']}", item["ok"] or force,
                                          f"from {item['source']}" if item["ok"] else
                                          ("FORCED: " if force else "") + "; ".join(item["tried"])))
    missing_objects = _pins_retrievability(ctx, target, verdict, force) if target is not None else []
    plan = {"model": model, "stage": stage, "from": current, "to": to, "verdict": verdict.to_dict(),
            "retrievable": retrievability, "missing_objects": missing_objects, "dry_run": dry_run,
            "warnings": ctx.warnings}
    if dry_run:
        return plan
    if not verdict.passed:
        failed = "; ".join(f"{c.name}: {c.detail}" for c in verdict.failures())
        raise RefusedError(f"rollback of {model} {stage} to {to} refused: {failed}",
                           f"rehearse with 'git mv-promote rollback {model} --stage {stage} --to {to} --dry-run'")
    forced = ({"missing_artifacts": [m["path"] for m in missing], "missing_objects": [m["object"] for m in missing_objects]}
              if (force and (missing or missing_objects)) else None)
    result = _write_stage_tag(ctx, mp, verdict, reason, kind="rollback", forced=forced)
    return {**plan, **result}


def _pins_retrievability(ctx: Context, target: Version, verdict: rules.Verdict, force: bool) -> list[dict]:
    """Every object of the target's DVC pins must be in its remote; adds one criterion."""
    from gitmv import data_ops, dvcremote
    from gitmv.rules.gate import Criterion

    pins = data_ops.version_pins(ctx.repo, target)
    if not pins:
        return []
    if not dvcremote.dvc_available() or ctx.repo.workdir is None or not (ctx.repo.workdir / ".dvc").is_dir():
        verdict.criteria.append(Criterion("data retrievable", force, ("FORCED: " if force else "") +
                                          f"{len(pins)} DVC pin(s) cannot be checked here: {dvcremote.EXTRA_HINT}"))
        return []
    remotes = data_ops.Remotes(ctx.repo)
    try:
        missing, checked = data_ops.missing_objects(ctx.repo, pins, remotes)
    except MvError as exc:
        verdict.criteria.append(Criterion("data retrievable", force, ("FORCED: " if force else "") + exc.cause))
        return []
    finally:
        remotes.close()
    verdict.criteria.append(Criterion("data retrievable", not missing or force,
                                      f"{checked} object(s) in the DVC remote" if not missing else
                                      ("FORCED: " if force else "") + data_ops.describe_missing(missing)))
    return missing


# ---------------------------------------------------------------- history / log / diff / deprecate

def history(model: str, *, stage: str | None = None, at: str | None = None, path: str | os.PathLike = ".") -> dict:
    _check_model_name(model)
    ctx = open_context(path)
    reg = ctx.registry
    stages = [stage] if stage else (list(ctx.policy.stages) + [s for s in reg.stages_present(model) if s not in ctx.policy.stages])
    if stage:
        ctx.policy.stage_index(stage)
    when = records.parse_time(at) if at else None
    out = {}
    for s in stages:
        rows = []
        for e in reg.stage_history(model, s):
            r = e.record
            rows.append({"seq": r.seq, "version": r.version, "kind": r.kind, **_checked_when_who(reg, e),
                         "reason": r.reason, "previous": r.previous, "ref": e.ref})
        if when is not None:
            valid = [row for row in rows if records.parse_time(row["at"]) <= when]
            out[s] = {"version": valid[-1]["version"] if valid else None, "since": valid[-1]["at"] if valid else None,
                      "entry": valid[-1] if valid else None}
        else:
            out[s] = rows
    return {"model": model, "at": at, "stages": out, "warnings": ctx.warnings}


def _checked_when_who(reg: Registry, entry) -> dict:
    """When and by whom a stage entry was made, from what can be checked: the tag's own time and
    its signature's principal, never the record's claims (those are checked by verify and the hook)."""
    sig = reg.signature(entry.tag)
    at = datetime.fromtimestamp(entry.tag.tagger_time, timezone.utc).isoformat().replace("+00:00", "Z")
    return {"at": at, "by": sig.principal if sig.ok else f"unverified ({sig.reason}): {entry.record.by}"}


def log(model: str | None = None, path: str | os.PathLike = ".") -> dict:
    ctx = open_context(path)
    reg = ctx.registry
    models = [model] if model else reg.model_names
    events = []
    for name in models:
        _check_model_name(name)
        for vname in reg.versions(name):
            try:
                v = reg.version(name, vname)
            except MvError as exc:
                events.append({"at": "", "model": name, "version": vname, "event": "invalid", "why": exc.cause})
                continue
            r = v.record
            sig = reg.signature(v.tag)
            who = sig.principal if sig.ok else f"unverified ({sig.reason}): {r.created_by}"
            events.append({"at": r.created_at, "model": name, "version": vname, "event": "register", "by": who,
                           "why": r.message, "evidence": v.tag.id, "commit": r.commit})
            try:
                found = reg.note_records(v.tag.id)
            except MvError:
                found = []
            for rec in found:
                events.append({"at": rec.get("at", ""), "model": name, "version": vname, "event": rec.get("kind"),
                               "by": rec.get("by"), "why": rec.get("reason") or _evidence_summary(rec),
                               "evidence": rec.get("id")})
        for stage in reg.stages_present(name):
            for e in reg.stage_history(name, stage):
                r = e.record
                events.append({**_checked_when_who(reg, e), "model": name, "version": r.version, "event": r.kind,
                               "stage": stage, "seq": r.seq, "why": r.reason, "evidence": r.eval_record,
                               "approval": (r.approval or {}).get("merge_commit"), "ref": e.ref})
    events.sort(key=lambda e: (e.get("at") or "", e.get("event") or ""), reverse=True)
    return {"events": events, "warnings": ctx.warnings}


def _evidence_summary(rec: dict) -> str:
    if rec.get("kind") == "eval":
        shown = ", ".join(f"{k}={v}" for k, v in sorted((rec.get("metrics") or {}).items()))
        return f"suite {rec.get('suite')}: {shown}"
    if rec.get("kind") == "approval":
        return f"approved by {', '.join(rec.get('approvers') or [])} in {str(rec.get('merge_commit', ''))[:12]}"
    if rec.get("kind") == "reproduction":
        return "reproduced: match" if rec.get("match") else "reproduced: MISMATCH"
    return ""


def diff(model: str, va: str, vb: str, path: str | os.PathLike = ".") -> dict:
    return _diff(open_context(path), model, va, vb)


def _diff(ctx: Context, model: str, va: str, vb: str) -> dict:
    reg, repo = ctx.registry, ctx.repo
    mp = ctx.policy.model(model)
    a, b = reg.version(model, va), reg.version(model, vb)
    ra, rb = a.record, b.record
    out = {"model": model, "a": va, "b": vb, "warnings": ctx.warnings}
    out["code"] = {"a": ra.commit, "b": rb.commit, "commits": repo.commits_between(ra.commit, rb.commit),
                   "files": repo.changed_files(ra.commit, rb.commit) if ra.commit != rb.commit else []}
    out["artifacts"] = _dict_changes({k: v["sha256"] for k, v in ra.artifacts.items()},
                                     {k: v["sha256"] for k, v in rb.artifacts.items()})
    out["data"] = data_changes(repo, ra.data, rb.data)
    out["params"] = _dict_changes(_flatten((ra.params or {}).get("values") or {}), _flatten((rb.params or {}).get("values") or {}))
    la, lb = (ra.lockfile or {}).get("sha256"), (rb.lockfile or {}).get("sha256")
    out["lockfile"] = {"changed": la != lb, "a": la, "b": lb}
    out["metrics"] = metric_deltas(reg.latest_eval(a, mp.eval_suite), reg.latest_eval(b, mp.eval_suite))
    return out


def _flatten(d: dict, prefix: str = "") -> dict:
    out = {}
    for k, v in d.items():
        key = f"{prefix}{k}"
        if isinstance(v, dict):
            out.update(_flatten(v, key + "."))
        else:
            out[key] = v
    return out


def _dict_changes(a: dict, b: dict) -> list[dict]:
    out = []
    for key in sorted(set(a) | set(b)):
        if a.get(key) != b.get(key):
            status = "added" if key not in a else "removed" if key not in b else "changed"
            out.append({"key": key, "status": status, "a": a.get(key), "b": b.get(key)})
    return out


def data_changes(repo: Repo, pins_a: list, pins_b: list) -> list[dict]:
    """Pin changes; directory manifests come from the DVC cache, else the DVC remote when DVC is here."""
    from gitmv import data_ops, dvcdata, dvcremote

    remote_ok = repo.workdir is not None and (repo.workdir / ".dvc").is_dir() and dvcremote.dvc_available()
    remotes = data_ops.Remotes(repo) if remote_ok else None
    names = {p.get("md5"): p.get("remote") for p in list(pins_a) + list(pins_b)}

    def manifest(oid: str):
        found = dvcdata.load_manifest(repo, oid)
        if found is None and remotes is not None:
            try:
                found = remotes.get(names.get(oid)).manifest(oid)
            except MvError:
                found = None
        return found

    try:
        return dvcdata.pin_changes(repo, pins_a, pins_b, manifest)
    finally:
        if remotes is not None:
            remotes.close()


def metric_deltas(ea: dict | None, eb: dict | None) -> dict:
    if ea is None or eb is None:
        return {"available": False, "a_eval": ea["id"] if ea else None, "b_eval": eb["id"] if eb else None,
                "overall": [], "slices": {}}

    def rows(ma: dict, mb: dict) -> list:
        out = []
        for k in sorted(set(ma) | set(mb)):
            x, y = ma.get(k), mb.get(k)
            out.append({"metric": k, "a": x, "b": y,
                        "delta": round(y - x, 10) if isinstance(x, (int, float)) and isinstance(y, (int, float)) else None})
        return out

    slices = {}
    for s in sorted(set(ea.get("slices") or {}) | set(eb.get("slices") or {})):
        slices[s] = rows((ea.get("slices") or {}).get(s, {}), (eb.get("slices") or {}).get(s, {}))
    return {"available": True, "a_eval": ea["id"], "b_eval": eb["id"], "suite": eb.get("suite"),
            "overall": rows(ea.get("metrics") or {}, eb.get("metrics") or {}), "slices": slices}


def deprecate(model: str, version: str, *, reason: str, sunset: str | None = None, path: str | os.PathLike = ".") -> dict:
    if not reason.strip():
        raise UsageError("deprecate needs a reason", "pass -m 'why it is deprecated'")
    ctx = open_context(path)
    v = ctx.registry.version(model, version)
    if sunset:
        sunset = records.parse_time(sunset).isoformat().replace("+00:00", "Z")
    rec = record_signing.new_record(ctx.repo, "deprecation",
                              {"model": model, "version": version, "reason": reason, "sunset": sunset},
                              at=now(), allowed_signers=ctx.registry.allowed_signers,
                              signed=ctx.policy.model(model).signed, warnings=ctx.warnings)
    notes.append(ctx.repo, v.tag.id, [rec], f"mv-promote: deprecate {model} {version}")
    return {"model": model, "version": version, "record": rec, "warnings": ctx.warnings}


# ---------------------------------------------------------------- request / approvals

def request(model: str, version: str, stage: str, *, reason: str = "", push: bool = False, remote: str = "origin",
            path: str | os.PathLike = ".") -> dict:
    """Open a promotion request: a branch whose one commit writes the request file and the
    reviewer's page. Every gate criterion but approvals must already pass."""
    from gitmv import request as request_mod

    _check_model_name(model)
    ctx = open_context(path)
    reg, repo, policy = ctx.registry, ctx.repo, ctx.policy
    mp = policy.model(model)
    verdict = rules.promotion_verdict(reg, model, version, stage, count_approvals=False)
    if not verdict.passed:
        failed = "; ".join(f"{c.name}: {c.detail}" for c in verdict.failures())
        raise RefusedError(f"request for {model} {version} in {stage} refused by the gate: {failed}",
                           f"see 'git mv-promote check {model} {version} --stage {stage}'")
    v = reg.version(model, version)
    base_ref = f"refs/heads/{policy.protected_branch}"
    base = repo.ref(base_ref) or repo.ref(f"refs/remotes/{remote}/{policy.protected_branch}")
    if base is None:
        raise NotFoundError(f"protected branch {policy.protected_branch} not found", f"git fetch {remote} {policy.protected_branch}")
    branch = request_mod.branch_name(model, version, stage)
    branch_ref = f"refs/heads/{branch}"
    req = request_mod.request_record(verdict, v.tag.id, repo.identity(), now(), reason)
    changes = _diff(ctx, model, verdict.baseline, version) if verdict.baseline and verdict.baseline != version else None
    page = request_mod.render_page(model_policy=mp, policy=policy, verdict=verdict, req=req, diff=changes,
                                   candidate_sizes=v.record.artifacts)
    existing = repo.ref(branch_ref)
    if existing is not None:
        raise RefusedError(f"branch {branch} already exists",
                           f"push it and open the pull request, or delete it (git branch -D {branch}) and request again")
    # Signed: the requester is whoever signed this commit, never the file's `requester` text.
    commit = repo.commit_files(base, request_mod.files_for(model, stage, req, page),
                               request_mod.commit_message(model, version, stage, reason), sign=mp.signed)
    if not repo.update_ref(branch_ref, commit, None, f"mv-promote: request {model} {version} -> {stage}"):
        raise ConflictError(f"branch {branch} appeared while writing it", "run the command again")
    pushed = None
    if push:
        from gitmv import sync as sync_mod

        pushed = sync_mod.sync(repo, remote)
        sync_mod.push_branch(repo, remote, branch)
    title = f"Promote {model} {version} to {stage}"
    body = f"$(git show {branch}:promotions/{model}/{stage}.md)"
    nxt = [] if push else [f"git push {remote} {branch} && git mv-promote sync {remote}"]
    nxt += [f'gh pr create --base {policy.protected_branch} --head {branch} --title "{title}" --body "{body}"',
            f'glab mr create --source-branch {branch} --target-branch {policy.protected_branch} --title "{title}" '
            f'--description "{body}"',
            f"after the merge: git pull && git mv-promote promote {model} {version} --stage {stage}"]
    return {"model": model, "version": version, "stage": stage, "branch": branch, "commit": commit,
            "request": req, "page": page, "verdict": verdict.to_dict(), "pushed": pushed, "next": nxt,
            "warnings": ctx.warnings}


def approve(model: str, version: str, stage: str, *, reason: str = "", push: bool = False, remote: str = "origin",
            path: str | os.PathLike = ".") -> dict:
    """Approve a promotion request: a signed empty commit on its branch naming the request file's
    sha256 (an edit of the file afterwards voids it). Refuses one's own request and any signature
    the protected branch's allowed signers do not know; touches neither index nor work tree."""
    from gitmv import approvals as approvals_mod
    from gitmv import request as request_mod

    _check_model_name(model)
    ctx = open_context(path)
    reg, repo, policy = ctx.registry, ctx.repo, ctx.policy
    policy.stage_index(stage)
    v = reg.version(model, version)
    branch = request_mod.branch_name(model, version, stage)
    branch_ref = f"refs/heads/{branch}"
    local, tracking = repo.ref(branch_ref), repo.ref(f"refs/remotes/{remote}/{branch}")
    if local is None and tracking is None:
        raise NotFoundError(f"no request branch {branch} here or in {remote}",
                            f"git fetch {remote}, or ask for it: git mv-promote request {model} {version} --stage {stage}")
    # Build on the newest tip we know: the remote's when it already contains ours (another approval).
    tip = tracking if local is None or (tracking and repo.is_ancestor(local, tracking)) else local
    file = approvals_mod.request_path(model, stage)
    raw = repo.blob_at(tip, file)
    if not approvals_mod.names_version(raw, v, stage):
        raise RefusedError(f"branch {branch} has no {file} naming {model} {version}",
                           f"request it again: git mv-promote request {model} {version} --stage {stage}")
    protected = approvals_mod.protected_tip(reg)
    if protected is None:
        raise NotFoundError(f"protected branch {policy.protected_branch} not found",
                            f"git fetch {remote} {policy.protected_branch}")
    request_commit = approvals_mod.request_commit_on(repo, tip, protected, file)
    if request_commit is None:
        raise RefusedError(f"{branch} has no commit writing {file} that is not already on {policy.protected_branch}",
                           f"fetch both again (git fetch {remote}); a merged request needs no approve commit")
    requester = approvals_mod.signer(reg, request_commit, protected)
    if not requester.ok:
        raise RefusedError(f"the request commit {request_commit[:12]} is not signed by an allowed signer "
                           f"({requester.reason}), so no approval of it can count",
                           "ask the requester to request again with signing set up")
    digest = sha256_bytes(raw)
    message = approvals_mod.approve_message(model, version, stage, digest, reason)
    commit = repo.commit_files(tip, {}, message, sign=True)
    mine = approvals_mod.signer(reg, commit, protected)
    if not mine.ok:
        raise RefusedError(f"your approval would not count: its signature: {mine.reason}",
                           f"sign with a key listed in {policy.allowed_signers} on {policy.protected_branch} "
                           "(git config user.signingkey)")
    if requester.principal == mine.principal:
        raise RefusedError(f"{mine.principal} signed the request {request_commit[:12]}; the requester never approves "
                           "their own request", "ask another allowed signer to run 'git mv-promote approve'")
    if not repo.update_ref(branch_ref, commit, local, f"mv-promote: approve {model} {version} -> {stage}"):
        raise ConflictError(f"branch {branch} moved while approving", "run the command again")
    pushed = False
    if push:
        from gitmv import sync as sync_mod

        sync_mod.push_branch(repo, remote, branch)
        pushed = True
    return {"model": model, "version": version, "stage": stage, "branch": branch, "commit": commit,
            "request_commit": request_commit, "request_sha256": digest, "approver": mine.principal,
            "requester": requester.principal, "pushed": pushed, "remote": remote, "warnings": ctx.warnings}


def approvals_status(model: str, version: str, stage: str | None = None, path: str | os.PathLike = ".") -> dict:
    """What approval evidence is recorded for a version, and what each protected stage still needs."""
    from gitmv import approvals as approvals_mod

    ctx = open_context(path)
    reg, policy = ctx.registry, ctx.policy
    mp = policy.model(model)
    v = reg.version(model, version)
    recorded = [r for r in reg.records_of(v.tag.id, "approval")]
    stages = [stage] if stage else list(policy.protected_stages)
    out = []
    for s in stages:
        policy.stage_index(s)
        needed = mp.required_approvals if policy.is_protected(s) else 0
        found, why = approvals_mod.find(reg, v, s)
        have = found["approvers"] if found else []
        out.append({"stage": s, "required": needed, "approvers": have, "merge_commit": (found or {}).get("merge_commit"),
                    "pr": (found or {}).get("pr"), "missing": max(needed - len(have), 0),
                    "requester": (found or {}).get("requester"), "approvals": (found or {}).get("approvals", []),
                    "not_counted": (found or {}).get("not_counted", []), "trailers": (found or {}).get("trailers", []),
                    "why": why if found is None else ""})
    return {"model": model, "version": version, "recorded": recorded, "stages": out, "warnings": ctx.warnings}


def sync(remote: str = "origin", path: str | os.PathLike = ".") -> dict:
    from gitmv import sync as sync_mod

    repo = Repo.discover(path)
    remotes = repo.git("remote").stdout.decode().split()
    if remote not in remotes:
        raise NotFoundError(f"no remote named '{remote}' (remotes: {', '.join(remotes) or 'none'})",
                            f"git remote add {remote} URL")
    return {**sync_mod.sync(repo, remote), "warnings": []}


# ---------------------------------------------------------------- data: verify --data, reproduce

def verify_data(model: str, version: str | None = None, path: str | os.PathLike = ".") -> dict:
    """Every object of every pin and DVC-tracked artifact is in the configured DVC remote."""
    from gitmv import data_ops

    _check_model_name(model)
    ctx = open_context(path)
    reg = ctx.registry
    ctx.policy.model(model)
    names = [version] if version else reg.versions(model)
    remotes = data_ops.Remotes(ctx.repo)
    failures, checked = [], 0
    try:
        for name in names:
            v = reg.version(model, name)
            missing, n = data_ops.missing_objects(ctx.repo, data_ops.version_pins(ctx.repo, v), remotes)
            checked += n
            failures += [f"{model} {name}: {data_ops.describe_missing([m])}" for m in missing]
    finally:
        remotes.close()
    return {"ok": not failures, "versions": names, "objects_checked": checked, "failures": failures,
            "warnings": ctx.warnings}


def reproduce(model: str, version: str, path: str | os.PathLike = ".") -> dict:
    """Rebuild a version from its commit and pinned data in a temporary worktree; record the result."""
    from gitmv import data_ops

    _check_model_name(model)
    ctx = open_context(path)
    mp = ctx.policy.model(model)
    v = ctx.registry.version(model, version)
    result = data_ops.reproduce(ctx.repo, v, mp)
    body = {"model": model, "version": version, "match": result["match"], "artifacts": v.digests,
            "produced": {k: d for k, d in result["produced"].items() if d}, "command": result["command"],
            "exit_status": result["exit_status"], "duration_s": result["duration_s"], "commit": v.record.commit}
    rec = record_signing.new_record(ctx.repo, "reproduction", body, at=now(), allowed_signers=ctx.registry.allowed_signers,
                              signed=mp.signed, warnings=ctx.warnings)
    notes.append(ctx.repo, v.tag.id, [rec], f"mv-promote: reproduction of {model} {version}")
    return {"model": model, "version": version, "match": result["match"], "record": rec,
            "recorded": v.digests, "produced": result["produced"], "warnings": ctx.warnings}


# ---------------------------------------------------------------- lifecycle: experiments, gc, lineage

def experiments(model: str, path: str | os.PathLike = ".") -> dict:
    from gitmv import lifecycle

    _check_model_name(model)
    ctx = open_context(path)
    return {"model": model, "experiments": lifecycle.list_experiments(ctx.registry, model), "warnings": ctx.warnings}


def gc(older_than: str | None = None, dry_run: bool = False, path: str | os.PathLike = ".") -> dict:
    """Delete experiment refs past the retention window, except those a version came from."""
    from gitmv import lifecycle
    from gitmv.policy import parse_duration

    ctx = open_context(path)
    window = parse_duration(older_than, "--older-than") if older_than else ctx.policy.experiment_retention
    now_epoch = int(records.parse_time(now()).timestamp())
    result = lifecycle.gc(ctx.registry, now_epoch, window, dry_run)
    return {**result, "older_than_s": window, "warnings": ctx.warnings}


def lineage(model: str, version: str, path: str | os.PathLike = ".") -> dict:
    from gitmv import lifecycle

    _check_model_name(model)
    ctx = open_context(path)
    graph = lifecycle.lineage(ctx.registry, model, version)
    return {**graph, "dot": lifecycle.to_dot(graph), "warnings": ctx.warnings}
