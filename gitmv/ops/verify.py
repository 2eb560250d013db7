"""`verify`: every signature, record, artifact and stage claim re-checked from the objects; `verify --data`."""

from __future__ import annotations

import hashlib
import os
import tempfile

from gitmv import records
from gitmv.errors import MvError
from gitmv.git import notes
from gitmv.git.repo import Repo
from gitmv.names import NOTES_REF, check_names, stage_ref, version_ref
from gitmv.hashing import sha256_file
from gitmv.ops import artifacts as artifacts_mod
from gitmv.ops.artifacts import from_dvc_remote
from gitmv.ops.context import Context, open_context, policy_history
from gitmv.registry import Registry, StageEntry, Version
from gitmv.rules import artifacts as artifact_rules
from gitmv.rules import notes as notes_rules


def verify(model: str | None = None, version: str | None = None, path: str | os.PathLike = ".",
           attestations: bool = False) -> dict:
    """Signatures, records, artifact digests, note integrity and notes history (with
    `attestations`, also the stored attestations and their notes history). Never raises for a
    failed check: every failure is collected and named."""
    if model:
        check_names(model, version or None)
    ctx = open_context(path, cached=False)
    reg, repo = ctx.registry, ctx.repo
    from gitmv.cache import VerdictCache

    # what a previous verify established of the same objects (and allowed signers) is not
    # established again; the cache of listings (gitmv.cache.RecordCache) is never consulted
    reg.cache = VerdictCache(repo.git_dir)
    # verify fails when it cannot see what it must check
    failures: list[str] = [f"{g.cause} (fix: {g.fix})" for g in ctx.gaps]
    checked: list[str] = []
    unverifiable: list[str] = []  # artifacts recorded by URI: neither a failure nor checked
    models = [model] if model else reg.model_names
    digests = None
    with tempfile.TemporaryDirectory(prefix="mv-verify-") as tmp:
        for name in models:
            versions = [version] if version else reg.versions(name)
            mp = ctx.policy.models.get(name)
            for vname in versions:
                checked.append(f"{name} {vname}")
                _verify_version(ctx, name, vname, mp, tmp, failures, unverifiable)
            if version is None:
                for stage in reg.stages_present(name):
                    if digests is None:
                        digests = _policy_digests(ctx)
                    _verify_stage(ctx, name, stage, mp, failures, digests)
    try:
        repo.check_notes_commit(NOTES_REF)
        failures.extend(_verify_notes_history(repo, reg.notes_commit))
    except MvError as exc:
        failures.append(f"notes: {exc.cause}")
    result = {"ok": not failures, "checked": checked, "failures": failures, "unverifiable": unverifiable,
              "warnings": ctx.warnings}
    if attestations:
        result["attestations"] = _verify_attestations(ctx, models, version, failures)
        result["ok"] = not failures
    return result


def _verify_attestations(ctx: Context, models: list[str], version: str | None, failures: list) -> int:
    """The stored attestations (ops/attest.check_stored) and the append-only history of their ref."""
    from gitmv.names import ATTESTATIONS_REF
    from gitmv.ops.attest import check_stored

    repo, reg = ctx.repo, ctx.registry
    head = repo.ref(ATTESTATIONS_REF)
    count = 0
    for name in models:
        for vname in [version] if version else reg.versions(name):
            try:
                v = reg.version(name, vname)
            except MvError:
                continue  # reported with the version
            found, n = check_stored(ctx, v, head)
            failures.extend(found)
            count += n
    try:
        repo.check_notes_commit(ATTESTATIONS_REF)
        failures.extend(f.replace(NOTES_REF, ATTESTATIONS_REF) for f in _verify_notes_history(repo, head))
    except MvError as exc:
        failures.append(f"attestations: {exc.cause}")
    return count


