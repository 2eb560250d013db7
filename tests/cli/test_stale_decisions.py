"""A decision compares this clone's registry tags of the model with the remote's before it writes.

Stage tags carry no evidence notes, so nothing offline shows that another clone promoted and
pushed: bob put v2 in staging and production and synced; alice's clone still says v1. Her
`promote`, `rollback` and `request` would decide on that stale state (her new stage tag would take
a seq the server already has), so they ask the remote once (`git ls-remote` of the model's tag
prefix), refuse naming what it has and `sync`, and go on with a warning when it cannot be reached.
A real bare remote behind git daemon, two clones, the CLI.
"""

from __future__ import annotations

import pytest

from conftest import ROLLOUT_POLICY, Clone, ModelRepo, accepted, push, published_repo

FIX = "run `git mv-promote sync`, then decide again"
UNREACHABLE = "git://127.0.0.1:1/x.git"
DECISIONS = [("promote", "churn", "v2", "--stage", "staging"),
             ("rollback", "churn", "--stage", "production"),
             ("rollback", "churn", "--stage", "production", "--to", "v1", "--dry-run"),
             ("request", "churn", "v2", "--stage", "production")]


@pytest.fixture
def stale(daemon_server, tmp_path, keys):
    """alice published v1 (staging, production) and v2 (evaluated); bob cloned, promoted v2 to
    staging and production and synced; alice has not: (alice, bob)."""
    alice = published_repo(daemon_server, tmp_path, keys)
    alice.version(0.90, 0.85)
    alice.mv("sync")
    bob = Clone(tmp_path / "bob", daemon_server.url, keys)
    bob.mv("sync")
    bob.mv("promote", "churn", "v2", "--stage", "staging")
    bob.mv("promote", "churn", "v2", "--stage", "production")
    bob.mv("sync")
    assert alice.ref("refs/tags/mv/churn/production/2") is None  # the premise: alice has not synced
    return alice, bob


def local_refs(repo: ModelRepo) -> str:
    return repo.git("for-each-ref")


@pytest.mark.parametrize("command", DECISIONS, ids=lambda c: " ".join(c[:1] + c[5:]))
def test_a_decision_refuses_while_the_remote_has_stage_tags_this_clone_lacks(stale, command):
    alice, _ = stale
    before = local_refs(alice)
    r = alice.mv(*command, code=1)
    assert "the remote 'origin' has refs/tags/mv/churn/" in r.err and "that this clone has not fetched" in r.err
    assert FIX in r.err
    assert local_refs(alice) == before


def test_the_refusal_names_the_remotes_first_missing_tag_and_how_many_more(stale):
    alice, _ = stale
    r = alice.mv("promote", "churn", "v2", "--stage", "staging", code=1)
    assert "has refs/tags/mv/churn/production/2 that this clone has not fetched (and 1 more tag(s) of churn)" in r.err


def test_after_sync_the_decision_goes_through(stale):
    alice, _ = stale
    alice.mv("sync")
    r = alice.mv("rollback", "churn", "--stage", "production", "--json")
    assert r.json["to"] == "v1" and r.json["ref"] == "refs/tags/mv/churn/production/3"
    assert r.json["warnings"] == []


def test_a_same_named_tag_with_another_object_refuses(stale):
    """alice promoted into the seq bob had already published: her tag was never published."""
    alice, _ = stale
    alice.mv("promote", "churn", "v2", "--stage", "staging", "--offline")  # takes staging/2, as bob's did
    r = alice.mv("promote", "churn", "v2", "--stage", "production", code=1)
    assert "the remote 'origin' has a different refs/tags/mv/churn/staging/2" in r.err and FIX in r.err


def test_tags_only_this_clone_has_are_unpublished_work_not_a_gap(daemon_server, tmp_path, keys):
    alice = published_repo(daemon_server, tmp_path, keys)
    alice.version(0.90, 0.85)  # registered and evaluated here only
    r = alice.mv("promote", "churn", "v2", "--stage", "staging", "--json")
    assert r.json["ref"] == "refs/tags/mv/churn/staging/2" and r.json["warnings"] == []


@pytest.mark.parametrize("command", [DECISIONS[0], DECISIONS[3]], ids=lambda c: c[0])
def test_an_unreachable_remote_warns_and_the_decision_goes_on(stale, command):
    alice, _ = stale
    alice.git("remote", "set-url", "origin", UNREACHABLE)
    r = alice.mv(*command)
    assert "warning: could not compare with remote 'origin' (" in r.err
    assert "deciding on this clone's state as of its last sync" in r.err


def test_offline_skips_the_comparison_and_says_so_in_the_json_warnings(stale):
    alice, _ = stale
    r = alice.mv("promote", "churn", "v2", "--stage", "staging", "--offline", "--json")
    assert r.json["ref"] == "refs/tags/mv/churn/staging/2"
    assert any(w.startswith("--offline: not compared with the remote") for w in r.json["warnings"])


def test_a_clone_without_a_remote_decides_silently(model_repo):
    v1 = model_repo.version(0.85, 0.80)
    r = model_repo.mv("promote", "churn", v1, "--stage", "staging", "--json")
    assert r.json["warnings"] == []


def test_a_rollout_dry_run_refuses_while_the_remote_has_the_stages_tags(daemon_server, tmp_path, keys):
    """The dry run reports what the rollout would do: on a stale canary it would be wrong."""
    alice = ModelRepo(tmp_path / "alice", keys, policy=ROLLOUT_POLICY)
    alice.git("remote", "add", "origin", daemon_server.url)
    accepted(push(alice, "main"))
    v1 = alice.version(0.85, 0.80)
    alice.mv("promote", "churn", v1, "--stage", "staging")
    alice.mv("sync")
    bob = Clone(tmp_path / "bob", daemon_server.url, keys)
    bob.mv("sync")
    bob.mv("rollout", "churn", v1, "--stage", "canary", "--traffic", "10")
    bob.mv("sync")
    before = local_refs(alice)
    r = alice.mv("rollout", "churn", v1, "--stage", "canary", "--traffic", "20", "--dry-run", code=1)
    assert "the remote 'origin' has refs/tags/mv/churn/canary/1 that this clone has not fetched" in r.err
    assert FIX in r.err and local_refs(alice) == before
