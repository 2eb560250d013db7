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
tags mean here, every refusal, nothing written), `writing` (the tags and records the plan makes),
`policy_file` (`--write-policy`: the policy GTO's annotations and stage tags imply).

Virtual artifacts (an annotation whose path is a URI, `s3://…`, `gs://…`, `https://…`, or, with
`virtual: true`, a path in neither Git nor DVC) are recorded by URI (a schema-2 version record):
the URI and the digests DVC (an `import-url` out or an external out naming the URI: md5, size)
or the annotation (`sha256`/`md5`/`size` under `custom`, or `meta` in dvc.yaml) knew. Nothing
fetches them; `verify` reports them as not verifiable offline. The report lists what was
imported, what was renamed (names our grammar changes, versions renumbered) and what was skipped,
each with its reason.
Version records come from the builder `register` uses (`gitmv.ops.versions`), so an imported version
is refused for what a registered one would be (e.g. a data pin file the policy names but its
commit lacks), never recorded without it.
"""

from __future__ import annotations

import os

from gitmv.errors import PolicyError, SigningError, UsageError
from gitmv.git.remote import ensure_notes_refspec
from gitmv.git.repo import Repo
from gitmv.names import NOTES_REF
from gitmv.ops.context import Context, open_context
from gitmv.ops.gto_import import planning, policy_file, writing
from gitmv.policy import POLICY_PATH
from gitmv.registry import Registry
from gitmv.ops.gto_import.reading import (GtoTag, artifact_digests, assignment_order, gto_artifact_meta, map_name,
                                          parse_gto_tag_name, read_gto_tags, semver_key)

__all__ = ["import_gto", "GtoTag", "artifact_digests", "assignment_order", "gto_artifact_meta", "map_name",
           "parse_gto_tag_name", "read_gto_tags", "semver_key"]


def import_gto(path: str | os.PathLike = ".", *, dry_run: bool = False, sign: bool = True,
               write_policy: bool = False) -> dict:
    """Import a GTO registry's versions and stage history; see the module docstring. With
    `write_policy`, first write and commit the policy GTO's annotations imply (`policy_file`),
    then import under it; with `dry_run` too, report both and write nothing."""
    policy_out = None
    if write_policy:
        ctx, policy_out = _with_written_policy(path, dry_run=dry_run, sign=sign)
    else:
        ctx = planning.open_for_import(path)
    plan = planning.plan(ctx, read_gto_tags(ctx.repo), sign)
    result = writing.write(ctx, plan, dry_run=dry_run, sign=sign)
    result["policy"] = policy_out
    return result


def _with_written_policy(path: str | os.PathLike, *, dry_run: bool, sign: bool) -> tuple[Context, dict]:
    """The policy written (and committed) from GTO's annotations, and the context that reads it.
    Everything that could refuse the import is checked before the policy is committed: nothing
    half-written (the import itself is planned once here against the policy, and again after)."""
    repo = Repo.discover(path)
    if repo.workdir is None:
        raise UsageError("--write-policy needs a work tree", "run it in a clone, not in a bare repository")
    head = repo.head_commit()
    policy_file.refuse_existing(repo, head)
    tags = read_gto_tags(repo)
    names = planning.name_map(planning.usable_tags(tags, []))
    if not names:
        raise PolicyError("no GTO artifacts to write a policy for (no name@vX.Y.Z or name#stage#N tags)",
                          "run it in the GTO repository, after 'git fetch --tags'")
    text, policy, entries, stages = policy_file.build(repo, head, tags, names)
    out = {"path": POLICY_PATH, "text": text, "models": {e.model: e.artifacts for e in entries}, "stages": stages,
           "written": not dry_run, "commit": None, "signer": None}
    draft = Context(repo, policy, head, Registry(repo, policy, None, repo.ref(NOTES_REF)), [])
    if dry_run:
        return draft, out
    if sign and not repo.config("user.signingkey"):
        raise SigningError("the import signs its tags, but no signing key is configured (user.signingkey)",
                           "git config gpg.format ssh; git config user.signingkey ~/.ssh/id_ed25519.pub; or pass "
                           "--no-sign (the written policy is research tier)")
    planning.plan(draft, tags, sign)  # its refusals (nothing written yet), before the policy commit
    paths = [POLICY_PATH]
    (repo.workdir / POLICY_PATH).write_text(text)
    warnings = []
    if repo.config("gpg.format") == "ssh" and repo.config("user.signingkey"):
        from gitmv.ops.setup import add_allowed_signer

        out["signer"] = add_allowed_signer(repo, repo.workdir / POLICY_PATH)
        paths.append(policy_file.SIGNERS_PATH)
    else:
        warnings.append(f"no ssh signing key configured: {policy_file.SIGNERS_PATH} not written, so no signature "
                        "verifies yet (fix: git config gpg.format ssh; git config user.signingkey KEY; "
                        "git mv-promote init --add-signer)")
    for remote in repo.remotes():
        ensure_notes_refspec(repo, remote)
    repo.git("add", "--", *paths)
    # --only: exactly these paths, whatever else the user has staged
    repo.git("commit", "-q", "--only", "-m", policy_file.COMMIT_MESSAGE, "--", *paths)
    out["commit"] = repo.head_commit()
    ctx = open_context(path)
    ctx.warnings[:0] = warnings
    return ctx, out
