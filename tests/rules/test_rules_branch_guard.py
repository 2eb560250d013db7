"""The protected-branch guard's decision (gitmv/rules/branch_guard.py), from facts alone: no repo."""

from __future__ import annotations

from gitmv.rules.branch_guard import (RULE, RULE_APPROVALS, RULE_POLICY, Approve, BranchCommit, Change,
                                      UpdateFacts, approve_bindings, approvers, judge)

REF = "refs/heads/main"
SIDE_TREE = "a" * 40
SHA = "b" * 64
POLICY_CHANGE = (Change(".mv-promote.toml", "c" * 64),)


def merge(**kw) -> BranchCommit:
    base = dict(id="m" * 40, parents=2, changes=POLICY_CHANGE, side_tree=SIDE_TREE,
                change_authors=frozenset({"alice@example.com"}))
    base.update(kw)
    return BranchCommit(**base)


def rules(facts: UpdateFacts) -> list[str]:
    return [f.rule for f in judge(facts)]


def test_a_commit_that_touches_no_guarded_path_is_accepted():
    assert judge(UpdateFacts(REF, commits=(BranchCommit("c" * 40, 1),))) == []


def test_a_direct_commit_changing_the_policy_is_refused():
    assert rules(UpdateFacts(REF, commits=(BranchCommit("c" * 40, 1, POLICY_CHANGE),))) == [RULE]


def test_an_octopus_merge_changing_the_policy_is_refused():
    assert rules(UpdateFacts(REF, commits=(merge(parents=3, merge_signer="bob@example.com"),))) == [RULE]


def test_deleting_the_protected_branch_is_refused():
    assert rules(UpdateFacts(REF, deleting=True)) == [RULE]


def test_a_non_fast_forward_update_is_refused():
    assert rules(UpdateFacts(REF, fast_forward=False)) == [RULE]


def test_a_merge_signed_by_a_reviewer_who_did_not_write_the_change_is_accepted():
    assert judge(UpdateFacts(REF, commits=(merge(merge_signer="bob@example.com"),))) == []


def test_an_unsigned_merge_is_refused():
    assert rules(UpdateFacts(REF, commits=(merge(),))) == [RULE_APPROVALS]


def test_a_merge_signed_by_the_author_of_the_change_is_refused():
    assert rules(UpdateFacts(REF, commits=(merge(merge_signer="Alice@example.com"),))) == [RULE_APPROVALS]


def test_a_merge_that_writes_guarded_bytes_of_its_own_does_not_count_its_signer():
    evil = (Change(".mv-promote.toml", "c" * 64, from_side=False),)
    assert rules(UpdateFacts(REF, commits=(merge(merge_signer="bob@example.com", changes=evil),))) == [RULE_APPROVALS]


def test_an_approve_commit_naming_the_side_tip_tree_counts():
    ok = Approve("p" * 40, "bob@example.com", (f"tree:{SIDE_TREE}",))
    assert judge(UpdateFacts(REF, commits=(merge(approves=(ok,)),))) == []


def test_an_approve_commit_naming_an_older_tree_does_not_count():
    stale = Approve("p" * 40, "bob@example.com", ("tree:" + "d" * 40,))
    assert rules(UpdateFacts(REF, commits=(merge(approves=(stale,)),))) == [RULE_APPROVALS]


def test_an_unsigned_approve_commit_does_not_count():
    unsigned = Approve("p" * 40, None, (f"tree:{SIDE_TREE}",))
    assert rules(UpdateFacts(REF, commits=(merge(approves=(unsigned,)),))) == [RULE_APPROVALS]


def test_an_approve_by_the_author_does_not_count():
    self_approve = Approve("p" * 40, "alice@example.com", (f"tree:{SIDE_TREE}",))
    assert rules(UpdateFacts(REF, commits=(merge(approves=(self_approve,)),))) == [RULE_APPROVALS]


def test_approvers_are_distinct_principals():
    bob = Approve("p" * 40, "bob@example.com", (f"tree:{SIDE_TREE}",))
    c = merge(merge_signer="bob@example.com", approves=(bob, bob))
    assert approvers(c) == ["bob@example.com"]
    assert rules(UpdateFacts(REF, needed=2, commits=(c,))) == [RULE_APPROVALS]


def test_two_distinct_approvers_satisfy_policy_approvals_two():
    carol = Approve("p" * 40, "carol@example.com", (f"tree:{SIDE_TREE}",))
    assert judge(UpdateFacts(REF, needed=2, commits=(merge(merge_signer="bob@example.com", approves=(carol,)),))) == []


def test_a_request_file_digest_approves_the_request_and_its_page():
    changes = (Change("promotions/churn/production.toml", SHA), Change("promotions/churn/production.md", "e" * 64))
    ok = Approve("p" * 40, "bob@example.com", (f"sha256:{SHA}@churn/v2-production",))
    assert judge(UpdateFacts(REF, commits=(merge(changes=changes, approves=(ok,)),))) == []


