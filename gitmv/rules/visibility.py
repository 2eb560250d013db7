"""What this clone cannot see: missing state is named, never read as "nothing".

A clone that never fetched the evidence notes answers "no eval"; one that fetched them but did
not merge them misses records (a deprecation, an eval); a shallow clone cuts the protected
branch's history short (approvals, the policies in force); fetched notes on tag objects this
clone does not hold show that the remote has versions this clone has not fetched. Each gap is stated with its fix, and
a gap that could change a decision blocks the decision. Pure: the facts are gathered by
`gitmv.ops.context`.
"""

from __future__ import annotations

from collections.abc import Sequence
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
