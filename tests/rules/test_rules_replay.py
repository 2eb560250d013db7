"""The replay comparison and the gate's replay bound, without a repository: output formats,
labels, numbers, the rows that differ most, and the errors that stop a comparison."""

from __future__ import annotations

import pytest

from gitmv import records
from gitmv.errors import ReplayError
from gitmv.policy import ReplayGate
from gitmv.rules import replay


def out(text: str) -> replay.Output:
    return replay.parse_output(text.encode(), "the output")


def compare(a: str, b: str, **kw) -> dict:
    return replay.compare(out(a), out(b), candidate_name="v2", baseline_name="v1", **kw)


# ---------------------------------------------------------------- formats

def test_one_value_per_line_reads_numbers_and_labels():
    assert out("1\n0.5\nbenign\n").values == [1, 0.5, "benign"]


def test_json_lines_read_the_prediction_and_the_id():
    parsed = out('{"id": 7, "prediction": "spam"}\n{"id": 8, "prediction": 0.25}\n')
    assert (parsed.values, parsed.ids, parsed.format) == (["spam", 0.25], ["7", "8"], "jsonl")


def test_csv_reads_the_prediction_column_and_the_id_column():
    parsed = out("id,score,prediction\na,0.1,yes\nb,0.2,no\n")
    assert (parsed.values, parsed.ids, parsed.format) == (["yes", "no"], ["a", "b"], "csv")


def test_a_one_column_csv_has_the_header_prediction():
    assert out("prediction\n1\n2\n").values == [1, 2]


def test_a_trailing_blank_line_is_not_a_row():
    assert len(out("a\nb\n\n\n").values) == 2


@pytest.mark.parametrize("text, words", [
    ("", "is empty"),
    ("a\n\nb\n", "row 2 is blank"),
    ('{"label": 1}\n', 'no "prediction"'),
    ('{"prediction": [1, 2]}\n', "must be a number or a label"),
    ("id,score\n1,2\n", "no prediction column"),
    ("prediction,id\n1\n", "row 1 has 1 columns"),
])
def test_malformed_outputs_are_a_clear_error(text, words):
    with pytest.raises(ReplayError, match=words):
        out(text)


# ---------------------------------------------------------------- comparison

def test_labels_give_the_agreement_rate():
    result = compare("a\nb\nc\nd\n", "a\nx\nc\ny\n")
    assert (result["rows"], result["agree"], result["agreement"], result["output"]) == (4, 2, 0.5, "labels")
    assert "max_abs_diff" not in result


def test_labels_list_the_differing_rows_in_row_order():
    result = compare("a\nb\nc\nd\n", "a\nx\nc\ny\n")
    assert result["top"] == [{"row": 2, "candidate": "b", "baseline": "x"}, {"row": 4, "candidate": "d", "baseline": "y"}]


def test_numbers_give_max_and_mean_absolute_difference():
    result = compare("1.0\n2.0\n3.5\n", "1\n2.5\n3.0\n")
    assert result["output"] == "numbers" and result["agree"] == 1
    assert result["max_abs_diff"] == 0.5 and result["mean_abs_diff"] == pytest.approx(1 / 3)


def test_numbers_list_the_rows_that_differ_most_first():
    result = compare("0\n0\n0\n0\n", "0.1\n0.4\n0\n0.2\n")
    assert [row["row"] for row in result["top"]] == [2, 4, 1]
    assert result["top"][0] == {"row": 2, "candidate": 0, "baseline": 0.4, "abs_diff": 0.4}


def test_top_keeps_only_n_rows():
    a = "".join(f"{i}\n" for i in range(30))
    b = "".join(f"{i * 2}\n" for i in range(30))
    result = compare(a, b, top_n=10)
    assert len(result["top"]) == 10 and result["top"][0]["row"] == 30


def test_a_number_and_a_label_never_agree():
    assert compare("1\n", "one\n")["agree"] == 0


def test_ids_are_carried_into_the_top_rows():
    result = compare('{"id": "x", "prediction": 1}\n', '{"id": "x", "prediction": 0}\n')
    assert result["top"][0]["id"] == "x"


def test_unequal_row_counts_are_a_clear_error():
    with pytest.raises(ReplayError, match="v2 wrote 3 rows and v1 wrote 2: a replay compares the outputs row by row"):
        compare("a\nb\nc\n", "a\nb\n")


def test_rows_out_of_order_are_a_clear_error():
    with pytest.raises(ReplayError, match="row 1 has id 'a'"):
        compare("id,prediction\na,1\nb,2\n", "id,prediction\nb,2\na,1\n")


# ---------------------------------------------------------------- the gate's bound

def record(**changes) -> dict:
    body = {"model": "churn", "version": "v2", "artifacts": {"model.bin": "ab" * 32},
            "against": {"version": "v1", "tag": "9c" * 20, "artifacts": {"model.bin": "cd" * 32}},
            "inputs": {"path": "data/prod.csv", "sha256": "ef" * 32}, "rows": 200, "agree": 196, **changes}
    return records.make_note_record("replay", body, at="2026-11-02T10:00:00Z", by="alice@example.com")


BINDING = dict(model="churn", version="v2", digests={"model.bin": "ab" * 32}, against="v1", against_tag="9c" * 20,
               against_digests={"model.bin": "cd" * 32}, inputs="data/prod.csv")


def test_min_agreement_met():
    c = replay.judge(ReplayGate("production", min_agreement=0.98), record(), "v1 (production)")
    assert c.passed and c.detail.startswith("agreement 0.98 (196/200 rows) ≥ 0.98 required vs v1 (production)")


def test_min_agreement_missed():
    c = replay.judge(ReplayGate("production", min_agreement=0.99), record(), "v1 (production)")
    assert not c.passed and "0.98 (196/200 rows) < 0.99 required" in c.detail


def test_max_abs_diff_needs_numbers():
    c = replay.judge(ReplayGate("production", max_abs_diff=0.1), record(), "v1")
    assert not c.passed and "outputs are labels" in c.detail


def test_max_abs_diff_bounds_the_largest_difference():
    ok = replay.judge(ReplayGate("production", max_abs_diff=0.1), record(max_abs_diff=0.05, mean_abs_diff=0.01), "v1")
    bad = replay.judge(ReplayGate("production", max_abs_diff=0.01), record(max_abs_diff=0.05, mean_abs_diff=0.01), "v1")
    assert ok.passed and not bad.passed and "max abs diff 0.05 > 0.01 allowed" in bad.detail


def test_a_record_is_bound_to_both_versions_and_the_inputs():
    assert replay.bound_to(record(), **BINDING)
    for key, value in [("digests", {"model.bin": "00" * 32}), ("against_digests", {"model.bin": "00" * 32}),
                       ("against_tag", "00" * 20), ("against", "v3"), ("inputs", "data/other.csv"), ("version", "v3")]:
        assert not replay.bound_to(record(), **{**BINDING, key: value}), key


def test_a_tampered_or_impossible_record_is_not_well_formed():
    assert replay.well_formed(record())
    assert not replay.well_formed({**record(), "agree": 200})  # no longer hashes to its id
    assert not replay.well_formed(record(agree=201))
    assert not replay.well_formed(record(rows=0, agree=0))


def test_newest_goes_by_notes_history_not_by_at():
    old = record(agree=150)
    new = {**record(agree=199)}
    late_dated = records.make_note_record("replay", {k: v for k, v in old.items() if k not in ("id", "at", "by", "kind")},
                                          at="2099-01-01T00:00:00Z", by="alice@example.com")
    assert replay.newest([late_dated, new], {new["id"]: 2, late_dated["id"]: 1}) is new
