"""`sync`: fetch-merge-push of registry tags and evidence notes, safe against concurrent clones.

- Notes are merged per annotated object as the union of records by id (never a raw tree merge),
  so every clone converges to the same bytes; the push is a fast-forward, which the server accepts
  only if nobody moved the notes meanwhile (compare-and-swap); a lost race means fetch, merge and
  try again.
- Tags are only ever added. When the server already holds a different tag of the same name, ours
  was never published: a version is re-registered as the next free number (new signed tag, its
  evidence carried over, our unpublished tag removed); a stage tag of ours is dropped and reported,
  so it can be promoted again against the server's state. Nothing published ever moves.
- Experiments (`refs/mv-exp/…`) are never pushed.
- Attestations (`refs/notes/mv-promote-attestations`, written by `attest --store`) travel like the
  evidence notes: fetched to a tracking ref, merged as a union of records, pushed fast-forward.
"""

from __future__ import annotations

import dataclasses
import os
from typing import Any, Callable

from gitmv import records
from gitmv.errors import ConflictError, MvError, NotFoundError, RecordError, RefusedError
from gitmv.git import notes, record_signing
from gitmv.git.repo import ZERO, Repo
from gitmv.names import (ATTESTATIONS_REF, NOTES_REF, STAGE_REF_RE, TAG_ROOT, VERSION_REF_RE, model_tags_prefix, next_version,
                         tracking_attestations_ref, tracking_notes_ref, version_number, version_ref)
from gitmv.ops.context import remember_complete
from gitmv.ops.versions import create_version_tag
from gitmv.policy import POLICY_PATH, parse_policy
from gitmv.records import VersionRecord
from gitmv.git.remote import ensure_notes_refspec, ls_remote

RETRIES = 8
RACE_MARKERS = ("fetch first", "non-fast-forward", "stale info", "already exists", "atomic push failed",
                "atomic transaction failed", "cannot lock ref", "but expected")






def sync(repo: Repo, remote: str = "origin", on_progress: Callable[[str], None] | None = None) -> dict:
    say = on_progress or (lambda text: None)
    report: dict[str, Any] = {"remote": remote, "fetched": [], "fetched_records": 0, "pushed": [], "renumbered": [], "dropped": [],
              "notes": None, "attestations": None, "attempts": 0}
    for attempt in range(1, RETRIES + 1):
        report["attempts"] = attempt
        say(f"listing {remote}'s registry refs…")
        theirs = ls_remote(repo, remote)
        _fetch(repo, remote, theirs, report, say)
        say("merging evidence notes…")
        before = repo.ref(NOTES_REF)
        merged = _merge_notes(repo, remote, theirs.get(NOTES_REF))
        _count_fetched_records(repo, before, merged, report)
        # the merged attestation notes ride in the report (what _push reads), beside the evidence's
        report["attestations"] = _merge_notes(repo, remote, theirs.get(ATTESTATIONS_REF), ATTESTATIONS_REF)
        specs = _push_specs(repo, theirs, merged, report["attestations"])
        if specs:
            say(f"pushing {len(specs)} ref(s) to {remote}…")
        ok, text = _push(repo, remote, theirs, merged, report)
        if ok:
            report["notes"] = merged
            # every registry tag of the remote is here now: its fetched notes hide no missing tag
            remember_complete(repo, repo.ref(tracking_notes_ref(remote)))
            return report
        if not any(marker in text for marker in RACE_MARKERS) and ls_remote(repo, remote) == theirs:
            lines = [ln.strip() for ln in text.splitlines() if "mv-promote" in ln or "rejected" in ln]
            blamed, branch = _unpushed_branch_refusals(repo, remote, theirs, specs)
            if blamed:  # the real cause: the remote judges by a protected branch we have not pushed
                refs = [b.split(": [", 1)[0].removeprefix("refused ") for b in blamed]
                lines = blamed + ["refused " + ln.split("mv-promote: refused ", 1)[1] for ln in lines
                                  if "mv-promote: refused " in ln and not any(f" {r}:" in ln for r in refs)]
                raise RefusedError("the remote refused the push:\n  " + "\n  ".join(lines[:12]),
                                   f"git push {remote} {branch}, then run 'git mv-promote sync' again")
            raise RefusedError("the remote refused the push:\n  " + ("\n  ".join(lines[-12:]) or text.strip()[-300:]),
                               "fix what the refusal names, then run 'git mv-promote sync' again")
    raise ConflictError(f"the remote kept changing during sync ({RETRIES} attempts)", "run 'git mv-promote sync' again")


def _count_fetched_records(repo: Repo, before: str | None, after: str | None, report: dict) -> None:
    """Evidence the merge brought in from the remote: the notes ref counts as fetched when it did
    (a sync that only brought new evals used to say "fetched 0")."""
    if after is None or after == before:
        return
    added = 0
    for target in repo.changed_note_targets(before, after):
        had = {r["id"] for r in notes.read_records(repo, before, target)} if before else set()
        added += sum(1 for r in notes.read_records(repo, after, target) if r["id"] not in had)
    if added:
        report["fetched_records"] += added
        if NOTES_REF not in report["fetched"]:
            report["fetched"].append(NOTES_REF)


