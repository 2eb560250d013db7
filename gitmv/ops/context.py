"""The context every operation opens: repository, committed policy, registry view."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from datetime import datetime, timezone

from gitmv import records
from gitmv.errors import PolicyError
from gitmv.git.repo import Repo, parse_git_date
from gitmv.names import NOTES_REF
from gitmv.policy import POLICY_PATH, Policy, parse_policy
from gitmv.registry import Registry


@dataclass
class Context:
    repo: Repo
    policy: Policy
    head: str
    registry: Registry
    warnings: list = field(default_factory=list)


def now() -> str:
    """UTC now; honours GIT_COMMITTER_DATE so records and their tags' tagger dates agree."""
    fixed = os.environ.get("GIT_COMMITTER_DATE")
    parsed = parse_git_date(fixed) if fixed else None
    if parsed:
        return datetime.fromtimestamp(parsed[0], timezone.utc).isoformat().replace("+00:00", "Z")
    return records.utc_now()


def open_context(path: str | os.PathLike = ".", cached: bool = True) -> Context:
    """Repository, committed policy, allowed signers and a registry view. `cached=False` reads
    every record from its object (verify must not trust anything derived)."""
    repo = Repo.discover(path)
    head = repo.head_commit()
    raw = repo.blob_at(head, POLICY_PATH)
    if raw is None:
        raise PolicyError(f"no {POLICY_PATH} committed at HEAD",
                          f"run 'git mv-promote init', then commit {POLICY_PATH}")
    policy = parse_policy(raw)
    warnings = []
    if repo.workdir is not None:
        local = repo.workdir / POLICY_PATH
        if local.is_file() and local.read_bytes() != raw:
            warnings.append(f"{POLICY_PATH} has uncommitted changes; using the committed version (commit it to use it)")
    signers = repo.blob_at(head, policy.allowed_signers)
    from gitmv.cache import RecordCache

    registry = Registry(repo, policy, signers, repo.ref(NOTES_REF),
                        cache=RecordCache(repo.git_dir) if cached else None)
    return Context(repo, policy, head, registry, warnings)


