"""Claims of docs/reference.md that no other test checked (issue "Newcomer": `docs/` states
nothing that a test does not check). Each drives the CLI as a user would."""

from __future__ import annotations

import subprocess

from conftest import run_mv


def test_an_uncommitted_policy_edit_is_not_used_and_is_reported_as_a_warning(model_repo):
    """reference.md, "Conventions": an uncommitted edit of the policy is not used; a warning says so."""
    policy = model_repo.path / ".mv-promote.toml"
    policy.write_text(policy.read_text().replace("auc = 0.80", "auc = 0.10"))
    r = model_repo.mv("show", "churn", "--json")
    assert any(".mv-promote.toml has uncommitted changes; using the committed version" in w for w in r.json["warnings"])


def test_a_closed_pipe_on_standard_output_exits_0(model_repo):
    """reference.md, "Exit status": `git mv-promote log | head` exits 0, without a traceback."""
    for auc in (0.81, 0.82, 0.83):
        model_repo.version(auc, 0.80, evaluate=False)
    # the reader may close before or after the last write: several runs meet both (click alone exited 1)
    script = "for i in 1 2 3 4 5 6; do git-mv-promote log churn | head -c 1 >/dev/null; echo ${PIPESTATUS[0]}; done"
    proc = subprocess.run(["bash", "-c", script], cwd=model_repo.path, capture_output=True, text=True)
    assert proc.stdout.split() == ["0"] * 6, proc.stderr
    assert proc.stderr == ""


def test_request_without_signing_set_up_exits_1_and_creates_no_branch(model_repo):
    """reference.md, `request`: signing not set up is exit 1, no branch."""
    v1 = model_repo.version(0.85, 0.80)
    model_repo.mv("promote", "churn", v1, "--stage", "staging")
    model_repo.git("config", "user.signingkey", "")
    r = model_repo.mv("request", "churn", v1, "--stage", "production", code=1)
    assert "error:" in r.err and "fix:" in r.err
    assert model_repo.git("branch", "--list", "mv-promote/*") == ""


def test_rollback_of_a_stage_that_never_had_a_version_exits_1(model_repo):
    """reference.md, `rollback`: 1 when the stage never had a version, with the cause and the fix."""
    model_repo.version(0.85, 0.80)
    r = run_mv("rollback", "churn", "--stage", "production", cwd=model_repo.path, code=1)
    assert "churn has never been in production: nothing to roll back" in r.err
    assert "git mv-promote history churn" in r.err


def test_rollback_of_a_stage_with_nothing_earlier_exits_1(model_repo):
    """reference.md, `rollback`: 1 when the stage has nothing earlier."""
    v1 = model_repo.version(0.85, 0.80)
    model_repo.mv("promote", "churn", v1, "--stage", "staging")
    r = model_repo.mv("rollback", "churn", "--stage", "staging", code=1)
    assert f"staging of churn has had no version before {v1}" in r.err
