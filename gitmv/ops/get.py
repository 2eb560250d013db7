"""`get`: the deploy side. A reference (`MODEL@STAGE`, `MODEL@vN`, a stage at a past time) is
resolved, its whole chain is verified, every artifact is retrieved with its sha256 checked while
it streams, and the directory gets the files and a stamp (`mv-promote.json`) saying exactly what
was deployed. Nothing is written unless every link and every digest holds.

Order of the checks (the first failure is the one named):
  1. the version tag: its record parses canonically and matches its ref and commit; its signature
     is by an allowed signer of the protected branch (unless the research tier allows none);
  2. the version's evidence note: it parses, every record hashes to its id, every signed one verifies;
  3. the stage entry (`verify`'s own check, `ops.verify.stage_entry_failures`): the stage tag's
     signature, and every claim of its record recomputed against the entry before it (version,
     previous, seq, at, by, signer, policy digest, eval record, approval evidence); the entry
     before it must be there (#seq-1) and readable;
  4. for a protected stage, the server hook's own rules as `audit` applies them
     (`ops.audit.judge_entry`): R1 (`hooks.enforce.judge_tag`: the gate, the eval, the approvals,
     the rollback rules) and R9 for the eval it rests on, under the policy and allowed signers the
     protected branch held when the tag was made, over the registry as it was then. On a host
     without our hook nothing else judged it;
  5. every artifact: bytes whose sha256 is the recorded one, from the work tree, the Git blob at
     the version's commit, the DVC cache or the DVC remote, in that order.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, Any, Callable

from gitmv.errors import ArtifactError, MvError, NotFoundError, RefusedError, UsageError
from gitmv.names import NOTES_REF, closest, parse_reference, stage_ref, version_ref

if TYPE_CHECKING:  # imported where used: the warm path of `get --remote` loads neither pygit2 nor the policy
    from gitmv.ops.context import Context
    from gitmv.rules.audit import BranchPoint
    from gitmv.policy import Policy
    from gitmv.registry import Registry, StageEntry, Version

STAMP = "mv-promote.json"
CHUNK = 1 << 20
# progress(label, bytes done, total bytes or None): the CLI draws a bar; the API passes none
Progress = Callable[[str, int, "int | None"], None]


@dataclass
class Resolved:
    ctx: Context
    model: str
    version: Version
    stage: str | None = None
    entry: StageEntry | None = None
    source: str = ""  # the remote URL, or the clone's path
    fetched: bool | None = None  # with --remote: whether the cache had to fetch
    policy_digest: str = ""
    warnings: list = field(default_factory=list)
    mirror: Any = None  # fetch_cache.Mirror with --remote

    def remember(self, key: str, stamp: dict) -> None:
        if self.mirror is not None:
            from gitmv.ops import fetch_cache

            fetch_cache.remember(self.mirror, key, stamp, self.ctx.registry.allowed_signers, self.warnings)

    def stamp(self) -> dict[str, Any]:
        from gitmv.ops.context import now

        rec = self.entry.record if self.entry else None
        out: dict[str, Any] = {
            "model": self.model, "version": self.version.name, "tag": self.version.tag.id,
            "stage": self.stage, "seq": rec.seq if rec else None, "stage_tag": self.entry.tag.id if self.entry else None,
            "digests": dict(sorted(self.version.digests.items())), "code_commit": self.version.record.commit,
            "policy_digest": self.policy_digest, "resolved_at": now(),
        }
        traffic = getattr(rec, "traffic", None) if rec else None  # progressive rollout's share, when recorded
        if traffic is not None:
            out["traffic"] = traffic
        return out


# ---------------------------------------------------------------- public operations

def resolve(ref: str, remote: str | None = None, at: str | None = None, path: str | os.PathLike = ".") -> dict:
    """The stamp `get` would write, after verifying the whole chain; no artifact is fetched."""
    return resolve_result(ref, remote, at, path)["stamp"]


def get(ref: str, out: str | os.PathLike | None = None, remote: str | None = None, at: str | None = None,
        path: str | os.PathLike = ".") -> dict:
    """Verify, retrieve into `out` (default ./MODEL) and return the stamp written there."""
    return get_result(ref, out, remote, at, path)["stamp"]


def resolve_result(ref: str, remote: str | None = None, at: str | None = None,
                   path: str | os.PathLike = ".") -> dict:
    from gitmv.ops.context import now

    hit, listing = _remembered(ref, remote, at)
    if hit is not None:
        return {"stamp": {**hit[0], "resolved_at": now()}, "source": remote, "fetched": False, "warnings": hit[1]}
    found = _resolve_verified(ref, remote, at, path, listing)
    stamp = found.stamp()
    found.remember(_key(ref, at), stamp)
    return {"stamp": stamp, "source": found.source, "fetched": found.fetched, "warnings": found.warnings}


def get_result(ref: str, out: str | os.PathLike | None = None, remote: str | None = None, at: str | None = None,
               path: str | os.PathLike = ".", progress: Progress | None = None) -> dict:
    model = parse_reference(ref)[0]
    dest = Path(out) if out is not None else Path(model)
    _check_dest(dest)
    hit, listing = _remembered(ref, remote, at)
    current = _current_stamp(dest)
    if hit is not None and current is not None and _same(current, hit[0]) and _files_hold(dest, hit[0]["digests"]):
        # the remote shows exactly the refs this was verified at, and DIR holds it: nothing to do
        return {"stamp": current, "dir": str(dest), "unchanged": True, "written": [], "sources": {},
                "source": remote, "fetched": False, "warnings": hit[1]}
    found = _resolve_verified(ref, remote, at, path, listing)
    stamp = found.stamp()
    if current is not None and _same(current, stamp) and _files_hold(dest, stamp["digests"]):
        found.remember(_key(ref, at), current)
        return {"stamp": current, "dir": str(dest), "unchanged": True, "written": [], "sources": {},
                "source": found.source, "fetched": found.fetched, "warnings": found.warnings}
    sources = _write(found, dest, stamp, current, progress)
    found.remember(_key(ref, at), stamp)
    return {"stamp": stamp, "dir": str(dest), "unchanged": False, "written": sorted(sources) + [STAMP],
            "sources": sources, "source": found.source, "fetched": found.fetched, "warnings": found.warnings}


def _key(ref: str, at: str | None) -> str:
    return f"{ref}\0{at or ''}"


def _remembered(ref: str, remote: str | None, at: str | None) -> tuple[tuple[dict, list[str]] | None, Any]:
    """With --remote: ((the stamp verified earlier at exactly the remote's current refs, its
    warnings), or None; the remote's listing). A usage error is raised first, as the full path would."""
    parse_reference(ref)
    if remote is None:
        return None, None
    if at is not None and parse_reference(ref)[1] is None:
        return None, None  # the full path names the usage error
    from gitmv.ops import fetch_cache

    return fetch_cache.verified(remote, _key(ref, at))


# ---------------------------------------------------------------- resolving

def _open(remote: str | None, path: str | os.PathLike, listing: Any = None) -> tuple[Context, str, Any]:
    """The repository and the protected branch's policy and signers: a clone's (its copy of the
    remote's protected branch when it has one), or the deploy cache of `remote`."""
    from gitmv.git.repo import Repo
    from gitmv.hooks import enforce
    from gitmv.ops.context import Context, require_complete, visibility_gaps
    from gitmv.registry import Registry

    if remote:
        from gitmv.ops import fetch_cache

        mirror = fetch_cache.open_mirror(remote, listing)
        repo = mirror.repo
        policy, signers, branch_ref = enforce.load_server_policy(repo)
        source = remote
    else:
        repo = Repo.discover(path)
        branch = enforce.local_protected_branch(repo)
        branch_ref = next((r for r in (f"refs/remotes/origin/{branch}", f"refs/heads/{branch}") if repo.ref(r)),
                          f"refs/heads/{branch}")
        policy, signers, _ = enforce.branch_policy(repo, branch_ref)
        source, mirror = str(repo.workdir or repo.git_dir), None
    tip = repo.ref(branch_ref) or ""
    reg = Registry(repo, policy, signers, repo.ref(NOTES_REF), protected_ref=branch_ref)
    ctx = Context(repo, policy, tip, reg)
    if mirror is None:  # a clone may lack what its remote has (notes never fetched, a shallow history)
        ctx.gaps = visibility_gaps(repo, reg)
        require_complete(ctx, "deploy from this clone")
    elif reg.notes_commit is None and reg.model_names:
        ctx.warnings.append(f"{remote} has registry tags but no evidence notes ({NOTES_REF}): no version there "
                            "has an eval, a deprecation or any other record")
    return ctx, source, mirror


def _resolve_verified(ref: str, remote: str | None, at: str | None, path: str | os.PathLike,
                      listing: Any = None) -> Resolved:
    from gitmv import records

    model, stage, version = parse_reference(ref)
    if at is not None and stage is None:
        raise UsageError(f"--at applies to MODEL@STAGE, not to {ref} (a version is the same at every time)",
                         f"drop --at, or ask for {model}@STAGE --at {at}")
    when = None
    if at is not None:
        try:
            when = int(records.parse_time(at).timestamp())
        except MvError as exc:
            raise UsageError(exc.cause, exc.fix) from None
    ctx, source, mirror = _open(remote, path, listing)
    reg = ctx.registry
    if model not in ctx.policy.models and not reg.refs_of(model):
        guess = closest(model, ctx.policy.models)
        raise NotFoundError(f"unknown model '{model}' in {source}" + (f": did you mean '{guess}'?" if guess else ""),
                            "see 'git mv-promote show'")
    failures: list[str] = []
    entry = previous = None
    if stage is not None:
        entry, previous = _stage_entry(ctx, model, stage, when, at, failures)
        if entry is None:
            raise RefusedError(f"refused {ref}: {failures[0]}", _FIX)
        version = entry.record.version
    assert version is not None
    found = Resolved(ctx, model, _check_version(ctx, model, version, failures), stage, entry, source,
                     mirror.fetched if mirror else None, mirror=mirror)
    if entry is not None:
        found.policy_digest = _check_entry(ctx, found.version, entry, previous, failures)
    else:
        found.policy_digest = ctx.policy.digest
    if failures:
        more = f" (and {len(failures) - 1} more: git mv-promote verify {model})" if len(failures) > 1 else ""
        raise RefusedError(f"refused {ref}: {failures[0]}{more}", _FIX)
    if reg.deprecation(found.version) is not None:
        ctx.warnings.append(f"{model} {found.version.name} is deprecated")
    found.warnings = ctx.warnings
    return found


_FIX = ("do not deploy it: the registry does not verify (see 'git mv-promote verify' in a clone); "
        "deploy a reference whose chain holds, or repair the registry")


def _stage_entry(ctx: Context, model: str, stage: str, when: int | None, at: str | None,
                 failures: list) -> tuple[StageEntry | None, StageEntry | None]:
    """(the entry in force: the highest seq, or with --at the last one whose tag time is not
    after `when`, as `history --at` answers; the entry before it)."""
    reg = ctx.registry
    seqs = reg.stage_seqs(model, stage)
    if not seqs:
        ctx.policy.stage_index(stage)  # an unknown stage is named with the policy's stages
        raise NotFoundError(f"{model} has no version in {stage}", f"see 'git mv-promote history {model}'")
    for i in range(len(seqs) - 1, -1, -1):
        seq, oid = seqs[i]
        ref = stage_ref(model, stage, seq)
        try:
            entry = reg.stage_entry(ref, oid)
        except MvError as exc:
            failures.append(f"{ref}: {exc.cause}")
            return None, None
        if when is None or entry.tag.tagger_time <= when:
            return entry, _entry_before(reg, model, stage, seqs[:i], seq, failures)
    raise NotFoundError(f"{model} had no version in {stage} at {at}", f"see 'git mv-promote history {model} --stage {stage}'")


def _entry_before(reg: Registry, model: str, stage: str, below: list[tuple[int, str]], seq: int,
                  failures: list) -> StageEntry | None:
    """The entry `seq` follows, which every claim of its record (previous, seq, time order) is
    checked against: #seq-1, which must be there and readable. A gap, or an unreadable entry
    before it, is a failure, never "no entry before" (that would let a backdated entry after a
    gap claim to be the stage's first)."""
    if seq == 1:
        return None
    if not below or below[-1][0] != seq - 1:
        failures.append(f"{stage_ref(model, stage, seq)}: {stage_ref(model, stage, seq - 1)}, the entry it follows, "
                        "is missing")
        return None
    ref = stage_ref(model, stage, seq - 1)
    try:
        return reg.stage_entry(ref, below[-1][1])
    except MvError as exc:
        failures.append(f"{ref}: {exc.cause}")
        return None


def _check_version(ctx: Context, model: str, name: str, failures: list) -> Version:
    from gitmv.ops.verify import note_failures

    reg = ctx.registry
    ref = version_ref(model, name)
    try:
        v = reg.version(model, name)
    except NotFoundError:
        raise
    except MvError as exc:
        raise RefusedError(f"refused {ref}: {exc.cause}", _FIX) from None
    mp = ctx.policy.models.get(model)
    sig = reg.signature(v.tag)
    if not sig.ok and (mp is None or mp.signed):
        failures.append(f"{ref}: signature: {sig.reason}")
    failures.extend(note_failures(reg, ref, v, mp, ctx.warnings))
    return v


def _check_entry(ctx: Context, v: Version, entry: StageEntry, previous: StageEntry | None, failures: list) -> str:
    """The stage entry by verify's rule (every claim of its record recomputed), then, for a
    protected stage, by the server hook's own rules as `audit` applies them (R1: the gate, evals,
    approvals and rollback rules; R9 for the eval it rests on) under the policy and signers the
    protected branch held when the tag was made, over the registry as it was then. On a host
    without our hook nothing else ran them."""
    from gitmv.ops import audit
    from gitmv.ops.verify import stage_entry_failures

    reg, rec, ref = ctx.registry, entry.record, entry.ref
    model, stage = rec.model, rec.stage
    chain, _ = audit.branch_chain(ctx)  # the policies the branch held: read once, for both rules
    then = _policy_held(ctx, chain, rec.policy_digest)
    mp_then = then.models.get(model) if then else None
    policies = {rec.policy_digest: then.rollout_stages} if then else {ctx.policy.digest: ctx.policy.rollout_stages}
    stage_entry_failures(ctx, model, stage, rec.seq, entry.tag.id, previous, mp_then or ctx.policy.models.get(model),
                         failures, policies)
    judged = audit.judge_entry(ctx, chain, audit.tagger_times(reg, model), model, stage, reg.stage_seqs(model, stage),
                               rec.seq, entry.tag.id)
    failures.extend(f"{ref}: {finding.message}" for finding in judged or ())
    return rec.policy_digest


def _policy_held(ctx: Context, chain: list[BranchPoint], digest: str) -> Policy | None:
    """The policy whose digest a stage record names, if the protected branch ever held it: at the
    newest point of its first-parent history (`chain`, audit.branch_chain) holding that digest."""
    from gitmv.policy import POLICY_PATH, parse_policy

    if ctx.policy.digest == digest:
        return ctx.policy
    point = next((p for p in chain if p.policy_digest == digest), None)
    raw = ctx.repo.blob_at(point.id, POLICY_PATH) if point is not None else None
    if point is None or raw is None:
        return None
    try:
        return parse_policy(raw, f"{POLICY_PATH} at {point.id[:12]}")
    except MvError:
        return None


# ---------------------------------------------------------------- the directory

def _check_dest(dest: Path) -> None:
    """DIR is get's own: empty, or holding what an earlier get wrote (its stamp)."""
    if dest.exists() and not dest.is_dir():
        raise MvError(f"{dest} exists and is not a directory", "choose another directory with -o DIR")
    if dest.is_dir() and any(dest.iterdir()) and not (dest / STAMP).is_file():
        raise MvError(f"{dest} is not empty and holds no {STAMP}: get writes only into its own directories",
                      "choose an empty or new directory with -o DIR")


def _current_stamp(dest: Path) -> dict | None:
    try:
        found = json.loads((dest / STAMP).read_text())
    except (OSError, ValueError):
        return None
    return found if isinstance(found, dict) else None


def _same(a: dict, b: dict) -> bool:
    return {k: v for k, v in a.items() if k != "resolved_at"} == {k: v for k, v in b.items() if k != "resolved_at"}


def _files_hold(dest: Path, digests: dict[str, str]) -> bool:
    from gitmv.hashing import sha256_file

    for rel, digest in digests.items():
        file = dest / rel
        if not file.is_file() or sha256_file(file)[0] != digest:
            return False
    return True


def _safe_rel(rel: str) -> str:
    parts = PurePosixPath(rel).parts
    if not parts or PurePosixPath(rel).is_absolute() or ".." in parts or rel == STAMP:
        raise RefusedError(f"artifact path {rel!r} would be written outside the directory", _FIX)
    return rel


def _write(found: Resolved, dest: Path, stamp: dict, current: dict | None, progress: Progress | None) -> dict:
    """Every artifact into a temporary file inside `dest`, digest checked while streaming; then
    renamed into place, the stamp last. On any failure nothing is left behind."""
    created = not dest.exists()
    dest.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".mv-promote-", dir=dest))
    try:
        sources: dict[str, str] = {}
        ready: dict[str, Path] = {}
        for n, (rel, digest) in enumerate(sorted(stamp["digests"].items())):
            _safe_rel(rel)
            work = staging / str(n)
            work.mkdir()
            ready[rel], sources[rel] = _fetch_artifact(found, rel, digest, work, progress)
        for rel, file in ready.items():
            target = dest / rel
            target.parent.mkdir(parents=True, exist_ok=True)
            os.replace(file, target)
        stamp_tmp = staging / STAMP
        stamp_tmp.write_text(json.dumps(stamp, indent=2, sort_keys=True) + "\n")
        os.replace(stamp_tmp, dest / STAMP)
        for rel in sorted(set((current or {}).get("digests") or {}) - set(stamp["digests"])):
            try:
                (dest / _safe_rel(rel)).unlink()
            except (OSError, MvError):
                pass  # a file the earlier version had and this one has not: best effort
        return sources
    except BaseException:
        shutil.rmtree(dest if created else staging, ignore_errors=True)
        raise
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def _fetch_artifact(found: Resolved, rel: str, digest: str, work: Path, progress: Progress | None
                    ) -> tuple[Path, str]:
    """(a file in `work` with exactly the recorded bytes, where they came from), or ArtifactError."""
    from gitmv.ops import artifacts

    repo, v = found.ctx.repo, found.version
    got = artifacts.retrieve(repo, v.record.commit, rel, digest, use_worktree=not repo.is_bare, tmpdir=str(work))
    if got.ok and got.source == "git blob":
        return Path(got.file or ""), "git blob"  # written from the blob just hashed, inside DIR
    out = work / "artifact"
    if got.ok and got.file is not None:
        with open(got.file, "rb") as src:
            if _stream(src, out, digest, _size(v, rel), f"{rel} ({got.source})", progress):
                return out, got.source or ""
        got.tried.append(f"{got.source} changed while it was copied")
    if _from_dvc_remote(found, rel, digest, out, got.tried, progress):
        return out, "dvc remote"
    raise ArtifactError(f"{found.model} {v.name}: {got.describe_failure()}",
                        "restore the registered bytes (dvc push from a clone that has them) or deploy another version")