def _verify_version(ctx: Context, model: str, vname: str, mp, tmp: str, failures: list, unverifiable: list) -> None:
    """One version: its tag, signature, artifacts and note. A version that passed whole before,
    with the same tag object, note bytes, allowed signers and tier rule, and whose artifacts were
    all checked from Git blobs (never the work tree or DVC, which can change), passes again."""
    reg, repo = ctx.registry, ctx.repo
    oid = reg.version_tag_id(model, vname)
    raw = repo.read_note(oid, reg.notes_commit) if oid and reg.notes_commit else None
    note = hashlib.sha256(raw).hexdigest() if raw is not None else "-"
    key = reg.verdict_key("version", f"{oid}:{note}:{mp is None or mp.signed}") if oid else None
    hit = reg.cache.get(key) if key and reg.cache is not None else None
    if hit is not None and hit.get("commit") != ctx.head:
        return
    before = (len(failures), len(ctx.warnings), len(unverifiable))
    commit = _check_version(ctx, model, vname, mp, tmp, failures, unverifiable)
    if key and commit and reg.cache is not None and (len(failures), len(ctx.warnings), len(unverifiable)) == before:
        reg.cache.put(key, {"ok": True, "commit": commit})


def _check_version(ctx: Context, model: str, vname: str, mp, tmp: str, failures: list, unverifiable: list) -> str | None:
    """The checks of one version; returns its commit when every artifact was checked from a Git
    blob (a result that cannot change while the objects do not), else None."""
    reg, repo = ctx.registry, ctx.repo
    ref = version_ref(model, vname)
    try:
        v = reg.version(model, vname)
    except MvError as exc:
        failures.append(f"{ref}: {exc.cause}")
        return None
    stable = True
    sig = reg.signature(v.tag)
    if not sig.ok and (mp is None or mp.signed):
        failures.append(f"{ref}: signature: {sig.reason}")
    workdir = repo.workdir
    use_worktree = workdir is not None and ctx.head == v.record.commit
    for rel, meta in sorted(v.record.artifacts.items()):
        if records.is_uri_artifact(meta):
            unverifiable.append(f"{ref}: {artifact_rules.not_verifiable(rel, meta)}")
            continue
        stable = stable and not use_worktree
        if use_worktree and workdir is not None:
            file = workdir / rel
            if not file.is_file():
                failures.append(f"{ref}: artifact {rel} is missing from the work tree")
                continue
            digest, _ = sha256_file(file)
            if digest != meta["sha256"]:
                failures.append(f"{ref}: artifact {rel} in the work tree has sha256 {digest}, the record says {meta['sha256']}")
            continue
        # a blob id names its bytes: one whose sha256 matched the record once always will
        blob = repo.blob_ids(v.record.commit, [rel]).get(rel)
        seen = f"blob:{blob}:{meta['sha256']}" if blob and reg.cache is not None else None
        if seen and reg.cache is not None and reg.cache.get(seen) is not None:
            continue
        got = artifacts_mod.retrieve(repo, v.record.commit, rel, meta["sha256"], use_worktree=False, tmpdir=tmp)
        stable = stable and got.source == "git blob"
        if not got.ok and not from_dvc_remote(ctx, v, rel, tmp, got.tried):
            failures.append(f"{ref}: {got.describe_failure()}")
        elif seen and got.source == "git blob" and reg.cache is not None:
            reg.cache.put(seen, {"sha256": meta["sha256"]})
    # a note whose exact bytes passed every record check before (same allowed signers, same tier
    # rule) passes again; a note that failed or warned is checked every time
    commit = v.record.commit if stable else None
    raw = repo.read_note(v.tag.id, reg.notes_commit) if reg.notes_commit else None
    seen = reg.verdict_key("note", f"{hashlib.sha256(raw).hexdigest()}:{mp is None or mp.signed}") if raw is not None else None
    if seen and reg.cache is not None and reg.cache.get(seen) is not None:
        return commit
    warned = len(ctx.warnings)
    found = note_failures(reg, ref, v, mp, ctx.warnings)
    failures.extend(found)
    if seen and reg.cache is not None and not found and len(ctx.warnings) == warned:
        reg.cache.put(seen, {"ok": True})
    return commit


