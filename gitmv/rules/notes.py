"""Evidence notes are append-only: along every parent -> child edge of the notes history, each
record of the parent's note survives, byte for byte (canonical JSON), in the child's. The server
hook checks every edge a push adds; `verify` checks every edge there is. One rule, one place.

Byte for byte, whatever the record's id says. A record's id does not cover its `signature`, so a
record can change and stay intact (signature stripped or swapped): that is an alteration. And a
record that was already tampered (its id does not match) is not exempt: once in the history it
may not change, not even back into an intact form. The server hook is the authority and refuses
both, so `verify` reports both; it reports a tampered record at the notes tip separately.
"""

from __future__ import annotations

from typing import Any

from gitmv.records import canonical_json

REMOVED = "removed"
ALTERED = "altered"


def edge_violations(before: list[dict[str, Any]], after: list[dict[str, Any]]) -> list[tuple[str, str]]:
    """(record id, REMOVED | ALTERED) for each record of `before` not kept unchanged in `after`."""
    now = {r["id"]: canonical_json(r) for r in after}
    out = []
    for rec in before:
        have = now.get(rec["id"])
        if have is None:
            out.append((rec["id"], REMOVED))
        elif have != canonical_json(rec):
            out.append((rec["id"], ALTERED))
    return out


def reintroduced(ids: set[str], parents: list[set[str]], held: set[str]) -> list[str]:
    """The records a pushed notes commit holds (`ids`, on one note) that none of its parents
    holds and the server already has (`held`): copies, not new evidence. Every record enters the
    notes history once, where it is written; a record can reach another history only through the
    commits that hold it (a fetch, a merge). "The newest eval" is the one introduced last on the
    first-parent chain (rules.evidence), so a commit that re-introduces a superseded eval on a
    new line of history (a new root holding only bob's re-evaluation, merged with the server's
    tip as second parent) would make his earlier eval the newest again, every record kept."""
    before = set().union(*parents) if parents else set()
    return sorted((ids - before) & held)
