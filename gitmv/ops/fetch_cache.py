"""The deploy cache of `get --remote URL`: a bare partial clone per remote, holding only what
`get` reads (the registry tags, the evidence notes and the protected branch), blobs on demand.

Layout: `$XDG_CACHE_HOME/git-mv-promote/remotes/<sha256(URL)[:24]>.git` (default
`~/.cache/...`), one per remote URL. The cache mirrors the remote (forced, pruned refspecs; a
notes ref or branch the remote no longer has is dropped too): it is never a second source of
truth, and everything read from it is verified like any clone. It is also a witness: a remote
that rewrites what it showed before (a registry tag moved or deleted, the notes or the protected
branch rewound) is refused, and the cache keeps what it verified, so it is refused again next time.

Cost: one `git ls-remote` per call. The refs the cache mirrors are compared with the remote's
and `git fetch` runs only when they differ, so an unchanged registry costs a listing, not a fetch.
A verified resolution is remembered (`remember`) under the exact state of the mirrored refs it
was verified at; while the remote still shows that state, `verified` returns it without opening
the repository (no pygit2, no signature check: the same objects give the same verdict). Never
when the allowed signers carry validity windows, whose verdict depends on the clock.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from gitmv import proc as procs
from gitmv.errors import MvError, RefusedError
from gitmv.names import NOTES_REF, TAG_ROOT

if TYPE_CHECKING:
    from gitmv.git.repo import Repo

Listing = tuple[dict[str, str], "str | None"]  # (ref -> oid, the ref HEAD names)

TAGS_SPEC = f"+{TAG_ROOT}*:{TAG_ROOT}*"
BRANCH_KEY = "mvpromote.protectedBranch"  # the protected branch, once the policy has named it


def cache_root() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base, "git-mv-promote")


def cache_path(url: str) -> Path:
    return cache_root() / "remotes" / (hashlib.sha256(url.encode("utf-8")).hexdigest()[:24] + ".git")


@dataclass
class Mirror:
    repo: Repo
    url: str
    path: Path
    fetched: bool  # False: the remote's refs were those already cached (nothing fetched)
    branches: list[str] = field(default_factory=list)
    head: str | None = None


def _git(path: Path | None, *args: str, check: str | None = None) -> procs.Completed:
    cmd = ["git"] + (["--git-dir", str(path)] if path is not None else []) + list(args)
    proc = procs.run(cmd, env=procs.git_free_env())
    if check and proc.returncode != 0:
        err = proc.stderr.decode("utf-8", "replace").strip().splitlines()
        raise MvError(f"{check}: {err[-1] if err else f'git exited {proc.returncode}'}",
                      "check the URL and your access to it (git ls-remote URL)")
    return proc


def _listing(url: str) -> Listing:
    """(ref -> oid of the refs a cache mirrors candidates for, the branch HEAD names)."""
    proc = _git(None, "ls-remote", "--symref", url, check=f"cannot list the refs of {url}")
    refs: dict[str, str] = {}
    head = None
    heads, tags = b"refs/heads/", TAG_ROOT.encode()
    for line in proc.stdout.split(b"\n"):  # bytes, one split per line: 50,000 refs stay cheap
        left, _, name = line.partition(b"\t")
        if name.startswith(tags) or name.startswith(heads) or name == NOTES_REF.encode():
            if not name.endswith(b"^{}"):
                refs[name.decode("utf-8", "replace")] = left.decode("ascii", "replace")
        elif name == b"HEAD" and left.startswith(b"ref: "):
            head = left[5:].decode("utf-8", "replace").strip()
    return refs, head


def _init(path: Path, url: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + f".new-{os.getpid()}")
    _git(None, "init", "-q", "--bare", str(tmp), check="cannot create the deploy cache")
    for key, value in (("core.repositoryformatversion", "1"), ("extensions.partialClone", "origin"),
                       ("remote.origin.url", url), ("remote.origin.promisor", "true"),
                       ("remote.origin.partialclonefilter", "blob:none"), ("gc.auto", "0")):
        _git(tmp, "config", key, value, check="cannot configure the deploy cache")
    try:
        os.rename(tmp, path)  # another process may have made it meanwhile: theirs is as good
    except OSError:
        import shutil

        shutil.rmtree(tmp, ignore_errors=True)


def _cached_refs(repo: "Repo", branches: list[str]) -> dict[str, str]:
    refs = dict(repo.refs_under(TAG_ROOT))
    for name in [NOTES_REF] + [f"refs/heads/{b}" for b in branches]:
        oid = repo.ref(name)
        if oid:
            refs[name] = oid
    return refs


def _fetch(path: Path, url: str, listed: dict[str, str], branches: list[str]) -> None:
    specs = [TAGS_SPEC]
    if NOTES_REF in listed:
        specs.append(f"+{NOTES_REF}:{NOTES_REF}")
    specs += [f"+refs/heads/{b}:refs/heads/{b}" for b in branches if f"refs/heads/{b}" in listed]
    _git(path, "fetch", "-q", "--prune", "--no-tags", "--no-write-fetch-head", "--filter=blob:none", "origin",
         *specs, check=f"cannot fetch the registry from {url}")
    for name in [NOTES_REF] + [f"refs/heads/{b}" for b in branches]:
        if name not in listed:  # gone from the remote: the mirror must not keep reading its old copy
            _git(path, "update-ref", "-d", name, check="cannot update the deploy cache")


def _rewritten(repo: Repo, before: dict[str, str], after: dict[str, str]) -> list[tuple[str, str, str | None]]:
    """(ref, what the cache held, what the remote has now) for each mirrored ref the remote
    rewrote since the cache last fetched: a registry tag moved or deleted (tags are immutable),
    the evidence notes or the protected branch deleted or moved to a commit that does not descend
    from the one held (both only ever grow). A new clone could not tell; the cache can."""
    out = []
    for ref, old in sorted(before.items()):
        new = after.get(ref)
        if new == old:
            continue
        grows = ref == NOTES_REF or ref.startswith("refs/heads/")
        if new is None or not grows or not repo.is_ancestor(old, new):
            out.append((ref, old, new))
    return out


def _refuse_rewrite(path: Path, url: str, rewritten: list[tuple[str, str, str | None]]) -> None:
    """Put the rewritten refs back as the cache held them (so the next call sees the rewrite too,
    instead of a cache that has quietly taken it) and refuse."""
    for ref, old, _new in rewritten:
        _git(path, "update-ref", ref, old, check="cannot restore the deploy cache")
    ref, old, new = rewritten[0]
    now = f"is {new[:12]}" if new else "was deleted"
    more = f" (and {len(rewritten) - 1} more ref(s))" if len(rewritten) > 1 else ""
    raise RefusedError(f"{url} rewrote {ref}{more}: the deploy cache verified {old[:12]} earlier, and it now {now} "
                       "(registry tags are immutable; evidence notes and the protected branch only grow)",
                       f"do not deploy from it: find out who rewrote it; once the new history is known to be right, "
                       f"delete the deploy cache ({path}) to start from it")


def _mirrored(listed: dict[str, str], branches: list[str]) -> dict[str, str]:
    heads = {f"refs/heads/{b}" for b in branches}
    return {k: v for k, v in listed.items() if k.startswith(TAG_ROOT) or k == NOTES_REF or k in heads}


def open_mirror(url: str, listing: Listing | None = None) -> Mirror:
    """The cache of `url`, brought up to date with the remote's registry refs and protected branch."""
    from gitmv.git.repo import Repo

    path = cache_path(url)
    if not (path / "HEAD").is_file():
        _init(path, url)
    listed, head = listing or _listing(url)
    repo = Repo.open_partial(path)
    known = repo.config(BRANCH_KEY)
    head_branch = head[len("refs/heads/"):] if head and head.startswith("refs/heads/") else None
    branches = sorted({b for b in (head_branch, known) if b})
    if not branches:
        raise MvError(f"{url} has no default branch (HEAD) to read the policy from",
                      "push the protected branch holding .mv-promote.toml to the remote")
    fetched = False
    before = _cached_refs(repo, branches)
    if _mirrored(listed, branches) != before:
        _fetch(path, url, listed, branches)
        fetched = True
        rewritten = _rewritten(repo, before, _cached_refs(repo, branches))
        if rewritten:
            _refuse_rewrite(path, url, rewritten)
    if head and _read_head(path) != head:
        (path / "HEAD").write_text(f"ref: {head}\n")  # judged as the server judges: from its HEAD
    if known is None and head_branch:
        # the policy on the remote's default branch names the protected branch: mirror that too
        from gitmv.policy import POLICY_PATH, parse_policy

        tip = repo.ref(f"refs/heads/{head_branch}")
        raw = repo.blob_at(tip, POLICY_PATH) if tip else None
        protected = parse_policy(raw).protected_branch if raw is not None else None
        if protected:
            if protected not in branches:
                _fetch(path, url, listed, [protected])
                fetched = True
            _git(path, "config", BRANCH_KEY, protected, check="cannot configure the deploy cache")
            repo = Repo.open_partial(path)
            branches = sorted(set(branches) | {protected})
    return Mirror(repo, url, path, fetched, branches, head)


