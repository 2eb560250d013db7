"""Issue 17, the operation side: answers that looked right and were wrong.

- A version must stay retrievable: `register` refuses an artifact neither committed nor pinned by DVC.
- Evidence must say what produced it: `eval` refuses dirty command files or policy, and records the
  code commit and the command digest, which `diff` and the reviewer page show.
- Writes say where they went: `eval`, `deprecate`, `approve` end with the push hint; a live
  deprecation warns; an identical one is refused; promoting the current version again is a no-op.
- Ctrl-C stops the eval command's whole process group.
"""

from __future__ import annotations

import hashlib
import json
import os
import select
import shutil
import signal
import subprocess
from pathlib import Path

import pytest

from conftest import POLICY, ModelRepo

PUSH_NOTES = "git push origin refs/notes/mv-promote   (or: git mv-promote sync)"


def tags(r: ModelRepo) -> list[str]:
    out = r.git("tag", "-l", "mv/*")
    return out.splitlines() if out else []


def research(tmp_path, keys) -> ModelRepo:
    return ModelRepo(tmp_path / "research", keys, POLICY.replace('tier = "production"', 'tier = "research"'))


# ================================================================ a version must stay retrievable

def test_register_refuses_an_untracked_artifact_and_names_every_way_out(model_repo):
    r = model_repo
    r.write_model(0.85, 0.80)
    result = r.mv("register", "churn", code=1)
    assert "artifact model.bin of churn is neither committed at HEAD nor tracked by DVC at HEAD (it is untracked)" in result.err
    assert "git add model.bin && git commit" in result.err
    assert "dvc add model.bin" in result.err and "research" in result.err
    assert "Traceback" not in result.err
    assert tags(r) == []


def test_register_refuses_an_artifact_that_is_only_staged(model_repo):
    r = model_repo
    r.write_model(0.85, 0.80)
    r.git("add", "model.bin")
    result = r.mv("register", "churn", code=1)
    assert "model.bin" in result.err and "only staged, not committed" in result.err
    assert "git add model.bin && git commit" in result.err
    assert tags(r) == []


def test_register_refuses_an_ignored_artifact_without_a_dvc_pin(model_repo):
    r = model_repo
    (r.path / ".gitignore").write_text("model.bin\n")
    r.commit("ignore the model")
    r.write_model(0.85, 0.80)
    result = r.mv("register", "churn", code=1)
    assert "model.bin" in result.err and "ignored by Git and has no DVC pin" in result.err
    assert "dvc add model.bin" in result.err
    assert tags(r) == []


def test_register_accepts_an_artifact_pinned_by_a_committed_dvc_file(model_repo, monkeypatch):
    pytest.importorskip("dvc", reason="needs the [dvc] extra")
    monkeypatch.setenv("DVC_NO_ANALYTICS", "1")
    r = model_repo
    for args in (["init", "-q"], ["config", "core.analytics", "false"], ["config", "core.check_update", "false"]):
        subprocess.run(["dvc", *args], cwd=r.path, check=True, capture_output=True)
    r.write_model(0.85, 0.80)
    subprocess.run(["dvc", "add", "-q", "model.bin"], cwd=r.path, check=True, capture_output=True)
    r.commit("track the model with DVC")
    assert r.git("ls-files", "model.bin") == ""  # DVC ignores it for Git: only the pin is committed
    assert r.mv("register", "churn", "--json").json["version"] == "v1"


def test_the_research_tier_still_registers_an_untracked_artifact(tmp_path, keys):
    r = research(tmp_path, keys)
    r.write_model(0.85, 0.80)
    assert r.mv("register", "churn", "--json").json["version"] == "v1"


def test_an_experiment_may_name_an_untracked_artifact(model_repo):
    r = model_repo
    r.write_model(0.85, 0.80)
    r.mv("register", "churn", "--experiment", "try-1")
    assert tags(r) == []


# ================================================================ evidence must say what produced it

