"""Artifact retrieval, in the order every command shares: the work-tree file when its sha256
matches the record, else the Git blob at the version's commit, else the DVC cache (else, with the
`[dvc]` extra, the DVC remote). Bytes whose digest differs from the record are never handed out.
"""

from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from gitmv.dvc.cache import dvc_cache_candidates, dvc_pin_for
from gitmv.errors import ArtifactError, MvError
from gitmv.git.repo import Repo
from gitmv.hashing import sha256_bytes, sha256_file
from gitmv.ops.context import Context
from gitmv.registry import Version
from gitmv.rules import artifacts as artifact_rules


@dataclass
class Retrieval:
    path: str  # the artifact's path in the repository
    expected: str  # recorded sha256
    source: str | None = None  # "work tree" | "git blob" | "dvc cache"
    file: str | None = None  # a local file with exactly the expected bytes
    tried: list = field(default_factory=list)  # what was tried and why it did not serve

    @property
    def ok(self) -> bool:
        return self.file is not None

    def describe_failure(self) -> str:
        return f"{self.path} is not retrievable (tried: {'; '.join(self.tried)})"

    def offer(self, file: Path, source: str, mismatch: str) -> bool:
        """Take `file` when its sha256 is the recorded one; else note `mismatch` ({digest}: its own)."""
        digest, _ = sha256_file(file)
        if digest != self.expected:
            self.tried.append(mismatch.format(digest=digest[:12]))
            return False
        self.source, self.file = source, str(file)
        return True






def retrieve(repo: Repo, commit: str, path: str, expected: str, *, use_worktree: bool, tmpdir: str | None = None,
             ) -> Retrieval:
    """Find bytes for artifact `path` of the version at `commit` whose sha256 is `expected`."""
    result = Retrieval(path=path, expected=expected)
    if use_worktree and repo.workdir is not None:
        local = repo.workdir / path
        if local.is_file():
            if result.offer(local, "work tree", f"work tree file has sha256 {{digest}}…, record says {expected[:12]}…"):
                return result
        else:
            result.tried.append("work tree: no such file")
    blob = repo.blob_at(commit, path)
    if blob is not None:
        digest = sha256_bytes(blob)
        if digest == expected:
            out = Path(tmpdir or tempfile.mkdtemp(prefix="mv-artifact-"), os.path.basename(path))
            out.write_bytes(blob)
            result.source, result.file = "git blob", str(out)
            return result
        result.tried.append(f"git blob at {commit[:12]} has sha256 {digest[:12]}…")
    else:
        result.tried.append(f"no git blob at {commit[:12]}")
    pin = dvc_pin_for(repo, commit, path)
    if pin is None or "md5" not in pin:
        result.tried.append("not tracked by DVC")
        return result
    for candidate in dvc_cache_candidates(repo, pin["md5"]):
        if candidate.is_file():
            if result.offer(candidate, "dvc cache", f"dvc cache object {pin['md5']} has sha256 {{digest}}…"):
                return result
            break
    else:
        result.tried.append(f"dvc cache has no object {pin['md5']}")
    return result


def refuse_uri_artifacts(v: Version, what: str) -> None:
    """ArtifactError when `v` records an artifact by URI: no retrieval path can fetch it offline."""
    uris = v.record.uri_artifacts
    if uris:
        path, meta = sorted(uris.items())[0]
        raise ArtifactError(f"cannot {what} {v.record.model} {v.name}: {artifact_rules.not_retrievable(path, meta)}",
                            "this version was imported from GTO with an artifact outside the repository; register "
                            "a version whose artifacts are in Git or DVC (e.g. dvc import-url) to do this")


def fetch_artifact(ctx: Context, v: Version, rel: str, tmp: str) -> str:
    """A local file with exactly the registered bytes of artifact `rel`, or ArtifactError."""
    refuse_uri_artifacts(v, "fetch the artifacts of")
    got = retrieve(ctx.repo, v.record.commit, rel, v.record.artifacts[rel]["sha256"],
                                 use_worktree=True, tmpdir=tmp)
    if got.file is not None:  # got.ok
        return got.file
    remote_file = from_dvc_remote(ctx, v, rel, tmp, got.tried)
    if remote_file:
        return remote_file
    raise ArtifactError(f"{v.record.model} {v.name}: {got.describe_failure()}",
                        "restore the registered artifact (dvc pull / git checkout) and try again")


def from_dvc_remote(ctx: Context, v: Version, rel: str, tmp: str, tried: list) -> str | None:
    from gitmv.dvc import remote as dvcremote
    from gitmv.ops import data as data_ops

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
