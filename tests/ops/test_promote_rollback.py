"""`promote`, `rollback`, `history`, `log`, `diff` and `deprecate`: stage tags on version tag
objects, an append-only stage timeline, and the audit trail."""

from __future__ import annotations

import hashlib
import subprocess

import pytest

from conftest import POLICY, ModelRepo, set_clock


def stage_tags(r, stage: str = "production") -> list[str]:
    return r.git("tag", "-l", f"mv/churn/{stage}/*").split()


def all_refs(r) -> str:
    return r.git("for-each-ref", "--format=%(refname) %(objectname)")


def tag_id(r, version: str) -> str:
    return r.git("rev-parse", f"refs/tags/mv/churn/{version}")


def eval_id(r, version: str) -> str:
    return r.mv("show", "churn", version, "--json").json["evidence"][-1]["id"]


@pytest.fixture
def in_production(model_repo, monkeypatch):
    """v1 then v2 promoted to production on consecutive days; v3 registered, never promoted."""
    r = model_repo
    set_clock(monkeypatch, "2026-11-01T10:00:00+00:00")
    r.version(0.85, 0.80)
    r.mv("promote", "churn", "v1", "--stage", "production", "-m", "first model")
    set_clock(monkeypatch, "2026-11-02T10:00:00+00:00")
    r.version(0.90, 0.85)
    r.mv("promote", "churn", "v2", "--stage", "production", "-m", "better auc")
    set_clock(monkeypatch, "2026-11-03T10:00:00+00:00")
    r.version(0.91, 0.86)
    return r


# ================================================================ promote

def test_promote_writes_a_stage_tag_with_seq_1(model_repo):
    r = model_repo
    r.version(0.85, 0.80)
    out = r.mv("promote", "churn", "v1", "--stage", "production").out
    assert stage_tags(r) == ["mv/churn/production/1"]
    assert "promoted churn v1 to production (refs/tags/mv/churn/production/1)" in out


def test_stage_tag_points_at_the_version_tag_object(model_repo):
    r = model_repo
    r.version(0.85, 0.80)
    r.mv("promote", "churn", "v1", "--stage", "production")
    header = r.git("cat-file", "-p", "refs/tags/mv/churn/production/1").split("\n\n")[0].splitlines()
    assert header[0] == f"object {tag_id(r, 'v1')}"
    assert header[1] == "type tag"
    assert header[2] == "tag mv/churn/production/1"
    assert r.git("rev-parse", "refs/tags/mv/churn/production/1^{commit}") == r.git("rev-parse", "mv/churn/v1^{commit}")


