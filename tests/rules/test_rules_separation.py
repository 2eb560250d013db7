"""The regulated tier's separation of duties, decided without a repository."""

from __future__ import annotations

from types import SimpleNamespace

from gitmv.rules.promotion import Verdict, separation_of_duties


class View:
    """The two questions the rule asks of a registry: who signed a tag, who signed a record."""

    def __init__(self, registrant, eval_signer):
        self.registrant, self.eval_signer = registrant, eval_signer

    def signature(self, tag):
        return SimpleNamespace(principal=self.registrant)

    def record_signature(self, rec):
        return SimpleNamespace(principal=self.eval_signer)


def verdict(approvers):
    v = Verdict("churn", "v1", "production", "promote")
    v.eval_record = {"id": "sha256:e"}
    v.approval = {"approvers": approvers}
    return v


VERSION = SimpleNamespace(tag=None)


def test_three_different_principals_pass():
    c = separation_of_duties(View("alice", "ci"), VERSION, verdict(["bob", "carol"]))
    assert c.passed and c.detail == "registrant: alice, eval signer: ci, approver: bob, approver: carol"


def test_the_registrant_signing_the_eval_fails():
    c = separation_of_duties(View("alice", "alice"), VERSION, verdict(["bob"]))
    assert not c.passed and "alice is both registrant and eval signer" in c.detail


def test_the_eval_signer_approving_fails():
    c = separation_of_duties(View("alice", "ci"), VERSION, verdict(["bob", "ci"]))
    assert not c.passed and "ci is both eval signer and approver" in c.detail