def _unpushed_branch_refusals(repo: Repo, remote: str, theirs: dict, specs: list[str]) -> tuple[list[str], str]:
    """The refused push judged as the client pre-push hook judges it: the "push <branch> first"
    lines when our protected branch is ahead of the remote's and explains the refusal."""
    from gitmv.hooks import enforce

    pushes = [(src, oid, dst, theirs.get(dst, ZERO)) for src, dst in (s.split(":", 1) for s in specs)
              if (oid := repo.ref(src))]
    try:
        judged = enforce.pre_push(remote, pushes, repo=repo)
        branch = enforce.local_protected_branch(repo)
    except MvError:
        return [], ""
    return [t for t in judged if enforce.PUSH_FIRST in t], branch


def _fetch(repo: Repo, remote: str, theirs: dict[str, str], report: dict, say: Callable[[str], None]) -> None:
    local = dict(repo.refs_under(TAG_ROOT))
    specs, clashes = [], []
    for ref, oid in sorted(theirs.items()):
        if ref == NOTES_REF:  # already fetched at that commit: nothing to ask the remote for
            if repo.ref(tracking_notes_ref(remote)) != oid:
                specs.append(f"+{NOTES_REF}:{tracking_notes_ref(remote)}")
        elif ref == ATTESTATIONS_REF:
            if repo.ref(tracking_attestations_ref(remote)) != oid:
                specs.append(f"+{ATTESTATIONS_REF}:{tracking_attestations_ref(remote)}")
        elif ref not in local:
            specs.append(f"{ref}:{ref}")
        elif local[ref] != oid:
            clashes.append((ref, local[ref], oid))
            specs.append(f"+{ref}:{_holding_ref(remote, ref)}")
    if specs:
        say(f"fetching {len(specs)} ref(s) from {remote}…")
        repo.git("fetch", "--no-tags", "--quiet", remote, *specs)
        report["fetched"] += [s.split(":")[-1] for s in specs if not s.startswith("+")]
    # versions first: a renumbered version may carry stage tags of ours that must be dropped
    for ref, mine, their in sorted(clashes, key=lambda c: (0 if VERSION_REF_RE.match(c[0]) else 1, c[0])):
        _resolve_clash(repo, remote, ref, mine, their, theirs, report)


def _holding_ref(remote: str, ref: str) -> str:
    return f"refs/mv-sync/{remote}/{ref[len('refs/tags/'):]}"


def _resolve_clash(repo: Repo, remote: str, ref: str, mine: str, their: str, theirs: dict, report: dict) -> None:
    hold = _holding_ref(remote, ref)
    if VERSION_REF_RE.match(ref):
        new_ref = _renumber(repo, ref, mine, theirs)
        report["renumbered"].append({"from": ref, "to": new_ref})
        for stage_ref, oid in repo.refs_under(ref.rsplit("/", 1)[0] + "/"):
            tag = repo.tag(oid) if STAGE_REF_RE.match(stage_ref) and stage_ref not in theirs else None
            if tag is not None and tag.target == mine:
                repo.delete_ref(stage_ref, oid)
                report["dropped"].append({"ref": stage_ref, "why": f"it promoted the unpublished {ref.rsplit('/', 1)[1]}, "
                                                                   f"now {new_ref.rsplit('/', 1)[1]}: promote it again"})
    else:
        report["dropped"].append({"ref": ref, "why": "the remote already has a different tag of that name: "
                                                     "check and promote again against the remote's state"})
    if not repo.delete_ref(ref, mine) or not repo.update_ref(ref, their, None, "mv-promote sync"):
        raise ConflictError(f"{ref} changed during sync", "run 'git mv-promote sync' again")
    repo.delete_ref(hold, their)


def _same_version(repo: Repo, oid: str, record: VersionRecord) -> bool:
    tag = repo.tag(oid)
    if tag is None:
        return False
    try:
        other = VersionRecord.from_message(records.split_signature(tag.message.encode())[0].decode())
    except MvError:
        return False
    return (other.kind, other.model, other.commit, other.artifacts) == ("version", record.model, record.commit,
                                                                         record.artifacts)


