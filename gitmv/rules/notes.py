"""Evidence notes are append-only: along every parent -> child edge of the notes history, each
record of the parent's note survives, byte for byte (canonical JSON), in the child's. The server
hook checks every edge a push adds; `verify` checks every edge there is. One rule, one place.
"""

from __future__ import annotations

from gitmv.records import canonical_json


def edge_violations(before: list[dict], after: list[dict]) -> list[tuple[str, str]]:
    """(record id, "removed" | "altered") for each record of `before` not kept unchanged in `after`."""
    now = {r["id"]: canonical_json(r) for r in after}
    out = []
    for rec in before:
        have = now.get(rec["id"])
        if have is None:
            out.append((rec["id"], "removed"))
        elif have != canonical_json(rec):
            out.append((rec["id"], "altered"))
    return out
