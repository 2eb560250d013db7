"""Data operations over DVC: remote retrievability of every pinned object, eval provenance through
`dvc.lock`, and `reproduce` in a temporary worktree. DVC itself is needed only here (lazily)."""

from __future__ import annotations

import os
import shlex
import shutil
import tempfile
import time
from pathlib import Path

import yaml

from gitmv import proc as procs
from gitmv.dvc import diff as dvcdata
from gitmv.dvc import pins as dvcpins
from gitmv.dvc import remote as dvcremote
from gitmv.errors import EvalError, MvError
from gitmv.git.repo import Repo
from gitmv.hashing import md5_file, sha256_file
from gitmv.dvc.cache import dvc_pin_for
from gitmv.registry import Version

DEFAULT_TRAIN_COMMAND = "dvc repro --force"


def dvc_env() -> dict:
    """DVC without phoning home: no analytics, no update check (also in every child process)."""
    os.environ.setdefault("DVC_NO_ANALYTICS", "1")
    return {**os.environ, "DVC_NO_ANALYTICS": "1"}


def version_pins(repo: Repo, version: Version) -> list[dict]:
    """The data pins of the version plus the DVC pins of its artifacts (deduplicated)."""
    pins = list(version.record.data)
    seen = {p.get("md5") for p in pins}
    for rel in version.record.artifacts:
        pin = dvc_pin_for(repo, version.record.commit, rel)
        if pin and pin.get("md5") not in seen:
            pins.append(pin)
            seen.add(pin.get("md5"))
    return pins


class Remotes:
    """Opened DVC remotes by name, for one command."""

    def __init__(self, repo: Repo):
        if repo.workdir is None:
            raise MvError("checking DVC remotes needs a work tree", "run it in a clone")
        dvc_env()
        self.root = repo.workdir
        self._open: dict[str | None, dvcremote.Remote] = {}

    def get(self, name: str | None) -> dvcremote.Remote:
        if name not in self._open:
            self._open[name] = dvcremote.Remote(self.root, name)
        return self._open[name]

    def close(self) -> None:
        for remote in self._open.values():
            remote.close()


def missing_objects(repo: Repo, pins: list[dict], remotes: Remotes) -> tuple[list[dict], int]:
    """Objects of `pins` absent from their DVC remote, checked one by one; and how many were checked."""
    missing, checked = [], 0
    for pin in pins:
        remote = remotes.get(pin.get("remote"))

        def manifest(oid: str, remote=remote):
            return dvcdata.load_manifest(repo, oid) or remote.manifest(oid)

        for oid, rel in dvcremote.pin_objects(pin, manifest):
            checked += 1
            if not remote.exists(oid):
                missing.append({"pin": pin.get("path"), "source": pin.get("source"), "object": oid, "file": rel,
                                "remote": remote.name})
    return missing, checked


def describe_missing(items: list[dict]) -> str:
    return "; ".join(f"{m['pin']}{'/' + m['file'] if m.get('file') else ''} object {m['object']} missing from remote "
                     f"{m['remote']}" for m in items)


def retrieve_from_remote(repo: Repo, version: Version, rel: str, tmpdir: str, remotes: Remotes):
    """Download an artifact tracked by DVC from its remote; None if it cannot be had with the recorded digest."""
    pin = dvc_pin_for(repo, version.record.commit, rel)
    if not pin or not pin.get("md5") or pin["md5"].endswith(".dir"):
        return None
    remote = remotes.get(pin.get("remote"))
    if not remote.exists(pin["md5"]):
        return None
    dest = Path(tmpdir, "remote-" + os.path.basename(rel))
    remote.download(pin["md5"], dest)
    digest, _ = sha256_file(dest)
    return str(dest) if digest == version.record.artifacts[rel]["sha256"] else None


# ---------------------------------------------------------------- eval provenance


