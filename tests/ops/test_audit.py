"""`audit`: the periodic review. Every protected stage entry is re-judged by the server's rules as
of its time, the rollback path is rehearsed, drift and expired deprecations are reported; any
finding exits 1, and missing state is named rather than read as clean."""

from __future__ import annotations

import hashlib

from conftest import Clone, ModelRepo, accepted, forge_stage_tag, git, push, set_clock
from gitservers import make_bare

FORGED = "refs/tags/mv/churn/production/2"


def _kinds(result, kind: str) -> list[dict]:
    return [f for f in result.json["findings"] if f["kind"] == kind]


def _weak_v2_forged_into_production(repo: ModelRepo) -> str:
    """v2 (auc 0.70, under the policy's 0.80 floor) registered and evaluated, and a production
    stage tag for it written by hand: what the gate and the hook would refuse."""
    v2 = repo.version(0.70, 0.65)
    forge_stage_tag(repo, v2, "production", 2)
    return v2


# ---------------------------------------------------------------- stage entries

def test_a_production_entry_pushed_around_the_hook_is_a_finding(published, server, tmp_path, keys, mv):
    _weak_v2_forged_into_production(published)
    accepted(push(published, "refs/tags/mv/churn/v2", "refs/notes/mv-promote"))
    # written straight into the bare repository: no receive hook runs
    git("--git-dir", str(server.path), "fetch", "-q", str(published.path), f"{FORGED}:{FORGED}", cwd=tmp_path)
    assert FORGED in server.refs()
    auditor = Clone(tmp_path / "auditor", server.url, keys, name="Auditor")
    mv("sync", "origin", cwd=auditor.path)
    result = mv("audit", "--json", cwd=auditor.path, code=1)
    entries = _kinds(result, "stage-entry")
    assert {f["ref"] for f in entries} == {FORGED}, "the gated production/1 is not a finding"
    assert any("[R1 gate]" in f["message"] and "auc" in f["message"] for f in entries)


def test_the_published_registry_is_clean(published, tmp_path, keys, mv):
    auditor = Clone(tmp_path / "auditor", published.git("remote", "get-url", "origin"), keys, name="Auditor")
    mv("sync", "origin", cwd=auditor.path)
    result = mv("audit", cwd=auditor.path)
    assert "audit: clean (1 protected stage entries" in result.out


def test_a_forged_entry_in_a_local_clone_is_named_with_the_rule_and_a_fix(model_repo, mv):
    v1 = model_repo.version(0.85, 0.80)
    model_repo.mv("promote", "churn", v1, "--stage", "production")
    _weak_v2_forged_into_production(model_repo)
    result = mv("audit", cwd=model_repo.path, code=1)
    assert f"FINDING stage-entry churn production {FORGED}: [R1 gate]" in result.out
    assert "fix: this entry did not pass the server's rules" in result.out
    assert "audit: " in result.out and "finding(s)" in result.out


def test_since_limits_the_re_checked_entries_to_those_made_after_it(model_repo, monkeypatch, mv):
    v1 = model_repo.version(0.85, 0.80)
    model_repo.mv("promote", "churn", v1, "--stage", "production")
    _weak_v2_forged_into_production(model_repo)  # made at the fixed date, 2026-11-01T09:00Z
    assert _kinds(mv("audit", "--json", "--since", "2026-11-01", cwd=model_repo.path, code=1), "stage-entry")
    later = mv("audit", "--json", "--since", "2026-11-02", cwd=model_repo.path)
    assert later.json["checked"]["stage_entries"] == 0
    assert later.json["findings"] == []


def test_an_entry_is_judged_under_the_policy_in_force_when_it_was_made(model_repo, monkeypatch, mv):
    v1 = model_repo.version(0.85, 0.80)
    model_repo.mv("promote", "churn", v1, "--stage", "production")
    set_clock(monkeypatch, "2026-11-03T09:00:00+00:00")
    policy = model_repo.path / ".mv-promote.toml"
    policy.write_text(policy.read_text().replace("auc = 0.80", "auc = 0.90"))  # v1 would fail today
    model_repo.commit("Raise the floor")
    assert mv("audit", "--json", cwd=model_repo.path).json["findings"] == []