def test_eval_refuses_when_the_eval_script_has_uncommitted_changes(model_repo):
    r = model_repo
    v1 = r.version(0.85, 0.80, evaluate=False)
    (r.path / "eval.py").write_text((r.path / "eval.py").read_text() + "# tweak\n")
    result = r.mv("eval", "churn", v1, code=1)
    assert "uncommitted changes in files that define the eval of churn: eval.py" in result.err
    assert "commit or stash them" in result.err
    assert r.mv("show", "churn", v1, "--json").json["evidence"] == []


def test_eval_refuses_when_the_policy_has_uncommitted_changes(model_repo):
    r = model_repo
    v1 = r.version(0.85, 0.80, evaluate=False)
    policy = r.path / ".mv-promote.toml"
    policy.write_text(policy.read_text().replace("auc = 0.80", "auc = 0.50"))
    result = r.mv("eval", "churn", v1, code=1)
    assert "uncommitted changes in files that define the eval of churn: .mv-promote.toml" in result.err
    assert r.mv("show", "churn", v1, "--json").json["evidence"] == []


def test_eval_is_not_stopped_by_a_dirty_file_the_command_does_not_name(model_repo):
    r = model_repo
    (r.path / "notes.txt").write_text("draft\n")
    v1 = r.version(0.85, 0.80, evaluate=False)
    (r.path / "notes.txt").write_text("edited\n")
    r.mv("eval", "churn", v1)


def test_eval_record_carries_the_code_commit_and_the_command_digest(model_repo):
    r = model_repo
    v1 = r.version(0.85, 0.80, evaluate=False)
    head = r.git("rev-parse", "HEAD")
    rec = r.mv("eval", "churn", v1, "--json").json["record"]
    command = "python3 eval.py {artifact} {output}"
    files = {"eval.py": r.git("rev-parse", "HEAD:eval.py")}  # the one command token that is a tracked file
    canonical = json.dumps({"command": command, "files": files}, sort_keys=True, separators=(",", ":"))
    assert rec["code_commit"] == head
    assert rec["command_digest"] == "sha256:" + hashlib.sha256(canonical.encode()).hexdigest()


def test_the_command_digest_changes_with_the_eval_script(model_repo):
    r = model_repo
    v1 = r.version(0.85, 0.80, evaluate=False)
    first = r.mv("eval", "churn", v1, "--json").json["record"]["command_digest"]
    (r.path / "eval.py").write_text((r.path / "eval.py").read_text() + "# reviewed\n")
    r.commit("touch the eval script")
    assert r.mv("eval", "churn", v1, "--json").json["record"]["command_digest"] != first


def _old_style_eval(r: ModelRepo, version: str) -> None:
    """An eval record as written before code_commit and command_digest existed."""
    from gitmv.git import notes, record_signing
    from gitmv.git.repo import Repo

    repo = Repo.discover(r.path)
    shown = r.mv("show", "churn", version, "--json").json
    body = {"model": "churn", "version": version, "suite": "holdout",
            "artifacts": {p: a["sha256"] for p, a in shown["record"]["artifacts"].items()},
            "metrics": {"auc": 0.85, "latency_ms": 5.0}, "slices": {"region=eu": {"auc": 0.80}},
            "command": "python3 eval.py {artifact} {output}", "exit_status": 0, "duration_s": 0.1}
    signers = (r.path / ".mv-promote" / "allowed_signers").read_bytes()
    rec = record_signing.new_record(repo, "eval", body, at="2026-11-01T09:00:00Z", allowed_signers=signers, signed=True)
    notes.append(repo, shown["tag"], [rec], f"old eval of churn {version}")