def test_stage_tag_is_signed_and_git_verifies_it(model_repo):
    r = model_repo
    r.version(0.85, 0.80)
    r.mv("promote", "churn", "v1", "--stage", "production")
    proc = subprocess.run(["git", "-c", "gpg.ssh.allowedSignersFile=.mv-promote/allowed_signers", "verify-tag",
                           "mv/churn/production/1"], cwd=r.path, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr


def test_seq_increments_per_stage(in_production):
    r = in_production
    assert stage_tags(r) == ["mv/churn/production/1", "mv/churn/production/2"]
    r.mv("promote", "churn", "v3", "--stage", "production")
    r.mv("promote", "churn", "v3", "--stage", "staging")
    assert stage_tags(r) == ["mv/churn/production/1", "mv/churn/production/2", "mv/churn/production/3"]
    assert stage_tags(r, "staging") == ["mv/churn/staging/1"]


def test_promotion_record_fields(in_production):
    r = in_production
    rec = r.mv("promote", "churn", "v3", "--stage", "production", "-m", "beats v2", "--json").json["record"]
    policy = (r.path / ".mv-promote.toml").read_bytes()
    assert rec["kind"] == "promote"
    assert (rec["model"], rec["version"], rec["stage"], rec["seq"]) == ("churn", "v3", "production", 3)
    assert rec["version_tag"] == tag_id(r, "v3")
    assert rec["previous"] == "v2"
    assert rec["reason"] == "beats v2"
    assert rec["by"] == "alice@example.com"  # the principal of the signing key, not the typed name
    assert rec["at"] == "2026-11-03T10:00:00Z"
    assert rec["policy_digest"] == "sha256:" + hashlib.sha256(policy).hexdigest()
    assert rec["eval_record"] == eval_id(r, "v3")
    assert rec["gate"]["passed"] is True and rec["gate"]["baseline"] == "v2"
    assert all(c.startswith("pass: ") for c in rec["gate"]["criteria"])
    assert rec["signer"].startswith("SHA256:")


def test_promotion_record_in_the_tag_matches_the_json(in_production):
    from gitmv.records import PromotionRecord, split_signature

    r = in_production
    out = r.mv("promote", "churn", "v3", "--stage", "production", "--json").json
    raw = r.git("cat-file", "tag", out["ref"]) + "\n"
    message, _ = split_signature(raw.split("\n\n", 1)[1].encode())
    assert PromotionRecord.from_message(message.decode()).to_dict() == out["record"]
    assert r.git("tag", "-l", "--format=%(contents:subject)", "mv/churn/production/3") == \
        "mv-promote: promote churn v3 to production #3"


def test_first_promotion_has_no_previous(model_repo):
    r = model_repo
    r.version(0.85, 0.80)
    rec = r.mv("promote", "churn", "v1", "--stage", "production", "--json").json["record"]
    assert "previous" not in rec


def test_promote_refuses_when_the_gate_fails_and_writes_no_tag(model_repo):
    r = model_repo
    r.version(0.70, 0.80)
    before = all_refs(r)
    result = r.mv("promote", "churn", "v1", "--stage", "production", code=1)
    assert "refused by the gate" in result.err and "threshold auc" in result.err
    assert "git mv-promote check churn v1 --stage production" in result.err
    assert all_refs(r) == before


def test_promote_refuses_a_regression_against_production(in_production):
    r = in_production
    r.version(0.86, 0.80)  # v4, worse than v2
    r.mv("promote", "churn", "v4", "--stage", "production", code=1)
    assert stage_tags(r) == ["mv/churn/production/1", "mv/churn/production/2"]


def test_promote_refuses_without_an_eval(model_repo):
    r = model_repo
    r.version(0.85, 0.80, evaluate=False)
    r.mv("promote", "churn", "v1", "--stage", "production", code=1)
    assert stage_tags(r) == []


def test_promote_to_an_unknown_stage_is_exit_1(model_repo):
    r = model_repo
    r.version(0.85, 0.80)
    result = r.mv("promote", "churn", "v1", "--stage", "prod", code=1)
    assert "unknown stage 'prod'" in result.err
    assert r.git("tag", "-l", "mv/churn/prod/*") == ""


def test_promote_through_a_real_process(model_repo, mv_proc):
    r = model_repo
    r.version(0.85, 0.80)
    mv_proc("promote", "churn", "v1", "--stage", "staging", cwd=r.path)
    refused = mv_proc("promote", "churn", "v9", "--stage", "staging", cwd=r.path, code=1)
    assert "Traceback" not in refused.err
    assert stage_tags(r, "staging") == ["mv/churn/staging/1"]


# ================================================================ rollback

def test_rollback_defaults_to_the_previous_version(in_production):
    r = in_production
    out = r.mv("rollback", "churn", "--stage", "production", "-m", "incident 42", "--json").json
    assert (out["from"], out["to"]) == ("v2", "v1")
    assert out["ref"] == "refs/tags/mv/churn/production/3"
    assert r.mv("show", "--json").json["models"][0]["stages"] == {"production": "v1"}


def test_rollback_record_is_kind_rollback_with_reason_and_previous(in_production):
    r = in_production
    rec = r.mv("rollback", "churn", "--stage", "production", "-m", "incident 42", "--json").json["record"]
    assert rec["kind"] == "rollback"
    assert (rec["version"], rec["previous"], rec["seq"]) == ("v1", "v2", 3)
    assert rec["reason"] == "incident 42"
    assert rec["version_tag"] == tag_id(r, "v1")
    assert rec["eval_record"] == eval_id(r, "v1")
    assert r.git("tag", "-l", "--format=%(contents:subject)", "mv/churn/production/3") == \
        "mv-promote: roll back churn v1 to production #3"


def test_rollback_stage_tag_points_at_the_target_version_tag_object(in_production):
    r = in_production
    r.mv("rollback", "churn", "--stage", "production")
    header = r.git("cat-file", "-p", "refs/tags/mv/churn/production/3").splitlines()
    assert header[:2] == [f"object {tag_id(r, 'v1')}", "type tag"]


def test_rollback_is_not_held_to_beat_or_match(in_production):
    r = in_production
    r.mv("check", "churn", "v1", "--stage", "production", code=1)  # v1 is worse than v2
    r.mv("rollback", "churn", "--stage", "production", "--to", "v1")


def test_rollback_to_a_named_version(in_production):
    r = in_production
    r.mv("promote", "churn", "v3", "--stage", "production")
    out = r.mv("rollback", "churn", "--stage", "production", "--to", "v1", "--json").json
    assert (out["from"], out["to"]) == ("v3", "v1")


def test_rollback_after_a_rollback_goes_back_to_the_one_before(in_production):
    r = in_production
    r.mv("rollback", "churn", "--stage", "production")
    out = r.mv("rollback", "churn", "--stage", "production", "--json").json
    assert (out["from"], out["to"]) == ("v1", "v2")


def test_rollback_dry_run_writes_nothing(in_production):
    r = in_production
    before = all_refs(r)
    result = r.mv("rollback", "churn", "--stage", "production", "--dry-run")
    assert "dry run: production would go from v2 to v1; nothing written" in result.out
    assert "retrievable model.bin" in result.out
    assert all_refs(r) == before


def test_rollback_dry_run_json_reports_the_plan(in_production):
    r = in_production
    plan = r.mv("rollback", "churn", "--stage", "production", "--dry-run", "--json").json
    assert plan["dry_run"] is True and plan["verdict"]["passed"] is True
    assert [(x["path"], x["ok"], x["source"]) for x in plan["retrievable"]] == [("model.bin", True, "git blob")]
    assert "ref" not in plan


def test_rollback_to_a_version_never_in_the_stage_is_refused(in_production):
    r = in_production
    before = all_refs(r)
    result = r.mv("rollback", "churn", "--stage", "production", "--to", "v3", code=1)
    assert "v3 was never in production" in result.err
    assert all_refs(r) == before


def test_rollback_dry_run_to_a_version_never_in_the_stage_exits_1(in_production):
    r = in_production
    r.mv("rollback", "churn", "--stage", "production", "--to", "v3", "--dry-run", code=1)


def test_a_failing_rollback_dry_run_does_not_say_where_the_stage_would_go(in_production):
    out = in_production.mv("rollback", "churn", "--stage", "production", "--to", "v3", "--dry-run", code=1).out
    assert "would go from" not in out
    assert "dry run: a rollback of production to v3 would be refused" in out


def test_rollback_to_a_deprecated_version_is_refused(in_production):
    r = in_production
    r.mv("deprecate", "churn", "v1", "-m", "label leak")
    before = stage_tags(r)
    result = r.mv("rollback", "churn", "--stage", "production", code=1)
    assert "not deprecated" in result.err and "label leak" in result.err
    assert stage_tags(r) == before


def test_rollback_to_the_current_version_is_refused(in_production):
    r = in_production
    result = r.mv("rollback", "churn", "--stage", "production", "--to", "v2", code=1)
    assert "already the current production version" in result.err


def test_rollback_of_a_stage_never_used_is_exit_1(in_production):
    result = in_production.mv("rollback", "churn", "--stage", "staging", code=1)
    assert "never been in staging" in result.err


def test_rollback_with_only_one_version_ever_in_the_stage_is_exit_1(model_repo):
    r = model_repo
    r.version(0.85, 0.80)
    r.mv("promote", "churn", "v1", "--stage", "production")
    result = r.mv("rollback", "churn", "--stage", "production", code=1)
    assert "--to" in result.err


def test_rollback_to_an_unregistered_version_is_refused(in_production):
    in_production.mv("rollback", "churn", "--stage", "production", "--to", "v9", code=1)


# ================================================================ history

def test_history_lists_each_stage_entry_in_order(in_production):
    r = in_production
    r.mv("rollback", "churn", "--stage", "production", "-m", "incident")
    rows = r.mv("history", "churn", "--json").json["stages"]
    assert rows["staging"] == []
    assert [(h["seq"], h["version"], h["kind"], h["reason"], h["previous"]) for h in rows["production"]] == [
        (1, "v1", "promote", "first model", None), (2, "v2", "promote", "better auc", "v1"),
        (3, "v1", "rollback", "incident", "v2")]
    assert [h["at"] for h in rows["production"]] == ["2026-11-01T10:00:00Z", "2026-11-02T10:00:00Z", "2026-11-03T10:00:00Z"]


@pytest.mark.parametrize("at, expected", [
    ("2026-11-01T09:59:59Z", None),
    ("2026-11-01T10:00:00Z", "v1"),
    ("2026-11-01T23:00Z", "v1"),
    ("2026-11-02T10:00Z", "v2"),
    ("2026-11-02", "v1"),
    ("2026-11-03T09:00:00+02:00", "v2"),
    ("2026-11-03T12:00Z", "v1"),
    ("2030-01-01", "v1"),
])
def test_history_at_a_time_gives_what_production_held(in_production, at, expected):
    r = in_production
    r.mv("rollback", "churn", "--stage", "production")
    assert r.mv("history", "churn", "--at", at, "--json").json["stages"]["production"]["version"] == expected


def test_history_at_text_shows_the_version_and_since(in_production):
    r = in_production
    out = r.mv("history", "churn", "--at", "2026-11-02T12:00Z").out
    row = [line for line in out.splitlines() if line.startswith("production")][0]
    assert row.split() == ["production", "v2", "2026-11-02T10:00:00Z"]


def test_history_of_one_stage(in_production):
    data = in_production.mv("history", "churn", "--stage", "production", "--json").json
    assert list(data["stages"]) == ["production"]


def test_history_with_a_bad_time_is_exit_1(in_production):
    result = in_production.mv("history", "churn", "--at", "last tuesday", code=1)
    assert "not a time" in result.err


# ================================================================ log

def test_log_is_newest_first_with_who_when_why_and_evidence(model_repo, monkeypatch):
    r = model_repo
    set_clock(monkeypatch, "2026-11-01T10:00:00+00:00")
    r.version(0.85, 0.80, evaluate=False)
    set_clock(monkeypatch, "2026-11-01T11:00:00+00:00")
    ev = r.mv("eval", "churn", "v1", "--json").json["record"]["id"]
    set_clock(monkeypatch, "2026-11-01T12:00:00+00:00")
    r.mv("promote", "churn", "v1", "--stage", "production", "-m", "go live")
    events = r.mv("log", "--json").json["events"]
    assert [(e["event"], e["at"]) for e in events] == [
        ("promote", "2026-11-01T12:00:00Z"), ("eval", "2026-11-01T11:00:00Z"), ("register", "2026-11-01T10:00:00Z")]
    promote, evaluation, register = events
    assert promote["by"] == "alice@example.com" and promote["why"] == "go live"
    assert promote["evidence"] == ev and promote["stage"] == "production"
    assert evaluation["evidence"] == ev and "suite holdout" in evaluation["why"]
    assert register["evidence"] == tag_id(r, "v1") and register["why"] == "auc 0.85"


def test_log_text_is_a_table_newest_first(in_production):
    r = in_production
    r.mv("rollback", "churn", "--stage", "production", "-m", "incident")
    lines = r.mv("log", "churn").out.splitlines()
    assert lines[0].split()[:4] == ["at", "model", "version", "event"]
    assert "rollback production" in lines[2] and "incident" in lines[2]


def test_log_includes_deprecations(in_production, monkeypatch):
    r = in_production
    set_clock(monkeypatch, "2026-11-04T10:00:00+00:00")
    r.mv("deprecate", "churn", "v1", "-m", "label leak")
    first = r.mv("log", "--json").json["events"][0]
    assert (first["event"], first["version"], first["why"]) == ("deprecation", "v1", "label leak")


# ================================================================ diff

DIFF_POLICY = POLICY.replace('artifacts = ["model.bin"]',
                             'artifacts = ["model.bin"]\nparams = "params.yaml"\nlockfile = "requirements.lock"')


@pytest.fixture
def diff_repo(tmp_path, keys):
    r = ModelRepo(tmp_path / "diff", keys, DIFF_POLICY)
    (r.path / "params.yaml").write_text("lr: 0.1\ntree:\n  depth: 3\nepochs: 10\n")
    (r.path / "requirements.lock").write_text("numpy==1.26.4\n")
    (r.path / "train.py").write_text("print('v1')\n")
    r.version(0.85, 0.80)
    (r.path / "train.py").write_text("print('v2')\n")
    r.commit("better features")
    (r.path / "params.yaml").write_text("lr: 0.05\ntree:\n  depth: 3\nepochs: 10\nseed_mode: fixed\n")
    (r.path / "requirements.lock").write_text("numpy==2.0.0\n")
    r.version(0.90, 0.78)
    return r


def test_diff_lists_code_commits_and_changed_files(diff_repo):
    r = diff_repo
    code = r.mv("diff", "churn", "v1", "v2", "--json").json["code"]
    assert code["a"] == r.git("rev-parse", "mv/churn/v1^{commit}")
    assert code["b"] == r.git("rev-parse", "mv/churn/v2^{commit}")
    assert [c["subject"] for c in code["commits"]] == ["train auc=0.9 eu=0.78", "better features"]
    assert code["files"] == ["model.bin", "params.yaml", "requirements.lock", "train.py"]


def test_diff_lists_params_changes_by_dotted_key(diff_repo):
    params = diff_repo.mv("diff", "churn", "v1", "v2", "--json").json["params"]
    assert params == [{"key": "lr", "status": "changed", "a": 0.1, "b": 0.05},
                      {"key": "seed_mode", "status": "added", "a": None, "b": "fixed"}]


def test_diff_says_the_lockfile_changed(diff_repo):
    lock = diff_repo.mv("diff", "churn", "v1", "v2", "--json").json["lockfile"]
    assert lock == {"changed": True, "a": hashlib.sha256(b"numpy==1.26.4\n").hexdigest(),
                    "b": hashlib.sha256(b"numpy==2.0.0\n").hexdigest()}


def test_diff_of_a_version_with_itself_changes_nothing(diff_repo):
    data = diff_repo.mv("diff", "churn", "v2", "v2", "--json").json
    assert data["code"]["files"] == [] and data["params"] == [] and data["artifacts"] == []
    assert data["lockfile"]["changed"] is False


def test_diff_gives_metric_deltas_overall_and_per_slice(diff_repo):
    m = diff_repo.mv("diff", "churn", "v1", "v2", "--json").json["metrics"]
    assert m["available"] is True and m["suite"] == "holdout"
    assert {r["metric"]: r["delta"] for r in m["overall"]} == {"auc": pytest.approx(0.05), "latency_ms": 0.0}
    assert m["slices"]["region=eu"] == [{"metric": "auc", "a": 0.80, "b": 0.78, "delta": pytest.approx(-0.02)}]


def test_diff_names_the_artifact_digest_change(diff_repo):
    arts = diff_repo.mv("diff", "churn", "v1", "v2", "--json").json["artifacts"]
    assert [(a["key"], a["status"]) for a in arts] == [("model.bin", "changed")]


def test_diff_text_output(diff_repo):
    out = diff_repo.mv("diff", "churn", "v1", "v2").out
    assert "2 commit(s), 4 file(s) changed" in out
    assert "changed lr: 0.1 -> 0.05" in out
    assert "lockfile: changed" in out
    assert "auc: 0.85 -> 0.9 (+0.05)" in out
    assert "region=eu auc: 0.8 -> 0.78 (-0.02)" in out


def test_diff_without_an_eval_says_metrics_are_not_comparable(model_repo):
    r = model_repo
    r.version(0.85, 0.80, evaluate=False)
    r.version(0.86, 0.80, evaluate=False)
    data = r.mv("diff", "churn", "v1", "v2", "--json").json
    assert data["metrics"]["available"] is False
    assert "not comparable" in r.mv("diff", "churn", "v1", "v2").out


# ================================================================ deprecate

def test_deprecate_records_a_deprecation_note(in_production):
    r = in_production
    rec = r.mv("deprecate", "churn", "v1", "-m", "label leak", "--sunset", "2026-12-01", "--json").json["record"]
    assert (rec["kind"], rec["reason"], rec["sunset"]) == ("deprecation", "label leak", "2026-12-01T00:00:00Z")
    assert rec["id"] in [e["id"] for e in r.mv("show", "churn", "v1", "--json").json["evidence"]]


def test_show_flags_a_deprecated_version(in_production):
    r = in_production
    r.mv("deprecate", "churn", "v3", "-m", "label leak")
    versions = r.mv("show", "churn", "--json").json["versions"]
    assert [(v["version"], v["deprecated"]) for v in versions] == [("v1", False), ("v2", False), ("v3", True)]
    row = [line for line in r.mv("show", "churn").out.splitlines() if line.startswith("v3")][0]
    assert "DEPRECATED" in row
    assert "DEPRECATED" in r.mv("show", "churn", "v3").out
    assert r.mv("show", "churn", "v3", "--json").json["deprecated"] is True


def test_promote_refuses_a_deprecated_version(in_production):
    r = in_production
    r.mv("deprecate", "churn", "v3", "-m", "label leak")
    result = r.mv("promote", "churn", "v3", "--stage", "production", code=1)
    assert "not deprecated" in result.err
    assert stage_tags(r) == ["mv/churn/production/1", "mv/churn/production/2"]


def test_deprecate_needs_a_message(in_production):
    in_production.mv("deprecate", "churn", "v1", code=2)


def test_deprecate_an_unregistered_version_is_exit_1(in_production):
    in_production.mv("deprecate", "churn", "v9", "-m", "x", code=1)