def test_a_bad_since_is_a_usage_error(model_repo, mv):
    result = mv("audit", "--since", "last tuesday", cwd=model_repo.path, code=2)
    assert "--since" in result.err and "RFC 3339" in result.err


# ---------------------------------------------------------------- the rollback path

def _cached_files(root, content: bytes) -> list:
    return [p for p in root.rglob("*") if p.is_file() and p.read_bytes() == content]


def test_an_unretrievable_rollback_target_is_a_finding(drepo, local_remote, mv):
    v1 = drepo.train_and_register("v1")
    mv("eval", "churn", v1, cwd=drepo.path)
    mv("promote", "churn", v1, "--stage", "production", cwd=drepo.path)
    v1_bytes = (drepo.path / "model.bin").read_bytes()
    (drepo.path / "params.yaml").write_text("seed: 8\n")
    v2 = drepo.train_and_register("v2")
    mv("eval", "churn", v2, cwd=drepo.path)
    mv("promote", "churn", v2, "--stage", "production", cwd=drepo.path)
    assert mv("audit", "--json", cwd=drepo.path).json["checked"]["rollback_targets"] == 1
    copies = _cached_files(drepo.path / ".dvc" / "cache", v1_bytes) + _cached_files(local_remote, v1_bytes)
    assert len(copies) == 2
    for copy in copies:
        copy.unlink()
    md5 = hashlib.md5(v1_bytes).hexdigest()
    result = mv("audit", "--json", cwd=drepo.path, code=1)
    [finding] = _kinds(result, "rollback")
    assert finding["stage"] == "production"
    assert f"rollback to {v1} (what 'rollback' picks) fails: data retrievable" in finding["message"]
    assert f"model.bin object {md5} missing from remote store" in finding["message"]


def test_a_deprecated_rollback_target_is_a_finding(model_repo, monkeypatch, mv):
    v1 = model_repo.version(0.85, 0.80)
    model_repo.mv("promote", "churn", v1, "--stage", "production")
    v2 = model_repo.version(0.90, 0.85)
    model_repo.mv("promote", "churn", v2, "--stage", "production")
    set_clock(monkeypatch, "2026-11-02T09:00:00+00:00")
    model_repo.mv("deprecate", "churn", v1, "-m", "leaks labels")
    [finding] = _kinds(mv("audit", "--json", cwd=model_repo.path, code=1), "rollback")
    assert "not deprecated: deprecated: leaks labels" in finding["message"]


# ---------------------------------------------------------------- drift and sunsets

def test_a_live_tag_signed_by_a_removed_signer_is_drift(tmp_path, keys, monkeypatch, mv):
    repo = ModelRepo(tmp_path / "repo", keys, signers=("alice", "bob"))
    repo.git("config", "user.email", "bob@example.com")
    repo.git("config", "user.signingkey", str(keys.private("bob")))
    v1 = repo.version(0.85, 0.80)
    repo.mv("promote", "churn", v1, "--stage", "production")
    assert mv("audit", "--json", cwd=repo.path).json["findings"] == []
    set_clock(monkeypatch, "2026-11-03T09:00:00+00:00")
    (repo.path / ".mv-promote" / "allowed_signers").write_text(keys.allowed_line("alice"))
    repo.commit("Remove bob from the signers")
    result = mv("audit", "--json", cwd=repo.path, code=1)
    assert _kinds(result, "stage-entry") == [], "bob was an allowed signer when he promoted"
    drift = _kinds(result, "drift")
    assert {f["ref"] for f in drift} == {"refs/tags/mv/churn/production/1", "refs/tags/mv/churn/v1"}
    assert all("signed by bob@example.com" in f["message"] and "no longer in the current allowed_signers"
               in f["message"] for f in drift)


