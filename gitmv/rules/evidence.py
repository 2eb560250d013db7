"""Which eval record is the evidence: pure choice over records and their place in the notes history.

"The newest eval" is decided by position in the notes history (which notes commit introduced the
record), never by the record's `at`: `at` is written by whoever writes the record, so an eval
dated 2099 must not outrank the re-evaluation made after it. Records introduced by the same
notes commit are ordered canonically (as `render_note` writes them), so every reader picks the same.

No I/O here: `Registry.latest_eval` reads the history with git and calls `newest_eval`.
"""

from __future__ import annotations

from typing import Any, Iterable, Sequence

from gitmv import records


def _finite_table(value: object) -> bool:
    return isinstance(value, dict) and all(isinstance(k, str) and records.is_finite_number(v) for k, v in value.items())


def valid_eval(rec: dict[str, Any]) -> bool:
    """An eval that can count as evidence: intact, at least one metric, every number finite."""
    if rec.get("kind") != "eval" or not records.record_is_intact(rec):
        return False
    metrics = rec.get("metrics")
    if not metrics or not _finite_table(metrics):
        return False
    slices = rec.get("slices")
    if slices is not None and not (isinstance(slices, dict) and all(_finite_table(t) for t in slices.values())):
        return False
    return True


def positions(history: Sequence[tuple[int, Iterable[str]]]) -> dict[str, int]:
    """record id -> position of the latest notes commit that introduced it (higher is newer)."""
    out: dict[str, int] = {}
    for position, introduced in history:
        for rid in introduced:
            if rid not in out or position > out[rid]:
                out[rid] = position
    return out


def by_origin(history: Sequence[tuple[int, Iterable[str]]], origins: dict[str, int]) -> list[tuple[int, set[str]]]:
    """`history` with the records each notes commit introduces together put in the order they
    were first written (`origins`: record id -> index of the first commit holding it in a
    topological walk of the whole notes history, parents first).

    A merge introduces on the first-parent chain every record its other parents bring, all at
    one position; left tied, the writer-chosen `at` would decide between them, and a merge that
    re-roots the history (its first parent an old commit or an empty root) would tie a
    superseded eval with the one that replaced it. The topological order cannot be re-ordered
    by a merge: a record written after another was known sits in a descendant of its commit.
    Records one commit introduced itself keep their tie (then `at`, then the id)."""
    out: list[tuple[int, set[str]]] = []
    position = 0
    for _, introduced in sorted(history, key=lambda entry: entry[0]):
        groups: dict[int, set[str]] = {}
        for rid in introduced:
            groups.setdefault(origins.get(rid, -1), set()).add(rid)
        for origin in sorted(groups):
            position += 1
            out.append((position, groups[origin]))
    return out


def newest_eval(history: Sequence[tuple[int, Iterable[str]]], candidates: Iterable[dict[str, Any]], suite: str | None,
                digests: dict[str, str] | None = None) -> dict[str, Any] | None:
    """The newest valid eval on `suite` (any suite when None) bound to `digests` (when given).

    `history` is (position, ids that notes commit introduced), any order, higher position newer.
    A record the history does not show (no notes history at hand) ranks below every placed one.
    """
    placed = positions(history)
    best, best_key = None, None
    for rec in candidates:
        if not valid_eval(rec):
            continue
        if suite is not None and rec.get("suite") != suite:
            continue
        if digests is not None and rec.get("artifacts") != digests:
            continue
        key = (placed.get(rec["id"], -1), str(rec.get("at", "")), rec["id"])
        if best_key is None or key > best_key:
            best, best_key = rec, key
    return best
