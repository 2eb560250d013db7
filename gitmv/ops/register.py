"""`register`: a signed version tag recording what made the model."""

from __future__ import annotations

import os
from typing import Callable

from gitmv.errors import ArtifactError, PolicyError, RefusedError, UsageError
from gitmv.git.repo import Repo
from gitmv.git.signing import signing_key_fingerprint
from gitmv.hashing import sha256_file
from gitmv.names import next_version, version_ref
from gitmv.ops.context import now, open_context
from gitmv.ops.known_digests import VersionListing
from gitmv.names import check_names
from gitmv.ops.versions import create_version_tag, version_fields
from gitmv.policy import POLICY_PATH
from gitmv.records import VersionRecord
from gitmv.registry import Registry
from gitmv.rules import artifacts as artifact_rules


def register(model: str, *, artifacts: tuple = (), run_id: str | None = None, parent: str | None = None,
             seeds: tuple = (), message: str = "", sign: bool = True, allow_dirty: bool = False,
             experiment: str | None = None, from_experiment: str | None = None,
             path: str | os.PathLike = ".", on_progress: Callable[[str, int, int], None] | None = None) -> dict:
    """Register a signed version, or with `experiment` (a name, or "" for a generated id) an
    experiment under refs/mv-exp/ (unsigned, not pushed, collected by gc)."""
    check_names(model, parent)
    ctx = open_context(path)
    repo, reg = ctx.repo, ctx.registry
    mp = ctx.policy.model(model)
    is_experiment = experiment is not None
    if repo.workdir is None:
        raise UsageError("register needs a work tree", "run it in a clone, not in a bare repository")
    if is_experiment and from_experiment:
        raise UsageError("--experiment and --from-experiment do not go together")
    if not is_experiment:
        if not sign and mp.signed:
            raise RefusedError(f"unsigned registration refused: {model} is in the {mp.tier} tier",
                               "drop --no-sign and set up signing, or set tier = \"research\" in the policy")
        if allow_dirty and mp.tier != "research":
            raise RefusedError(f"--allow-dirty refused: {model} is in the {mp.tier} tier",
                               "commit your changes first; --allow-dirty is for the research tier only")
    if not is_experiment and mp.tier != "research":  # before the dirty check: it would call a staged artifact "dirty"
        _refuse_unretrievable(repo, ctx.head, model, tuple(artifacts) or tuple(mp.artifacts))
    dirty = _dirty_tracked_files(repo)
    if dirty and not (allow_dirty or is_experiment):
        shown = ", ".join(dirty[:5]) + (" …" if len(dirty) > 5 else "")
        raise RefusedError(f"uncommitted changes in files that define the version: {shown}",
                           "commit or stash them, so the version's code commit is what you trained")
    paths = tuple(artifacts) or tuple(mp.artifacts)
    if not paths:
        raise PolicyError(f"{model} has no artifacts to register", f"list its files in models.{model}.artifacts in {POLICY_PATH}")
    if not is_experiment and sorted(set(paths)) != sorted(mp.artifacts):
        # the server takes a version only with exactly the policy's artifacts (R1 version-artifacts)
        raise RefusedError(f"a version of {model} is defined by the policy's artifacts ({', '.join(mp.artifacts) or 'none'}), "
                           f"not {', '.join(paths)}",
                           f"drop --artifact, or change models.{model}.artifacts in {POLICY_PATH} and commit it")
    digests = _hash_artifacts(repo, paths, on_progress)
    listing = VersionListing(reg, model, digests) if not is_experiment else None
    latest = listing.latest_refusing() if listing is not None else None  # an experiment takes no number
    if parent is not None:
        reg.version(model, parent)
    elif not is_experiment:
        parent = latest
    head = ctx.head
    base = version_fields(repo, ctx.policy, model, head, created_at=now(), created_by=repo.identity(), artifacts=digests,
                          message=message, parent=parent, run_id=run_id, seeds=seeds)
    if from_experiment:
        base["experiment"] = _experiment_lineage(reg, model, from_experiment)
    if sign and not is_experiment:
        base["signer"] = signing_key_fingerprint(repo.config("user.signingkey"), repo.config("gpg.format"))
    if is_experiment:
        from gitmv.ops import experiments as lifecycle

        return {**lifecycle.register_experiment(repo, model, experiment, base), "warnings": ctx.warnings}
    assert listing is not None
    # another writer's version taking our number is checked for our digests before the next try
    record, tag_id = create_version_tag(repo, model, next_version(latest), head,
                                        lambda version: VersionRecord(version=version, **base), sign,
                                        "run the command again", listing.after_conflict)
    listing.remember(record.version, tag_id)
    return {"model": model, "version": record.version, "tag": tag_id, "ref": version_ref(model, record.version),
            "record": record.to_dict(), "warnings": ctx.warnings}


