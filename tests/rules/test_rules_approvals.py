"""The approval decision, from verified facts alone (no repository): who counts and why not."""

from __future__ import annotations

from gitmv.rules.approvals import APPROVE, HOST_MERGE, MERGE, Fact, decide, host_merge_author

SHA = "a" * 64
OLD = "b" * 64


def test_an_approve_commit_by_another_principal_naming_the_request_counts():
    d = decide("alice@example.com", SHA, [Fact(APPROVE, "c1", "bob@example.com", SHA)])
    assert d.approvers == ("bob@example.com",)
    assert d.approvals == ({"principal": "bob@example.com", "commit": "c1", "kind": APPROVE},)


def test_the_requester_never_approves_their_own_request():
    d = decide("alice@example.com", SHA, [Fact(APPROVE, "c1", "alice@example.com", SHA),
                                           Fact(MERGE, "m", "alice@example.com")])
    assert d.approvers == ()
    assert all("requester" in n["reason"] for n in d.not_counted)


def test_an_approval_of_an_earlier_request_file_is_void():
    d = decide("alice@example.com", SHA, [Fact(APPROVE, "c1", "bob@example.com", OLD)])
    assert d.approvers == ()
    assert "edited after this approval" in d.not_counted[0]["reason"]


def test_the_digest_may_carry_its_sha256_prefix():
    assert decide("alice@example.com", "sha256:" + SHA, [Fact(APPROVE, "c1", "bob@example.com", SHA)]).approvers


def test_an_approve_commit_naming_no_digest_does_not_count():
    assert decide("alice@example.com", SHA, [Fact(APPROVE, "c1", "bob@example.com", None)]).approvers == ()


def test_a_signed_merge_by_another_principal_counts():
    assert decide("alice@example.com", SHA, [Fact(MERGE, "m", "bob@example.com")]).approvers == ("bob@example.com",)


def test_an_unverified_fact_does_not_count_and_says_why():
    d = decide("alice@example.com", SHA, [Fact(MERGE, "m", None, unverified="merge commit: unsigned")])
    assert d.approvers == ()
    assert d.not_counted == ({"commit": "m", "kind": MERGE, "principal": None, "reason": "merge commit: unsigned"},)


def test_a_host_merge_counts_its_author_principal():
    d = decide("alice@example.com", SHA, [Fact(HOST_MERGE, "m", "bob@example.com")])
    assert d.approvals[0]["kind"] == HOST_MERGE and d.approvers == ("bob@example.com",)


def test_each_principal_counts_once():
    d = decide("alice@example.com", SHA, [Fact(APPROVE, "c1", "bob@example.com", SHA),
                                           Fact(MERGE, "m", "bob@example.com")])
    assert d.approvers == ("bob@example.com",)
    assert [a["commit"] for a in d.approvals] == ["c1"]


def test_distinct_principals_are_counted_in_sorted_order():
    d = decide("alice@example.com", SHA, [Fact(MERGE, "m", "carol@example.com"),
                                           Fact(APPROVE, "c1", "bob@example.com", SHA)])
    assert d.approvers == ("bob@example.com", "carol@example.com")


def test_without_a_known_requester_nobody_is_excluded():
    assert decide(None, SHA, [Fact(MERGE, "m", "alice@example.com")]).approvers == ("alice@example.com",)


def test_a_host_merge_author_is_the_allowed_signers_principal_equal_to_the_email():
    assert host_merge_author("Bob@Example.com", ["alice@example.com", "bob@example.com"]) == "bob@example.com"
    assert host_merge_author("eve@example.com", ["alice@example.com", "bob@example.com"]) is None
