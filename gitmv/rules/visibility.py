"""What this clone cannot see: missing state is named, never read as "nothing".

A clone that never fetched the evidence notes answers "no eval"; one that fetched them but did
not merge them misses records (a deprecation, an eval); a shallow clone cuts the protected
branch's history short (approvals, the policies in force); fetched notes on tag objects this
clone does not hold show that the remote has versions this clone has not fetched. Each gap is stated with its fix, and
a gap that could change a decision blocks the decision. Pure: the facts are gathered by
`gitmv.ops.context`.

Stage tags carry no notes, so a promotion published by another clone is invisible offline: a
decision (`promote`, `rollback`, `rollout`, `request`) also compares, online, the model's registry
tags here with the remote's (`decision_remote`, `remote_ahead`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class RemoteNotes:
    """One remote as this clone knows it, without asking the network."""

    remote: str
    fetches_notes: bool  # one of its fetch refspecs maps refs/notes/mv-promote*
    tracking: str | None  # refs/notes/remotes/<remote>/mv-promote, when fetched
    merged: bool  # the tracking notes are the local notes or in their history
    # versions the remote has evidence notes on whose tags this clone lacks: the remote has
    # registry tags this clone has not fetched (seen offline, through the fetched notes)
    unfetched_tags: int = 0


@dataclass(frozen=True)
class Gap:
    cause: str
    fix: str
    missing: str  # "history" (commits, approvals, past policies), "notes" (evidence records) or "tags"


def gaps(*, shallow: bool, has_local_notes: bool, has_versions: bool, remotes: Sequence[RemoteNotes]) -> list[Gap]:
    found = []
    if shallow:
        found.append(Gap("this clone is shallow: approvals and the policies in force are read from history it lacks",
                         "git fetch --unshallow", "history"))
    for r in remotes:
        if r.unfetched_tags:
            found.append(Gap(f"the remote '{r.remote}' has registry tags this clone has not fetched "
                             f"({r.unfetched_tags} version(s) it holds evidence on)",
                             f"git mv-promote sync {r.remote}", "tags"))
        if r.tracking is not None and not r.merged:
            found.append(Gap(f"evidence notes fetched from '{r.remote}' are not merged into refs/notes/mv-promote",
                             f"git mv-promote sync {r.remote}", "notes"))
        elif r.tracking is None and not r.fetches_notes and not has_local_notes and has_versions:
            found.append(Gap(f"the evidence notes of '{r.remote}' were never fetched into this clone "
                             "(git clone and git fetch do not fetch notes)",
                             f"git mv-promote sync {r.remote}", "notes"))
    return found


def decision_remote(remotes: Sequence[str], preferred: str | None = None) -> str | None:
    """The remote a decision compares with: the one the command names (when configured), else
    `origin` (what `sync` defaults to), else the only remote; None when there is no remote or
    several and none of them is `origin` (nothing says which one the clone syncs with)."""
    for name in (preferred, "origin"):
        if name is not None and name in remotes:
            return name
    return remotes[0] if len(remotes) == 1 else None


def sync_command(remote: str) -> str:
    return "git mv-promote sync" if remote == "origin" else f"git mv-promote sync {remote}"


def remote_ahead(remote: str, model: str, local: Mapping[str, str], theirs: Mapping[str, str]) -> Gap | None:
    """The remote holds registry tags of `model` this clone lacks, or a same-named tag with another
    object: a decision here would read a stale stage (and its new stage tag could take a seq the
    remote already has). Tags only this clone has are unpublished work, never a gap."""
    # a clash first: it says a tag of this clone's was never published
    behind = sorted((ref for ref, oid in theirs.items() if local.get(ref) != oid), key=lambda r: (r not in local, r))
    if not behind:
        return None
    first = behind[0]
    what = f"a different {first} than this clone" if first in local else f"{first} that this clone has not fetched"
    if len(behind) > 1:
        what += f" (and {len(behind) - 1} more tag(s) of {model})"
    return Gap(f"the remote '{remote}' has {what}", f"run `{sync_command(remote)}`, then decide again", "tags")
