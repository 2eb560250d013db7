"""The server hook, through real pushes to real hosts: `git daemon` and nginx + fcgiwrap +
`git http-backend`, each serving bare repositories with the pre-receive hook installed.

The bypass catalogue: every case is pushed with `--no-verify` (no client hook to help) and must
be refused by the server, leaving its refs exactly as before. The good paths must be accepted.
"""

from __future__ import annotations

import pytest

from conftest import POLICY, ModelRepo, accepted, forge_stage_tag, push, recreate, refused, tag_message
from gitmv.records import make_note_record, render_note



# ---------------------------------------------------------------- good paths

def test_tags_and_notes_pushed_together_are_accepted(published, server):
    refs = server.refs()
    assert "refs/tags/mv/churn/production/1" in refs and "refs/notes/mv-promote" in refs


def test_better_version_promoted_and_pushed_with_its_notes_is_accepted(published, server):
    v2 = published.version(0.90, 0.85)
    published.mv("promote", "churn", v2, "--stage", "production")
    accepted(push(published, f"refs/tags/mv/churn/{v2}", "refs/tags/mv/churn/production/2", "refs/notes/mv-promote"))
    assert "refs/tags/mv/churn/production/2" in server.refs()


def test_signed_rollback_of_production_to_its_previous_version_is_accepted(published, server):
    v2 = published.version(0.90, 0.85)
    published.mv("promote", "churn", v2, "--stage", "production")
    accepted(push(published, f"refs/tags/mv/churn/{v2}", "refs/tags/mv/churn/production/2", "refs/notes/mv-promote"))
    published.mv("rollback", "churn", "--stage", "production", "-m", "incident")
    accepted(push(published, "refs/tags/mv/churn/production/3"))
    assert "refs/tags/mv/churn/production/3" in server.refs()


def test_pushing_a_branch_without_registry_refs_is_untouched_by_the_hook(published, server):
    (published.path / "README").write_text("docs\n")
    published.commit("docs")
    accepted(push(published, "main"))


# ---------------------------------------------------------------- the bypass catalogue

def _next_version(repo: ModelRepo, auc: float, eu: float, evaluate: bool = True) -> str:
    v = repo.version(auc, eu, evaluate=evaluate)
    accepted(push(repo, f"refs/tags/mv/churn/{v}"))
    return v


def test_unsigned_stage_tag_is_refused(published, server):
    v2 = _next_version(published, 0.90, 0.85)
    published.mv("promote", "churn", v2, "--stage", "production")
    recreate(published, "refs/tags/mv/churn/production/2", key=None)
    before = server.refs()
    refused(push(published, "refs/tags/mv/churn/production/2", "refs/notes/mv-promote"), "R1 signed-stage-tag")
    assert server.refs() == before


def test_stage_tag_signed_by_a_key_not_in_allowed_signers_is_refused(published, server):
    v2 = _next_version(published, 0.90, 0.85)
    published.mv("promote", "churn", v2, "--stage", "production")
    recreate(published, "refs/tags/mv/churn/production/2", key="mallory")
    before = server.refs()
    refused(push(published, "refs/tags/mv/churn/production/2", "refs/notes/mv-promote"), "not in allowed signers")
    assert server.refs() == before


def test_stage_tag_for_a_version_without_eval_on_the_server_is_refused(published, server):
    v2 = _next_version(published, 0.90, 0.85)
    published.mv("promote", "churn", v2, "--stage", "production")
    before = server.refs()
    refused(push(published, "refs/tags/mv/churn/production/2"), "R1 eval")  # notes not pushed
    assert server.refs() == before


