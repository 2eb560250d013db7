"""The append-only notes rule, as a pure decision over the records of one note before and after
one edge of the notes history (the server hook and `verify` both ask it)."""

from __future__ import annotations

from gitmv import records
from gitmv.rules.notes import ALTERED, REMOVED, edge_violations, reordered


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


# ---------------------------------------------------------------- the order the server's records are in

SEQUENTIAL = [{"old"}, {"old", "new"}]  # "new" was written where "old" was already known
CONCURRENT = [{"new"}, {"old"}, {"old", "new"}]  # each written in a clone without the other


def test_a_history_that_keeps_the_order_reorders_nothing():
    assert reordered({"old": 1, "new": 2}, {"old": 3, "new": 7}, SEQUENTIAL) is None


def test_a_record_made_newer_than_one_written_after_it_is_named_with_it():
    assert reordered({"old": 1, "new": 2}, {"old": 5, "new": 4}, SEQUENTIAL) == ("old", "new")


def test_concurrent_records_may_change_order_as_merges_do():
    assert reordered({"old": 1, "new": 2}, {"old": 5, "new": 4}, CONCURRENT) is None


def test_records_a_merge_introduces_together_tie_and_are_not_an_inversion():
    assert reordered({"a": 1, "b": 2, "c": 3}, {"a": 2, "b": 2, "c": 3}, [{"a"}, {"a", "b"}, {"a", "b", "c"}]) is None


def test_records_that_tied_before_may_be_ordered_after():
    assert reordered({"a": 1, "b": 1}, {"a": 2, "b": 1}, [{"a", "b"}]) is None


def test_an_inversion_far_apart_in_the_history_is_found():
    before = {f"r{i}": i for i in range(10)}
    held = [{f"r{j}" for j in range(i + 1)} for i in range(10)]
    assert reordered(before, dict(before, r2=20), held) == ("r2", "r3")
