"""A read view of the registry: versions, stage entries and evidence, from refs and notes.

Reads cost what is asked: ref names alone answer "which versions, which stage is current";
a tag is parsed only when its record is needed. The server hook uses the same view over the
server's refs, with the refs accepted so far in the push laid over them (`overlay`).
"""

from __future__ import annotations

import bisect
import hashlib
import json
from dataclasses import dataclass
from functools import cached_property
from typing import TYPE_CHECKING, TypeVar

from gitmv import records
from gitmv.errors import MvError, NotFoundError, RecordError
from gitmv.git import notes
from gitmv.git.record_signing import verify_record
from gitmv.git.repo import Repo, TagInfo
from gitmv.names import closest, EXP_ROOT, EXPERIMENT_REF_RE, NAME_RE, NAME_RULE, NOTES_REF, STAGE_REF_RE, TAG_ROOT, VERSION_RE, VERSION_REF_RE, experiment_ref, stage_ref, version_ref
from gitmv.git.signing import SignatureCheck, verify_signature
from gitmv.policy import Policy
from gitmv.records import PromotionRecord, VersionRecord
from gitmv.rules import artifacts as artifact_rules, evidence

if TYPE_CHECKING:
    from gitmv import ahead
    from gitmv.cache import RecordCache


# read_ahead: the helper's keys for a tag's signature verdict, a stage entry's record and the note
# on a version tag (the cache's keys are the tag's and the note blob's id); below MIN_AHEAD
# signatures and versions the fork (a few ms) does not pay
SIG_KEY = "sig:"
STAGE_KEY = "stage:"
NOTE_OF = "note-of:"
MIN_AHEAD = 64

# the record a registry tag carries: a version tag's or a stage tag's
RecordT = TypeVar("RecordT", VersionRecord, PromotionRecord)


@dataclass(frozen=True)
class Version:
    tag: TagInfo
    record: VersionRecord

    @property
    def name(self) -> str:
        return self.record.version

    @property
    def digests(self) -> dict[str, str]:
        """path -> sha256; "" for an artifact recorded by URI without one (nothing can bind to it)."""
        return {path: meta.get("sha256", "") for path, meta in self.record.artifacts.items()}


@dataclass(frozen=True)
class StageEntry:
    ref: str
    seq: int
    tag: TagInfo
    record: PromotionRecord

    @property
    def tagger_time(self) -> int:
        return self.tag.tagger_time


