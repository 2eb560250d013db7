"""The context every operation opens: repository, committed policy, registry view."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Iterator
from datetime import datetime, timezone

from gitmv import records
from gitmv.errors import CommandError, IncompleteError, MvError, PolicyError
from gitmv.git.remote import ls_remote
from gitmv.git.repo import Repo, parse_git_date
from gitmv.names import NOTES_REF, model_tags_prefix, tracking_notes_ref
from gitmv.policy import POLICY_PATH, Policy, parse_policy, policy_digest
from gitmv.registry import Registry
from gitmv.rules import visibility


@dataclass
class Context:
    repo: Repo
    policy: Policy
    head: str
    registry: Registry
    warnings: list = field(default_factory=list)
    gaps: list = field(default_factory=list)  # rules.visibility.Gap: what this clone cannot see


def now() -> str:
    """UTC now; honours GIT_COMMITTER_DATE so records and their tags' tagger dates agree."""
    fixed = os.environ.get("GIT_COMMITTER_DATE")
    parsed = parse_git_date(fixed) if fixed else None
    if parsed:
        return datetime.fromtimestamp(parsed[0], timezone.utc).isoformat().replace("+00:00", "Z")
    return records.utc_now()


def push_hint(*refs: str, remote: str = "origin") -> str:
    """What to run to publish what a command wrote locally (every write ends with it)."""
    return f"git push {remote} {' '.join(refs)}   (or: git mv-promote sync)"


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
    found = visibility_gaps(repo, registry)
    warnings.extend(f"{g.cause} (fix: {g.fix})" for g in found)
    return Context(repo, policy, head, registry, warnings, found)


def visibility_gaps(repo: Repo, registry: Registry) -> list[visibility.Gap]:
    """The facts `rules.visibility` judges, read locally (never from the network)."""
    notes = repo.ref(NOTES_REF)
    remotes = []
    for name, specs in sorted(repo.fetch_refspecs().items()):
        tracking = repo.ref(tracking_notes_ref(name))
        fetches = any(spec.lstrip("+").startswith("refs/notes/mv-promote") for spec in specs)
        merged = tracking is not None and notes is not None and (tracking == notes or repo.is_ancestor(tracking, notes))
        remotes.append(visibility.RemoteNotes(name, fetches, tracking, merged, _unfetched_tags(repo, tracking)))
    has_versions = bool(remotes) and notes is None and bool(registry.model_names)
    return visibility.gaps(shallow=repo.is_shallow, has_local_notes=notes is not None, has_versions=has_versions,
                           remotes=remotes)


def _unfetched_tags(repo: Repo, tracking: str | None) -> int:
    """How many objects the fetched notes of a remote annotate that this clone lacks. Notes are
    only written on registry tags, so each is a tag of the remote's this clone has not fetched.
    Offline, and incremental: tracking commits known complete (every target present, or fetched
    by `sync`, which fetches every registry tag) are remembered, and only the notes changed since
    the newest of them that the tracking commit descends from are looked at. So the cost follows
    what a fetch brought, and a note on an object no remote tag holds (a version `sync`
    renumbered before it was published) stops counting after the next `sync`."""
    if tracking is None:
        return 0
    complete = _complete_tracking(repo)
    if tracking in complete:
        return 0
    base = next((c for c in complete[:4] if repo.exists(c) and repo.is_ancestor(c, tracking)), None)
    targets = repo.changed_note_targets(base, tracking) if base else repo.note_targets(tracking)
    missing = sum(1 for t in targets if not repo.exists(t))
    if not missing:
        remember_complete(repo, tracking)
    return missing


SEEN_FILE = "mv-promote/notes-targets-complete"


def _complete_tracking(repo: Repo) -> list[str]:
    try:
        return (repo.git_dir / SEEN_FILE).read_text().split()
    except OSError:
        return []


def remember_complete(repo: Repo, tracking: str | None) -> None:
    """Record that this clone holds every registry tag the remote had when its notes were at
    `tracking` (a cache: losing it costs one walk of the notes tree)."""
    if tracking is None:
        return
    complete = [c for c in _complete_tracking(repo) if c != tracking]
    try:
        path = repo.git_dir / SEEN_FILE
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("".join(f"{oid}\n" for oid in [tracking, *complete][:8]))  # a few remotes' worth
    except OSError:
        pass  # a read-only clone looks again next time


def require_complete(ctx: Context, what: str, needs: tuple[str, ...] = ("history", "notes", "tags")) -> None:
    """Refuse a decision this clone cannot make correctly; name the first gap and its fix.
    `needs` says what the decision reads: history (approvals, past policies), notes (evidence),
    tags (the remote's versions and stage tags)."""
    blocking = [g for g in ctx.gaps if g.missing in needs]
    if blocking:
        raise IncompleteError(f"cannot {what} here: {blocking[0].cause}", blocking[0].fix)


OFFLINE_WARNING = "--offline: not compared with the remote's registry tags; deciding on this clone's state as of its last sync"


def require_current(ctx: Context, model: str, what: str, *, remote: str | None = None, offline: bool = False
                    ) -> list[str]:
    """Refuse a decision on `model` while the remote the clone syncs with has registry tags of it
    this clone lacks (or holds with another object): stage tags carry no notes, so no offline
    look sees another clone's promotion. One `git ls-remote` of the model's tag prefix, no fetch.
    An unreachable remote does not block the decision (deciding offline is allowed): the warnings
    returned say so; `offline` skips the look and says that instead."""
    if offline:
        return [OFFLINE_WARNING]
    remotes = ctx.repo.remotes()
    name = visibility.decision_remote(remotes, remote)
    if name is None:
        return [] if not remotes else [
            f"not compared with a remote: this clone has several ({', '.join(remotes)}) and none is 'origin'; "
            "deciding on this clone's state as of its last sync"]
    prefix = model_tags_prefix(model)
    try:
        theirs = ls_remote(ctx.repo, name, (prefix + "*",), interactive=False)
    except MvError as exc:
        why = exc.result.last_line() if isinstance(exc, CommandError) and exc.result is not None else exc.cause
        return [f"could not compare with remote '{name}' ({why or 'no answer'}): "
                "deciding on this clone's state as of its last sync"]
    # ls-remote patterns match a ref's tail: keep exactly the model's own tags
    theirs = {ref: oid for ref, oid in theirs.items() if ref.startswith(prefix)}
    gap = visibility.remote_ahead(name, model, dict(ctx.repo.refs_under(prefix)), theirs)
    if gap is not None:
        raise IncompleteError(f"cannot {what} here: {gap.cause}", gap.fix)
    return []


def gate_refusal(subject: str, failures) -> str:
    """A refusal's cause with each failed criterion on its own line, each line naming what was
    refused (one long "; "-joined line buried every cause after the first)."""
    return "\n  ".join(f"{subject}: {c.name}: {c.detail}" for c in failures)


POLICY_HISTORY_LIMIT = 100000  # first-parent commits of the protected branch read for the policies it held


def policy_history(repo: Repo, tip: str) -> Iterator[tuple[dict, bytes | None, str | None]]:
    """The protected branch's first-parent history from `tip`, newest first: each commit, the
    policy bytes it holds and their digest (None where it holds none). The one walk by which
    `verify`, `get` and `audit` learn which policies the branch held, and when."""
    for n, info in enumerate(repo.first_parent_walk(tip)):
        if n >= POLICY_HISTORY_LIMIT:
            return
        raw = repo.blob_at(info["id"], POLICY_PATH)
        yield info, raw, policy_digest(raw) if raw is not None else None
