"""Parameter types for the names on the command line: MODEL, VERSION, STAGE.

Each name is checked once, while click parses, against the one grammar in `gitmv.names`, so a bad
name is the same usage error (exit 2, `error: invalid … name` and the fix) from every command,
before anything opens the repository. Whether a well-formed name exists (a model in the policy, a
registered version, a policy stage) is the operation's question and stays exit 1.
"""

from __future__ import annotations

import re
from typing import Any, Callable

import click

from gitmv import names


class NameType(click.ParamType):
    """A name checked by `check` (a `gitmv.names.check_*` function raising `gitmv.errors.UsageError`).

    The error is raised as is rather than as click's BadParameter so that it reads exactly like
    the same check inside `gitmv.api` (`error: <cause>` / `  fix: <fix>`); `main` maps it to 2.
    """

    def __init__(self, name: str, check: Callable[[str], str]):
        self.name = name
        self.check = check

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> str:
        return self.check(str(value))

    def get_metavar(self, param: click.Parameter, ctx: click.Context | None = None) -> str | None:
        # The help text is pinned (docs/git-mv-promote.1.md): an argument keeps its own name as
        # metavar (None: click uses it), an option without one keeps showing TEXT.
        return "TEXT" if isinstance(param, click.Option) else None

    def __repr__(self) -> str:
        return self.name.upper()


def _version_or_experiment(name: str) -> str:
    """`eval` also takes an experiment id (refs/mv-exp/<model>/<id>): anything that looks like a
    version must be a valid one, anything else must be a name (the experiment grammar)."""
    if re.fullmatch(r"v[0-9]+", name) or not names.NAME_RE.fullmatch(name):
        return names.check_version_name(name)
    return name


def _reference(text: str) -> str:
    names.parse_reference(text)
    return text


MODEL = NameType("model", names.check_model_name)
REFERENCE = NameType("reference", _reference)
VERSION = NameType("version", names.check_version_name)
VERSION_OR_EXPERIMENT = NameType("version", _version_or_experiment)
STAGE = NameType("stage", names.check_stage_name)
