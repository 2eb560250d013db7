"""Evidence notes: `[[record]]` TOML on version tag objects in `refs/notes/mv-promote`.

Appending is read-modify-write of the whole notes commit with a compare-and-swap ref update and
retry, so concurrent writers in one clone lose nothing. Merging two notes histories is a union of
records by id per annotated object (never a raw tree merge), so every clone converges to the same
bytes.
"""

from __future__ import annotations

from gitmv import records
from gitmv.errors import RecordError
from gitmv.git.repo import Repo
from gitmv.names import NOTES_REF


def read_records(repo: Repo, notes_commit: str | None, target: str) -> list[dict]:
    raw = repo.read_note(target, notes_commit)
    if raw is None:
        return []
    return records.parse_note(raw, f"note on {target[:12]}")


def append(repo: Repo, target: str, new_records: list[dict], message: str, ref: str = NOTES_REF) -> str:
    """Add records to the note on `target`; returns the notes commit that holds them."""

    def compute(old: str | None) -> str | None:
        have = read_records(repo, old, target)
        merged = records.merge_records(have, new_records)
        if len(merged) == len(have) and all(r["id"] in {h["id"] for h in have} for r in merged):
            return None
        data = records.render_note(merged).encode()
        if len(data) > records.MAX_NOTE_BYTES:
            raise RecordError(f"the note on {target[:12]} would be {len(data)} bytes, over the "
                              f"{records.MAX_NOTE_BYTES} byte limit; nothing was recorded",
                              "keep records small: metrics overall and per slice, not per example")
        return repo.write_notes({target: data}, [old] if old else [], message)

    result = repo.cas_notes_update(compute, ref, message)
    assert result is not None
    return result


def merge_commits(repo: Repo, ours: str | None, theirs: str | None, message: str) -> str | None:
    """A notes commit whose note on every object is the union of both sides' records.

    Returns `ours` when theirs adds nothing, `theirs` when ours adds nothing (fast-forward),
    else a merge commit with both as parents.
    """
    if theirs is None or theirs == ours:
        return ours
    if ours is None:
        return theirs
    if repo.is_ancestor(theirs, ours):
        return ours
    if repo.is_ancestor(ours, theirs):
        return theirs
    updates: dict[str, bytes] = {}
    our_targets = set(repo.note_targets(ours))
    for target in repo.note_targets(theirs):
        mine = read_records(repo, ours, target) if target in our_targets else []
        their = read_records(repo, theirs, target)
        merged = records.merge_records(mine, their)
        data = records.render_note(merged).encode()
        if data != (repo.read_note(target, ours) or b""):
            updates[target] = data
    return repo.write_notes(updates, [ours, theirs], message)
