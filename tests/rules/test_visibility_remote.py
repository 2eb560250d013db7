"""Which remote a decision compares with, and what of the remote's tags is a gap (pure)."""

from __future__ import annotations

from gitmv.rules.visibility import decision_remote, remote_ahead

V1 = "refs/tags/mv/churn/v1"
P1 = "refs/tags/mv/churn/production/1"
P2 = "refs/tags/mv/churn/production/2"


def test_the_remote_the_command_names_comes_first():
    assert decision_remote(["backup", "origin"], "backup") == "backup"


def test_origin_is_the_remote_sync_defaults_to():
    assert decision_remote(["backup", "origin"]) == "origin"


def test_the_only_remote_is_compared_whatever_its_name():
    assert decision_remote(["upstream"]) == "upstream"


def test_no_remote_or_several_without_origin_names_none():
    assert decision_remote([]) is None
    assert decision_remote(["a", "b"]) is None


def test_a_tag_only_the_remote_has_is_a_gap_naming_it_and_sync():
    gap = remote_ahead("origin", "churn", {V1: "a" * 40}, {V1: "a" * 40, P1: "b" * 40})
    assert gap is not None and gap.missing == "tags"
    assert gap.cause == f"the remote 'origin' has {P1} that this clone has not fetched"
    assert gap.fix == "run `git mv-promote sync`, then decide again"


def test_a_same_named_tag_with_another_object_is_a_gap():
    gap = remote_ahead("origin", "churn", {P1: "a" * 40}, {P1: "b" * 40})
    assert gap is not None and gap.cause == f"the remote 'origin' has a different {P1} than this clone"


def test_tags_only_this_clone_has_are_no_gap():
    assert remote_ahead("origin", "churn", {V1: "a" * 40, P1: "b" * 40}, {V1: "a" * 40}) is None


def test_another_remote_is_named_in_the_fix():
    gap = remote_ahead("backup", "churn", {}, {P1: "b" * 40, P2: "c" * 40})
    assert gap is not None and gap.fix == "run `git mv-promote sync backup`, then decide again"
    assert "(and 1 more tag(s) of churn)" in gap.cause
