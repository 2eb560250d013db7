"""The `git-mv-promote` process and the server hook's run without the cyclic garbage collector
(short processes: its passes were a tenth of a read's time), the former ends without the
interpreter's teardown (its exit handlers still run), and only the former may fork helper
processes (gitmv.ahead); a caller passing arguments from a longer-lived process (a test, a
notebook, a serving job) keeps its collector as it was and forks nothing."""

from __future__ import annotations

import gc
import os
import subprocess
import sys

import pytest

from gitmv.cli import main


def program_reports(expression: str) -> str:
    """What `expression` says at the exit of a `git-mv-promote --version` program run."""
    probe = (f"import atexit, gc, sys\nfrom gitmv import proc\nfrom gitmv.cli import main\n"
             f"atexit.register(lambda: print({expression}))\nsys.argv = ['git-mv-promote', '--version']\nmain()\n")
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    return done.stdout.splitlines()[-1]


def test_the_program_runs_without_the_cyclic_collector():
    assert program_reports('"collector enabled:", gc.isenabled()') == "collector enabled: False"


def test_the_program_runs_its_exit_work_and_skips_the_teardown():
    """Exit handlers (the record cache's write) run; the interpreter's teardown, which would
    finalize every object still alive, does not."""
    probe = ("import atexit, sys\nfrom gitmv.cli import main\n"
             "class Witness:\n    def __del__(self):\n        print('torn down', flush=True)\n"
             "witness = Witness()\natexit.register(lambda: print('exit work'))\n"
             "sys.argv = ['git-mv-promote', '--version']\nmain()\n")
    buffered = {k: v for k, v in os.environ.items() if k != "PYTHONUNBUFFERED"}  # what an exit handler prints waits in a buffer
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, env=buffered)
    assert done.returncode == 0
    assert done.stdout.splitlines()[-1] == "exit work" and "torn down" not in done.stdout


def test_a_python_program_without_it_is_torn_down():
    """The witness above does report a teardown (so its silence means something)."""
    probe = "class Witness:\n    def __del__(self):\n        print('torn down', flush=True)\nwitness = Witness()\n"
    assert subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True).stdout == "torn down\n"


def test_a_caller_passing_arguments_keeps_its_collector():
    assert gc.isenabled()
    frozen = gc.get_freeze_count()
    with pytest.raises(SystemExit) as exit_:
        main(["--version"])
    assert exit_.value.code == 0
    assert gc.isenabled() and gc.get_freeze_count() == frozen


def test_the_program_may_fork_helpers():
    assert program_reports('"helpers allowed:", proc.may_fork()') == "helpers allowed: True"


def test_a_caller_passing_arguments_forks_no_helper():
    from gitmv import proc

    with pytest.raises(SystemExit):
        main(["--version"])
    assert not proc.may_fork()


HOOK_PROBE = """
import atexit, gc, runpy, sys
atexit.register(lambda: print("collector enabled:", gc.isenabled(), "frozen:", gc.get_freeze_count() > 0))
sys.argv = ["gitmv.hooks"]
runpy.run_module("gitmv.hooks", run_name="__main__")
"""


def test_the_hook_program_runs_without_the_cyclic_collector():
    done = subprocess.run([sys.executable, "-c", HOOK_PROBE], capture_output=True, text=True)
    assert done.returncode == 2 and "usage:" in done.stderr  # no hook named: usage, exit 2
    assert done.stdout.splitlines()[-1] == "collector enabled: False frozen: True"