class Registry:
    # the protected branch's commit approvals are read at, instead of its tip (`audit` only)
    protected_commit: str | None = None

    def __init__(self, repo: Repo, policy: Policy, allowed_signers: bytes | None,
                 notes_commit: str | None, overlay: dict[str, str] | None = None,
                 hidden: set[str] | None = None, protected_ref: str | None = None,
                 cache: RecordCache | None = None):
        self.repo = repo
        self.policy = policy
        self.allowed_signers = allowed_signers
        self.notes_commit = notes_commit
        self.overlay = dict(overlay or {})
        # refs that exist locally but not yet on the remote (pre-push sees the remote's state)
        self.hidden = set(hidden or ())
        # where approvals are read from; default: the policy's protected branch in this repo
        self.protected_ref = protected_ref
        # parsed records by tag object id (gitmv.cache); None where records must be read afresh
        self.cache = cache
        self._model_refs: dict[str, dict[str, str]] = {}
        self._version_nums: dict[str, list[int]] = {}
        self._versions: dict[str, Version] = {}
        self._sigs: dict[str, SignatureCheck] = {}
        self._ahead: ahead.Ahead | None = None  # a helper reading and checking ahead (read_ahead)
        self._ahead_at: dict[str, int] = {}  # version tag id -> its place in the helper's list
        self._notes: dict[str, list[dict]] = {}
        self._notes_checked = False
        self._note_blobs: dict[str, str | None] = {}  # note blob ids looked up ahead by _prefetch
        self._rec_sigs: dict[str, SignatureCheck] = {}
        self._histories: dict[str, list[tuple[int, set[str]]]] = {}
        self._stage_listings: dict[str, list[tuple[str, str]]] = {}  # by prefix, in a server hook only

    # ------------------------------------------------------------ refs

    def _registry_refs(self, prefix: str) -> list[tuple[str, str]]:
        """Refs under `prefix` in the grammar only: anything else there (a name the hook would
        refuse, made before it was installed or on a host without it) is never read as a version."""
        return [(k, v) for k, v in self.repo.refs_under(prefix)
                if k not in self.hidden and (VERSION_REF_RE.match(k) or STAGE_REF_RE.match(k))]

    def refs_of(self, model: str) -> dict[str, str]:
        if model not in self._model_refs:
            self._model_refs[model] = dict(self._registry_refs(f"{TAG_ROOT}{model}/"))
        merged = dict(self._model_refs[model])
        merged.update({k: v for k, v in self.overlay.items() if k.startswith(f"{TAG_ROOT}{model}/")})
        return merged

    def before_stage_overlay(self) -> "Registry":
        """The same view with the stage tags laid over it removed (versions kept): the stages as
        they are live on the server before the push."""
        overlay = {ref: oid for ref, oid in self.overlay.items() if not STAGE_REF_RE.match(ref)}
        return Registry(self.repo, self.policy, self.allowed_signers, self.notes_commit, overlay=overlay,
                        hidden=self.hidden, protected_ref=self.protected_ref, cache=self.cache)

    def add_overlay(self, ref: str, oid: str) -> None:
        self.overlay[ref] = oid
        self._versions.pop(oid, None)
        m = VERSION_REF_RE.match(ref)
        nums = self._version_nums.get(m.group(1)) if m else None
        if m and nums is not None:  # kept, not listed again: a push of N versions stays linear in N
            n = int(m.group(2))
            i = bisect.bisect_left(nums, n)
            if i == len(nums) or nums[i] != n:
                nums.insert(i, n)

    @cached_property
    def model_names(self) -> list[str]:
        names = set(self.policy.models) if self.policy else set()
        listed: dict[str, dict[str, str]] = {}
        for ref, oid in self._registry_refs(TAG_ROOT):
            listed.setdefault(ref.split("/", 4)[3], {})[ref] = oid
        for model, refs in listed.items():
            names.add(model)
            self._model_refs.setdefault(model, refs)
        return sorted(names)

    def versions(self, model: str) -> list[str]:
        return [f"v{n}" for n in self.version_numbers(model)]

    def version_numbers(self, model: str) -> list[int]:
        """The model's version numbers, ascending (do not modify the list); listed once per view and
        kept current by add_overlay."""
        if model not in self._version_nums:
            nums = []
            for ref in self.refs_of(model):
                name = ref.rsplit("/", 1)[1]
                if name[:1] == "v" and ref.count("/") == 4 and VERSION_RE.match(name):
                    nums.append(int(name[1:]))
            self._version_nums[model] = sorted(nums)
        return self._version_nums[model]

    def latest(self, model: str) -> str | None:
        names = self.versions(model)
        return names[-1] if names else None

    def _direct(self, ref: str) -> str | None:
        if ref in self.overlay:
            return self.overlay[ref]
        if ref in self.hidden:
            return None
        if ref.count("/") >= 4:
            model = ref.split("/")[3]
            if model in self._model_refs:
                return self._model_refs[model].get(ref)
        return self.repo.ref(ref)

    def version_tag_id(self, model: str, version: str) -> str | None:
        """One ref lookup: the cost does not grow with the number of versions."""
        return self._direct(version_ref(model, version))

    def stage_seqs(self, model: str, stage: str) -> list[tuple[int, str]]:
        """Entries of one stage only (a prefix listing of that stage's refs)."""
        prefix = f"{TAG_ROOT}{model}/{stage}/"
        if model in self._model_refs:
            refs = {k: v for k, v in self._model_refs[model].items() if k.startswith(prefix)}
        elif self.repo.hook_mode:
            # refs cannot change while a hook checks (git refuses ref updates in the quarantine):
            # one listing per stage serves the whole push (the gate reads a stage several times)
            if prefix not in self._stage_listings:
                self._stage_listings[prefix] = self._registry_refs(prefix)
            refs = dict(self._stage_listings[prefix])
        else:
            refs = dict(self._registry_refs(prefix))
        refs.update({k: v for k, v in self.overlay.items() if k.startswith(prefix)})
        out = []
        for ref, oid in refs.items():
            m = STAGE_REF_RE.match(ref)
            if m and m.group(2) == stage:
                out.append((int(m.group(3)), oid))
        return sorted(out)

    def stages_present(self, model: str) -> list[str]:
        found = {m.group(2) for ref in self.refs_of(model) if (m := STAGE_REF_RE.match(ref))}
        order = list(self.policy.stages) if self.policy else []
        return [s for s in order if s in found] + sorted(found - set(order))

    # ------------------------------------------------------------ objects

    def version(self, model: str, version: str) -> Version:
        if not NAME_RE.match(model):
            raise NotFoundError(f"'{model}' is not a valid model name", f"model names are {NAME_RULE}")
        records.version_number(version)
        oid = self.version_tag_id(model, version)
        if oid is None:
            models = set(self.model_names) | set(self.policy.models)
            if model not in models:  # a typo of the model, not a missing version: say which was meant
                guess = closest(model, models)
                raise NotFoundError(f"unknown model '{model}': " + (f"did you mean '{guess}'? " if guess else "")
                                    + f"(known: {', '.join(sorted(models)) or 'none'})",
                                    f"use '{guess}'" if guess else "see 'git mv-promote show'")
            known = ", ".join(self.versions(model)[-5:]) or "none"
            raise NotFoundError(f"{model} {version} is not registered (latest: {known})",
                                f"see 'git mv-promote show {model}'")
        return self.version_by_tag(oid, version_ref(model, version))

    def experiment(self, model: str, exp_id: str) -> Version:
        ref = experiment_ref(model, exp_id)
        oid = self.repo.ref(ref) if NAME_RE.match(exp_id) else None
        if oid is None:
            raise NotFoundError(f"{model} has no experiment '{exp_id}'", f"see 'git mv-promote show {model} --experiments'")
        return self.version_by_tag(oid, ref)

    def experiments(self, model: str) -> list[tuple[str, str]]:
        return [(ref.rsplit("/", 1)[1], oid) for ref, oid in self.repo.refs_under(f"{EXP_ROOT}{model}/")]

    def resolve(self, model: str, name: str) -> Version:
        """A version (v<N>) or, for any other name, an experiment of the model."""
        if VERSION_RE.match(name):
            return self.version(model, name)
        return self.experiment(model, name)

    def _parsed(self, oid: str, ref: str, cls: type[RecordT]) -> tuple[TagInfo, RecordT]:
        """(tag, record) from the record cache, or by reading the tag object and parsing its
        message, which must be canonical. The cache only ever holds records that passed that."""
        what = f"tag {ref}"
        self._take_ahead(oid, cls is VersionRecord)
        hit = self.cache.get(oid) if self.cache is not None else None
        if hit is not None and isinstance(hit.get("record"), dict):
            cached = TagInfo(id=oid, name=ref, target=hit["target"], target_type=hit["target_type"], message="",
                             raw=b"", tagger_time=hit["tagger_time"])
            try:
                return cached, cls.from_checked(hit["record"])
            except TypeError:  # an entry of another shape (an older format): check it as read
                return cached, cls.from_dict(hit["record"], what)
        tag = self.repo.tag(oid, ref)
        if tag is None:
            raise RecordError(f"{ref} is not an annotated tag", "registry refs must be annotated tags")
        record: RecordT = records.parse_canonical_message(records.tag_message_bytes(tag.raw), cls, what)
        if self.cache is not None:
            self.cache.put(oid, {"record": record.fields_dict(), "target": tag.target, "target_type": tag.target_type,
                                 "tagger_time": tag.tagger_time})
        return tag, record

    def version_by_tag(self, oid: str, ref: str) -> Version:
        """The version tag `oid` read as `ref`: its record must name that very ref (a tag object
        read before under another ref is checked again under this one)."""
        found = self._versions.get(oid)
        if found is None:
            found = Version(*self._parsed(oid, ref, VersionRecord))
        record = found.record
        m = VERSION_REF_RE.match(ref)
        if m and (record.kind, record.model, record.version) != ("version", m.group(1), f"v{m.group(2)}"):
            raise RecordError(f"{ref} carries the record of {record.model} {record.kind} {record.version}")
        e = EXPERIMENT_REF_RE.match(ref)
        if e and (record.kind, record.model, record.version) != ("experiment", e.group(1), e.group(2)):
            raise RecordError(f"{ref} carries the record of {record.model} {record.kind} {record.version}")
        if found.tag.target != record.commit:
            raise RecordError(f"{ref} points at {found.tag.target[:12]} but its record names commit {record.commit[:12]}")
        self._versions[oid] = found
        return found

    def prefetch_versions(self, model: str) -> None:
        """Read the cached records (and tag signature verdicts) of all of a model's versions in a
        few queries rather than one per version: listings read them all."""
        self._prefetch([oid for ref, oid in self.refs_of(model).items() if VERSION_REF_RE.match(ref)])

    def _prefetch(self, oids: list[str], notes_too: bool = True) -> None:
        """The cache entries of tags `oids` and their signature verdicts, in a few queries; with
        `notes_too` (versions: stage tags carry no notes worth reading), their notes' entries."""
        if self.cache is None or self.cache.fresh():
            return  # no cache, or nothing in it but what this process put
        keys = oids + [k for k in (self.verdict_key("tag", oid) for oid in oids) if k]
        if notes_too and self.notes_commit is not None:
            for oid in oids:  # the notes too: their entries are keyed by the note blob's id
                if oid not in self._notes and oid not in self._note_blobs:
                    blob = self.repo.note_blob_id(oid, self.notes_commit)
                    self._note_blobs[oid] = blob
                    if blob is not None:
                        keys.append(notes.NOTE_KEY + blob)
        self.cache.prefetch(keys)

    def version_summaries(self, model: str) -> list[dict]:
        """One row per version for listings, from validated (canonical) records and notes: a
        listing never shows what the parser would reject. Each version's record and note are read
        together, in order (the order read_ahead works in)."""
        rows = []
        self.prefetch_versions(model)
        for name in self.versions(model):
            v = self.version(model, name)
            rows.append({"version": name, "tag": v.tag.id, "commit": v.record.commit,
                         "created_at": v.record.created_at, "created_by": v.record.created_by,
                         "parent": v.record.parent, "message": v.record.message,
                         "deprecated": self.is_deprecated(v)})
        return rows

    def is_deprecated(self, version: Version) -> bool:
        return self.deprecation(version) is not None

    def stage_entry(self, ref: str, oid: str) -> StageEntry:
        tag, record = self._parsed(oid, ref, PromotionRecord)
        m = STAGE_REF_RE.match(ref)
        if m and (record.model, record.stage, record.seq) != (m.group(1), m.group(2), int(m.group(3))):
            raise RecordError(f"{ref} carries the record of {record.model} {record.stage} #{record.seq}")
        if tag.target != record.version_tag:
            raise RecordError(f"{ref} points at {tag.target[:12]} but its record names {record.version_tag[:12]}")
        return StageEntry(ref, record.seq, tag, record)

    def stage_history(self, model: str, stage: str) -> list[StageEntry]:
        seqs = self.stage_seqs(model, stage)
        self._prefetch([oid for _, oid in seqs], notes_too=False)
        return [self.stage_entry(stage_ref(model, stage, seq), oid) for seq, oid in seqs]

    def current(self, model: str, stage: str) -> StageEntry | None:
        seqs = self.stage_seqs(model, stage)
        if not seqs:
            return None
        seq, oid = seqs[-1]
        return self.stage_entry(stage_ref(model, stage, seq), oid)

    def current_version_name(self, model: str, stage: str) -> str | None:
        entry = self.current(model, stage)
        return entry.record.version if entry else None

    def signature(self, tag: TagInfo) -> SignatureCheck:
        if tag.id not in self._sigs and not self._cached_verdict(tag.id):
            text = self._ahead.ready(SIG_KEY + tag.id) if self._ahead is not None else None
            if text is not None:
                check = SignatureCheck(**json.loads(text))
            else:
                raw = tag.raw or self.repo.read_raw(tag.id)  # a cached tag carries no raw bytes
                check = verify_signature(raw, self.allowed_signers)
            self._sigs[tag.id] = check
            key = self.verdict_key("tag", tag.id)
            if key and self.cache is not None:
                if text is not None:
                    self.cache.adopt(key, text)  # the helper encodes it as the cache does
                else:
                    self.cache.put(key, check.to_dict())
        return self._sigs[tag.id]

    def _cached_verdict(self, oid: str) -> bool:
        """Take tag `oid`'s signature verdict from the record cache into `_sigs`; False when absent."""
        key = self.verdict_key("tag", oid)
        hit = self.cache.get(key) if key and self.cache is not None else None
        if hit is not None:
            self._sigs[oid] = SignatureCheck(**hit)
        return hit is not None

    def read_ahead(self, model: str, full: bool = False) -> None:
        """The caller will read every version of `model` in order, its record and note (and then,
        when `full`, every stage entry, and every version's and stage entry's tag signature), with
        much else to do in between: where it pays and is allowed, a helper process (gitmv.ahead)
        checks the signatures, reads the stage entries and reads versions from the last back
        meanwhile, into verdicts and record-cache entries this registry then takes as its own.
        What is cached or known already is left out (in a record cache this process created,
        nothing is: no need to look); a helper started before is ended."""
        if self._ahead is not None:
            self._ahead.close()
            self._ahead = None
        cache = self.cache
        fresh = cache is not None and cache.fresh()
        self.prefetch_versions(model)  # (reads nothing from a fresh cache)
        versions = [(oid, version_ref(model, v)) for v in self.versions(model)
                    if (oid := self.version_tag_id(model, v)) and oid not in self._versions]
        sigs: list[str] = []
        stages: list[tuple[str, str]] = []  # (stage tag id, ref) of the entries not cached
        if full:
            stage_tags = [(oid, stage_ref(model, stage, seq)) for stage in self.stages_present(model)
                          for seq, oid in self.stage_seqs(model, stage)]
            self._prefetch([oid for oid, _ in stage_tags], notes_too=False)
            if cache is not None:
                stages = [(oid, ref) for oid, ref in stage_tags if fresh or not cache.known(oid)]
            if self.allowed_signers is not None:
                sigs = [oid for oid in [*(oid for oid, _ in versions), *(oid for oid, _ in stage_tags)]
                        if oid not in self._sigs and (fresh or not self._cached_verdict(oid))]
        cold: list[tuple[str, str, list[str]]] = []  # (version tag id, ref, keys the helper is to hand over)
        if cache is not None:
            for oid, ref in versions:
                keys = [oid] if fresh or not cache.known(oid) else []
                if self.notes_commit is not None and oid not in self._notes:
                    blob = self._note_blobs.get(oid)
                    if fresh or blob and not cache.known(notes.NOTE_KEY + blob):
                        keys.append(NOTE_OF + oid)
                if keys:
                    cold.append((oid, ref, keys))
        if len(sigs) + len(stages) + len(cold) < MIN_AHEAD:
            return
        from gitmv import ahead  # here: the server hook, which never reads ahead, need not import it
        self._ahead_at = {oid: i for i, (oid, _, _) in enumerate(cold)}
        self._ahead = ahead.start(lambda emit, reader_at: self._work_ahead(sigs, stages, cold, emit, reader_at))

    def _take_ahead(self, oid: str, version: bool) -> None:
        """Before reading tag `oid` here (a version's, or a stage entry's): take the helper's
        cache entry for it if it has come, else, for a version, tell the helper this process
        reads it (the helper stops before it)."""
        if self._ahead is None:
            return
        if not version:
            handed = self._ahead.ready(STAGE_KEY + oid)
        elif oid in self._ahead_at:
            handed = self._ahead.ready(oid)
            if handed is None:
                self._ahead.reach(self._ahead_at[oid])
        else:
            return
        if handed is not None and self.cache is not None and not self.cache.known(oid):
            self.cache.adopt(oid, handed)

    def _work_ahead(self, sigs: list[str], stages: list[tuple[str, str]], cold: list[tuple[str, str, list[str]]],
                    emit: ahead.Emit, reader_at: ahead.ReaderAt) -> None:
        """The helper's side of read_ahead (in the forked child): the same reads and checks this
        process would make, a record or note handed over only when it passed every one of them
        (what is not handed over, the parent reads and reports itself). The signatures and stage
        entries first (asked last, they are then ready), then the versions from the last back to
        where the parent has got."""
        from gitmv.cache import encode  # here: the server hook has no record cache and need not import it

        for oid in sigs:
            emit(SIG_KEY + oid, encode(verify_signature(self.repo.read_raw(oid), self.allowed_signers).to_dict()))
        cache = self.cache
        if cache is None:
            return
        cache.detach()
        for oid, ref in stages:  # an entry is handed over only when it passed every check
            try:
                self.stage_entry(ref, oid)
                emit(STAGE_KEY + oid, cache.text(oid) or "")
            except MvError:
                pass  # the parent reads this one itself, and reports what is wrong with it
        for i in range(len(cold) - 1, -1, -1):
            if reader_at() >= i:
                return
            oid, ref, keys = cold[i]
            try:
                self.version_by_tag(oid, ref)
                if oid in keys:
                    emit(oid, cache.text(oid) or "")
                note_key = self._note_key(oid)
                if note_key is not None and NOTE_OF + oid in keys:
                    self._cached_note(note_key, oid)
                    # with the key it is cached under, which the parent checks is its own
                    emit(NOTE_OF + oid, f"{note_key}\t{cache.text(note_key)}")
            except MvError:
                pass  # the parent reads this one itself, and reports what is wrong with it

    def verdict_key(self, kind: str, ident: str) -> str | None:
        """Where a verdict on signed objects may be cached (a tag's signature here, a version or
        note passed whole in `verify`): keyed by the object and the exact allowed signers, so a
        changed signers file re-checks everything. None without a record cache (the hook has none)
        or when a key has a validity window (the verdict then depends on the clock)."""
        if self.cache is None or self.allowed_signers is None or b"valid-" in self.allowed_signers:
            return None
        return f"sig:{kind}:{ident}:{self._signers_digest}"

    @cached_property
    def _signers_digest(self) -> str:
        return hashlib.sha256(self.allowed_signers or b"").hexdigest()

    # ------------------------------------------------------------ evidence

    def note_records(self, target: str) -> list[dict]:
        if not self._notes_checked and self.notes_commit is not None and self.notes_commit == self.repo.ref(NOTES_REF):
            self.repo.check_notes_commit(NOTES_REF)  # a corrupted notes ref is a clear error, once
        self._notes_checked = True
        if target not in self._notes:
            self._notes[target] = self._read_note(target)
        return self._notes[target]

    def _read_note(self, target: str) -> list[dict]:
        """The note's records, validated (canonical, well-shaped). With a record cache, keyed by the
        note blob's object id: the same id is the same bytes, which always parse to the same
        records, and only bytes that passed the checks are ever cached; a warm read never reads
        the blob."""
        if self.cache is None:
            return notes.read_records(self.repo, self.notes_commit, target)
        handed = self._ahead.ready(NOTE_OF + target) if self._ahead is not None else None
        key = self._note_key(target)
        if key is None:
            return []
        if handed is not None and not self.cache.known(key):
            handed_key, _, text = handed.partition("\t")
            if handed_key == key:  # the same note blob (the same notes commit): the same records
                self.cache.adopt(key, text)
        return self._cached_note(key, target)

    def _note_key(self, target: str) -> str | None:
        """The record-cache key of the note on `target` (its blob's id); None when it has none."""
        if target in self._note_blobs:
            blob = self._note_blobs.pop(target)  # looked up ahead by _prefetch, in the same notes commit
        else:
            blob = self.repo.note_blob_id(target, self.notes_commit)
        return None if blob is None else notes.NOTE_KEY + blob

    def _cached_note(self, key: str, target: str) -> list[dict]:
        assert self.cache is not None
        hit = self.cache.get(key)
        if hit is not None and isinstance(hit.get("records"), list):
            return hit["records"]
        found = records.parse_note(self.repo.blob_data(key[len(notes.NOTE_KEY):]), f"note on {target[:12]}")
        self.cache.put(key, {"records": found})
        return found

    def records_of(self, target: str, kind: str) -> list[dict]:
        return [r for r in self.note_records(target) if r.get("kind") == kind]

    def record_signature(self, rec: dict) -> SignatureCheck:
        """Who signed an evidence record; ok only when the signature verifies against the allowed
        signers and its principal is the record's `by` (a typed name is never identity)."""
        key = f"{rec.get('id')}:{hashlib.sha256(records.canonical_json(rec)).hexdigest()}"
        if key not in self._rec_sigs:
            sig = rec.get("signature")
            cache_key = self.verdict_key("record", key) if isinstance(sig, str) and sig else None
            hit = self.cache.get(cache_key) if cache_key and self.cache is not None else None
            if hit is not None:
                check = SignatureCheck(**hit)
            else:
                check = verify_record(rec, self.allowed_signers)
                if cache_key and self.cache is not None:
                    self.cache.put(cache_key, check.to_dict())
            self._rec_sigs[key] = check
        return self._rec_sigs[key]

    def counts_as_evidence(self, rec: dict, model: str) -> bool:
        """Intact, and signed by an allowed signer unless the model is in the research tier."""
        if not records.record_is_intact(rec):
            return False
        mp = self.policy.models.get(model) if self.policy else None
        if mp is not None and not mp.signed:
            return True
        return self.record_signature(rec).ok

    def evals(self, version: Version, suite: str | None) -> list[dict]:
        """Valid eval records on `suite` bound to exactly this version's artifact digests, in note order
        (an eval that is tampered, has no metrics or a non-finite one is no evidence)."""
        out: list[dict] = []
        if not artifact_rules.bindable(version.digests):
            return out  # an artifact recorded by URI without a sha256: no eval measured known bytes
        for rec in self.records_of(version.tag.id, "eval"):
            if suite is not None and rec.get("suite") != suite:
                continue
            if rec.get("artifacts") != version.digests or not evidence.valid_eval(rec):
                continue
            if (rec.get("model"), rec.get("version")) != (version.record.model, version.name):
                continue  # an eval of another version, copied here, is not evidence for this one
            if not self.counts_as_evidence(rec, version.record.model):
                continue
            mp = self.policy.models.get(version.record.model) if self.policy else None
            if mp is not None and mp.eval_signers and self.record_signature(rec).principal not in mp.eval_signers:
                continue
            out.append(rec)
        return out

    def latest_eval(self, version: Version, suite: str | None) -> dict | None:
        """The eval introduced last in the notes history (first-parent order), never the one with
        the latest writer-chosen `at`. The history is read only when there is a choice to make."""
        found = self.evals(version, suite)
        if len(found) <= 1:
            return found[0] if found else None
        return evidence.newest_eval(self._note_history(version.tag.id), found, suite, version.digests)

    def note_positions(self, target: str) -> dict[str, int]:
        """record id -> position of the notes commit that introduced it (higher: later), so that
        "newest" never depends on a writer-chosen `at` (rules.evidence)."""
        return evidence.positions(self._note_history(target))

    def _note_history(self, target: str) -> list[tuple[int, set[str]]]:
        """The first-parent history of the note on `target`, records a merge introduced together
        ordered by where they were first written (rules.evidence.by_origin; read only when a
        commit introduced several)."""
        if target not in self._histories:
            history = note_history(self.repo, self.notes_commit, target) if self.notes_commit else []
            if any(len(ids) > 1 for _, ids in history):
                history = evidence.by_origin(history, note_origins(self.repo, self.notes_commit or "", target))
            self._histories[target] = history
        return self._histories[target]

    def deprecation(self, version: Version) -> dict | None:
        """The newest deprecation that counts as evidence (no byte-level prefilter: the parser decides)."""
        found = [r for r in self.records_of(version.tag.id, "deprecation")
                 if self.counts_as_evidence(r, version.record.model)]
        return found[-1] if found else None