def test_diff_shows_each_sides_eval_provenance_and_reads_old_records(model_repo):
    r = model_repo
    v1 = r.version(0.85, 0.80, evaluate=False)
    _old_style_eval(r, v1)
    v2 = r.version(0.90, 0.85)
    head = r.git("rev-parse", "HEAD")
    result = r.mv("diff", "churn", v1, v2, "--json").json["metrics"]
    assert result["a_provenance"] == {"code_commit": None, "command_digest": None}
    assert result["b_provenance"]["code_commit"] == head
    assert result["b_provenance"]["command_digest"].startswith("sha256:")
    text = r.mv("diff", "churn", v1, v2).out
    assert "eval of a: code not recorded, command not recorded" in text
    assert f"eval of b: code {head[:12]}, command {result['b_provenance']['command_digest']}" in text


def test_the_reviewer_page_shows_the_candidates_eval_provenance(model_repo):
    r = model_repo
    v1 = r.version(0.85, 0.80)
    rec = r.mv("show", "churn", v1, "--json").json["evidence"][0]
    page = r.mv("request", "churn", v1, "--stage", "production", "--json").json["page"]
    assert f"| eval ran at code | `{rec['code_commit'][:12]}` |" in page
    assert f"| eval command digest | `{rec['command_digest'][:19]}` |" in page


def test_the_reviewer_page_says_when_an_old_eval_recorded_no_provenance(model_repo):
    r = model_repo
    v1 = r.version(0.85, 0.80, evaluate=False)
    _old_style_eval(r, v1)
    page = r.mv("request", "churn", v1, "--stage", "production", "--json").json["page"]
    assert "| eval ran at code | not recorded |" in page
    assert "| eval command digest | not recorded |" in page


# ================================================================ writes say where they went

def test_eval_ends_with_the_push_hint(model_repo):
    r = model_repo
    v1 = r.version(0.85, 0.80, evaluate=False)
    assert f"push it: {PUSH_NOTES}" in r.mv("eval", "churn", v1).out
    assert r.mv("eval", "churn", v1, "--json").json["next"] == [PUSH_NOTES]


def test_deprecate_ends_with_the_push_hint(model_repo):
    r = model_repo
    v1 = r.version(0.85, 0.80)
    result = r.mv("deprecate", "churn", v1, "-m", "label leak")
    assert f"push it: {PUSH_NOTES}" in result.out


def test_promote_prints_the_same_hint_from_its_result(model_repo):
    r = model_repo
    v1 = r.version(0.85, 0.80)
    result = r.mv("promote", "churn", v1, "--stage", "staging", "--json").json
    assert result["next"] == [f"git push origin {result['ref']} refs/notes/mv-promote   (or: git mv-promote sync)"]


def test_approve_ends_with_the_push_hint_for_its_branch(tmp_path, keys):
    r = ModelRepo(tmp_path / "team", keys, signers=("alice", "bob"))
    v1 = r.version(0.85, 0.80)
    r.mv("request", "churn", v1, "--stage", "production")
    for key, value in (("user.name", "Bob"), ("user.email", "bob@example.com"), ("user.signingkey", str(keys.private("bob")))):
        r.git("config", key, value)
    result = r.mv("approve", "churn", v1, "--stage", "production")
    assert f"push it: git push origin mv-promote/churn/{v1}-production" in result.out


def test_deprecating_a_version_current_in_a_stage_records_it_and_warns_naming_the_stage(model_repo):
    r = model_repo
    v1 = r.version(0.85, 0.80)
    r.mv("promote", "churn", v1, "--stage", "staging")
    result = r.mv("deprecate", "churn", v1, "-m", "label leak")
    assert f"warning: churn {v1} is current in staging" in result.err
    assert "git mv-promote rollback churn --stage staging" in result.err
    assert r.mv("show", "churn", v1, "--json").json["deprecated"] is True


def test_an_identical_second_deprecation_is_refused(model_repo):
    r = model_repo
    v1 = r.version(0.85, 0.80)
    r.mv("deprecate", "churn", v1, "-m", "label leak", "--sunset", "2026-12-01")
    result = r.mv("deprecate", "churn", v1, "-m", "label leak", "--sunset", "2026-12-01", code=1)
    assert f"churn {v1} is already deprecated with this reason and sunset" in result.err
    assert "fix:" in result.err
    kinds = [rec["kind"] for rec in r.mv("show", "churn", v1, "--json").json["evidence"]]
    assert kinds.count("deprecation") == 1


