"""gitmv.schema, the one mechanism that checks the shape of the policy, records, metrics reports
and request files: every problem names the dotted key path. Pure: no repository."""

from __future__ import annotations

import pytest

from gitmv.errors import PolicyError, RecordError
from gitmv.schema import (BOOLEAN, FINITE, INTEGER, NUMBER, STRING, Array, Errors, Field, Invalid, Map, Problem, Table,
                          Value, at_least, validate)

GATE = Table({
    "metrics": Field(Map(Value("string", one_of=("max", "min"))), default={}),
    "min": Field(Map(NUMBER), default={}),
    "approvals": Field(Value("integer", checks=(at_least(0),)), default=0),
})
DOC = Table({
    "schema": Field(INTEGER, required=True),
    "strict": Field(BOOLEAN, default=False),
    "models": Field(Map(Table({"artifacts": Field(Array(STRING), required=True), "gate": Field(GATE, default={})})),
                    default={}),
    "record": Field(Array(Table({"id": Field(STRING, required=True)})), default=[]),
})


def problem(value: object, spec: Table = DOC) -> Invalid:
    with pytest.raises(Invalid) as info:
        spec.check(value)
    return info.value


def test_a_value_that_fits_comes_back_with_defaults_filled_in():
    out = DOC.check({"schema": 1, "models": {"fraud": {"artifacts": ["m.bin"]}}})
    assert out == {"schema": 1, "strict": False, "record": [],
                   "models": {"fraud": {"artifacts": ["m.bin"], "gate": {"metrics": {}, "min": {}, "approvals": 0}}}}


def test_an_absent_key_without_a_default_stays_absent():
    assert "note" not in Table({"note": Field(STRING)}).check({})


def test_a_default_is_a_copy_so_a_caller_cannot_change_the_spec():
    first = DOC.check({"schema": 1})
    first["record"].append({"id": "x"})
    assert DOC.check({"schema": 1})["record"] == []


def test_an_unknown_key_is_named_with_its_path():
    p = problem({"schema": 1, "models": {"fraud": {"artifacts": [], "gate": {"treshold": {}}}}})
    assert (p.kind, p.path) == ("unknown", "models.fraud.gate.treshold")
    assert str(p) == "unknown key models.fraud.gate.treshold"


def test_all_unknown_keys_of_a_table_are_named_together():
    assert problem({"schema": 1, "b": 1, "a": 2}).path == "a, b"


def test_an_open_table_keeps_keys_it_does_not_declare():
    spec = Table({"id": Field(STRING, required=True)}, open=True)
    assert spec.check({"id": "x", "future": [1]}) == {"id": "x", "future": [1]}


def test_a_wrong_type_names_the_path_the_expected_type_and_the_value():
    p = problem({"schema": 1, "strict": "yes"})
    assert (p.kind, str(p)) == ("type", "strict must be true or false, got 'yes'")


@pytest.mark.parametrize("value", [True, 1.5, "1"])
def test_an_integer_is_not_a_boolean_a_float_or_a_string(value):
    assert problem({"schema": value}).kind == "type"


@pytest.mark.parametrize("value", [True, "0.9"])
def test_a_number_is_not_a_boolean_or_a_string(value):
    with pytest.raises(Invalid, match="must be a number"):
        NUMBER.check(value)


@pytest.mark.parametrize("value", [float("inf"), float("-inf"), float("nan"), True, "1"])
def test_a_finite_number_is_not_inf_nan_a_boolean_or_a_string(value):
    with pytest.raises(Invalid, match="is not a finite number"):
        FINITE.check(value, "metrics.auc")


def test_a_missing_required_key_is_named_with_its_path():
    p = problem({"schema": 1, "models": {"fraud": {}}})
    assert (p.kind, str(p)) == ("required", "models.fraud.artifacts is required")


def test_a_value_of_a_named_table_is_reported_under_its_name():
    p = problem({"schema": 1, "models": {"fraud": {"artifacts": [], "gate": {"min": {"auc": "high"}}}}})
    assert str(p) == "models.fraud.gate.min.auc must be a number, got 'high'"