def test_a_live_version_lacking_a_key_the_policy_now_asks_for_is_drift(model_repo, monkeypatch, mv):
    v1 = model_repo.version(0.85, 0.80)
    model_repo.mv("promote", "churn", v1, "--stage", "production")
    policy = model_repo.path / ".mv-promote.toml"
    policy.write_text(policy.read_text().replace('artifacts = ["model.bin"]',
                                                 'artifacts = ["model.bin"]\nlockfile = "requirements.lock"'))
    model_repo.commit("Require a lockfile")
    [finding] = _kinds(mv("audit", "--json", cwd=model_repo.path, code=1), "drift")
    assert finding["ref"] == "refs/tags/mv/churn/v1"
    assert "lockfile: requirements.lock not recorded" in finding["message"]


def test_a_stage_no_longer_in_the_policy_is_drift(model_repo, mv):
    v1 = model_repo.version(0.85, 0.80)
    model_repo.mv("promote", "churn", v1, "--stage", "staging")
    policy = model_repo.path / ".mv-promote.toml"
    policy.write_text(policy.read_text().replace('stages = ["staging", "production"]', 'stages = ["production"]'))
    model_repo.commit("Drop staging")
    [finding] = _kinds(mv("audit", "--json", cwd=model_repo.path, code=1), "drift")
    assert finding["stage"] == "staging" and "not in the current policy's stages" in finding["message"]


def test_a_deprecation_past_its_sunset_still_live_is_a_finding(model_repo, monkeypatch, mv):
    v1 = model_repo.version(0.85, 0.80)
    model_repo.mv("promote", "churn", v1, "--stage", "production")
    set_clock(monkeypatch, "2026-11-02T09:00:00+00:00")
    model_repo.mv("deprecate", "churn", v1, "-m", "drifted", "--sunset", "2026-11-05")
    assert mv("audit", "--json", cwd=model_repo.path).json["findings"] == [], "before the sunset: no finding"
    set_clock(monkeypatch, "2026-11-06T09:00:00+00:00")
    [finding] = _kinds(mv("audit", "--json", cwd=model_repo.path, code=1), "sunset")
    assert finding["ref"] == "refs/tags/mv/churn/production/1"
    assert "sunset 2026-11-05T00:00:00Z" in finding["message"] and "still live in production" in finding["message"]


# ---------------------------------------------------------------- the report and missing state

def test_markdown_writes_a_report_with_every_finding(model_repo, tmp_path, mv):
    v1 = model_repo.version(0.85, 0.80)
    model_repo.mv("promote", "churn", v1, "--stage", "production")
    _weak_v2_forged_into_production(model_repo)
    report = tmp_path / "audit.md"
    mv("audit", "--markdown", str(report), cwd=model_repo.path, code=1)
    text = report.read_text()
    assert text.startswith("# git mv-promote audit\n")
    assert "| stage-entry | churn | production | refs/tags/mv/churn/production/2 | [R1 gate]" in text


def test_markdown_of_a_clean_audit_says_so(model_repo, tmp_path, mv):
    report = tmp_path / "audit.md"
    mv("audit", "--markdown", str(report), cwd=model_repo.path)
    assert "- Result: clean, no findings" in report.read_text()


def test_a_clone_that_never_fetched_the_notes_is_named_not_clean(tmp_path, keys, mv):
    alice = ModelRepo(tmp_path / "alice", keys)
    bare = make_bare(tmp_path, "remote.git")
    alice.git("remote", "add", "origin", str(bare))
    alice.git("push", "-q", "origin", "main")
    v1 = alice.version(0.85, 0.80)
    alice.mv("promote", "churn", v1, "--stage", "production")
    alice.git("push", "-q", "origin", "refs/tags/mv/*:refs/tags/mv/*", "refs/notes/mv-promote")
    git("clone", "-q", f"file://{bare}", str(tmp_path / "bob"), cwd=tmp_path)
    result = mv("audit", cwd=tmp_path / "bob", code=1)
    assert "cannot audit the registry here" in result.err and "never fetched" in result.err
    assert "git mv-promote sync origin" in result.err
    assert "clean" not in result.out


def test_the_python_api_returns_the_findings(model_repo):
    from gitmv import api

    v1 = model_repo.version(0.85, 0.80)
    model_repo.mv("promote", "churn", v1, "--stage", "production")
    result = api.audit(path=model_repo.path)
    assert result["ok"] is True and result["checked"]["stage_entries"] == 1
