"""A version must stay retrievable, and evidence must say what produced it: the pure decisions
that `register` and `eval` apply on the client and the server hook applies to what is pushed
(R9 in docs/hooks.md), so that an insider with hand-made tags and notes and
`git push --no-verify` meets the same rules as the CLI.

The facts (blobs at a commit, DVC pins, ancestry, the digest recomputed at a commit) are read by
the caller; nothing here touches a repository.
"""

from __future__ import annotations

import hashlib
import posixpath
import shlex
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from gitmv.records import canonical_json

RETRIEVABLE = "R9 version-retrievable"
PROVENANCE = "R9 eval-provenance"
DEPRECATION_ONCE = "R9 deprecation-once"


# ---------------------------------------------------------------- a version must stay retrievable

@dataclass(frozen=True)
class ArtifactFacts:
    """What the version's commit holds for one artifact path: the sha256 of the blob committed
    there (None: no blob at that path), and the DVC pin covering the path (None: not pinned)."""

    committed_sha256: str | None
    pin: Mapping[str, Any] | None


def artifact_problems(artifacts: Mapping[str, Mapping[str, Any]], facts: Mapping[str, ArtifactFacts],
                      commit: str) -> list[str]:
    """Why each artifact of a version record could not be got back from the repository at its
    commit: neither a blob with the record's digest nor covered by a DVC pin there. A DVC pin
    holds an md5, not the record's sha256, so all that can be compared is the size (when both
    record it); the content is checked by `verify` and `get`, which fetch it."""
    out = []
    for path, meta in sorted(artifacts.items()):
        fact = facts.get(path, ArtifactFacts(None, None))
        claimed = meta.get("sha256")
        if fact.committed_sha256 is not None:
            if fact.committed_sha256 != claimed:
                out.append(f"{path} at commit {commit[:12]} has sha256 {fact.committed_sha256[:12]}…, "
                           f"but the record claims {str(claimed)[:12]}…")
            continue
        if fact.pin is None:
            out.append(f"{path} is neither committed at {commit[:12]} nor tracked by DVC there "
                       f"(no {path}.dvc, no dvc.lock out): the version could not be retrieved")
            continue
        size, pinned = meta.get("size"), fact.pin.get("size")
        if isinstance(size, int) and isinstance(pinned, int) and size != pinned:
            out.append(f"{path}: the record claims {size} bytes, but the DVC pin at {commit[:12]} "
                       f"({fact.pin.get('source')}) has {pinned}")
    return out


# ---------------------------------------------------------------- evidence says what produced it

def command_paths(command: str) -> list[str]:
    """The repository paths an eval command may name: a token, or the value of a `--opt=value`
    token, that is a relative path without a placeholder (the caller keeps those that are files
    in the tree)."""
    try:
        tokens = shlex.split(command)
    except ValueError:
        tokens = command.split()
    candidates = set()
    for token in tokens:
        for word in (token, token.partition("=")[2]):
            if word and "{" not in word and not posixpath.isabs(word):
                path = posixpath.normpath(word)
                if path != "." and not path.startswith(".."):
                    candidates.add(path)
    return sorted(candidates)


def command_digest(command: str, blobs: Mapping[str, str]) -> str:
    """sha256 of the canonical JSON {"command": <the policy's command, unsubstituted>, "files":
    {path: blob id}} (docs/storage.md): what produced the evidence, recomputable from the record's
    `command` and the tree at its `code_commit`."""
    return "sha256:" + hashlib.sha256(canonical_json({"command": command, "files": dict(sorted(blobs.items()))})).hexdigest()


@dataclass(frozen=True)
class EvalFacts:
    """What the repository says about an eval record's claims (read by the caller).

    `code_commit_kind`: the object type its `code_commit` names (None: absent from the repository).
    `reachable`: that commit is in the history of the protected branch or of a version tag
    (so it is published and never collected).
    `at_commit`: (command, digest) the policy at `code_commit` gives for the record's model, or None
    when that policy has no eval command for it.
    `protected`: the same from the protected branch's tip: the command and files the evidence must
    have been produced by."""

    code_commit_kind: str | None
    reachable: bool
    at_commit: tuple[str, str] | None
    protected: tuple[str, str] | None
    protected_branch: str


def eval_problems(rec: Mapping[str, Any], facts: EvalFacts | None) -> list[str]:
    """Why an eval record new to the server does not say truthfully what produced it. `facts` is
    None when the record has no `code_commit` to read facts about."""
    code_commit = rec.get("code_commit")
    if not isinstance(code_commit, str) or not code_commit:
        return ["it has no code_commit (written by a git mv-promote before evidence named its code commit)"]
    assert facts is not None
    if facts.code_commit_kind != "commit":
        what = "not in the repository" if facts.code_commit_kind is None else f"a {facts.code_commit_kind}"
        return [f"code_commit {code_commit[:12]} is {what}, not a commit"]
    out = []
    if not facts.reachable:
        out.append(f"code_commit {code_commit[:12]} is in neither {facts.protected_branch}'s history nor a "
                   "version's: the code the eval ran could not be found again")
    command, digest = rec.get("command"), rec.get("command_digest")
    if command is None and digest is None:
        return out  # an eval from a metrics file (--from-file): no command ran
    if not isinstance(digest, str):
        out.append("it names a command but no command_digest")
        return out
    if facts.at_commit is None or (command, digest) != facts.at_commit:
        out.append(f"command and command_digest do not match the policy's eval command and its files at "
                   f"code_commit {code_commit[:12]}")
    elif facts.protected is None or digest != facts.protected[1]:
        out.append(f"the eval ran a command or files other than the eval command on {facts.protected_branch} "
                   f"({'none there' if facts.protected is None else facts.protected[1][:19] + '…'}, "
                   f"the record has {digest[:19]}…)")
    return out


def repeated_deprecations(before: Iterable[Mapping[str, Any]], after: Iterable[Mapping[str, Any]]
                          ) -> list[tuple[str, str]]:
    """(new record id, earlier record id) for each deprecation in `after` but not in `before`
    that repeats the reason and sunset of another deprecation on the same version: a second
    identical deprecation says nothing new (`deprecate` refuses it). The earlier is the one kept
    before it, or the canonically first of the new ones."""
    def key(r: Mapping[str, Any]) -> tuple[str, str]:
        return (str(r.get("reason")), str(r.get("sunset")))

    known = {r["id"] for r in before}
    seen: dict[tuple[str, str], str] = {}
    for r in before:
        if r.get("kind") == "deprecation":
            seen.setdefault(key(r), r["id"])
    out = []
    for r in sorted(after, key=lambda r: canonical_json(dict(r))):
        if r.get("kind") != "deprecation" or r["id"] in known:
            continue
        earlier = seen.get(key(r))
        if earlier is not None:
            out.append((r["id"], earlier))
        else:
            seen[key(r)] = r["id"]
    return out