def test_eval_bound_to_another_digest_is_refused(published, server):
    v2 = _next_version(published, 0.90, 0.85)
    published.mv("promote", "churn", v2, "--stage", "production")
    tag = published.git("rev-parse", f"refs/tags/mv/churn/{v2}")
    # a notes commit on top of the server's notes whose only eval for v2 names other bytes
    published.git("fetch", "-q", "origin", "refs/notes/mv-promote:refs/notes/server")
    wrong = make_note_record("eval", {"model": "churn", "version": v2, "suite": "holdout",
                                      "artifacts": {"model.bin": "0" * 64}, "metrics": {"auc": 0.99, "latency_ms": 1.0},
                                      "slices": {"region=eu": {"auc": 0.99}}}, at="2026-11-01T09:00:00Z", by="x")
    blob = published.path / "note.toml"
    blob.write_text(render_note([wrong]))
    published.git("notes", "--ref", "server", "add", "-F", str(blob), tag)
    before = server.refs()
    refused(push(published, "refs/tags/mv/churn/production/2", "refs/notes/server:refs/notes/mv-promote"), "R1 eval")
    assert server.refs() == before


def test_failing_threshold_is_refused(published, server):
    v2 = _next_version(published, 0.70, 0.85)
    forge_stage_tag(published, v2, "production", 2)
    before = server.refs()
    refused(push(published, "refs/tags/mv/churn/production/2", "refs/notes/mv-promote"), "threshold auc")
    assert server.refs() == before


def test_worse_on_a_protected_slice_is_refused(published, server):
    v2 = _next_version(published, 0.90, 0.70)
    forge_stage_tag(published, v2, "production", 2)
    before = server.refs()
    refused(push(published, "refs/tags/mv/churn/production/2", "refs/notes/mv-promote"), "slice region=eu")
    assert server.refs() == before


def test_policy_weakened_in_the_same_push_does_not_approve_itself(published, server):
    v2 = _next_version(published, 0.70, 0.85)
    (published.path / ".mv-promote.toml").write_text(POLICY.replace("auc = 0.80", "auc = 0.10"))
    published.commit("lower the bar")
    forge_stage_tag(published, v2, "production", 2)
    before = server.refs()
    refused(push(published, "main", "refs/tags/mv/churn/production/2", "refs/notes/mv-promote"), "threshold auc")
    assert server.refs() == before


def test_seq_skipping_is_refused(published, server):
    v2 = _next_version(published, 0.90, 0.85)
    forge_stage_tag(published, v2, "production", 3)
    before = server.refs()
    refused(push(published, "refs/tags/mv/churn/production/3", "refs/notes/mv-promote"), "R1 seq")
    assert server.refs() == before


def test_seq_reuse_is_refused(published, server):
    v2 = _next_version(published, 0.90, 0.85)
    published.git("tag", "-d", "mv/churn/production/1")
    forge_stage_tag(published, v2, "production", 1)
    before = server.refs()
    refused(push(published, "refs/tags/mv/churn/production/1", "refs/notes/mv-promote", force=True), "R3 immutable")
    assert server.refs() == before


def test_deleting_a_production_tag_is_refused(published, server):
    before = server.refs()
    refused(push(published, ":refs/tags/mv/churn/production/1"), "R3 immutable")
    assert server.refs() == before


def test_force_moving_a_version_tag_is_refused(published, server):
    (published.path / "other").write_text("x\n")
    published.commit("other")
    recreate_target = published.git("rev-parse", "HEAD")
    message = tag_message(published, "refs/tags/mv/churn/v1")
    (published.path / "m").write_bytes(message)
    published.git("tag", "-f", "-s", "--cleanup=verbatim", "-F", str(published.path / "m"), "mv/churn/v1", recreate_target)
    before = server.refs()
    refused(push(published, "refs/tags/mv/churn/v1", force=True), "R3 immutable")
    assert server.refs() == before


def test_lightweight_stage_tag_is_refused(published, server):
    v2 = _next_version(published, 0.90, 0.85)
    published.git("tag", "mv/churn/production/2", f"refs/tags/mv/churn/{v2}^{{}}")
    before = server.refs()
    refused(push(published, "refs/tags/mv/churn/production/2", "refs/notes/mv-promote"), "R3 annotated-only")
    assert server.refs() == before


