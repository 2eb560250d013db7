"""Appending evidence to a note (gitmv/git/notes.py): when the record cache vouches that the note's
bytes are canonical and the new record sorts last, the record's bytes are appended without
re-rendering the note; the result is always exactly the canonical note of all its records, and a
note the cache does not vouch for is parsed (and refused when not canonical)."""

from __future__ import annotations

import tomllib

from conftest import ModelRepo, eval_from
from gitmv import records

NOTES = "refs/notes/mv-promote"


def note_bytes(r: ModelRepo, version: str) -> bytes:
    tag = r.git("rev-parse", f"refs/tags/mv/churn/{version}")
    return r.git("notes", "--ref", "mv-promote", "show", tag).encode() + b"\n"


def test_evals_appended_one_after_another_give_the_canonical_note(model_repo):
    r = model_repo
    v = r.version(0.85, 0.80)
    for auc in (0.86, 0.87, 0.88):
        eval_from(r, v, auc)
    raw = note_bytes(r, v)
    recs = tomllib.loads(raw.decode())["record"]
    assert len(recs) == 4
    assert raw == records.render_note(recs).encode()


def test_an_eval_on_a_note_edited_by_hand_after_a_cached_append_is_refused(model_repo):
    """The cache's word is about exact bytes: an edited note is parsed, and a non-canonical one refused."""
    r = model_repo
    v = r.version(0.85, 0.80)
    eval_from(r, v, 0.86)
    tag = r.git("rev-parse", f"refs/tags/mv/churn/{v}")
    edited = note_bytes(r, v).decode().replace("schema = 1\n", "schema = 1\n# hand edit\n", 1)
    r.git("notes", "--ref", "mv-promote", "add", "-f", "-m", edited.rstrip("\n"), tag)
    before = r.git("rev-parse", NOTES)
    result = r.mv("eval", "churn", v, code=1)
    assert "not in canonical form" in result.err
    assert r.git("rev-parse", NOTES) == before
