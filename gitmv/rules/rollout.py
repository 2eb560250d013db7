"""Progressive rollout, recorded: the share of traffic (`traffic`, a whole percent) that a stage
listed in `registry.rollout_stages` gives its current version, carried by the stage records.

The rules are the record's claims about traffic: present exactly in the records of a rollout
stage, in range, and a share change (kind = "rollout") only ever changes the share of the version
the stage already holds, to a different share. The server hook and `verify` both call
`traffic_mismatches`; nothing else decides. Pure: the caller says whether the stage is a rollout
stage under the policy the decision was made by, and which entry came before.
"""

from __future__ import annotations

from gitmv.records import MAX_TRAFFIC, MIN_TRAFFIC, PromotionRecord, traffic_problem

__all__ = ["MAX_TRAFFIC", "MIN_TRAFFIC", "RULE", "ROLLOUT_KIND", "traffic_mismatches", "traffic_problem"]

RULE = "R8 rollout"
ROLLOUT_KIND = "rollout"


def traffic_mismatches(record: PromotionRecord, *, rollout_stage: bool | None,
                       previous: PromotionRecord | None) -> list[str]:
    """Each traffic claim of `record` that does not hold, as '<field>: why'. `rollout_stage` is
    whether the policy the record was made under lists its stage in `rollout_stages` (None: not
    known here, so presence is not judged); `previous` is the stage's entry before it."""
    out: list[str] = []
    traffic, stage = record.traffic, record.stage
    if rollout_stage is True and traffic is None:
        out.append(f"traffic: {stage} is a rollout stage (registry.rollout_stages), so its stage records carry "
                   f"traffic = {MIN_TRAFFIC}..{MAX_TRAFFIC}, and this one carries none")
    if rollout_stage is False and traffic is not None:
        out.append(f"traffic: {stage} is not a rollout stage (registry.rollout_stages), so its stage records carry "
                   f"no traffic, and this one says {traffic}")
    if traffic is not None:
        problem = traffic_problem(traffic)
        if problem is not None:
            out.append(f"traffic: {problem}")
    if record.kind == ROLLOUT_KIND:
        if previous is None or previous.version != record.version:
            out.append(f"kind: a rollout changes the share of {stage}'s current version "
                       f"({previous.version if previous else 'none'}), not of {record.version}")
        elif traffic is not None and previous.traffic == traffic:
            out.append(f"traffic: {record.version} already has {traffic}% of {stage}; a rollout changes the share")
    elif rollout_stage is True and record.kind == "promote" and previous is not None \
            and previous.version == record.version:
        out.append(f"kind: {record.version} is already {stage}'s current version; a change of its share is "
                   f"kind = \"{ROLLOUT_KIND}\"")
    return out
