"""Listings and logs never show what a check refuses, and name what they cannot read: a version
ref aliased to another version's tag, a note holding a TOML date, a note that fails its checks
in `log` (found by an adversarial review of the read-ahead helper; the same with it or without)."""

from __future__ import annotations

import tomllib
from datetime import datetime, timezone

from conftest import run_mv
from gitmv import records


def note_of(r, version: str) -> tuple[str, str]:
    tag = r.git("rev-parse", f"refs/tags/mv/churn/{version}")
    return tag, r.git("notes", "--ref", "mv-promote", "show", tag) + "\n"


def write_note(r, tag: str, text: str) -> None:
    r.git("notes", "--ref", "mv-promote", "add", "-f", "-m", text.rstrip("\n"), tag)


def test_a_version_ref_aliased_to_another_versions_tag_is_refused_in_a_listing(model_repo):
    for auc in (0.8, 0.81):
        model_repo.version(auc, 0.8, evaluate=False)
    run_mv("show", "churn", cwd=model_repo.path)  # v1 and v2 read (and remembered) under their own refs
    model_repo.git("update-ref", "refs/tags/mv/churn/v3", model_repo.git("rev-parse", "refs/tags/mv/churn/v2"))
    listed = run_mv("show", "churn", cwd=model_repo.path, code=None)
    assert listed.code != 0 and "refs/tags/mv/churn/v3 carries the record of churn version v2" in listed.err
    logged = run_mv("log", "churn", "--json", cwd=model_repo.path).json["events"]
    assert [e["event"] for e in logged if e["version"] == "v3"] == ["invalid"]


def test_a_note_holding_a_toml_date_is_refused_not_a_crash(model_repo):
    model_repo.version(0.8, 0.8)
    tag, note = note_of(model_repo, "v1")
    found = tomllib.loads(note)["record"]
    found[0]["when"] = datetime(2026, 1, 1, tzinfo=timezone.utc)
    write_note(model_repo, tag, records.render_note(found))  # canonical: exactly what it parses to
    shown = run_mv("show", "churn", "v1", cwd=model_repo.path, code=None)
    assert shown.code == 1, shown.err
    assert "holds a TOML date or time at record.0.when" in shown.err


def test_log_names_a_note_it_cannot_read(model_repo):
    model_repo.version(0.8, 0.8)
    tag, note = note_of(model_repo, "v1")
    write_note(model_repo, tag, note.replace(" = ", "  =  "))
    events = run_mv("log", "churn", "--json", cwd=model_repo.path).json["events"]
    invalid = [e for e in events if e["version"] == "v1" and e["event"] == "invalid"]
    assert len(invalid) == 1 and "not in canonical form" in invalid[0]["why"]
    assert not any(e["event"] == "eval" for e in events)  # its records are not shown either