# ---------------------------------------------------------------- remembered verdicts

def _state(refs: dict[str, str], head: str | None) -> str:
    return hashlib.sha256(json.dumps([sorted(refs.items()), head]).encode()).hexdigest()


def _verdict_path(url: str, key: str) -> Path:
    return cache_path(url) / "mv-promote-verified" / (hashlib.sha256(key.encode()).hexdigest()[:32] + ".json")


def verified(url: str, key: str) -> tuple[tuple[dict, list[str]] | None, Listing]:
    """((the stamp remembered for `key`, the warnings it was verified with) when the remote's
    mirrored refs are exactly those it was verified at, else None; the remote's listing, for
    `open_mirror` to reuse). A verdict kept without its warnings (an older file) is no verdict:
    a deprecation must not go quiet on the remembered path."""
    listing = _listing(url)
    try:
        found = json.loads(_verdict_path(url, key).read_text())
        warnings = found["warnings"]
        if found["state"] == _state(_mirrored(listing[0], found["branches"]), listing[1]) and \
                isinstance(warnings, list) and all(isinstance(w, str) for w in warnings):
            return (found["stamp"], warnings), listing
    except (OSError, ValueError, KeyError, TypeError):
        pass
    return None, listing


def remember(mirror: Mirror, key: str, stamp: dict, allowed_signers: bytes | None, warnings: list[str]) -> None:
    """Keep the verdict for `key`, and the warnings it came with, under the state of the refs it
    was verified at (best effort)."""
    if allowed_signers is not None and b"valid-" in allowed_signers:
        return  # the verdict depends on the clock
    state = _state(_cached_refs(mirror.repo, mirror.branches), mirror.head)
    path = _verdict_path(mirror.url, key)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(path.name + f".{os.getpid()}")
        tmp.write_text(json.dumps({"state": state, "branches": mirror.branches, "stamp": stamp,
                                   "warnings": warnings}))
        os.replace(tmp, path)
    except OSError:
        pass


def _read_head(path: Path) -> str | None:
    text = (path / "HEAD").read_text().strip()
    return text[len("ref: "):] if text.startswith("ref: ") else None
