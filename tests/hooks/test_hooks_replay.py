"""The server hook holds stage tags to the gate's replay bound, through real pushes: a candidate
whose replay against the live version agrees on too few rows is refused (the server's refs stay
as they were); one that meets the bound is accepted."""

from __future__ import annotations

import pytest

from conftest import SklearnRepo, accepted, forge_stage_tag, push, refused

pytest.importorskip("sklearn")


def _live(server, tmp_path, keys) -> SklearnRepo:
    """alice's clone: v1 (logistic regression) in production, all published."""
    repo = SklearnRepo(tmp_path / "alice", keys)
    repo.git("remote", "add", "origin", server.url)
    accepted(push(repo, "main"))
    v1 = repo.classifier("lr-1")
    repo.mv("promote", "churn", v1, "--stage", "production")
    accepted(push(repo, "refs/tags/mv/*:refs/tags/mv/*", "refs/notes/mv-promote"))
    return repo


def test_server_refuses_a_stage_tag_whose_replay_is_below_min_agreement(server, tmp_path, keys):
    repo = _live(server, tmp_path, keys)
    v2 = repo.classifier("tree-2")
    repo.mv("replay", "churn", v2)
    accepted(push(repo, f"refs/tags/mv/churn/{v2}", "refs/notes/mv-promote"))
    eval_id = repo.mv("check", "churn", v2, "--stage", "production", "--json", code=1).json["eval_record"]
    ref = forge_stage_tag(repo, v2, "production", 2, eval_record=eval_id)
    before = server.refs()
    proc = push(repo, ref)
    refused(proc, "R1 replay")
    assert "agreement 0.9112 (154/169 rows) < 0.98 required vs v1 (production)" in proc.stderr
    assert server.refs() == before


def test_server_refuses_a_stage_tag_without_a_replay_record(daemon_server, tmp_path, keys):
    server = daemon_server  # the rule does not depend on the transport; both are pushed through in the test above
    repo = _live(server, tmp_path, keys)
    v2 = repo.classifier("lr-0.1")
    accepted(push(repo, f"refs/tags/mv/churn/{v2}", "refs/notes/mv-promote"))
    eval_id = repo.mv("check", "churn", v2, "--stage", "production", "--json", code=1).json["eval_record"]
    ref = forge_stage_tag(repo, v2, "production", 2, eval_record=eval_id)
    before = server.refs()
    proc = push(repo, ref)
    refused(proc, "R1 replay")
    assert f"git mv-promote replay churn {v2}" in proc.stderr
    assert server.refs() == before


def test_server_accepts_a_stage_tag_whose_replay_meets_the_bound(daemon_server, tmp_path, keys):
    server = daemon_server
    repo = _live(server, tmp_path, keys)
    v2 = repo.classifier("lr-0.1")
    repo.mv("replay", "churn", v2)
    repo.mv("promote", "churn", v2, "--stage", "production")
    accepted(push(repo, f"refs/tags/mv/churn/{v2}", "refs/tags/mv/churn/production/2", "refs/notes/mv-promote"))
    assert "refs/tags/mv/churn/production/2" in server.refs()
