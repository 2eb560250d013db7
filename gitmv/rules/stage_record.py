"""Stage records are checked, not trusted: every claim of a promotion or rollback record that
the repository can recompute is recomputed by the caller (server hook or `verify`) and compared
here. A signed tag proves who wrote the record, not that what it says is true.

Pure: the caller gathers `StageFacts`; this module only compares.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

from gitmv.errors import RecordError
from gitmv.records import PromotionRecord, parse_time

# How far a stage tag's time may be ahead of the server's clock (clients' clocks drift).
MAX_CLOCK_SKEW_S = 300


class Unknown:
    """A fact the caller could not recompute in its setting (not checked, not passed)."""

    def __repr__(self) -> str:
        return "UNKNOWN"


UNKNOWN = Unknown()


@dataclass(frozen=True)
class StageFacts:
    target_version: str | None  # the version the tag points at (its version tag's name)
    previous_version: str | None  # the stage's current version before this tag
    previous_seq: int  # 0 when the stage was empty
    previous_time: int | None  # tagger time of the previous stage tag
    tagger_time: int
    signer: str | None  # principal of a valid tag signature; None when unsigned or not allowed
    fingerprint: str | None = None
    policy_digests: frozenset[str] = field(default_factory=frozenset)  # digests the decision may have been made under
    now: int | None = None  # receive time on the server; None elsewhere
    eval_record: object = UNKNOWN  # the eval record id the gate passed on, or UNKNOWN
    approval: object = UNKNOWN  # the recomputed approval evidence (dict or None), or UNKNOWN


def _time(value: int) -> str:
    return datetime.fromtimestamp(value, timezone.utc).isoformat().replace("+00:00", "Z")


# The claims of approval evidence; the rest (trailers, what did not count and why, the PR
# number) is display text, which a client and the server may word differently.
APPROVAL_CLAIMS = ("merge_commit", "request_commit", "request_file", "request_sha256", "requester", "approvers",
                   "approvals")


def comparable_approval(evidence: dict[str, Any] | None) -> dict[str, Any] | None:
    """The claims of approval evidence, as a recomputation must reproduce them."""
    if evidence is None:
        return None
    return {k: evidence.get(k) for k in APPROVAL_CLAIMS}


def mismatches(record: PromotionRecord, facts: StageFacts) -> list[str]:
    """Each claim of `record` that differs from the recomputed facts, as '<field>: why'."""
    out: list[str] = []
    if record.version != facts.target_version:
        out.append(f"version: the record says {record.version} but the tag points at {facts.target_version or 'no version tag'}")
    if record.previous != facts.previous_version:
        out.append(f"previous: the record says {record.previous or 'none'} but the stage's version before it was "
                   f"{facts.previous_version or 'none'}")
    if record.seq != facts.previous_seq + 1:
        out.append(f"seq: {record.seq} does not follow {facts.previous_seq}")
    try:
        claimed = int(parse_time(record.at).timestamp())
    except RecordError:
        claimed = None
    if claimed != facts.tagger_time:
        out.append(f"at: the record says {record.at} but the tag was made at {_time(facts.tagger_time)}")
    if facts.previous_time is not None and facts.tagger_time < facts.previous_time:
        out.append(f"at: {_time(facts.tagger_time)} is before the previous stage tag's {_time(facts.previous_time)}")
    if facts.now is not None and facts.tagger_time > facts.now + MAX_CLOCK_SKEW_S:
        out.append(f"at: {_time(facts.tagger_time)} is in the future (server time {_time(facts.now)})")
    if facts.signer is not None and record.by != facts.signer:
        out.append(f"by: the record says {record.by!r} but the tag is signed by {facts.signer!r}")
    if facts.signer is not None and record.signer is not None and facts.fingerprint and record.signer != facts.fingerprint:
        out.append(f"signer: the record names key {record.signer} but the tag is signed with {facts.fingerprint}")
    if facts.policy_digests and record.policy_digest not in facts.policy_digests:
        out.append(f"policy_digest: {record.policy_digest[:19]}… is not the policy the decision was made under")
    if not isinstance(facts.eval_record, Unknown) and record.eval_record != facts.eval_record:
        out.append(f"eval_record: the record names {record.eval_record or 'none'} but the gate passed on "
                   f"{facts.eval_record or 'none'}")
    if not isinstance(facts.approval, Unknown):
        want = comparable_approval(facts.approval)  # type: ignore[arg-type]
        have = comparable_approval(record.approval)
        if have != want:
            out.append("approval: the recorded approval evidence is not what the protected branch shows "
                       f"(recomputed: {_approval_summary(want)}; recorded: {_approval_summary(have)})")
    return out


def _approval_summary(evidence: dict[str, Any] | None) -> str:
    if not evidence:
        return "none"
    approvers = evidence.get("approvers") or []
    return f"merge {str(evidence.get('merge_commit'))[:12]} by {', '.join(map(str, approvers)) or 'nobody'}"
