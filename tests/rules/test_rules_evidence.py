"""Which eval is the evidence, as a pure choice over records and notes-history positions."""

from __future__ import annotations

import pytest

from gitmv import records
from gitmv.rules import evidence

DIGESTS = {"model.bin": "ab" * 32}


def ev(auc: float | None = 0.9, *, at: str = "2026-11-02T10:00:00Z", suite: str = "holdout", metrics: dict | None = None,
       digests: dict = DIGESTS, **extra) -> dict:
    body = {"suite": suite, "artifacts": digests, "metrics": metrics if metrics is not None else {"auc": auc}, **extra}
    return records.make_note_record("eval", body, at=at, by="Alice <alice@example.com>")


def test_the_eval_introduced_last_wins_over_one_dated_later():
    old_but_2099 = ev(0.99, at="2099-01-01T00:00:00Z")
    newer = ev(0.70, at="2026-11-03T00:00:00Z")
    history = [(1, {old_but_2099["id"]}), (2, {newer["id"]})]
    assert evidence.newest_eval(history, [old_but_2099, newer], "holdout") == newer


def test_history_order_of_the_list_does_not_matter_only_positions_do():
    a, b = ev(0.8), ev(0.7)
    assert evidence.newest_eval([(2, {b["id"]}), (1, {a["id"]})], [a, b], "holdout") == b


def test_an_empty_eval_introduced_last_is_ignored():
    good = ev(0.9)
    empty = ev(metrics={}, at="2099-01-01T00:00:00Z")
    assert evidence.newest_eval([(1, {good["id"]}), (2, {empty["id"]})], [good, empty], "holdout") == good


@pytest.mark.parametrize("bad", [float("inf"), float("-inf"), float("nan")])
def test_an_eval_with_a_non_finite_metric_is_ignored(bad):
    good, broken = ev(0.9), ev(bad)
    assert evidence.newest_eval([(1, {good["id"]}), (2, {broken["id"]})], [good, broken], "holdout") == good


def test_an_eval_with_a_non_finite_slice_metric_is_not_valid():
    assert not evidence.valid_eval(ev(0.9, slices={"region=eu": {"auc": float("nan")}}))


def test_an_eval_without_metrics_is_not_valid():
    rec = records.make_note_record("eval", {"suite": "holdout", "artifacts": DIGESTS}, at="2026-11-02T10:00:00Z", by="A")
    assert not evidence.valid_eval(rec)


def test_a_tampered_eval_is_not_valid():
    rec = ev(0.7)
    rec["metrics"]["auc"] = 0.99
    assert not evidence.valid_eval(rec)


def test_evals_on_another_suite_or_other_bytes_are_not_chosen():
    other_suite, other_bytes = ev(0.9, suite="canary"), ev(0.9, digests={"model.bin": "cd" * 32})
    history = [(1, {other_suite["id"], other_bytes["id"]})]
    assert evidence.newest_eval(history, [other_suite, other_bytes], "holdout", DIGESTS) is None


def test_ties_within_one_notes_commit_are_broken_in_canonical_order():
    a, b = ev(0.8, at="2026-11-02T10:00:00Z"), ev(0.7, at="2026-11-02T11:00:00Z")
    for order in ([a, b], [b, a]):
        assert evidence.newest_eval([(1, {a["id"], b["id"]})], order, "holdout") == b


def test_a_record_introduced_again_later_takes_its_latest_position():
    a, b = ev(0.8), ev(0.7)
    history = [(1, {a["id"]}), (2, {b["id"]}), (3, {a["id"]})]
    assert evidence.newest_eval(history, [a, b], "holdout") == a


def test_records_the_history_does_not_show_rank_below_placed_ones():
    placed, unplaced = ev(0.8, at="2026-01-01T00:00:00Z"), ev(0.7, at="2099-01-01T00:00:00Z")
    assert evidence.newest_eval([(1, {placed["id"]})], [placed, unplaced], "holdout") == placed


def test_no_valid_candidate_means_no_eval():
    assert evidence.newest_eval([], [], "holdout") is None
