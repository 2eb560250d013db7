"""The command line as a process: help, exit codes, and `--json` everywhere."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

COMMANDS = ["init", "register", "eval", "check", "promote", "rollout", "rollback", "show", "history", "log", "diff",
            "verify", "deprecate", "hooks"]


def run(args, cwd):
    return subprocess.run(args, cwd=cwd, capture_output=True, text=True)


# ---------------------------------------------------------------- help

def test_git_mv_promote_dash_dash_help_lists_every_command(tmp_path):
    proc = run(["git-mv-promote", "--help"], tmp_path)
    assert proc.returncode == 0, proc.stderr
    for cmd in COMMANDS:
        assert f"  {cmd}" in proc.stdout, cmd


def test_git_subcommand_dash_h_reaches_the_tool(tmp_path):
    proc = run(["git", "mv-promote", "-h"], tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert "Usage: git mv-promote" in proc.stdout
    for cmd in COMMANDS:
        assert f"  {cmd}" in proc.stdout, cmd


def test_help_works_outside_a_git_repository(tmp_path):
    proc = run(["git-mv-promote", "-h"], tmp_path)
    assert proc.returncode == 0
    assert "Exit codes" in proc.stdout


@pytest.mark.parametrize("cmd, options", [
    ("register", ["--artifact", "--run-id", "--parent", "--seed", "--message", "--no-sign", "--allow-dirty", "--json"]),
    ("init", ["--model", "--artifact", "--add-signer", "--no-hook", "--json"]),
    ("eval", ["--suite", "--from-file", "--json"]),
    ("check", ["--stage", "--json"]),
    ("promote", ["--stage", "--traffic", "--message", "--json"]),
    ("rollout", ["--stage", "--traffic", "--dry-run", "--message", "--json"]),
    ("rollback", ["--stage", "--to", "--dry-run", "--traffic", "--message", "--json"]),
    ("history", ["--stage", "--at", "--json"]),
    ("show", ["--json"]),
    ("verify", ["--json"]),
    ("log", ["--json"]),
    ("diff", ["--json"]),
    ("deprecate", ["--message", "--sunset", "--json"]),
])
def test_each_command_dash_h_lists_its_options(tmp_path, cmd, options):
    proc = run(["git", "mv-promote", cmd, "-h"], tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert f"Usage: git mv-promote {cmd}" in proc.stdout
    for opt in options:
        assert opt in proc.stdout, opt


def test_python_dash_m_gitmv_help_works(tmp_path):
    proc = run([sys.executable, "-m", "gitmv", "-h"], tmp_path)
    assert proc.returncode == 0, proc.stderr
    for cmd in COMMANDS:
        assert f"  {cmd}" in proc.stdout, cmd


def test_version_option_prints_the_version(tmp_path):
    import gitmv

    proc = run(["git-mv-promote", "--version"], tmp_path)
    assert proc.returncode == 0
    assert gitmv.__version__ in proc.stdout


# ---------------------------------------------------------------- exit codes

def test_unknown_command_is_a_usage_error_exit_2(model_repo, mv_proc):
    result = mv_proc("promot", cwd=model_repo.path, code=2)
    assert "Traceback" not in result.err


def test_missing_required_option_is_a_usage_error_exit_2(model_repo, mv_proc):
    result = mv_proc("check", "churn", "v1", cwd=model_repo.path, code=2)
    assert "--stage" in result.err


def test_invalid_model_name_is_a_usage_error_exit_2(model_repo, mv_proc):
    result = mv_proc("register", "Churn", cwd=model_repo.path, code=2)
    assert "invalid model name" in result.err


# Every command that takes a model, a version or a stage, with a well-formed value for the others.
NAME_SLOTS = {
    "model": [["register", "{}"], ["init", "--model", "{}", "--no-hook"], ["show", "{}"], ["show", "{}", "v1"],
              ["history", "{}"], ["log", "{}"], ["diff", "{}", "v1", "v2"], ["lineage", "{}", "v1"], ["verify", "{}"],
              ["reproduce", "{}", "v1"], ["eval", "{}", "v1"], ["deprecate", "{}", "v1", "-m", "x"],
              ["check", "{}", "v1", "--stage", "production"], ["promote", "{}", "v1", "--stage", "production"],
              ["rollback", "{}", "--stage", "production"], ["request", "{}", "v1", "--stage", "production"],
              ["approve", "{}", "v1", "--stage", "production"], ["approvals", "{}", "v1"]],
    "version": [["register", "churn", "--parent", "{}"], ["show", "churn", "{}"], ["diff", "churn", "{}", "v1"],
                ["diff", "churn", "v1", "{}"], ["lineage", "churn", "{}"], ["verify", "churn", "{}"],
                ["reproduce", "churn", "{}"], ["eval", "churn", "{}"], ["deprecate", "churn", "{}", "-m", "x"],
                ["check", "churn", "{}", "--stage", "production"], ["promote", "churn", "{}", "--stage", "production"],
                ["rollback", "churn", "--stage", "production", "--to", "{}"],
                ["request", "churn", "{}", "--stage", "production"], ["approve", "churn", "{}", "--stage", "production"],
                ["approvals", "churn", "{}"]],
    "stage": [["history", "churn", "--stage", "{}"], ["check", "churn", "v1", "--stage", "{}"],
              ["promote", "churn", "v1", "--stage", "{}"], ["rollback", "churn", "--stage", "{}"],
              ["request", "churn", "v1", "--stage", "{}"], ["approve", "churn", "v1", "--stage", "{}"],
              ["approvals", "churn", "v1", "--stage", "{}"]],
}


@pytest.mark.parametrize("kind, bad", [("model", "Churn"), ("model", "churn.v2"), ("version", "V1"), ("version", "v01"),
                                       ("version", "v0"), ("stage", "Production"), ("stage", "v2")])
def test_a_bad_name_is_the_same_usage_error_exit_2_from_every_command(model_repo, mv, kind, bad):
    errors = {}
    for template in NAME_SLOTS[kind]:
        args = [a.format(bad) for a in template]
        errors[" ".join(args)] = mv(*args, cwd=model_repo.path, code=2).err
    assert len(set(errors.values())) == 1, errors
    cause, fix = next(iter(errors.values())).splitlines()
    assert cause == f"error: invalid {kind} name '{bad}'"
    assert fix.startswith("  fix: versions are" if kind == "version" else f"  fix: {kind} names are")
    assert model_repo.git("for-each-ref", "refs/tags/mv", "refs/notes", "refs/heads/mv-promote") == ""


def test_a_bad_name_is_refused_before_the_repository_is_opened(tmp_path, mv):
    result = mv("check", "churn", "v1", "--stage", "v2", cwd=tmp_path, code=2)  # tmp_path is no repository
    assert result.err.startswith("error: invalid stage name 'v2'")


def test_a_well_formed_but_unknown_stage_is_exit_1_not_usage(model_repo, mv):
    model_repo.version(0.85, 0.80)
    result = mv("check", "churn", "v1", "--stage", "canary", cwd=model_repo.path, code=1)
    assert "unknown stage 'canary'" in result.err


def test_eval_takes_an_experiment_id_where_a_version_goes(model_repo, mv):
    model_repo.write_model(0.86, 0.81)
    model_repo.commit("trial")
    mv("register", "churn", "--experiment", "trial-1", cwd=model_repo.path)
    assert mv("eval", "churn", "trial-1", "--json", cwd=model_repo.path).json["record"]["kind"] == "eval"


def test_importing_the_cli_does_not_import_pygit2():
    proc = run([sys.executable, "-c", "import sys, gitmv.cli; print('pygit2' in sys.modules)"], None)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "False", "--help must not pay for pygit2: import the operations inside commands"


def test_outside_a_repository_is_exit_1_with_a_cause(tmp_path, mv_proc):
    result = mv_proc("show", cwd=tmp_path, code=1)
    assert "not a Git repository" in result.err
    assert "Traceback" not in result.err


def test_refusal_is_exit_1_with_cause_and_fix_lines(model_repo, mv_proc):
    result = mv_proc("register", "fraud", cwd=model_repo.path, code=1)
    lines = result.err.strip().splitlines()
    assert lines[0].startswith("error: unknown model 'fraud'")
    assert lines[1].strip().startswith("fix:")


# ---------------------------------------------------------------- --json everywhere

@pytest.fixture
def populated(model_repo, monkeypatch):
    """v1 in staging and production, v2 registered and evaluated, v3 deprecated."""
    from conftest import set_clock

    r = model_repo
    set_clock(monkeypatch, "2026-11-01T10:00:00+00:00")
    r.version(0.85, 0.80)
    r.mv("promote", "churn", "v1", "--stage", "staging")
    r.mv("promote", "churn", "v1", "--stage", "production")
    set_clock(monkeypatch, "2026-11-02T10:00:00+00:00")
    r.version(0.90, 0.85)
    r.mv("promote", "churn", "v2", "--stage", "production")
    return r


@pytest.mark.parametrize("args", [
    ["show"], ["show", "churn"], ["show", "churn", "v1"],
    ["verify"], ["verify", "churn", "v2"],
    ["check", "churn", "v2", "--stage", "staging"],
    ["history", "churn"], ["history", "churn", "--at", "2026-11-01T12:00Z"], ["history", "churn", "--stage", "production"],
    ["log"], ["log", "churn"],
    ["diff", "churn", "v1", "v2"],
    ["rollback", "churn", "--stage", "production", "--dry-run"],
])
def test_read_commands_json_output_parses(populated, args, mv):
    result = mv(*args, "--json", cwd=populated.path)
    assert isinstance(json.loads(result.out), dict)


def test_write_commands_json_output_parses(populated, mv, tmp_path):
    r = populated
    r.write_model(0.91, 0.86)
    r.commit("v3")
    assert mv("register", "churn", "--json", cwd=r.path).json["version"] == "v3"
    assert mv("eval", "churn", "v3", "--json", cwd=r.path).json["record"]["kind"] == "eval"
    metrics = tmp_path / "m.json"
    metrics.write_text('{"metrics": {"auc": 0.92, "latency_ms": 4}}')
    assert mv("eval", "churn", "v3", "--suite", "extra", "--from-file", str(metrics), "--json", cwd=r.path).json["record"]["suite"] == "extra"
    assert mv("promote", "churn", "v3", "--stage", "staging", "--json", cwd=r.path).json["seq"] == 2
    assert mv("rollback", "churn", "--stage", "production", "--json", cwd=r.path).json["record"]["kind"] == "rollback"
    assert mv("deprecate", "churn", "v3", "-m", "leak", "--json", cwd=r.path).json["record"]["kind"] == "deprecation"
    assert "done" in mv("init", "--json", cwd=r.path).json
    assert "done" in mv("hooks", "install", "--json", cwd=r.path).json


def test_failed_check_json_still_parses_and_exits_1(populated, mv):
    r = populated
    r.version(0.70, 0.70)
    result = mv("check", "churn", "v3", "--stage", "production", "--json", cwd=populated.path, code=1)
    assert result.json["passed"] is False


def test_failed_verify_json_still_parses_and_exits_1(populated, mv):
    (populated.path / "model.bin").write_text("tampered\n")
    result = mv("verify", "--json", cwd=populated.path, code=1)
    assert result.json["ok"] is False and result.json["failures"]


def test_json_output_of_a_real_process_parses(populated, mv_proc):
    result = mv_proc("show", "churn", "v2", "--json", cwd=populated.path)
    assert result.json["version"] == "v2"