def _refuse_unretrievable(repo: Repo, head: str, model: str, paths: tuple) -> None:
    """A version must stay retrievable: each artifact committed in HEAD's tree or pinned by DVC at
    HEAD (`<path>.dvc` or a dvc.lock out). Otherwise the version's digests would name a file that
    is gone once the work tree is cleaned, and no rollback could bring it back."""
    from gitmv.dvc.cache import dvc_pin_for

    for rel in paths:
        if not (repo.workdir / rel).is_file():
            continue  # not made yet: _hash_artifacts says so
        if repo.blob_at(head, rel) is not None or dvc_pin_for(repo, head, rel) is not None:
            continue
        if repo.git("ls-files", "--error-unmatch", "--", rel, check=False).returncode == 0:
            state = "it is only staged, not committed"
        elif repo.git("check-ignore", "-q", "--", rel, check=False).returncode == 0:
            state = "it is ignored by Git and has no DVC pin"
        else:
            state = "it is untracked"
        raise RefusedError(f"artifact {rel} of {model} is neither committed at HEAD nor tracked by DVC at HEAD "
                           f"({state}): the version could not be retrieved once the file is gone",
                           f"commit it (git add {rel} && git commit), or 'dvc add {rel}' and commit {rel}.dvc, "
                           f"or put {model} in the research tier (tier = \"research\" in {POLICY_PATH})")


def _hash_artifacts(repo: Repo, paths: tuple, on_progress) -> dict:
    digests = {}
    for rel in paths:
        file = repo.workdir / rel
        if artifact_rules.is_uri(rel):
            raise ArtifactError(f"artifact {rel} is a URI: register records files it can hash, and only 'import --gto' "
                                "records an artifact by URI (GTO's virtual artifacts)",
                                f"keep the artifact in Git or DVC (e.g. dvc import-url {rel} PATH), list that path in "
                                f"the model's artifacts in {POLICY_PATH} and commit it")
        if not file.is_file():
            raise ArtifactError(f"artifact {rel} not found in the work tree", "train the model first, or fix the path in the policy")
        cb = (lambda done, total, rel=rel: on_progress(rel, done, total)) if on_progress else None
        digest, size = sha256_file(file, cb)
        digests[rel] = {"sha256": digest, "size": size}
    return digests


def _experiment_lineage(reg: Registry, model: str, exp_id: str) -> dict:
    """What a version keeps of the experiment it came from: enough for lineage once the ref is gone."""
    exp = reg.experiment(model, exp_id)
    evals = [{"id": r["id"], "suite": r.get("suite"), "metrics": r.get("metrics"), "at": r.get("at")}
             for r in reg.records_of(exp.tag.id, "eval")]
    return {"id": exp_id, "tag": exp.tag.id, "record": exp.record.to_dict(), "evals": evals}


def _dirty_tracked_files(repo: Repo) -> list[str]:
    out = repo.git("status", "--porcelain", "--untracked-files=no", "-z").stdout.decode()
    return sorted({entry[3:] for entry in out.split("\0") if len(entry) > 3})