def check_eval_provenance(repo: Repo, head: str, from_file: str, artifact_files: dict[str, str],
                          eval_pin: list | None) -> dict | None:
    """When `from_file` is the output of a DVC stage in dvc.lock, that stage must have read the
    registered artifact bytes and the pinned eval data. Returns what was checked, or None."""
    if repo.workdir is None:
        return None
    lock_raw = repo.blob_at(head, dvcpins.DVC_LOCK)
    local_lock = repo.workdir / dvcpins.DVC_LOCK
    if local_lock.is_file():
        lock_raw = local_lock.read_bytes()
    if lock_raw is None:
        return None
    try:
        rel = str(Path(from_file).resolve().relative_to(repo.workdir.resolve()))
    except ValueError:
        return None
    stages = (yaml.safe_load(lock_raw) or {}).get("stages") or {}
    for name, stage in stages.items():
        outs = [o.get("path") for o in (stage or {}).get("outs") or [] if isinstance(o, dict)]
        if rel not in outs:
            continue
        deps = {d.get("path"): d.get("md5") for d in (stage or {}).get("deps") or [] if isinstance(d, dict)}
        checked = {"stage": name, "model": [], "data": []}
        for art, file in artifact_files.items():
            if art in deps:
                want = md5_file(file)
                if deps[art] != want:
                    raise EvalError(f"DVC stage '{name}' made {rel} from {art} with md5 {deps[art]}, "
                                    f"not the registered artifact (md5 {want})",
                                    "re-run the stage on the registered model (dvc repro) before importing its metrics")
                checked["model"].append(art)
        for pin in eval_pin or []:
            if pin.get("path") in deps and deps[pin["path"]] != pin.get("md5"):
                raise EvalError(f"DVC stage '{name}' read {pin['path']} with md5 {deps[pin['path']]}, "
                                f"not the pinned eval snapshot {pin.get('md5')}",
                                "check out the pinned eval data (dvc checkout) and re-run the stage")
            if pin.get("path") in deps:
                checked["data"].append(pin["path"])
        if not checked["model"]:
            raise EvalError(f"DVC stage '{name}' that made {rel} does not depend on the artifact "
                            f"({', '.join(artifact_files)})", "add the model file to the stage's deps")
        return checked
    return None


# ---------------------------------------------------------------- reproduce

def reproduce(repo: Repo, version: Version, model_policy) -> dict:
    """Rebuild the version in a temporary worktree of its commit and compare artifact digests.
    The user's work tree is never touched."""
    if repo.workdir is None:
        raise MvError("reproduce needs a clone with a work tree", "run it in a clone")
    env = dvc_env()
    command = model_policy.train_command or DEFAULT_TRAIN_COMMAND
    tmp = Path(tempfile.mkdtemp(prefix="mv-reproduce-"))
    tree = tmp / "tree"
    repo.git("worktree", "add", "--detach", "--quiet", str(tree), version.record.commit)
    started = time.monotonic()
    try:
        if (tree / ".dvc").is_dir():
            _share_dvc_cache(repo, tree, env)
            targets = [p for p in model_policy.data if (tree / p).is_file()]
            if targets:
                _run(["dvc", "pull", "--quiet", *targets], tree, env, "fetching the pinned data")
        proc = procs.run(command, shell=True, cwd=str(tree), env=env)
        if not proc.ok:
            raise MvError(f"the training command '{command}' failed (exit {proc.returncode}): {proc.last_line()}",
                          "fix it (policy [models.NAME.train] command) and reproduce again; nothing was recorded")
        produced, match = {}, True
        for rel, meta in sorted(version.record.artifacts.items()):
            file = tree / rel
            digest = sha256_file(file)[0] if file.is_file() else None
            produced[rel] = digest
            match = match and digest == meta["sha256"]
        return {"match": match, "produced": produced, "command": command, "exit_status": proc.returncode,
                "duration_s": round(time.monotonic() - started, 3)}
    finally:
        repo.git("worktree", "remove", "--force", str(tree), check=False)
        repo.git("worktree", "prune", check=False)
        shutil.rmtree(tmp, ignore_errors=True)


def _share_dvc_cache(repo: Repo, tree: Path, env: dict) -> None:
    assert repo.workdir is not None  # reproduce refused a bare repository
    main_cache = repo.workdir / ".dvc" / "cache"
    proc = procs.run(["dvc", "cache", "dir"], cwd=str(repo.workdir), env=env)
    if proc.ok and proc.stdout.strip():
        main_cache = Path(proc.stdout.decode().strip())
    _run(["dvc", "config", "--local", "cache.dir", str(main_cache)], tree, env, "sharing the DVC cache")
    _run(["dvc", "config", "--local", "core.analytics", "false"], tree, env, "configuring DVC")


def _run(args: list[str], cwd: Path, env: dict, what: str) -> None:
    if shutil.which(args[0]) is None:
        raise MvError(f"{what} needs the '{args[0]}' command", dvcremote.EXTRA_HINT)
    procs.run(args, cwd=str(cwd), env=env).check(f"{what} failed: {shlex.join(args)}",
                                                 "check the DVC remote (dvc remote list) and your credentials")
