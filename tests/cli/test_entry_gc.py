"""The `git-mv-promote` process and the server hook's run without the cyclic garbage collector
(short processes: its passes were a tenth of a read's time), and only the former may fork helper
processes (gitmv.git.verdicts); a caller passing arguments from a longer-lived process (a test, a
notebook, a serving job) keeps its collector as it was and forks nothing."""

from __future__ import annotations

import gc
import subprocess
import sys

import pytest

from gitmv.cli import main

PROBE = """
import atexit, gc, sys
from gitmv.cli import main
atexit.register(lambda: print("collector enabled:", gc.isenabled(), "frozen:", gc.get_freeze_count() > 0))
sys.argv = ["git-mv-promote", "--version"]
main()
"""


def test_the_program_runs_without_the_cyclic_collector():
    done = subprocess.run([sys.executable, "-c", PROBE], capture_output=True, text=True, check=True)
    assert done.stdout.splitlines()[-1] == "collector enabled: False frozen: True"


def test_a_caller_passing_arguments_keeps_its_collector():
    assert gc.isenabled()
    frozen = gc.get_freeze_count()
    with pytest.raises(SystemExit) as exit_:
        main(["--version"])
    assert exit_.value.code == 0
    assert gc.isenabled() and gc.get_freeze_count() == frozen


HELPER_PROBE = """
import atexit, sys
from gitmv import proc
from gitmv.cli import main
atexit.register(lambda: print("helpers allowed:", proc.may_fork()))
sys.argv = ["git-mv-promote", "--version"]
main()
"""


def test_the_program_may_fork_helpers():
    done = subprocess.run([sys.executable, "-c", HELPER_PROBE], capture_output=True, text=True, check=True)
    assert done.stdout.splitlines()[-1] == "helpers allowed: True"


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