def test_a_request_file_digest_does_not_approve_a_policy_change_in_the_same_merge():
    changes = (Change("promotions/churn/production.toml", SHA),) + POLICY_CHANGE
    ok = Approve("p" * 40, "bob@example.com", (f"sha256:{SHA}@churn/v2-production",))
    assert rules(UpdateFacts(REF, commits=(merge(changes=changes, approves=(ok,)),))) == [RULE_APPROVALS]


def test_zero_policy_approvals_still_needs_a_merge():
    assert judge(UpdateFacts(REF, needed=0, commits=(merge(),))) == []
    assert rules(UpdateFacts(REF, needed=0, commits=(BranchCommit("c" * 40, 1, POLICY_CHANGE),))) == [RULE]


def test_bootstrap_accepts_direct_policy_commits():
    assert judge(UpdateFacts(REF, bootstrap=True, commits=(BranchCommit("c" * 40, 1, POLICY_CHANGE),))) == []


def test_a_pushed_policy_that_does_not_parse_is_refused_even_at_bootstrap():
    assert rules(UpdateFacts(REF, bootstrap=True, policy_error="unknown key x")) == [RULE_POLICY]


def test_a_side_branch_too_long_to_examine_is_refused():
    assert rules(UpdateFacts(REF, commits=(merge(merge_signer="bob@example.com", side_complete=False),))) == [RULE_APPROVALS]


def test_approve_bindings_reads_the_trailer_and_ignores_other_words():
    msg = f"approve\n\nMv-Promote-Approve: churn v2 production sha256:{SHA}\nmv-promote-approve: tree:{SIDE_TREE}\n"
    assert approve_bindings(msg) == (f"sha256:{SHA}", f"tree:{SIDE_TREE}")
    assert approve_bindings("Approved-by: Bob <bob@example.com>") == ()


# ---------------------------------------------------------------- the adversarial review's findings

def test_guarded_bytes_changed_with_the_old_tip_off_the_first_parent_chain_are_refused():
    """A merge whose first parent is an old commit (git merge -s ours main) judges no commit that
    changes guarded paths, yet the push reverts them: the old tip must be on the first-parent chain."""
    facts = UpdateFacts(REF, old_on_first_parent=False, tip_changes=(".mv-promote.toml",),
                        commits=(merge(changes=()),))
    assert rules(facts) == [RULE]
    assert ".mv-promote.toml" in judge(facts)[0].cause


def test_a_push_off_the_first_parent_chain_that_changes_no_guarded_bytes_is_accepted():
    """An ordinary `git pull && git push` of code (main as second parent) is not R7's business."""
    assert judge(UpdateFacts(REF, old_on_first_parent=False, tip_changes=(), commits=(merge(changes=()),))) == []


def test_a_request_digest_binds_only_the_path_its_trailer_names():
    """bob's digest for churn's staging request does not approve the same bytes at production.toml."""
    moved = (Change("promotions/churn/production.toml", SHA), Change("promotions/churn/production.md", "e" * 64))
    staging = Approve("p" * 40, "bob@example.com", (f"sha256:{SHA}@churn/v2-staging",))
    bare = Approve("q" * 40, "bob@example.com", (f"sha256:{SHA}",))
    assert rules(UpdateFacts(REF, commits=(merge(changes=moved, approves=(staging,)),))) == [RULE_APPROVALS]
    assert rules(UpdateFacts(REF, commits=(merge(changes=moved, approves=(bare,)),))) == [RULE_APPROVALS]


def test_approve_bindings_pair_a_digest_with_the_request_name_on_its_line():
    msg = f"approve\n\nMv-Promote-Approve: churn/v2-production sha256:{SHA}\nMv-Promote-Approve: sha256:{'c' * 64}\n"
    assert approve_bindings(msg) == (f"sha256:{SHA}@churn/v2-production", f"sha256:{'c' * 64}")


def test_an_approve_commit_does_not_count_when_the_path_moved_on_the_first_parent_since_the_merge_base():
    """bob approved the side's tree against the base; main changed the path since: bob never saw the
    change the merge makes against what it lands on."""
    stale = (Change(".mv-promote.toml", "c" * 64, base_current=False),)
    bob = Approve("p" * 40, "bob@example.com", (f"tree:{SIDE_TREE}",))
    assert rules(UpdateFacts(REF, commits=(merge(changes=stale, approves=(bob,)),))) == [RULE_APPROVALS]


def test_the_signer_of_a_merge_onto_a_moved_path_still_approves_it():
    """The merge's signer signed the result itself, so a moved first parent does not void them."""
    stale = (Change(".mv-promote.toml", "c" * 64, base_current=False),)
    assert judge(UpdateFacts(REF, commits=(merge(changes=stale, merge_signer="bob@example.com"),))) == []
