"""The periodic audit's own decisions: which past state of the protected branch a stage tag was
judged under, which keys the policy now asks of a version record, which deprecations are past
their sunset. Everything else the audit decides is the server hook's rule, re-run over a past
view (gitmv.ops.audit); nothing here repeats it. Pure: no I/O.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any

from gitmv.errors import RecordError
from gitmv.policy import ModelPolicy
from gitmv.records import VersionRecord, parse_time
from gitmv.rules.stage_record import MAX_CLOCK_SKEW_S

# kinds of finding, in report order
ENTRY = "stage-entry"  # a stage tag that the hook's rules, re-run as of its time, refuse
ROLLBACK = "rollback"  # the version `rollback` would pick cannot be rolled back to
DRIFT = "drift"  # the records no longer meet the current policy
SUNSET = "sunset"  # a deprecated version still live after its sunset
KINDS = (ENTRY, ROLLBACK, DRIFT, SUNSET)


@dataclass(frozen=True)
class Finding:
    kind: str
    model: str
    stage: str | None
    ref: str | None
    message: str
    fix: str

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def ordered(findings: Sequence[Finding]) -> list[Finding]:
    """Stable report order: by kind, model, stage, ref (each finding once)."""
    unique = list(dict.fromkeys(findings))
    return sorted(unique, key=lambda f: (KINDS.index(f.kind) if f.kind in KINDS else len(KINDS), f.model,
                                         f.stage or "", f.ref or ""))


@dataclass(frozen=True)
class BranchPoint:
    """One commit on the protected branch's first-parent history."""

    id: str
    time: int  # committer time
    policy_digest: str | None  # "sha256:…" of the policy file there, None without one


def branch_states_at(chain: Sequence[BranchPoint], at: int, policy_digest: str, cited: str | None = None,
                     skew: int = MAX_CLOCK_SKEW_S) -> list[int]:
    """Indexes in `chain` (newest first) of the branch states a stage tag made at `at` may have
    been judged under, most likely first; empty when the branch had no commit yet.

    The likely state is the newest commit made at or before `at`. Clocks drift (the hook allows
    a tag's time `skew` seconds ahead of the server's), so within `skew` of `at` the commit holding
    the policy the record names is preferred. Commit times only order what lies apart in time:
    when the merge the record cites (its approval) was made in the same second as that state or
    later (up to `skew` after the tag), the branch may have stood at it, and it is a candidate too.
    An older cited merge is not: by then later commits had reached the branch."""
    base = next((i for i, p in enumerate(chain) if p.time <= at), None)
    near = [i for i, p in enumerate(chain) if at - skew < p.time <= at + skew]
    if base is None:
        base = near[-1] if near else None  # the oldest commit within the skew, when there is one
    if base is None:
        return []
    if chain[base].policy_digest != policy_digest:
        likely = base
        matching = [i for i in near if chain[i].policy_digest == policy_digest]
        if matching:
            base = min(matching, key=lambda i: abs(i - likely))
    out = [base]
    hit = next((i for i, p in enumerate(chain) if p.id == cited), None) if cited else None
    if hit is not None and hit != base and chain[base].time <= chain[hit].time <= at + skew:
        out.append(hit)
    return out


def newest_at(chain: Sequence[BranchPoint], at: int) -> int | None:
    """Index of the branch's newest commit made at or before `at` (no policy to match)."""
    return next((i for i, p in enumerate(chain) if p.time <= at), None)


def existed_then(rec: dict[str, Any], at: int, skew: int = MAX_CLOCK_SKEW_S) -> bool:
    """Whether an evidence record counts for a stage tag made at `at` (epoch seconds), judged by
    the record's own signed `at`. Clocks drift, and the audit reports only what surely was wrong:
    evidence that allows (an eval, a reproduction) counts up to `skew` after the tag; a
    deprecation, which forbids, only when made strictly before it. A record without a readable
    time counts (its shape was checked when the note was read)."""
    try:
        made = int(parse_time(str(rec.get("at", ""))).timestamp())
    except RecordError:
        return True
    return made < at if rec.get("kind") == "deprecation" else made <= at + skew


def missing_keys(mp: ModelPolicy, record: VersionRecord) -> list[str]:
    """What the policy now asks of a version that its record lacks (each as 'key: detail')."""
    out = []
    wanted, have = set(mp.artifacts), set(record.artifacts)
    if wanted - have:
        out.append(f"artifacts: {', '.join(sorted(wanted - have))} not in the record")
    pinned = {str(p.get("source")) for p in record.data if isinstance(p, dict)}
    if set(mp.data) - pinned:
        out.append(f"data: no pin from {', '.join(sorted(set(mp.data) - pinned))}")
    if mp.params and not record.params:
        out.append(f"params: {mp.params} not recorded")
    if mp.lockfile and not record.lockfile:
        out.append(f"lockfile: {mp.lockfile} not recorded")
    if (mp.model_card or mp.tier == "regulated") and not (record.model_card or {}).get("sha256"):
        out.append(f"model_card: {mp.model_card or 'a model card'} not recorded")
    if mp.signed and record.tier == "research":
        out.append(f"tier: registered in the research tier, the policy now says {mp.tier}")
    return out


def past_sunset(deprecations: Sequence[dict[str, Any]], now: datetime) -> dict[str, Any] | None:
    """The first deprecation record whose `sunset` (RFC 3339, set by `deprecate --sunset`) is at or
    before `now`; None when none is. A deprecation without a sunset sets no deadline."""
    for rec in deprecations:
        sunset = rec.get("sunset")
        if not isinstance(sunset, str) or not sunset:
            continue
        try:
            if parse_time(sunset) <= now:
                return rec
        except RecordError:
            continue
    return None
