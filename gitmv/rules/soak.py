"""The canary soak (`[models.X.gate] soak = { stage, traffic, duration }`): a version may enter a
stage after `soak.stage` only once it has held at least `soak.traffic` percent of `soak.stage`,
without a break, for `soak.duration`, up to the moment of the promotion.

Times are the stage tags' tagger times, which the stage-record checks hold equal to each record's
`at` and in order (rules/stage_record.py); "the moment of the promotion" is the new stage tag's
tagger time on the server and the clock on the client. The hold must be current: a version that
soaked once and then left the stage, or dropped below the share, starts again. A stage record
without traffic (made before the stage became a rollout stage) holds no share. Pure.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Sequence

from gitmv.rules.gate import Criterion

if TYPE_CHECKING:
    from gitmv.policy import Policy, SoakPolicy

NAME = "soak"


@dataclass(frozen=True)
class Hold:
    """One stage entry as the soak reads it: from `at` (tagger time, epoch seconds) the stage
    gives `version` a share of `traffic` percent (None: no share recorded)."""

    at: int
    version: str
    traffic: int | None


def applies(policy: Policy, soak: SoakPolicy | None, stage: str, kind: str) -> bool:
    """A soak guards promotions into the stages after its own in the policy's order. Rollbacks
    are not held back: they return to a version the stage already ran."""
    if soak is None or kind != "promote" or soak.stage not in policy.stages or stage not in policy.stages:
        return False
    return policy.stage_index(stage) > policy.stage_index(soak.stage)


def held_since(holds: Sequence[Hold], version: str, share: int, end: int) -> int | None:
    """When `version`'s current, unbroken hold of at least `share` percent began, looking only at
    entries made by `end`; None when it does not hold that share at `end`."""
    start: int | None = None
    for hold in holds:
        if hold.at > end:
            break
        if hold.version == version and hold.traffic is not None and hold.traffic >= share:
            start = hold.at if start is None else start
        else:
            start = None
    return start


def span(seconds: int) -> str:
    """`90061` -> `1d 1h`: the two largest units, for messages."""
    seconds = max(0, seconds)
    parts: list[str] = []
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60), ("s", 1)):
        if seconds >= size or (unit == "s" and not parts):
            parts.append(f"{seconds // size}{unit}")
            seconds %= size
    return " ".join(parts[:2])


def _time(value: int) -> str:
    return datetime.fromtimestamp(value, timezone.utc).isoformat().replace("+00:00", "Z")


def criterion(holds: Sequence[Hold], version: str, soak: SoakPolicy, end: int | None) -> Criterion:
    """The soak criterion for `version` promoted at `end` (epoch seconds)."""
    want = f"{soak.traffic}% of {soak.stage} for {soak.duration_text}"
    if end is None:
        return Criterion(NAME, False, f"needs {want}, and no time was given to measure it against")
    start = held_since(holds, version, soak.traffic, end)
    if start is None:
        now = [h for h in holds if h.at <= end]
        last = now[-1] if now else None
        if last is None:
            held = f"{soak.stage} has no version"
        elif last.version != version:
            held = f"{soak.stage}'s current version is {last.version}"
        else:
            held = f"{version} holds {last.traffic if last.traffic is not None else 'no recorded'}% of {soak.stage}"
        return Criterion(NAME, False, f"{version} must hold {want} first; {held} — "
                         f"'git mv-promote rollout' it to {soak.traffic}% or more and wait {soak.duration_text}")
    held_for = end - start
    share = next(h.traffic for h in reversed(holds) if h.at <= end)
    if held_for < soak.duration:
        return Criterion(NAME, False, f"{version} has held {share}% of {soak.stage} (≥ {soak.traffic}%) for "
                         f"{span(held_for)} since {_time(start)}; {span(soak.duration - held_for)} left of "
                         f"{soak.duration_text}")
    return Criterion(NAME, True, f"held {share}% of {soak.stage} (≥ {soak.traffic}%) for {span(held_for)} "
                     f"since {_time(start)} (≥ {soak.duration_text})")
