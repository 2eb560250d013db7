"""Who approved, from verified facts: (requester principal, request sha256, facts) -> approvers.

No I/O here: `gitmv.approvals` reads the repository and verifies every signature, and hands this
module one `Fact` per commit that could vouch for a request. Identity is only ever a principal
from a verified signature; names, e-mails and trailers never reach this module.

A fact counts when it has a principal, is not the requester's, and (for an approve commit) names
the sha256 of the request as merged: an edit of the request file after an approval voids it.
Each principal counts once, whatever the number of commits it signed.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable

APPROVE, MERGE, HOST_MERGE = "approve", "merge", "host-merge"
KINDS = (APPROVE, MERGE, HOST_MERGE)


@dataclass(frozen=True)
class Fact:
    """One commit that may vouch for a request.

    kind: "approve" (a signed approve commit on the request branch), "merge" (the merge commit,
    by its signer) or "host-merge" (a host's signed web merge, vouching for its author).
    principal: the verified principal, or None when nothing verified (then `unverified` says why).
    named_sha256: for approve commits, the request file digest the commit names.
    """

    kind: str
    commit: str
    principal: str | None
    named_sha256: str | None = None
    unverified: str = ""


@dataclass(frozen=True)
class Decision:
    approvers: tuple[str, ...]  # distinct principals, sorted
    approvals: tuple[dict[str, str | None], ...]  # {principal, commit, kind}: the first fact that counted for each
    not_counted: tuple[dict[str, str | None], ...]  # {commit, kind, principal, reason}


def _strip(digest: str | None) -> str | None:
    if digest is None:
        return None
    digest = digest.strip().lower()
    return digest[len("sha256:"):] if digest.startswith("sha256:") else digest


def why_not(fact: Fact, requester: str | None, request_sha256: str | None) -> str:
    """Why this fact does not count, or "" when it does."""
    if fact.kind not in KINDS:
        return f"unknown kind {fact.kind!r}"
    if fact.principal is None:
        return fact.unverified or "no verified signature"
    if requester is not None and fact.principal == requester:
        return f"{fact.principal} is the requester, who never approves their own request"
    if fact.kind == APPROVE:
        named, wanted = _strip(fact.named_sha256), _strip(request_sha256)
        if not named:
            return "the approve commit names no request sha256"
        if named != wanted:
            return (f"approves request sha256:{named[:12]}, not the merged request sha256:{(wanted or '')[:12]} "
                    "(the request was edited after this approval)")
    return ""


def decide(requester: str | None, request_sha256: str | None, facts: Iterable[Fact]) -> Decision:
    """The approvers of a request. `requester` None means no requester is known, so none is excluded
    (callers that need one refuse before asking)."""
    approvals: dict[str, dict[str, str | None]] = {}
    not_counted: list[dict[str, str | None]] = []
    for fact in facts:
        reason = why_not(fact, requester, request_sha256)
        if reason:
            not_counted.append({"commit": fact.commit, "kind": fact.kind, "principal": fact.principal, "reason": reason})
        elif fact.principal is not None and fact.principal not in approvals:  # why_not refused None already
            approvals[fact.principal] = {"principal": fact.principal, "commit": fact.commit, "kind": fact.kind}
    return Decision(tuple(sorted(approvals)), tuple(approvals[p] for p in sorted(approvals)), tuple(not_counted))


def host_merge_author(author_email: str, signer_principals: Iterable[str]) -> str | None:
    """The principal a host's web merge vouches for: the allowed-signers principal equal to the
    merge's author e-mail (case-insensitive), or None. The host checked who clicked merge; the
    allowed signers say which principal that e-mail is."""
    mail = author_email.strip().lower()
    for principal in signer_principals:
        if principal.strip().lower() == mail:
            return principal
    return None
