"""The public Python API of git mv-promote: one function per command, for pipelines and the CLI.

A facade: the operations live in `gitmv.ops` (one module per command family); this module names
what is public and stable (`docs/api.md`). Nothing here prints. Every function returns plain data
(dicts and lists that `json.dumps` accepts) and raises a `gitmv.errors.MvError` subclass for
anything that is the user's or the repository's fault.

Names resolve on first use (PEP 562): a command imports only its own family's modules, so
`git mv-promote show` does not pay for the code of `sync`, `request` or `verify`.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

# public name -> (module, name there)
_HOME = {
    "attest": ("gitmv.ops.attest", "attest"),
    "audit": ("gitmv.ops.audit", "audit"),
    "Context": ("gitmv.ops.context", "Context"), "now": ("gitmv.ops.context", "now"),
    "open_context": ("gitmv.ops.context", "open_context"),
    "deprecate": ("gitmv.ops.evidence", "deprecate"), "evaluate": ("gitmv.ops.evidence", "evaluate"),
    "reproduce": ("gitmv.ops.evidence", "reproduce"), "substitute": ("gitmv.ops.evidence", "substitute"),
    "data_changes": ("gitmv.ops.inspect", "data_changes"), "diff": ("gitmv.ops.inspect", "diff"),
    "history": ("gitmv.ops.inspect", "history"), "log": ("gitmv.ops.inspect", "log"),
    "metric_deltas": ("gitmv.ops.inspect", "metric_deltas"), "show": ("gitmv.ops.inspect", "show"),
    "get": ("gitmv.ops.get", "get"), "resolve": ("gitmv.ops.get", "resolve"),
    "experiments": ("gitmv.ops.lifecycle", "experiments"), "gc": ("gitmv.ops.lifecycle", "gc"),
    "lineage": ("gitmv.ops.lifecycle", "lineage"),
    "check": ("gitmv.ops.promote", "check"), "promote": ("gitmv.ops.promote", "promote"),
    "rollback": ("gitmv.ops.promote", "rollback"), "rollout": ("gitmv.ops.promote", "rollout"),
    "register": ("gitmv.ops.register", "register"),
    "replay": ("gitmv.ops.replay", "replay"),
    "approvals_status": ("gitmv.ops.request", "approvals_status"), "approve": ("gitmv.ops.request", "approve"),
    "request": ("gitmv.ops.request", "request"),
    "init": ("gitmv.ops.setup", "init"),
    "sync": ("gitmv.ops.sync", "sync_at"),
    "verify": ("gitmv.ops.verify", "verify"), "verify_data": ("gitmv.ops.verify", "verify_data"),
}
__all__ = sorted(_HOME)

if TYPE_CHECKING:  # what type checkers and readers see; at run time __getattr__ below serves them
    from gitmv.ops.attest import attest  # noqa: F401
    from gitmv.ops.audit import audit  # noqa: F401
    from gitmv.ops.context import Context, now, open_context  # noqa: F401
    from gitmv.ops.evidence import deprecate, evaluate, reproduce, substitute  # noqa: F401
    from gitmv.ops.inspect import data_changes, diff, history, log, metric_deltas, show  # noqa: F401
    from gitmv.ops.get import get, resolve  # noqa: F401
    from gitmv.ops.lifecycle import experiments, gc, lineage  # noqa: F401
    from gitmv.ops.promote import check, promote, rollback, rollout  # noqa: F401
    from gitmv.ops.register import register  # noqa: F401
    from gitmv.ops.replay import replay  # noqa: F401
    from gitmv.ops.request import approvals_status, approve, request  # noqa: F401
    from gitmv.ops.setup import init  # noqa: F401
    from gitmv.ops.sync import sync_at as sync  # noqa: F401
    from gitmv.ops.verify import verify, verify_data  # noqa: F401


def __getattr__(name: str) -> Any:
    try:
        module, attr = _HOME[name]
    except KeyError:
        raise AttributeError(f"module 'gitmv.api' has no attribute {name!r}") from None
    value = getattr(import_module(module), attr)
    globals()[name] = value  # later uses skip this function
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_HOME))