def note_failures(reg: Registry, ref: str, v: Version, mp, warnings: list) -> list[str]:
    """The version's note: it parses, each record still hashes to its id, and each signed one
    verifies (unsigned ones are warned about: not evidence). Shared by `verify` and `get`."""
    try:
        found = reg.note_records(v.tag.id)
    except MvError as exc:
        return [f"{ref}: note: {exc.cause}"]
    failures = []
    for rec in found:
        if not records.record_is_intact(rec):
            failures.append(f"{ref}: note record {rec.get('id')} ({rec.get('kind')}) does not match its id: tampered")
        elif "signature" in rec and not reg.record_signature(rec).ok:
            failures.append(f"{ref}: note record {rec.get('id')} ({rec.get('kind')}): signature: "
                            f"{reg.record_signature(rec).reason}")
        elif "signature" not in rec and (mp is None or mp.signed):
            warnings.append(f"{ref}: note record {rec.get('id')} ({rec.get('kind')}) is unsigned: not evidence")
    return failures


def _verify_stage(ctx: Context, model: str, stage: str, mp, failures: list, policies: dict) -> None:
    """Every entry of a stage, in order: the tag, its signature, and each claim of its record
    recomputed against the entries before it (the same rules the server hook applies). `policies`
    maps each policy digest the protected branch has held to its rollout stages (None: unreadable)."""
    previous = None
    for seq, oid in ctx.registry.stage_seqs(model, stage):
        previous = stage_entry_failures(ctx, model, stage, seq, oid, previous, mp, failures, policies)


def stage_entry_failures(ctx: Context, model: str, stage: str, seq: int, oid: str, previous: StageEntry | None, mp,
                         failures: list, policies: dict) -> StageEntry | None:
    """One stage entry: its tag, signature, and each claim of its record recomputed against the
    entry before it (`previous`); its traffic judged under the policy its digest names (`policies`:
    digest -> rollout stages, None when unreadable). Appends to `failures`; returns the entry (None
    when unreadable). Shared by `verify` (every entry in turn) and `get` (the entry it deploys)."""
    from gitmv.rules import rollout, stage_record

    reg = ctx.registry
    ref = stage_ref(model, stage, seq)
    try:
        entry = reg.stage_entry(ref, oid)
        target = reg.version(model, entry.record.version)
    except MvError as exc:
        failures.append(f"{ref}: {exc.cause}")
        return None
    if target.tag.id != entry.record.version_tag:
        failures.append(f"{ref}: points at {entry.record.version_tag[:12]}, not at {model} {entry.record.version}")
    sig = reg.signature(entry.tag)
    if not sig.ok and (mp is None or mp.signed):
        failures.append(f"{ref}: signature: {sig.reason}")
    rec = entry.record
    try:
        valid_evals = {r["id"] for r in reg.evals(target, None)}
    except MvError:
        valid_evals = set()  # the unreadable note is reported with its version
    if rec.eval_record is not None and rec.eval_record not in valid_evals:
        failures.append(f"{ref}: eval_record: {rec.eval_record} is not a valid, signed eval bound to "
                        f"{model} {rec.version}'s artifact digests")
    facts = stage_record.StageFacts(
        target_version=rec.version, previous_version=previous.record.version if previous else None,
        previous_seq=previous.seq if previous else seq - 1,
        previous_time=previous.tag.tagger_time if previous else None, tagger_time=entry.tag.tagger_time,
        signer=sig.principal if sig.ok else None, fingerprint=sig.fingerprint, policy_digests=frozenset(policies),
        approval=_recomputed_approval(ctx, target, stage, rec.approval, ref, failures, entry.tag.tagger_time))
    failures.extend(f"{ref}: {m}" for m in stage_record.mismatches(rec, facts))
    rollout_stages = policies.get(rec.policy_digest)
    failures.extend(f"{ref}: {m}" for m in rollout.traffic_mismatches(
        rec, rollout_stage=None if rollout_stages is None else stage in rollout_stages,
        previous=previous.record if previous else None))
    return entry


