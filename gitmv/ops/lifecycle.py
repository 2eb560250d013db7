"""Experiments, their garbage collection, and lineage."""

from __future__ import annotations

import os

from gitmv import records
from gitmv.ops.context import now, open_context
from gitmv.names import check_model_name, check_names


def experiments(model: str, path: str | os.PathLike = ".") -> dict:
    from gitmv.ops import experiments as lifecycle

    check_model_name(model)
    ctx = open_context(path)
    return {"model": model, "experiments": lifecycle.list_experiments(ctx.registry, model), "warnings": ctx.warnings}


def gc(older_than: str | None = None, dry_run: bool = False, path: str | os.PathLike = ".") -> dict:
    """Delete experiment refs past the retention window, except those a version came from."""
    from gitmv.ops import experiments as lifecycle
    from gitmv.policy import parse_duration

    ctx = open_context(path)
    window = parse_duration(older_than, "--older-than") if older_than else ctx.policy.experiment_retention
    now_epoch = int(records.parse_time(now()).timestamp())
    result = lifecycle.gc(ctx.registry, now_epoch, window, dry_run)
    return {**result, "older_than_s": window, "warnings": ctx.warnings}


def lineage(model: str, version: str, path: str | os.PathLike = ".") -> dict:
    from gitmv.ops import experiments as lifecycle

    check_names(model, version)
    ctx = open_context(path)
    graph = lifecycle.lineage(ctx.registry, model, version)
    return {**graph, "dot": lifecycle.to_dot(graph), "warnings": ctx.warnings}
