"""Progressive rollout on the server: the hook recomputes every traffic claim of a stage record
(R8 rollout) and holds promotion past the canary back until the soak is over (R1 soak), timed by
the stage tags themselves. Each test pushes for real (`git push --no-verify`, so only the server
judges) and checks that a refused push leaves the server's refs unchanged."""

from __future__ import annotations

import pytest

from conftest import SOAK_POLICY, ModelRepo, accepted, forge_stage_tag, push, refused, set_clock

T0 = "2026-11-02T10:00:00+00:00"


@pytest.fixture
def soaking(server, tmp_path, keys, monkeypatch) -> ModelRepo:
    """On the server: the soak policy on main, v1 entered canary at 25% at T0 and has held 50% of
    it since T0 + 1h."""
    repo = ModelRepo(tmp_path / "alice", keys, policy=SOAK_POLICY)
    repo.git("remote", "add", "origin", server.url)
    accepted(push(repo, "main"))
    repo.version(0.85, 0.80)
    set_clock(monkeypatch, T0)
    repo.mv("rollout", "churn", "v1", "--stage", "canary", "--traffic", "25")
    set_clock(monkeypatch, "2026-11-02T11:00:00+00:00")
    repo.mv("rollout", "churn", "v1", "--stage", "canary", "--traffic", "50")
    accepted(push(repo, "refs/tags/mv/*:refs/tags/mv/*", "refs/notes/mv-promote"))
    repo.server = server
    return repo


def refused_unchanged(repo: ModelRepo, ref: str, rule: str) -> str:
    before = repo.server.refs()
    proc = push(repo, ref)
    refused(proc, rule)
    assert repo.server.refs() == before
    return proc.stdout + proc.stderr


# ---------------------------------------------------------------- the soak

def test_a_production_tag_made_before_the_soak_ended_is_refused_by_the_server(soaking, monkeypatch):
    set_clock(monkeypatch, "2026-11-02T21:00:00+00:00")  # 10h at 50%, of 24h
    ref = forge_stage_tag(soaking, "v1", "production", 1)
    text = refused_unchanged(soaking, ref, "R1 soak")
    assert "held 50% of canary" in text and "14h left of 24h" in text


def test_a_production_tag_made_after_the_soak_is_accepted_by_the_server(soaking, monkeypatch):
    set_clock(monkeypatch, "2026-11-03T11:00:00+00:00")
    soaking.mv("promote", "churn", "v1", "--stage", "production")
    accepted(push(soaking, "refs/tags/mv/churn/production/1", "refs/notes/mv-promote"))
    assert "refs/tags/mv/churn/production/1" in soaking.server.refs()


def test_raising_the_share_in_the_same_push_does_not_break_the_hold(soaking, monkeypatch):
    set_clock(monkeypatch, "2026-11-03T11:30:00+00:00")  # 24.5h at ≥ 50%, the last moments at 75%
    soaking.mv("rollout", "churn", "v1", "--stage", "canary", "--traffic", "75")
    soaking.mv("promote", "churn", "v1", "--stage", "production")
    accepted(push(soaking, "refs/tags/mv/churn/canary/3", "refs/tags/mv/churn/production/1", "refs/notes/mv-promote"))


def test_a_canary_hold_that_never_reached_the_server_does_not_count(soaking, monkeypatch):
    soaking.version(0.90, 0.85)
    accepted(push(soaking, "refs/tags/mv/churn/v2", "refs/notes/mv-promote"))
    set_clock(monkeypatch, "2026-11-02T12:00:00+00:00")
    soaking.mv("rollout", "churn", "v2", "--stage", "canary", "--traffic", "50")  # kept local for a day
    set_clock(monkeypatch, "2026-11-03T13:00:00+00:00")
    soaking.mv("promote", "churn", "v2", "--stage", "production")  # 25h by the local tags
    before = soaking.server.refs()
    refused(push(soaking, "refs/tags/mv/churn/canary/3", "refs/tags/mv/churn/production/1"), "R1 soak")
    assert soaking.server.refs() == before


# ---------------------------------------------------------------- R8: traffic claims

def test_a_record_with_traffic_on_a_stage_that_is_not_a_rollout_stage_is_refused(soaking):
    ref = forge_stage_tag(soaking, "v1", "staging", 1, traffic=50)
    text = refused_unchanged(soaking, ref, "R8 rollout")
    assert "staging is not a rollout stage" in text


@pytest.mark.parametrize("share", [0, 150])
def test_a_record_with_traffic_out_of_range_is_refused(soaking, share):
    ref = forge_stage_tag(soaking, "v1", "canary", 3, kind="rollout", traffic=share)
    text = refused_unchanged(soaking, ref, "R8 rollout")
    assert "from 1 to 100" in text


def test_a_rollout_stage_record_without_traffic_is_refused(soaking):
    soaking.version(0.90, 0.85)
    accepted(push(soaking, "refs/tags/mv/churn/v2", "refs/notes/mv-promote"))
    ref = forge_stage_tag(soaking, "v2", "canary", 3)
    text = refused_unchanged(soaking, ref, "R8 rollout")
    assert "carries none" in text


def test_a_rollout_of_a_version_the_stage_does_not_hold_is_refused(soaking):
    soaking.version(0.90, 0.85)
    accepted(push(soaking, "refs/tags/mv/churn/v2", "refs/notes/mv-promote"))
    ref = forge_stage_tag(soaking, "v2", "canary", 3, kind="rollout", traffic=60)
    text = refused_unchanged(soaking, ref, "R8 rollout")
    assert "current version (v1), not of v2" in text
