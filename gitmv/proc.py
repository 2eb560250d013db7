"""Running another program (git, dvc, ssh-keygen, gpg, the policy's eval and train commands).

One place keeps what ran, how it ended and what it said (`Completed`), and turns a failure into a
typed error whose message ends with the last line of stderr, where git, dvc and ssh-keygen say
why. The environment is always the caller's decision: a server hook passes
`git_free_env(keep_quarantine=True)` so that no `GIT_*` variable leaks into its children except
the ones that keep the pushed objects visible. Imports nothing heavy: the hook's fast path runs
git through it before pygit2 is loaded.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import NoReturn

from gitmv.errors import CommandError, MvError

__all__ = ["QUARANTINE_VARS", "CommandError", "Completed", "allow_helpers", "caller_fds", "git_free_env", "may_fork",
           "run"]

_helpers_allowed = False
_caller_fds: tuple[int, ...] = ()


def allow_helpers() -> None:
    """Let this process fork helper processes (gitmv.ahead). Only the CLI program says so,
    as it alone turns off the cyclic GC: a caller of the Python API owns its process, which may
    run threads of its own or reap children it did not start. Called first thing, it also notes
    the descriptors above 2 the caller left open to the program (`caller_fds`)."""
    global _helpers_allowed, _caller_fds
    _helpers_allowed = True
    _caller_fds = _open_fds_above_2()


def caller_fds() -> tuple[int, ...]:
    """The descriptors above 2 the program was started with (say `3>&1 | cat`): a helper closes
    them, so that a caller waiting for their end waits for the program, not for its helper."""
    return _caller_fds


def _open_fds_above_2() -> tuple[int, ...]:
    for listing in ("/proc/self/fd", "/dev/fd"):
        try:
            names = os.listdir(listing)
        except OSError:
            continue
        found = []
        for name in names:
            fd = int(name)
            try:  # the listing's own descriptor is closed by now: only what is still open counts
                if fd > 2:
                    os.fstat(fd)
                    found.append(fd)
            except OSError:
                pass
        return tuple(found)
    return ()


def may_fork() -> bool:
    """Allowed, possible here, and safe now: a fork copies one thread, so any other thread's
    locks (libgit2's, the allocator's) would be held for ever in the child."""
    import threading

    return _helpers_allowed and hasattr(os, "fork") and threading.active_count() == 1

# Variables that must survive into child git processes inside a server hook, so they keep seeing
# quarantined objects; every other GIT_* variable is dropped.
QUARANTINE_VARS = ("GIT_QUARANTINE_PATH", "GIT_OBJECT_DIRECTORY", "GIT_ALTERNATE_OBJECT_DIRECTORIES")


def git_free_env(keep_quarantine: bool = False) -> dict[str, str]:
    """This process's environment without `GIT_*` (but the quarantine variables, when asked)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("GIT_")}
    if keep_quarantine:
        env.update({k: os.environ[k] for k in QUARANTINE_VARS if k in os.environ})
    return env


@dataclass(frozen=True)
class Completed:
    args: Sequence[str] | str  # as run: a string for a shell command
    returncode: int
    stdout: bytes
    stderr: bytes

    @property
    def ok(self) -> bool:
        return self.returncode == 0

    def last_line(self) -> str:
        """The last non-blank line of stderr ("" when there is none)."""
        lines = self.stderr.decode(errors="replace").strip().splitlines()
        return lines[-1].strip() if lines else ""

    def fail(self, cause: str, fix: str | None = None, error: type[MvError] = CommandError) -> NoReturn:
        """Raise `error` with "<cause>: <last stderr line>" (the exit status when stderr is empty)."""
        text = f"{cause}: {self.last_line() or f'exit {self.returncode}'}"
        raise CommandError(text, fix, self) if error is CommandError else error(text, fix)

    def check(self, cause: str, fix: str | None = None, error: type[MvError] = CommandError) -> Completed:
        """Itself when the program succeeded, else `fail`."""
        if not self.ok:
            self.fail(cause, fix, error)
        return self


def run(args: Sequence[str] | str, *, env: Mapping[str, str] | None, input: bytes | None = None,
        cwd: str | os.PathLike[str] | None = None, shell: bool = False, timeout: float | None = None) -> Completed:
    """Run to completion, both streams captured. `env` is required so every caller says which
    environment its child gets (None: this process's own). A program that cannot be started is a
    CommandError naming it, not a traceback."""
    try:
        proc = subprocess.run(args, input=input, capture_output=True, env=env, cwd=cwd, shell=shell, timeout=timeout)
    except OSError as exc:
        name = args if isinstance(args, str) else args[0]
        raise CommandError(f"cannot run '{name}': {exc.strerror or exc}", f"install {name} or put it on PATH") from None
    return Completed(args, proc.returncode, proc.stdout, proc.stderr)
