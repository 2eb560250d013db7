"""The subprocess helper: what ran, how it ended and what it said; failures as typed errors that
end with the last line of stderr; the child's environment is the caller's choice. Real programs."""

from __future__ import annotations

import sys

import pytest

from gitmv import proc
from gitmv.errors import MvError, SigningError

PY = sys.executable


def py(code: str) -> list[str]:
    return [PY, "-c", code]


def test_a_run_keeps_the_command_the_status_and_both_streams():
    args = py("import sys; sys.stdout.write('out'); sys.stderr.write('err'); sys.exit(3)")
    done = proc.run(args, env=None)
    assert (done.args, done.returncode, done.stdout, done.stderr) == (args, 3, b"out", b"err")
    assert not done.ok


def test_input_reaches_the_program():
    assert proc.run(py("import sys; sys.stdout.write(sys.stdin.read())"), env=None, input=b"abc").stdout == b"abc"


def test_a_failure_names_the_cause_and_the_last_stderr_line():
    done = proc.run(py("import sys; sys.stderr.write('warning: first\\nfatal: the reason\\n\\n'); sys.exit(128)"), env=None)
    with pytest.raises(proc.CommandError) as err:
        done.check("git fetch failed", "check the remote")
    assert err.value.cause == "git fetch failed: fatal: the reason"
    assert err.value.fix == "check the remote"
    assert err.value.result is done
    assert err.value.exit_code == 1


def test_a_silent_failure_names_the_exit_status():
    with pytest.raises(proc.CommandError, match=r"^dvc pull failed: exit 2$"):
        proc.run(py("import sys; sys.exit(2)"), env=None).check("dvc pull failed")


def test_a_failure_can_be_raised_as_the_callers_error_type():
    done = proc.run(py("import sys; sys.stderr.write('no key'); sys.exit(1)"), env=None)
    with pytest.raises(SigningError, match="could not sign: no key"):
        done.check("could not sign", "set up signing", SigningError)


def test_success_passes_through_check():
    done = proc.run(py("print('ok')"), env=None)
    assert done.check("never") is done


def test_a_program_that_does_not_exist_is_a_user_error_not_a_traceback():
    with pytest.raises(MvError, match="cannot run 'mv-no-such-program-x'"):
        proc.run(["mv-no-such-program-x"], env=None)


def test_a_shell_command_runs_in_the_given_directory(tmp_path):
    done = proc.run("pwd", shell=True, cwd=tmp_path, env=None)
    assert done.stdout.decode().strip() == str(tmp_path)


def test_the_child_gets_exactly_the_environment_the_caller_passes():
    done = proc.run(py("import os; print(os.environ.get('ONLY'), os.environ.get('HOME'))"), env={"ONLY": "this"})
    assert done.stdout.decode().split() == ["this", "None"]


def test_git_free_env_drops_every_git_variable(monkeypatch):
    monkeypatch.setenv("GIT_DIR", "/elsewhere")
    monkeypatch.setenv("GIT_QUARANTINE_PATH", "/q")
    monkeypatch.setenv("KEEP_ME", "1")
    env = proc.git_free_env()
    assert not [k for k in env if k.startswith("GIT_")]
    assert env["KEEP_ME"] == "1"


def test_git_free_env_for_a_hook_keeps_only_the_quarantine(monkeypatch):
    for name in ("GIT_DIR", "GIT_INDEX_FILE", "GIT_WORK_TREE", *proc.QUARANTINE_VARS):
        monkeypatch.setenv(name, "/x/" + name)
    env = proc.git_free_env(keep_quarantine=True)
    assert sorted(k for k in env if k.startswith("GIT_")) == sorted(proc.QUARANTINE_VARS)