def test_a_deprecation_with_a_new_sunset_is_recorded(model_repo):
    r = model_repo
    v1 = r.version(0.85, 0.80)
    r.mv("deprecate", "churn", v1, "-m", "label leak", "--sunset", "2026-12-01")
    r.mv("deprecate", "churn", v1, "-m", "label leak", "--sunset", "2027-01-01")
    kinds = [rec["kind"] for rec in r.mv("show", "churn", v1, "--json").json["evidence"]]
    assert kinds.count("deprecation") == 2


def test_promoting_the_current_version_again_is_a_noop_with_a_notice(model_repo):
    r = model_repo
    v1 = r.version(0.85, 0.80)
    r.mv("promote", "churn", v1, "--stage", "staging")
    before = tags(r)
    result = r.mv("promote", "churn", v1, "--stage", "staging")
    assert f"churn {v1} is already the current staging version (refs/tags/mv/churn/staging/1); nothing written" in result.out
    assert "push it" not in result.out
    assert tags(r) == before
    again = r.mv("promote", "churn", v1, "--stage", "staging", "--json").json
    assert again["noop"] is True and again["ref"] == "refs/tags/mv/churn/staging/1"


# ================================================================ SIGINT stops the process group

SLOW_EVAL = '''import os, subprocess, sys
here = os.path.dirname(os.path.abspath(__file__))
sys.exit(subprocess.call([sys.executable, os.path.join(here, "child.py")]))
'''
CHILD = '''import os, pathlib
out = pathlib.Path(os.environ["MV_TEST_SIGNAL_DIR"])
with open(out / "ready", "w") as fifo:  # tells the test it runs, and who it is
    fifo.write(str(os.getpid()))
with open(out / "release") as fifo:  # blocks until the test lets it go: only a kill ends it sooner
    fifo.read()
(out / "survived").write_text("the child outlived the interrupt")
'''


def _alive(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"  # a zombie has exited


def _wait_readable(fd: int, timeout: float) -> bool:
    """Block until `fd` is readable (data in a FIFO, or a pidfd's process exited), at most `timeout`."""
    return bool(select.select([fd], [], [], timeout)[0])


def test_sigint_stops_the_eval_commands_child_processes(tmp_path, keys):
    r = ModelRepo(tmp_path / "repo", keys, POLICY.replace("python3 eval.py", "python3 slow_eval.py"))
    (r.path / "slow_eval.py").write_text(SLOW_EVAL)
    (r.path / "child.py").write_text(CHILD)
    r.commit("a slow eval")
    v1 = r.version(0.85, 0.80, evaluate=False)
    signals = tmp_path / "signals"
    signals.mkdir()
    os.mkfifo(signals / "ready")
    os.mkfifo(signals / "release")
    ready = os.open(signals / "ready", os.O_RDONLY | os.O_NONBLOCK)  # does not wait for a writer
    script = shutil.which("git-mv-promote")
    assert script, "the git-mv-promote script is not on PATH"
    proc = subprocess.Popen([script, "eval", "churn", v1], cwd=r.path, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            env={**os.environ, "MV_TEST_SIGNAL_DIR": str(signals)})
    try:
        assert _wait_readable(ready, 120), f"the eval command never started its child: {proc.poll()}"
        child = int(os.read(ready, 64))
    finally:
        os.close(ready)
    pidfd = os.pidfd_open(child)
    try:
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=120)
        assert proc.returncode == 130, err
        assert b"Traceback" not in err
        _wait_readable(pidfd, 30)  # readable once the child has exited
        assert not _alive(child), "the eval command's child survived the interrupt"
        assert not (signals / "survived").exists()
    finally:
        os.close(pidfd)
        if _alive(child):
            os.kill(child, signal.SIGKILL)