def _renumber(repo: Repo, ref: str, mine: str, theirs: dict) -> str:
    """Re-register our unpublished version under the next number free locally and remotely.

    Idempotent: when a version with the same commit and artifacts already exists (the remote's
    own, or one an interrupted sync made), its evidence is carried there instead, so a crash and
    a re-run never publish the same artifact twice."""
    tag = repo.tag(mine, ref)
    if tag is None:
        raise RecordError(f"{ref} is not an annotated tag", "registry refs must be annotated tags")
    message, signature = records.split_signature(tag.message.encode())
    record = VersionRecord.from_message(message.decode())
    model = record.model
    prefix = model_tags_prefix(model)
    candidates = [(r, o) for r, o in repo.refs_under(prefix) if VERSION_REF_RE.match(r) and o != mine]
    candidates += [(r, o) for r, o in repo.refs_under("refs/mv-sync/") if o != mine]
    for other_ref, other in candidates:
        if _same_version(repo, other, record):
            target_ref = ref if other_ref.startswith("refs/mv-sync/") else other_ref
            target = VERSION_REF_RE.match(target_ref)
            assert target is not None  # ref and the candidates are version refs
            _carry(repo, mine, other, record, target.group(2))
            return target_ref
    taken = {int(m.group(2)) for r in list(theirs) + [r for r, _ in repo.refs_under(model_tags_prefix(model))]
             if (m := VERSION_REF_RE.match(r)) and m.group(1) == model}
    new_record, new_id = create_version_tag(repo, model, next_version(f"v{max(taken)}"), record.commit,
                                            lambda version: dataclasses.replace(record, version=version),
                                            bool(signature), "run 'git mv-promote sync' again")
    _carry(repo, mine, new_id, record, str(version_number(new_record.version)))
    return version_ref(model, new_record.version)


def _allowed_signers(repo: Repo) -> bytes | None:
    """The allowed signers of the policy at HEAD (who may re-sign carried evidence)."""

    head = repo.head_commit()
    raw = repo.blob_at(head, POLICY_PATH)
    return repo.blob_at(head, parse_policy(raw).allowed_signers) if raw is not None else None


def _carry(repo: Repo, mine: str, new_id: str, record: VersionRecord, number: str) -> None:
    """Copy the evidence on our unpublished tag to the version that replaces it (same ids on re-run)."""
    carried = []
    allowed_signers = _allowed_signers(repo)
    signer = record_signing.Signer(repo, allowed_signers)
    for rec in notes.read_records(repo, repo.ref(NOTES_REF), mine):
        body = {k: v for k, v in rec.items() if k not in ("id", "kind", "at", "by", "signature")}
        if "version" in body:
            body["version"] = f"v{number}"
        body["carried_from"] = rec["id"]
        # re-signed by whoever carries it: the original signature covered the old version's record
        carried.append(record_signing.new_record(repo, rec["kind"], body, at=rec["at"], allowed_signers=allowed_signers,
                                                 signed="signature" in rec, signer=signer))
    if carried:
        notes.append(repo, new_id, carried, f"mv-promote: carry evidence of {record.model} {record.version} to v{number}")


def _merge_notes(repo: Repo, remote: str, remote_notes: str | None, ref: str = NOTES_REF) -> str | None:
    tracking_ref = tracking_attestations_ref(remote) if ref == ATTESTATIONS_REF else tracking_notes_ref(remote)
    tracking = repo.ref(tracking_ref) if remote_notes else None

    def compute(ours: str | None) -> str | None:
        return notes.merge_commits(repo, ours, tracking, f"mv-promote: merge notes from {remote}")

    return repo.cas_notes_update(compute, ref, f"mv-promote sync {remote}")


def _push_specs(repo: Repo, theirs: dict, merged: str | None, attested: str | None = None) -> list[str]:
    local = dict(repo.refs_under(TAG_ROOT))
    specs = [f"{ref}:{ref}" for ref in sorted(local) if ref not in theirs
             and (VERSION_REF_RE.match(ref) or STAGE_REF_RE.match(ref))]
    if merged is not None and merged != theirs.get(NOTES_REF):
        specs.append(f"{NOTES_REF}:{NOTES_REF}")
    if attested is not None and attested != theirs.get(ATTESTATIONS_REF):
        specs.append(f"{ATTESTATIONS_REF}:{ATTESTATIONS_REF}")
    return specs


def _push(repo: Repo, remote: str, theirs: dict, merged: str | None, report: dict) -> tuple[bool, str]:
    attested = report.get("attestations")
    specs = _push_specs(repo, theirs, merged, attested)
    if not specs:
        return True, ""
    proc = repo.git("push", "--atomic", "--porcelain", remote, *specs, check=False)
    text = proc.stdout.decode(errors="replace") + proc.stderr.decode(errors="replace")
    if proc.returncode == 0:
        report["pushed"] = [s.split(":")[1] for s in specs]
        # the remote now holds our notes: keep the tracking ref in step
        if merged is not None:
            repo.git("update-ref", tracking_notes_ref(remote), merged, check=False)
        if attested is not None:
            repo.git("update-ref", tracking_attestations_ref(remote), attested, check=False)
        return True, text
    return False, text





def sync_at(remote: str = "origin", path: str | os.PathLike = ".", on_progress: Callable[[str], None] | None = None) -> dict:
    repo = Repo.discover(path)
    remotes = repo.remotes()
    if remote not in remotes:
        raise NotFoundError(f"no remote named '{remote}' (remotes: {', '.join(remotes) or 'none'})",
                            f"git remote add {remote} URL")
    added = ensure_notes_refspec(repo, remote)
    return {**sync(repo, remote, on_progress), "refspec_added": added, "warnings": []}