def _recomputed_approval(ctx: Context, target: Version, stage: str, claimed: dict | None, ref: str,
                         failures: list, at: int):
    """The approval evidence recomputed at the merge a stage record names, which must be on the
    protected branch; UNKNOWN when the record claims none (nothing to recompute)."""
    from gitmv import approvals
    from gitmv.rules import stage_record

    merge = (claimed or {}).get("merge_commit")
    if not merge:
        return stage_record.UNKNOWN
    tip = approvals.protected_tip(ctx.registry)
    if tip is None or not ctx.repo.exists(merge) or not ctx.repo.is_ancestor(merge, tip):
        failures.append(f"{ref}: approval: merge {str(merge)[:12]} is not on the protected branch "
                        f"{ctx.policy.protected_branch}")
        return stage_record.UNKNOWN
    found, _ = approvals.find(ctx.registry, target, stage, tip=merge, at=at)
    return found


def _policy_digests(ctx: Context) -> dict:
    """Digests of every policy the protected branch has held: a stage record's policy_digest must
    name one of them (the policy the decision was made under). Each maps to that policy's rollout
    stages (None when it does not parse here), by which the record's traffic is judged."""
    from gitmv.approvals import protected_tip
    from gitmv.policy import parse_policy

    found: dict = {}
    for _info, raw, digest in policy_history(ctx.repo, protected_tip(ctx.registry) or ctx.head):
        if raw is not None and digest not in found:
            try:
                found[digest] = parse_policy(raw).rollout_stages
            except MvError:
                found[digest] = None
    return found


def _verify_notes_history(repo: Repo, head: str | None) -> list[str]:
    """Append-only, step by step, by the server hook's rule (`rules/notes.py`): along every
    parent -> child edge of the notes history, each record of a changed note must survive
    unchanged. Cost follows the changes, not history × notes."""
    found: dict[str, set[tuple[str, str]]] = {notes_rules.REMOVED: set(), notes_rules.ALTERED: set()}
    for commit in repo.notes_history(head):
        for parent in repo.commit_info(commit)["parents"]:
            for target in repo.changed_note_targets(parent, commit):
                before, after = _safe_records(repo, parent, target), _safe_records(repo, commit, target)
                for rid, what in notes_rules.edge_violations(before, after):
                    found[what].add((target, rid))
    return ([f"notes: record {rid} on {t[:12]} disappeared from {NOTES_REF}" for t, rid in sorted(found[notes_rules.REMOVED])] +
            [f"notes: record {rid} on {t[:12]} was changed in {NOTES_REF}" for t, rid in sorted(found[notes_rules.ALTERED])])


def _safe_records(repo: Repo, commit: str, target: str) -> list[dict]:
    try:
        return notes.read_records(repo, commit, target)
    except MvError:
        return []


def verify_data(model: str, version: str | None = None, path: str | os.PathLike = ".") -> dict:
    """Every object of every pin and DVC-tracked artifact is in the configured DVC remote."""
    from gitmv.ops import data as data_ops

    check_names(model, version or None)
    ctx = open_context(path)
    reg = ctx.registry
    ctx.policy.model(model)
    names = [version] if version else reg.versions(model)
    remotes = data_ops.Remotes(ctx.repo)
    failures, checked = [], 0
    try:
        for name in names:
            v = reg.version(model, name)
            missing, n = data_ops.missing_objects(ctx.repo, data_ops.version_pins(ctx.repo, v), remotes)
            checked += n
            failures += [f"{model} {name}: {data_ops.describe_missing([m])}" for m in missing]
    finally:
        remotes.close()
    return {"ok": not failures, "versions": names, "objects_checked": checked, "failures": failures,
            "warnings": ctx.warnings}
