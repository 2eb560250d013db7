"""The append-only notes rule, as a pure decision over the records of one note before and after
one edge of the notes history (the server hook and `verify` both ask it)."""

from __future__ import annotations

from gitmv import records
from gitmv.rules.notes import ALTERED, REMOVED, edge_violations, reintroduced


def rec(auc: float = 0.9, *, at: str = "2026-11-02T10:00:00Z", by: str = "alice@example.com") -> dict:
    body = {"suite": "holdout", "artifacts": {"model.bin": "ab" * 32}, "metrics": {"auc": auc}}
    return records.make_note_record("eval", body, at=at, by=by)


def test_a_note_kept_as_it_was_violates_nothing():
    a, b = rec(0.8), rec(0.9)
    assert edge_violations([a, b], [a, b]) == []


def test_adding_records_violates_nothing():
    a = rec(0.8)
    assert edge_violations([a], [a, rec(0.9)]) == []
    assert edge_violations([], [a]) == []


def test_the_order_of_records_in_a_note_does_not_matter():
    a, b = rec(0.8), rec(0.9)
    assert edge_violations([a, b], [b, a]) == []


def test_a_record_missing_after_the_edge_is_removed():
    a, b = rec(0.8), rec(0.9)
    assert edge_violations([a, b], [b]) == [(a["id"], REMOVED)]


def test_a_metric_edited_under_the_same_id_is_altered():
    a = rec(0.9)
    edited = {**a, "metrics": {"auc": 0.99}}
    assert edge_violations([a], [edited]) == [(a["id"], ALTERED)]


def test_a_stripped_signature_is_altered_though_the_record_stays_intact():
    signed = {**rec(), "signature": "-----BEGIN SSH SIGNATURE-----\nAAAA\n-----END SSH SIGNATURE-----\n"}
    unsigned = {k: v for k, v in signed.items() if k != "signature"}
    assert records.record_is_intact(unsigned)
    assert edge_violations([signed], [unsigned]) == [(signed["id"], ALTERED)]


def test_a_swapped_signature_is_altered():
    a = {**rec(), "signature": "sig-one"}
    assert edge_violations([a], [{**a, "signature": "sig-two"}]) == [(a["id"], ALTERED)]


def test_a_tampered_record_may_not_change_even_back_into_its_intact_form():
    intact = rec(0.9)
    tampered = {**intact, "metrics": {"auc": 0.99}}
    assert not records.record_is_intact(tampered)
    assert edge_violations([tampered], [intact]) == [(intact["id"], ALTERED)]


def test_every_violation_of_an_edge_is_named():
    a, b, c = rec(0.7), rec(0.8), rec(0.9)
    found = edge_violations([a, b, c], [{**b, "by": "mallory@example.com"}, c])
    assert sorted(found) == sorted([(a["id"], REMOVED), (b["id"], ALTERED)])


# ---------------------------------------------------------------- records enter the history once

def test_a_new_record_is_no_copy():
    assert reintroduced({"old", "new"}, [{"old"}], held={"old"}) == []


def test_a_root_commit_holding_a_record_the_server_has_is_a_copy():
    assert reintroduced({"superseded"}, [], held={"first", "superseded"}) == ["superseded"]


def test_a_merge_holds_what_its_parents_hold():
    assert reintroduced({"a", "b"}, [{"a"}, {"b"}], held={"a", "b"}) == []


def test_a_record_no_parent_holds_is_a_copy_also_in_a_merge():
    assert reintroduced({"a", "b", "c"}, [{"a"}, {"b"}], held={"a", "b", "c"}) == ["c"]