def note_origins(repo: Repo, notes_commit: str, target: str) -> dict[str, int]:
    """record id -> index of the first commit holding it in a topological walk (parents first)
    of every notes commit that changed the note on `target`, whatever parent it came through."""
    proc = repo.git("rev-list", "--topo-order", "--reverse", "--full-history", notes_commit, "--",
                    *notes.fanout_paths(target))
    out: dict[str, int] = {}
    for index, commit in enumerate(proc.stdout.decode().split()):
        for rid in notes.ids_at(repo, commit, target):
            out.setdefault(rid, index)
    return out


def note_history(repo: Repo, notes_commit: str, target: str) -> list[tuple[int, set[str]]]:
    """(position, record ids introduced) for each notes commit on the first-parent chain from
    `notes_commit` that changed the note on `target`, newest with the highest position. Cost
    follows the commits touching that one note: a path-limited rev-list over its possible fan-out
    paths. "The newest eval" is decided by these positions (rules.evidence)."""
    proc = repo.git("rev-list", "--first-parent", notes_commit, "--", *notes.fanout_paths(target))
    rows = proc.stdout.decode().split()
    out = []
    for index, commit in enumerate(rows):
        # against the commit's own first parent: the parent `--parents` would print is rewritten
        # by path limiting, and for a merge whose first parent lacks the note it is the other
        # parent (then nothing would look introduced, and the merge could re-order the note)
        parents = repo.commit_info(commit)["parents"]
        before = notes.ids_at(repo, parents[0], target) if parents else set()
        out.append((len(rows) - index, notes.ids_at(repo, commit, target) - before))
    return out