def _size(v: Version, rel: str) -> int | None:
    size = v.record.artifacts.get(rel, {}).get("size")
    return size if isinstance(size, int) else None


def _stream(src, out: Path, digest: str, size: int | None, label: str, progress: Progress | None) -> bool:
    """Copy `src` to `out` hashing as it goes; True when the bytes have the recorded sha256."""
    h = hashlib.sha256()
    done = 0
    with open(out, "wb") as dst:
        while chunk := src.read(CHUNK):
            h.update(chunk)
            dst.write(chunk)
            done += len(chunk)
            if progress is not None:
                progress(label, done, size)
    if progress is not None:
        progress(label, -1, size)  # done: the bar ends its line
    if h.hexdigest() != digest:
        out.unlink()
        return False
    return True


def _from_dvc_remote(found: Resolved, rel: str, digest: str, out: Path, tried: list, progress: Progress | None) -> bool:
    """The artifact streamed from the DVC remote its pin names (the clone's DVC configuration,
    or in the deploy cache the `.dvc/config` committed at the version's commit)."""
    from gitmv.dvc import remote as dvcremote
    from gitmv.dvc.cache import dvc_pin_for
    from gitmv.ops.data import dvc_env

    repo, v = found.ctx.repo, found.version
    pin = dvc_pin_for(repo, v.record.commit, rel)
    if not pin or not pin.get("md5") or str(pin["md5"]).endswith(".dir"):
        return False  # retrieve() already said "not tracked by DVC"
    if not dvcremote.dvc_available():
        tried.append(f"dvc remote: DVC is not installed ({dvcremote.EXTRA_HINT})")
        return False
    dvc_env()
    root, scratch = repo.workdir, None
    if root is None or not (root / ".dvc").is_dir():
        config = repo.blob_at(v.record.commit, ".dvc/config")
        if config is None:
            tried.append(f"dvc remote: no .dvc/config at {v.record.commit[:12]}")
            return False
        scratch = Path(tempfile.mkdtemp(prefix="mv-get-dvc-"))
        (scratch / ".dvc").mkdir()
        (scratch / ".dvc" / "config").write_bytes(config)
        (scratch / ".dvc" / "config.local").write_text("[core]\n    no_scm = true\n")
        root = scratch
    remote = None
    try:
        remote = dvcremote.Remote(root, pin.get("remote"))
        if not remote.exists(pin["md5"]):
            tried.append(f"dvc remote {remote.name}: no object {pin['md5']}")
            return False
        with remote.open(pin["md5"]) as src:
            if _stream(src, out, digest, pin.get("size") or _size(v, rel), f"{rel} (dvc remote {remote.name})",
                       progress):
                return True
        tried.append(f"dvc remote {remote.name}: object {pin['md5']} does not have the recorded sha256")
        return False
    except MvError as exc:
        tried.append(f"dvc remote: {exc.cause}")
        return False
    except Exception as exc:  # the storage backend's own errors (network, permissions): not retrievable
        tried.append(f"dvc remote: {type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}")
        return False
    finally:
        if remote is not None:
            remote.close()
        if scratch is not None:
            shutil.rmtree(scratch, ignore_errors=True)
