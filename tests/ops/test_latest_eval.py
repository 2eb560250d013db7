"""`Registry.latest_eval` over a real notes history: the eval added last counts, whatever its `at`,
through fan-out changes and notes merges."""

from __future__ import annotations

from gitmv import api

from gitmv.git import notes

from gitmv.git import record_signing
from gitmv.names import NOTES_REF


def _eval(reg, version, auc: float, at: str) -> dict:
    """A signed eval (alice's key) with a writer-chosen `at`."""
    return record_signing.new_record(reg.repo, "eval", {
        "model": "churn", "version": version.name, "suite": "holdout", "artifacts": version.digests,
        "metrics": {"auc": auc, "latency_ms": 5.0}, "slices": {"region=eu": {"auc": auc}}},
        at=at, allowed_signers=reg.allowed_signers, signed=True)


def _registry(path):
    return api.open_context(path).registry


def test_the_eval_appended_last_counts_even_when_an_earlier_one_is_dated_2099(model_repo):
    model_repo.version(0.85, 0.80, evaluate=False)
    reg = _registry(model_repo.path)
    v1 = reg.version("churn", "v1")
    notes.append(reg.repo, v1.tag.id, [_eval(reg, v1, 0.99, "2099-01-01T00:00:00Z")], "forged")
    honest = _eval(reg, v1, 0.70, "2026-11-02T10:00:00Z")
    notes.append(reg.repo, v1.tag.id, [honest], "re-evaluated")
    assert _registry(model_repo.path).latest_eval(v1, "holdout")["id"] == honest["id"]


def test_an_eval_merged_in_from_another_clone_counts_as_added_at_the_merge(model_repo):
    model_repo.version(0.85, 0.80)
    reg = _registry(model_repo.path)
    repo, v1 = reg.repo, reg.version("churn", "v1")
    base = repo.ref(NOTES_REF)
    ours = notes.append(repo, v1.tag.id, [_eval(reg, v1, 0.99, "2099-01-01T00:00:00Z")], "ours")
    theirs_eval = _eval(reg, v1, 0.70, "2026-11-02T10:00:00Z")
    repo.update_ref("refs/notes/theirs", base, None)
    theirs = notes.append(repo, v1.tag.id, [theirs_eval], "theirs", ref="refs/notes/theirs")
    merged = notes.merge_commits(repo, ours, theirs, "merge")
    repo.update_ref(NOTES_REF, merged, ours)
    assert _registry(model_repo.path).latest_eval(v1, "holdout")["id"] == theirs_eval["id"]