def test_a_named_table_that_is_not_a_table_is_named():
    assert str(problem({"schema": 1, "models": {"fraud": 3}})) == "models.fraud must be a table, got 3"


def test_the_name_of_a_named_table_is_checked_at_its_path():
    spec = Map(INTEGER, key=lambda name: None if name.islower() else "is not a valid model name")
    with pytest.raises(Invalid) as info:
        spec.check({"Fraud": 1}, "models")
    assert str(info.value) == "models.Fraud is not a valid model name"


def test_an_item_of_an_array_of_tables_is_named_by_its_index():
    p = problem({"schema": 1, "record": [{"id": "a"}, {}]})
    assert str(p) == "record[1].id is required"


def test_an_array_of_tables_that_is_a_single_table_says_so():
    assert str(problem({"schema": 1, "record": {"id": "a"}})).startswith("record must be an array of tables, got")


def test_a_value_outside_its_allowed_set_names_the_allowed_values():
    p = problem({"schema": 1, "models": {"f": {"artifacts": [], "gate": {"metrics": {"auc": "highest"}}}}})
    assert str(p) == "models.f.gate.metrics.auc must be one of max, min, got 'highest'"


def test_a_check_names_the_path_and_what_is_wrong():
    p = problem({"schema": 1, "models": {"f": {"artifacts": [], "gate": {"approvals": -1}}}})
    assert str(p) == "models.f.gate.approvals must be ≥ 0, got -1"


def test_a_non_empty_array_refuses_an_empty_one():
    with pytest.raises(Invalid, match="^artifacts must not be empty$"):
        Array(STRING, non_empty=True).check([], "artifacts")


def test_a_table_check_sees_the_checked_table_and_names_the_key_it_is_about():
    def declared(gate):
        undeclared = sorted(set(gate["min"]) - set(gate["metrics"]))
        return Problem("names an undeclared metric", "declare it", at=("min", undeclared[0])) if undeclared else None

    spec = Table({"gate": Field(Table({"metrics": Field(Map(STRING), default={}), "min": Field(Map(NUMBER), default={})},
                                      checks=(declared,)))})
    with pytest.raises(Invalid) as info:
        spec.check({"gate": {"min": {"f1": 0.5}}})
    assert (str(info.value), info.value.fix) == ("gate.min.f1 names an undeclared metric", "declare it")


def test_validate_raises_the_callers_error_with_its_fixes():
    errors = Errors(PolicyError, unknown="unknown key {keys} in .mv-promote.toml", unknown_fix="remove it")
    with pytest.raises(PolicyError) as info:
        validate(DOC, {"schema": 1, "stagez": []}, errors)
    assert (info.value.cause, info.value.fix) == ("unknown key stagez in .mv-promote.toml", "remove it")


def test_validate_prefixes_the_document_the_caller_names():
    with pytest.raises(RecordError) as info:
        validate(DOC, {"schema": "1"}, Errors(RecordError, where="note on v1"))
    assert info.value.cause == "note on v1: schema must be an integer, got '1'"


def test_validate_names_a_document_that_is_not_a_table_without_a_path():
    with pytest.raises(RecordError) as info:
        validate(DOC, [1, 2], Errors(RecordError, where="the metrics file"))
    assert info.value.cause == "the metrics file must be a table, got [1, 2]"


def test_a_long_value_is_shortened_in_the_message():
    with pytest.raises(Invalid) as info:
        STRING.check(["x" * 500], "name")
    assert len(str(info.value)) < 100


def test_the_first_problem_reported_follows_the_spec_not_the_order_of_the_document():
    assert problem({"strict": "yes", "schema": "1"}).path == "schema"
    assert problem({"schema": "1", "strict": "yes"}).path == "schema"


def test_a_subclass_of_a_scalar_type_fits_it():
    class Name(str):
        pass

    assert Table({"id": Field(STRING)}).check({"id": Name("x")}) == {"id": "x"}
