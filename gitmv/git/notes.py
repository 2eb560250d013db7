"""Evidence notes: `[[record]]` TOML on version tag objects in `refs/notes/mv-promote`.

Appending is read-modify-write of the whole notes commit with a compare-and-swap ref update and
retry, so concurrent writers in one clone lose nothing. Merging two notes histories is a union of
records by id per annotated object (never a raw tree merge), so every clone converges to the same
bytes.
"""

from __future__ import annotations

import hashlib
from typing import Protocol

from gitmv import records
from gitmv.errors import MvError, RecordError
from gitmv.git.repo import Repo
from gitmv.names import NOTES_REF


class NoteCache(Protocol):
    """What appending needs of the record cache (gitmv.cache.RecordCache): entries by key."""

    def get(self, oid: str) -> dict | None: ...

    def put(self, oid: str, record: dict) -> None: ...


def fanout_paths(target: str) -> list[str]:
    """Where the note on `target` may sit in a notes tree: flat or under 2/38 (or deeper) fan-out
    (it may move between them): the paths to limit a history walk of that one note to."""
    return ["/".join([target[2 * i:2 * i + 2] for i in range(depth)] + [target[2 * depth:]]) for depth in range(4)]


def ids_at(repo: Repo, notes_commit: str, target: str) -> set[str]:
    """The record ids of the note on `target` at `notes_commit` (none for a malformed note, which
    was refused when its commit was pushed: it introduced nothing that counts)."""
    try:
        return {r["id"] for r in read_records(repo, notes_commit, target)}
    except MvError:
        return set()


def read_records(repo: Repo, notes_commit: str | None, target: str) -> list[dict]:
    raw = repo.read_note(target, notes_commit)
    if raw is None:
        return []
    return records.parse_note(raw, f"note on {target[:12]}")


def append(repo: Repo, target: str, new_records: list[dict], message: str, ref: str = NOTES_REF,
           cache: "NoteCache | None" = None) -> str:
    """Add records to the note on `target`; returns the notes commit that holds them. With the
    record cache (gitmv.cache.RecordCache) an append does not depend on the records already there."""

    def compute(old: str | None) -> str | None:
        raw = repo.read_note(target, old) if old else None
        data = _appended(cache, raw, new_records) if raw is not None else None
        if data is None:
            have = records.parse_note(raw, f"note on {target[:12]}") if raw is not None else []
            merged = records.merge_records(have, new_records)
            if len(merged) == len(have) and all(r["id"] in {h["id"] for h in have} for r in merged):
                return None
            data = records.render_note(merged).encode()
            end = records.note_end(merged)
        else:
            end = records.note_end(records.merge_records([], new_records))
        if len(data) > records.MAX_NOTE_BYTES:
            raise RecordError(f"the note on {target[:12]} would be {len(data)} bytes, over the "
                              f"{records.MAX_NOTE_BYTES} byte limit; nothing was recorded",
                              "keep records small: metrics overall and per slice, not per example")
        if cache is not None and end is not None:
            cache.put(_END_KEY + hashlib.sha256(data).hexdigest(), {"end": list(end)})
        return repo.write_notes({target: data}, [old] if old else [], message)

    result = repo.cas_notes_update(compute, ref, message)
    assert result is not None
    return result


# "this note's bytes are canonical and end with the record (at, id)": what appending needs to know
# of a note without parsing it, keyed by the bytes' hash (so never stale), in the record cache
_END_KEY = "note-end:"
# a note's validated records in canonical order (Registry._read_note), keyed by the note blob's
# object id: a listing looks the id up in the notes tree and never reads the blob when it is known
NOTE_KEY = "note:"


def _appended(cache: "NoteCache | None", raw: bytes, new_records: list[dict]) -> bytes | None:
    """The note `raw` with `new_records` appended as bytes, when the cache vouches that `raw` is
    canonical (an entry written by an append, or the records a read validated) and they sort last;
    None otherwise (the caller parses and re-renders the note, checking it)."""
    if cache is None:
        return None
    digest = hashlib.sha256(raw).hexdigest()
    hit = cache.get(_END_KEY + digest)
    end = hit.get("end") if hit else None
    if not (isinstance(end, list) and len(end) == 2 and all(isinstance(e, str) for e in end)):
        read = cache.get(NOTE_KEY + Repo.blob_id(raw))  # Registry._read_note's entry
        found = read.get("records") if read else None
        end = list(records.note_end(found) or ()) if isinstance(found, list) and found else None
    if not end:
        return None
    data = records.append_to_note(raw, (end[0], end[1]), new_records)
    if data is not None and len(data) > records.MAX_NOTE_BYTES:
        return None  # the full path reports the limit
    return data


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
