"""Typed errors. The CLI maps them to exit codes in one place (`gitmv.cli.main`).

Every error that is the user's or the repository's fault carries a one-line cause and, where
there is one, the fix. Anything else that escapes is a bug (exit 3).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from gitmv.proc import Completed

EXIT_OK = 0
EXIT_FAULT = 1
EXIT_USAGE = 2
EXIT_BUG = 3


class MvError(Exception):
    """The user's or the repository's fault: a one-line cause plus the fix. Exit 1."""

    exit_code = EXIT_FAULT

    def __init__(self, cause: str, fix: str | None = None):
        super().__init__(cause)
        self.cause = cause
        self.fix = fix

    def __str__(self) -> str:
        return f"{self.cause} — {self.fix}" if self.fix else self.cause


class UsageError(MvError):
    """The command line itself is wrong. Exit 2."""

    exit_code = EXIT_USAGE


class PolicyError(MvError):
    """`.mv-promote.toml` is missing, unreadable or invalid; names the key path."""


class NotARepoError(MvError):
    """Not inside a usable Git repository (or one without commits)."""


class NotFoundError(MvError):
    """A model, version, stage entry or record that does not exist."""


class RefusedError(MvError):
    """A rule refused the operation; the message names the rule, the ref and the fix."""


class SigningError(MvError):
    """Signing failed or a signature did not verify."""


class RecordError(MvError):
    """A stored record does not parse, has an unknown schema, or does not match its id."""


class ConflictError(MvError):
    """A compare-and-swap ref update lost a race too many times."""


class ArtifactError(MvError):
    """An artifact is missing, unreadable or not retrievable with the recorded digest."""


class EvalError(MvError):
    """The eval command failed or wrote malformed metrics; nothing was recorded."""


class ReplayError(MvError):
    """The replay command failed, or its outputs cannot be compared row by row; nothing was recorded."""


class IncompleteError(MvError):
    """This clone cannot see state a decision needs (unfetched notes, a shallow clone)."""


class CommandError(MvError):
    """A program we run (git, dvc, ssh-keygen, gpg) failed or could not be started; `result`
    keeps its command, exit status and both streams when it ran (`gitmv.proc`)."""

    def __init__(self, cause: str, fix: str | None = None, result: Completed | None = None):
        super().__init__(cause, fix)
        self.result = result
