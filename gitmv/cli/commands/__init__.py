"""The commands, one module per family: each holds its options, the call into `gitmv.api` (or
`gitmv.ops`) and the rendering through `gitmv.output`; `gitmv.cli` collects their `COMMANDS`.

The operations are imported inside each command (`api()`), never at import time: `--help`, the
completion script and a usage error must not pay for pygit2.
"""

from __future__ import annotations

from collections.abc import Callable
from types import ModuleType
from typing import Any

import click

from gitmv import output

CONTEXT = {"help_option_names": ["-h", "--help"], "max_content_width": 100}
json_option = click.option("--json", "as_json", is_flag=True, help="Print machine-readable JSON (stable, documented in docs/reference.md).")


def api() -> ModuleType:
    from gitmv import api as api_module

    return api_module


def warn(result: dict) -> None:
    for w in result.get("warnings") or []:
        output.error(f"warning: {w}")


def respond(result: dict, as_json: bool, render: Callable[[dict], None]) -> None:
    """Warnings on stderr, then the result as JSON or as text: the same for every command."""
    warn(result)
    if as_json:
        output.emit_json(result)
    else:
        render(result)


def stack(*decorators: Callable[[Any], Any]) -> Callable[[Any], Any]:
    """Several click decorators as one, applied as if written top to bottom."""
    def apply(f: Any) -> Any:
        for decorator in reversed(decorators):
            f = decorator(f)
        return f
    return apply
