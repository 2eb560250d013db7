"""The name grammar's checks: one message for a malformed model or version, whoever asks."""

from __future__ import annotations

import pytest

from gitmv.errors import EXIT_USAGE, UsageError
from gitmv.names import (check_model_name, check_version_name, check_version_or_experiment,
                         is_experiment_name)


@pytest.mark.parametrize("name", ["churn", "fraud-2", "a_b", "0"])
def test_valid_model_names_pass(name):
    assert check_model_name(name) == name


@pytest.mark.parametrize("name", ["Churn", "churn.v2", "a/b", "", "-x", "x" * 65])
def test_an_invalid_model_name_is_a_usage_error_naming_the_grammar(name):
    with pytest.raises(UsageError) as err:
        check_model_name(name)
    assert err.value.exit_code == EXIT_USAGE
    assert err.value.cause == f"invalid model name '{name}'"
    assert "lower case" in err.value.fix


@pytest.mark.parametrize("version", ["v1", "v2", "v10", "v999999999"])
def test_valid_version_names_pass(version):
    assert check_version_name(version) == version


@pytest.mark.parametrize("version", ["2", "V2", "v0", "v02", "v", "v2a", "latest", ""])
def test_a_malformed_version_is_a_usage_error_with_one_message(version):
    with pytest.raises(UsageError) as err:
        check_version_name(version)
    assert err.value.exit_code == EXIT_USAGE
    assert err.value.cause == f"invalid version name '{version}'"
    assert "v1, v2" in err.value.fix


@pytest.mark.parametrize("name", ["v3", "exp-1", "e1a2b3c4d5e6", "baseline"])
def test_where_experiments_are_accepted_a_version_or_an_experiment_name_passes(name):
    assert check_version_or_experiment(name) == name


@pytest.mark.parametrize("name", ["2", "V2", "v02", "Exp"])
def test_where_experiments_are_accepted_a_malformed_version_has_the_same_message(name):
    with pytest.raises(UsageError) as err:
        check_version_or_experiment(name)
    assert err.value.cause == f"invalid version name '{name}'"


@pytest.mark.parametrize("name", ["v1", "2", "V2", "v02"])
def test_nothing_that_looks_like_a_version_can_name_an_experiment(name):
    assert not is_experiment_name(name)