def test_stage_tag_pointing_at_a_commit_instead_of_a_version_tag_is_refused(published, server):
    v2 = _next_version(published, 0.90, 0.85)
    commit = published.git("rev-parse", f"refs/tags/mv/churn/{v2}^{{}}")
    forge_stage_tag(published, v2, "production", 2, target=commit)
    before = server.refs()
    refused(push(published, "refs/tags/mv/churn/production/2", "refs/notes/mv-promote"), "R1 stage-target")
    assert server.refs() == before


def _rewrite_notes(repo: ModelRepo, transform) -> None:
    """A new notes commit on top of the current one whose note on v1 is transform(records)."""
    from gitmv.records import parse_note

    tag = repo.git("rev-parse", "refs/tags/mv/churn/v1")
    raw = repo.git("notes", "--ref", "mv-promote", "show", tag).encode() + b"\n"
    text = transform(parse_note(raw))
    (repo.path / "n.toml").write_text(text)
    repo.git("notes", "--ref", "mv-promote", "add", "-f", "-F", str(repo.path / "n.toml"), tag)


def test_notes_push_that_drops_a_record_is_refused(published, server):
    _rewrite_notes(published, lambda recs: render_note([]))
    before = server.refs()
    refused(push(published, "refs/notes/mv-promote"), "R3 notes-append-only")
    assert server.refs() == before


def test_notes_push_that_edits_a_record_is_refused(published, server):
    def edit(recs):
        recs[0]["metrics"]["auc"] = 0.99
        return render_note(recs)

    _rewrite_notes(published, edit)
    before = server.refs()
    refused(push(published, "refs/notes/mv-promote"), "does not match its id")
    assert server.refs() == before


def test_non_fast_forward_notes_push_is_refused(published, server):
    tag = published.git("rev-parse", "refs/tags/mv/churn/v1")
    published.git("update-ref", "-d", "refs/notes/mv-promote")
    published.git("notes", "--ref", "mv-promote", "add", "-m", "schema = 1\n", tag)
    before = server.refs()
    refused(push(published, "refs/notes/mv-promote", force=True), "non-fast-forward")
    assert server.refs() == before


def test_malformed_toml_note_is_refused(published, server):
    _rewrite_notes(published, lambda recs: "schema = 1\n[[record]\nbroken = \n")
    before = server.refs()
    refused(push(published, "refs/notes/mv-promote"), "malformed")
    assert server.refs() == before


@pytest.mark.parametrize("name", ["mv/Churn/v9", "mv/churn/x/y/v9", "mv/churn.v/v9", "mv/ch..urn/v9"])
def test_model_name_outside_the_grammar_is_refused(published, server, name):
    before = server.refs()
    published.git("tag", "-a", "-m", "x", name, "HEAD", check=False)
    exists = published.git("rev-parse", "-q", "--verify", f"refs/tags/{name}", check=False)
    proc = push(published, f"refs/tags/{name}")
    if exists:
        refused(proc, "R3 valid-ref-name")
    else:  # git itself refuses the name ("..") before anything is sent
        assert proc.returncode != 0
    assert server.refs() == before


def test_hook_fails_closed_when_the_server_has_no_policy(server, tmp_path, keys):
    repo = ModelRepo(tmp_path / "nopolicy", keys)
    repo.git("remote", "add", "origin", server.url)
    v1 = repo.version(0.85, 0.80)
    # main never pushed: the server has no protected branch to read a policy from
    refused(push(repo, f"refs/tags/mv/churn/{v1}"), "could not run")
    assert server.refs() == {}


def test_a_chained_server_hook_keeps_the_registry_check_in_force(published, server):
    """Installing over an existing pre-receive keeps it (run first) without weakening our check."""
    hooks = server.path / "hooks"
    (hooks / "pre-receive").unlink()
    old = hooks / "pre-receive"
    old.write_text("#!/bin/sh\ncat >/dev/null\necho previous hook ran >&2\nexit 0\n")
    old.chmod(0o755)
    from conftest import run_mv

    run_mv("hooks", "install", "--server", str(server.path), cwd=published.path)
    before = server.refs()
    proc = push(published, ":refs/tags/mv/churn/production/1")
    refused(proc, "R3 immutable")
    assert "previous hook ran" in proc.stderr
    assert server.refs() == before
