"""The one version record builder and the one version-number allocation.

`register`, the GTO import and `sync` (re-registering an unpublished version) all make version tags;
they share these two functions so a version says the same things, and is refused for the same
reasons, however it was made, and so a number is taken the same way everywhere.
"""

from __future__ import annotations

import json
from typing import Callable

from gitmv.dvc import pins as dvcpins
from gitmv.errors import ConflictError, MvError
from gitmv.git.repo import Repo
from gitmv.hashing import sha256_bytes
from gitmv.names import next_version, version_tag_name
from gitmv.policy import Policy
from gitmv.records import VersionRecord

ATTEMPTS = 20  # numbers tried before giving up: each lost race means another writer took one


def version_fields(repo: Repo, policy: Policy, model: str, commit: str, *, created_at: str, created_by: str,
                   artifacts: dict, message: str = "", parent: str | None = None, run_id: str | None = None,
                   seeds: tuple | list = (), experiment: dict | None = None, signer: str | None = None) -> dict:
    """Every field of a version record but its number: what made it, read at `commit`.

    What the policy names must be there: a data pin file, params file, lockfile or model card the
    policy lists but `commit` lacks (or that does not parse) is an MvError, never a record that
    silently leaves it out."""
    mp = policy.model(model)
    read = lambda p: repo.blob_at(commit, p)
    pins = dvcpins.read_pins(read, mp.data) if (mp.data or read(dvcpins.DVC_LOCK) is not None) else []
    return dict(
        model=model, commit=commit, created_at=created_at, created_by=created_by, artifacts=artifacts,
        tier=mp.tier, policy_digest=policy.digest, message=message, parent=parent, run_id=run_id,
        seeds=list(seeds), data=pins, params=_params(read, mp.params), lockfile=_file_digest(read, mp.lockfile, "lockfile"),
        model_card=_file_digest(read, mp.model_card, "model_card"), experiment=experiment, signer=signer,
    )


def build_version_record(repo: Repo, policy: Policy, model: str, version: str, commit: str, **fields) -> VersionRecord:
    """A version record (see `version_fields`) numbered `version`."""
    return VersionRecord(version=version, **version_fields(repo, policy, model, commit, **fields))


def create_version_tag(repo: Repo, model: str, first: str, target: str, make: Callable[[str], VersionRecord],
                       sign: bool, fix: str, after_conflict: Callable[[str], str] = next_version
                       ) -> tuple[VersionRecord, str]:
    """Tag `target` as the first free version of `model` from `first` on: (its record, the tag id).

    Creating the ref is the compare-and-swap (it fails when the name exists), so two writers never
    take one number; `make(version)` builds the record for each number tried, and
    `after_conflict(taken)` names the number to try after one another writer took (register
    checks that writer's version first: it may hold the same digests)."""
    version = first
    for _ in range(ATTEMPTS):
        record = make(version)
        try:
            return record, repo.create_tag(version_tag_name(model, version), target, record.to_message(), sign)
        except ConflictError:
            version = after_conflict(version)
    raise ConflictError(f"could not find a free version number for {model}", fix)


def _file_digest(read, path: str | None, key: str) -> dict | None:
    if not path:
        return None
    data = read(path)
    if data is None:
        raise MvError(f"{key} {path} named in the policy is not committed", f"git add {path} and commit it")
    return {"path": path, "sha256": sha256_bytes(data)}


def _params(read, path: str | None) -> dict | None:
    if not path:
        return None
    found = _file_digest(read, path, "params")
    data = read(path)
    import yaml  # only when a params file is named: keeps start-up fast

    try:
        values = yaml.safe_load(data.decode("utf-8")) if path.endswith((".yaml", ".yml")) else json.loads(data)
    except (yaml.YAMLError, ValueError, UnicodeDecodeError) as exc:
        raise MvError(f"params file {path} does not parse: {str(exc).splitlines()[0]}") from exc
    if isinstance(values, dict) and found is not None:
        found["values"] = json.loads(json.dumps(values, default=str))
    return found
