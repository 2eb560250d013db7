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

from typing import Any, Iterable

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


def reordered(before: dict[str, int], after: dict[str, int], held: Iterable[set[str]]) -> tuple[str, str] | None:
    """(a, b) when a history change makes record `a` newer than record `b` although `b` was
    written after `a`; None when no such pair exists.

    `before`/`after`: record id -> position of the notes commit that introduced it on the
    first-parent chain (higher is newer; rules.evidence), in the server's history and in the
    pushed one. "The newest eval" (and deprecation, replay) is chosen by that position, so a push
    that keeps every record yet re-threads the history (a merge whose first parent is a new root
    re-introducing an old record) could make a superseded eval the newest again.

    Not every change of order is that: records written concurrently in two clones have no order
    but the one a merge gives them, and the next merge may give the other (`sync` merges with the
    server's tip as second parent, re-introducing its records). So a pair counts only when `b` was
    written after `a` was known: `held` is the record ids of the note at every commit of the
    server's notes history that touched it, and no commit there holds `b` without `a`."""
    sets = list(held)
    for a, pos_a in sorted(before.items(), key=lambda item: item[1]):
        for b, pos_b in before.items():
            if pos_a < pos_b and a in after and b in after and after[a] > after[b] and \
                    not any(b in ids and a not in ids for ids in sets):
                return a, b
    return None
