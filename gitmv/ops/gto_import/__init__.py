"""`git mv-promote import --gto`: read a GTO registry and register the same versions and stage history.

GTO (iterative/gto) keeps its registry in annotated Git tags and, optionally, `artifacts.yaml`.
What each GTO tag becomes here:

- `name@vX.Y.Z` (register): a signed version tag `mv/<model>/v<N>` on the same commit, versions
  numbered in semver order, `parent` = the previous imported version.
- `name#stage#N`, old form `name#stage` (assign): a signed stage tag `mv/<model>/<stage>/<seq>`,
  kind promote, or rollback when the stage held that version before.
- `name#stage!#N` / `name#stage!` (unassign): a rollback to the version GTO falls back to.
- `name@vX.Y.Z!` (deregister): a deprecation record on the imported version, plus a rollback in
  every stage where GTO falls back to another version.
- `name@deprecated` (deprecate the artifact): a deprecation record on each imported version.
- `name@created`, lightweight tags (GTO ignores them) and events that leave a GTO stage empty (our
  stages are never emptied): skipped, each with its reason.

Stage history follows what `gto show` reports (its default `--sort timestamp`): a stage holds the
non-deregistered version whose still-active assignment is the latest; assignments are ordered by
their counter `N` (the counter-less old form by tag date).

`name` may carry a folder prefix (`dir:name`, written `dir=name` in tags): DVC's model-registry
name for an artifact declared in `dir/dvc.yaml` (also `dir/dvc.yaml:name`). Artifact paths come from
`artifacts.yaml` (or the `INDEX` named in `.gto`) as committed at the version's commit, else from the
`artifacts` section of `dvc.yaml` there, else from the policy's `artifacts` list; their bytes are the
Git blob (or every blob of a folder) at that commit, else the DVC cache object the commit's
`<path>.dvc` or `dvc.lock` names. A version whose artifact cannot be had is skipped, with the reason,
and so are the stage assignments that point at it.

Imported stage entries bypass the gate (GTO has no evals): the promotion record says so in its
`gate`. Versions carry `run_id = "gto:<tag>"` and stage entries `reason = "imported from GTO <tag>"`,
which is how a second run finds what is already imported (and imports nothing twice). GTO's own
tags are only read, never written.

The package: `reading` (GTO's tags and its artifacts at a commit, read only), `planning` (what the
tags mean here, every refusal, nothing written), `writing` (the tags and records the plan makes).
Version records come from the builder `register` uses (`gitmv.ops.versions`), so an imported version
is refused for what a registered one would be (e.g. a data pin file the policy names but its
commit lacks), never recorded without it.
"""

from __future__ import annotations

import os

from gitmv.ops.gto_import import planning, writing
from gitmv.ops.gto_import.reading import (GtoTag, artifact_digests, assignment_order, gto_artifact_meta, map_name,
                                          parse_gto_tag_name, read_gto_tags, semver_key)

__all__ = ["import_gto", "GtoTag", "artifact_digests", "assignment_order", "gto_artifact_meta", "map_name",
           "parse_gto_tag_name", "read_gto_tags", "semver_key"]


def import_gto(path: str | os.PathLike = ".", *, dry_run: bool = False, sign: bool = True) -> dict:
    """Import a GTO registry's versions and stage history; see the module docstring."""
    ctx = planning.open_for_import(path)
    plan = planning.plan(ctx, read_gto_tags(ctx.repo), sign)
    return writing.write(ctx, plan, dry_run=dry_run, sign=sign)
