"""The public Python API of git mv-promote: one function per command, for pipelines and the CLI.

A facade: the operations live in `gitmv.ops` (one module per command family); this module names
what is public and stable (`docs/api.md`). Nothing here prints. Every function returns plain data
(dicts and lists that `json.dumps` accepts) and raises a `gitmv.errors.MvError` subclass for
anything that is the user's or the repository's fault.
"""

from __future__ import annotations

from gitmv.ops.context import Context, now, open_context
from gitmv.ops.evidence import deprecate, evaluate, reproduce, substitute
from gitmv.ops.inspect import data_changes, diff, history, log, metric_deltas, show
from gitmv.ops.lifecycle import experiments, gc, lineage
from gitmv.ops.promote import check, promote, rollback
from gitmv.ops.register import register
from gitmv.ops.request import approvals_status, approve, request
from gitmv.ops.setup import init
from gitmv.ops.sync import sync_at as sync
from gitmv.ops.verify import verify, verify_data

__all__ = [
    "Context", "now", "open_context", "init", "register", "show", "verify", "verify_data", "evaluate", "check",
    "promote", "rollback", "history", "log", "diff", "data_changes", "metric_deltas", "deprecate", "request",
    "approve", "approvals_status", "sync", "reproduce", "substitute", "experiments", "gc", "lineage",
]
