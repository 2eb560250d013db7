"""Records and their canonical TOML form (the on-disk contract, `schema = 1`).

Three places hold records:
- a version tag's message: subject line, blank line, the TOML `VersionRecord`;
- a stage tag's message: subject line, blank line, the TOML `PromotionRecord`;
- a note on a version tag object: `schema = 1` plus `[[record]]` tables (`NoteRecord`).

Canonical means: keys sorted at every level, `None` never written, times as RFC 3339 UTC strings
(so that the JSON used for ids and the TOML agree exactly). A note record's `id` is
`sha256:` of the canonical JSON of the record without its id, so it never depends on how a TOML
writer formats numbers or spaces; a record whose content no longer hashes to its id is tampered.
"""

from __future__ import annotations

import dataclasses
import hashlib
import itertools
import json
import re
import tomllib
from dataclasses import dataclass, field
from datetime import date, datetime, time, timezone
from typing import Any, ClassVar, Iterable, Self, TypeGuard, TypeVar

from gitmv import canonical, names
from gitmv.errors import RecordError
from gitmv.schema import ANYTHING, BOOLEAN, FINITE, INTEGER, STRING, Array, Errors, Field, Invalid, Map, Problem, Table, Value, \
    non_empty, validate

SCHEMA = 1
# Stage records that carry `traffic` (those of a rollout stage) are schema 2; every other record
# stays schema 1, byte for byte, so readers that know only schema 1 keep reading them and refuse
# (rather than misread) a share they do not understand.
ROLLOUT_SCHEMA = 2
NOTE_KINDS = ("eval", "approval", "deprecation", "reproduction", "observation", "replay", "attestation")
# kinds that live only in refs/notes/mv-promote-attestations (names.ATTESTATIONS_REF), never with the evidence
ATTESTATION_KINDS = ("attestation",)
PROMOTION_KINDS = ("promote", "rollback", "rollout")
SIG_MARKERS = (b"-----BEGIN SSH SIGNATURE-----", b"-----BEGIN PGP SIGNATURE-----")
MAX_NOTE_BYTES = 4 * 1024 * 1024

HEX64_RE = re.compile(r"^[0-9a-f]{64}$")


def utc_now() -> str:
    return datetime.now(timezone.utc).replace(microsecond=0).isoformat().replace("+00:00", "Z")


def parse_time(text: str) -> datetime:
    """Parse RFC 3339 (also `2026-11-02T10:00Z` and a bare date) into an aware UTC datetime."""
    t = text.strip()
    if re.fullmatch(r"\d{4}-\d{2}-\d{2}", t):
        t += "T00:00:00Z"
    t = t.replace("z", "Z")
    if re.fullmatch(r".*T\d{2}:\d{2}Z", t):
        t = t[:-1] + ":00Z"
    if t.endswith("Z"):
        t = t[:-1] + "+00:00"
    try:
        value = datetime.fromisoformat(t)
    except ValueError as exc:
        raise RecordError(f"not a time: {text!r}", "use RFC 3339, e.g. 2026-11-02T10:00:00Z") from exc
    if value.tzinfo is None:
        value = value.replace(tzinfo=timezone.utc)
    return value.astimezone(timezone.utc)


def version_number(version: str) -> int:
    try:
        return names.version_number(version)
    except ValueError:
        raise RecordError(f"not a version name: {version!r}", "versions are v1, v2, …") from None


def _clean(value: Any) -> Any:
    """Drop None, sort keys: the canonical shape shared by TOML and JSON."""
    if isinstance(value, dict):
        return {str(k): _clean(v) for k, v in sorted(value.items()) if v is not None}
    if isinstance(value, (list, tuple)):
        return [_clean(v) for v in value]
    return value


def canonical_json(data: dict[str, Any]) -> bytes:
    return json.dumps(_clean(data), sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def record_id(data: dict[str, Any]) -> str:
    """The id: sha256 of the canonical JSON without the id and without the signature (which is
    made over the record with its id, so it cannot be part of it)."""
    body = {k: v for k, v in data.items() if k not in ("id", "signature")}
    return "sha256:" + hashlib.sha256(canonical_json(body)).hexdigest()


# Signed payloads start with this line, so a record signature can never be taken for the
# signature of anything else made with the same key and namespace (a git commit or tag).
RECORD_SIG_DOMAIN = b"git-mv-promote evidence record v1\n"


def record_payload(rec: dict[str, Any]) -> bytes:
    """What a record's `signature` signs: the domain line and the canonical JSON of the record
    (with its id and `by`) without the signature."""
    return RECORD_SIG_DOMAIN + canonical_json({k: v for k, v in rec.items() if k != "signature"})


def to_toml(data: dict[str, Any]) -> str:
    import tomli_w  # only when a record is rendered (written, or read back to check it is canonical)

    return tomli_w.dumps(_clean(data))


def _loads(text: str, what: str) -> dict[str, Any]:
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise RecordError(f"{what} is not valid TOML: {exc}") from exc
    where = _date_or_time(data)  # (the fast reader declines these texts: only this path sees them)
    if where is not None:
        raise RecordError(f"{what} holds a TOML date or time at {where}: records hold times as RFC 3339 "
                          "strings, and a record id is computed over JSON, which has no date type",
                          "evidence is written only by git mv-promote; do not edit notes or tags by hand")
    return data


def _date_or_time(data: dict[str, Any]) -> str | None:
    """The key path of a TOML date, time or date-time in `data`, if any (walked without
    recursion: a document may nest past the stack)."""
    todo: list[tuple[str, Any]] = [("", data)]
    while todo:
        path, value = todo.pop()
        if isinstance(value, (date, time)):  # a datetime is a date
            return path
        if isinstance(value, (dict, list)):
            items = value.items() if isinstance(value, dict) else enumerate(value)
            todo.extend((f"{path}.{key}" if path else str(key), item) for key, item in items)
    return None


def _check_schema(data: dict[str, Any], what: str, schemas: tuple[int, ...] = (SCHEMA,)) -> None:
    schema = data.get("schema")
    if schema not in schemas or isinstance(schema, bool):
        reads = " or ".join(str(s) for s in schemas)
        raise RecordError(
            f"{what} has schema {schema!r}; this git-mv-promote reads schema {reads}",
            "upgrade git-mv-promote" if isinstance(schema, int) and schema > max(schemas) else None,
        )


def _hex64(value: str) -> str | None:
    return None if HEX64_RE.match(value) else "must be a sha256 digest (64 lower-case hex digits)"


ANY_TABLE = Table({}, open=True)  # a table whose inside is not this reader's business
_LIST = Array(ANYTHING)

# The closed shapes of the two tag records: a key this reader does not know is a newer writer (a
# schema change) or an edit, never something to ignore. Every dataclass field is here, required
# exactly when the dataclass has no default (tests/test_records.py holds the two together).
def _required(**shapes: Value | Table | Array | Map) -> dict[str, Field]:
    return {key: Field(shape, required=True) for key, shape in shapes.items()}


def _optional(**shapes: Value | Table | Array | Map) -> dict[str, Field]:
    return {key: Field(shape) for key, shape in shapes.items()}


# Version records have two schemas: 1, every artifact a file stored with the registry (Git or DVC)
# and held to its sha256; 2, the same plus artifacts recorded by URI (GTO's virtual artifacts: `uri`,
# the digests DVC or GTO knew, never fetched by this tool). A record is schema 2 exactly when it holds
# a URI artifact, so every record without one keeps its schema-1 bytes and a reader too old for URIs
# refuses a schema-2 record ("upgrade") instead of taking a URI for a path.
VERSION_SCHEMAS = (1, 2)
URI_SCHEMA = 2
HEX32_RE = re.compile(r"^[0-9a-f]{32}$")


def _hex32(value: str) -> str | None:
    return None if HEX32_RE.match(value) else "must be an md5 digest (32 lower-case hex digits)"


def is_uri_artifact(meta: dict[str, Any]) -> bool:
    """An artifact recorded by URI (schema 2): not a file this tool can fetch offline."""
    return "uri" in meta


def _artifact_entry(entry: dict[str, Any]) -> Problem | None:
    """A stored artifact has its sha256 and size; a URI artifact has whichever digests were known."""
    if is_uri_artifact(entry):
        return None
    for key in ("sha256", "size"):
        if key not in entry:
            return Problem("is required", at=(key,))
    return None


def _uri_artifacts(record: dict[str, Any]) -> Problem | None:
    uris = {path: meta for path, meta in record["artifacts"].items() if is_uri_artifact(meta)}
    for path, meta in uris.items():
        if meta["uri"] != path:
            return Problem(f"must be the artifact's key {path!r}, got {meta['uri']!r}", at=("artifacts", path, "uri"))
    wanted = URI_SCHEMA if uris else 1
    if record["schema"] != wanted:
        why = "it records an artifact by URI" if uris else "it records no artifact by URI"
        return Problem(f"must be {wanted}: {why}", at=("schema",))
    return None


VERSION_RECORD = Table({
    "kind": Field(Value("string", one_of=("version", "experiment")), required=True),
    **_required(schema=INTEGER, model=STRING, version=STRING, commit=STRING, created_at=STRING, created_by=STRING,
                # artifact path (or, schema 2, URI) -> digests and size; open, as it always was
                artifacts=Map(Table({"sha256": Field(Value("string", checks=(_hex64,))),
                                     "size": Field(INTEGER),
                                     "uri": Field(Value("string", checks=(non_empty,))),
                                     "md5": Field(Value("string", checks=(_hex32,)))},
                                    open=True, checks=(_artifact_entry,))),
                tier=STRING, policy_digest=STRING),
    **_optional(message=STRING, parent=STRING, run_id=STRING, seeds=_LIST, signer=STRING,
                data=_LIST,  # DVC pins
                params=ANY_TABLE, lockfile=ANY_TABLE, model_card=ANY_TABLE, experiment=ANY_TABLE),
}, checks=(_uri_artifacts,))

PROMOTION_RECORD = Table({
    "kind": Field(Value("string", one_of=PROMOTION_KINDS), required=True),
    **_required(schema=INTEGER, model=STRING, version=STRING, version_tag=STRING, stage=STRING, seq=INTEGER, at=STRING,
                by=STRING, policy_digest=STRING),
    **_optional(previous=STRING, eval_record=STRING, gate=ANY_TABLE, approval=ANY_TABLE, reason=STRING, signer=STRING,
                forced=ANY_TABLE, traffic=INTEGER),
})


# The share of a rollout stage a stage record may carry (policy's gate.soak.traffic too). 0% would
# be a version in a stage that serves nothing: take it out by promoting or rolling back another
# version instead. 100% is the whole stage.
MIN_TRAFFIC = 1
MAX_TRAFFIC = 100


def traffic_problem(value: int) -> str | None:
    """Why `value` is not a valid share, or None."""
    if MIN_TRAFFIC <= value <= MAX_TRAFFIC:
        return None
    return f"must be a whole percent from {MIN_TRAFFIC} to {MAX_TRAFFIC}, got {value}"


def promotion_schema(traffic: int | None) -> int:
    """The schema a stage record is written in: 2 exactly when it carries a traffic share."""
    return SCHEMA if traffic is None else ROLLOUT_SCHEMA


# ---------------------------------------------------------------- tag messages

def split_signature(raw_message: bytes) -> tuple[bytes, bytes]:
    """Split a tag message into (message, signature block); git puts the signature last."""
    cut = -1
    for marker in SIG_MARKERS:
        pos = raw_message.rfind(marker)
        if pos > cut and (pos == 0 or raw_message[pos - 1:pos] == b"\n"):
            cut = pos
    if cut < 0:
        return raw_message, b""
    return raw_message[:cut], raw_message[cut:]


def tag_message(subject: str, data: dict[str, Any]) -> str:
    return f"{subject}\n\n{to_toml(data)}"


def tag_message_bytes(raw_tag: bytes) -> bytes:
    """The message of a raw tag object without its signature block."""
    _, sep, message = raw_tag.partition(b"\n\n")
    return split_signature(message)[0] if sep else b""


R = TypeVar("R", "VersionRecord", "PromotionRecord")


def parse_canonical_message(message: bytes, cls: type[R], what: str) -> R:
    """A version or stage record from its tag message, accepted only in canonical form:
    `render(parse(bytes)) == bytes`, so no reader can see a different record than the parser."""
    try:
        text = message.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise RecordError(f"{what} is not UTF-8 text") from exc
    head, sep, body = text.partition("\n\n")
    data = canonical.loads(body) if sep else None
    if data is not None:
        # the body is the canonical rendering of `data` (gitmv.canonical); the message is then
        # canonical when the record holds exactly `data` and its subject is `head`
        record = cls.from_dict(data, what)
        if head == record.subject() and canonical.same(_fields(record), data):
            return record
    record = cls.from_message(text, what)
    if record.to_message().encode() != message:
        raise RecordError(f"{what} is not in canonical form (its bytes differ from the record they parse to)",
                          "registry records are written only by git mv-promote; re-create the tag with it")
    return record


def _as_dict(record: Any) -> dict[str, Any]:
    """_clean(dataclasses.asdict(record)) for a record, whose fields hold no dataclass: _clean
    copies every dict and list already, so asdict's deep copy before it is only cost."""
    return _clean({f.name: getattr(record, f.name) for f in dataclasses.fields(record)})  # type: ignore[no-any-return]


def _fields(record: Any) -> dict[str, Any]:
    """A record's fields without the unset ones: its to_dict() when the same as a parsed value
    (which holds no None at any depth), at a fraction of dataclasses.asdict's cost."""
    return {f.name: v for f in dataclasses.fields(record) if (v := getattr(record, f.name)) is not None}


def parse_tag_message(message: str, what: str, schemas: tuple[int, ...] = (SCHEMA,)) -> dict[str, Any]:
    head, sep, body = message.partition("\n\n")
    if not sep:
        raise RecordError(f"{what} carries no record (no blank line after the subject)")
    data = _loads(body, what)
    _check_schema(data, what, schemas)
    return data


class _TagRecord:
    """What version and stage records share: their tag's message is a subject line and the record
    as canonical TOML, read back through the record's schema declaration."""

    _DECLARATION: ClassVar[Table]
    _WHAT: ClassVar[str]
    _SCHEMAS: ClassVar[tuple[int, ...]] = (SCHEMA,)  # the schemas this record is read in

    def subject(self) -> str:
        raise NotImplementedError

    def to_dict(self) -> dict[str, Any]:
        raise NotImplementedError

    def to_message(self) -> str:
        return tag_message(self.subject(), self.to_dict())

    @classmethod
    def from_dict(cls, data: dict[str, Any], what: str | None = None) -> Self:
        what = what or cls._WHAT
        _check_schema(data, what, cls._SCHEMAS)
        record = cls(**validate(cls._DECLARATION, data, Errors(RecordError, where=what)))
        record._check_coherent(what)
        return record

    def fields_dict(self) -> dict[str, Any]:
        """The record's set fields, sharing its values: its to_dict() for a record read from TOML
        (nothing below the top level is None there), without to_dict's sorted deep copy. What
        the record cache stores, and `from_checked` builds the same record from."""
        return _fields(self)

    @classmethod
    def from_checked(cls, data: dict[str, Any]) -> Self:
        """The record whose `to_dict` is `data`, for a dict `from_dict` accepted before (the record
        cache keeps only those): built without checking it again, which a listing of thousands of
        versions would pay for each. A dict of another shape raises TypeError."""
        return cls(**data)

    def _check_coherent(self, what: str) -> None:
        """Claims that only make sense together (a record type says which)."""

    @classmethod
    def from_message(cls, message: str, what: str | None = None) -> Self:
        what = what or cls._WHAT
        return cls.from_dict(parse_tag_message(message, what, cls._SCHEMAS), what)


@dataclass(frozen=True)
class VersionRecord(_TagRecord):
    """A registered model version: everything needed to say what made it."""

    model: str
    version: str
    commit: str
    created_at: str
    created_by: str
    artifacts: dict[str, dict[str, Any]]  # path -> {"sha256": hex, "size": int}; URI -> {"uri", "md5"?, "sha256"?, "size"?}
    tier: str
    policy_digest: str
    schema: int = SCHEMA
    kind: str = "version"
    message: str = ""
    parent: str | None = None
    run_id: str | None = None
    seeds: list[Any] = field(default_factory=list)
    signer: str | None = None
    data: list[Any] = field(default_factory=list)  # DVC pins
    params: dict[str, Any] | None = None  # {"path", "sha256", "values"}
    lockfile: dict[str, Any] | None = None  # {"path", "sha256"}
    model_card: dict[str, Any] | None = None  # {"path", "sha256"}
    experiment: dict[str, Any] | None = None  # the experiment record this version came from

    def __post_init__(self) -> None:
        # the schema follows from the artifacts (see VERSION_SCHEMAS), so no writer can get it wrong;
        # a record read from a tag was validated against its stated schema before it got here
        if self.schema in VERSION_SCHEMAS:
            wanted = URI_SCHEMA if any(is_uri_artifact(m) for m in self.artifacts.values()) else SCHEMA
            object.__setattr__(self, "schema", wanted)

    @property
    def uri_artifacts(self) -> dict[str, dict[str, Any]]:
        """The artifacts recorded by URI (schema 2), which no retrieval path can fetch."""
        return {path: meta for path, meta in self.artifacts.items() if is_uri_artifact(meta)}

    def to_dict(self) -> dict[str, Any]:
        return _as_dict(self)

    def subject(self) -> str:
        why = self.message.splitlines()[0] if self.message else "registered"
        what = "experiment " if self.kind == "experiment" else ""
        return f"mv-promote: {self.model} {what}{self.version}: {why}"[:200]

    _DECLARATION: ClassVar[Table] = VERSION_RECORD
    _WHAT: ClassVar[str] = "version record"
    _SCHEMAS: ClassVar[tuple[int, ...]] = VERSION_SCHEMAS


@dataclass(frozen=True)
class PromotionRecord(_TagRecord):
    """A stage assignment (promotion or rollback), carried by a stage tag."""

    kind: str
    model: str
    version: str
    version_tag: str  # object id of the version tag
    stage: str
    seq: int
    at: str
    by: str
    policy_digest: str
    schema: int = SCHEMA
    previous: str | None = None
    eval_record: str | None = None
    gate: dict[str, Any] | None = None  # {"passed": bool, "criteria": [...]}
    approval: dict[str, Any] | None = None
    reason: str = ""
    signer: str | None = None
    forced: dict[str, Any] | None = None  # what --force overrode, recorded
    traffic: int | None = None  # percent of a rollout stage's traffic (schema 2; rules/rollout.py)

    def to_dict(self) -> dict[str, Any]:
        return _as_dict(self)

    def subject(self) -> str:
        if self.kind == "rollout":
            return f"mv-promote: roll out {self.model} {self.version} to {self.traffic}% of {self.stage} #{self.seq}"
        verb = "roll back" if self.kind == "rollback" else "promote"
        share = f" at {self.traffic}%" if self.traffic is not None else ""
        return f"mv-promote: {verb} {self.model} {self.version} to {self.stage}{share} #{self.seq}"

    def _check_coherent(self, what: str) -> None:
        if self.schema != promotion_schema(self.traffic):
            raise RecordError(f"{what} is schema {self.schema} but " +
                              ("carries traffic (schema 2)" if self.traffic is not None else "carries no traffic (schema 1)"),
                              "registry records are written only by git mv-promote; re-create the tag with it")
        if self.kind == "rollout" and self.traffic is None:
            raise RecordError(f"{what} is a rollout without traffic", "a rollout record says the new share: traffic = N")

    _DECLARATION: ClassVar[Table] = PROMOTION_RECORD
    _WHAT: ClassVar[str] = "promotion record"
    _SCHEMAS: ClassVar[tuple[int, ...]] = (SCHEMA, ROLLOUT_SCHEMA)


# ---------------------------------------------------------------- notes

def make_note_record(kind: str, body: dict[str, Any], *, at: str, by: str) -> dict[str, Any]:
    """A new evidence record with its content-derived id."""
    if kind not in NOTE_KINDS:
        raise ValueError(f"unknown note record kind {kind!r}")
    data: dict[str, Any] = _clean({**body, "kind": kind, "at": at, "by": by})
    data["id"] = record_id(data)
    return data


def record_is_intact(rec: dict[str, Any]) -> bool:
    return rec.get("id") == record_id(rec)


def _order(rec: dict[str, Any]) -> tuple[str, str]:
    return (str(rec.get("at", "")), str(rec.get("id", "")))


def render_note(records: Iterable[dict[str, Any]]) -> str:
    """The canonical note bytes for a set of records: sorted by (at, id), one per id."""
    by_id = merge_records([], records)
    ordered = sorted(by_id, key=_order)
    return to_toml({"schema": SCHEMA, "record": ordered}) if ordered else to_toml({"schema": SCHEMA})


def note_end(records: list[dict[str, Any]]) -> tuple[str, str] | None:
    """The (at, id) of the record a canonical note ends with: new records sorting after it can be
    appended as bytes (`append_to_note`)."""
    return _order(records[-1]) if records else None


def append_to_note(raw: bytes, end: tuple[str, str], new: Iterable[dict[str, Any]]) -> bytes | None:
    """The canonical note of a canonical note `raw` (whose greatest record is `end`) plus `new`,
    without parsing or re-rendering `raw`: an array of tables renders one table after another, so
    when every new record sorts after `end` and none of their ids is in `raw`, render_note(old +
    new) is `raw` followed by the new tables' bytes. None when that does not hold (the caller
    renders the whole note). Keeps appending an eval independent of the records already there."""
    added = merge_records([], new)
    if not added or _order(added[0]) <= end:
        return None
    if any(str(r["id"]).encode() in raw for r in added):
        return None  # an id seen before: merge_records decides which copy stays
    empty = render_note([]).encode()
    full = render_note(added).encode()
    if not full.startswith(empty) or not raw.startswith(empty):
        return None
    return raw + full[len(empty):]


NOTE = Table({"schema": Field(INTEGER, required=True), "record": Field(Array(ANY_TABLE), default=[])})


def parse_note(raw: bytes, what: str = "note") -> list[dict[str, Any]]:
    if len(raw) > MAX_NOTE_BYTES:
        raise RecordError(f"{what} is {len(raw)} bytes, over the {MAX_NOTE_BYTES} byte limit")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise RecordError(f"{what} is not UTF-8 text") from exc
    fast = canonical.loads(text)  # the canonical rendering of `fast`, or None (gitmv.canonical)
    data = _loads(text, what) if fast is None else fast
    _check_schema(data, what)
    records: list[dict[str, Any]] = validate(NOTE, data, Errors(RecordError, where=what))["record"]
    for rec in records:
        if not isinstance(rec.get("id"), str) or rec.get("kind") not in NOTE_KINDS:
            raise RecordError(f"{what} holds a record without a valid id and kind")
        check_record_shape(rec, what)
    if fast is not None and _in_note_order(fast, records):
        return records  # render_note(records) is to_toml(fast), which is the text
    if render_note(records).encode() != raw:
        raise RecordError(f"{what} is not in canonical form (its bytes differ from the records they parse to)",
                          "evidence is written only by git mv-promote; do not edit notes by hand")
    return records


def _in_note_order(data: dict[str, Any], records: list[dict[str, Any]]) -> bool:
    """Whether render_note(records) is to_toml(data) without rendering: `data` holds the schema
    and exactly these records, with distinct ids, already in canonical (at, id) order."""
    if set(data) != {"schema", "record"} or not records or not canonical.same(data["record"], records):
        return False
    ids = {rec["id"] for rec in records}
    keys = [_order(rec) for rec in records]
    return data["schema"] == SCHEMA and len(ids) == len(records) and all(a < b for a, b in itertools.pairwise(keys))


def is_finite_number(value: object) -> TypeGuard[float]:
    """A real, finite number: TOML allows `inf` and `nan`, and neither can be compared by a gate."""
    return FINITE.fits(value)


def _note_shape(**fields: Field) -> Table:
    """Note records are open (they may gain fields within schema 1); what a reader relies on is
    typed. Any record may carry a signature."""
    return Table({**fields, "signature": Field(STRING)}, open=True)


# An eval's numbers, overall and per slice, as the eval command reports them and as an eval record
# holds them: finite (TOML and JSON readers accept inf and nan, and a gate can compare neither).
METRICS = Map(FINITE, non_empty=True)
SLICES = Map(Map(FINITE))
METRICS_REPORT = Table({"metrics": Field(METRICS, required=True), "slices": Field(SLICES)})

NOTE_SHAPES = {
    # an eval without metrics, or with a non-finite one, is no evidence: it would pass as "nothing
    # to compare" or compare as inf/nan, so it is malformed wherever it is read
    "eval": _note_shape(suite=Field(STRING), metrics=Field(METRICS, required=True), slices=Field(SLICES),
                        artifacts=Field(Map(STRING)), model=Field(STRING), version=Field(STRING),
                        command=Field(STRING), code_commit=Field(STRING), command_digest=Field(STRING)),
    "approval": _note_shape(approvers=Field(Array(STRING))),
    "deprecation": _note_shape(reason=Field(STRING), sunset=Field(STRING)),
    "reproduction": _note_shape(match=Field(BOOLEAN)),
    "observation": _note_shape(),
    # a signed in-toto statement (DSSE envelope) and the PEM public key its envelope verifies with
    "attestation": _note_shape(predicate_type=Field(STRING, required=True), public_key=Field(STRING, required=True),
                               envelope=Field(Table({"payloadType": Field(STRING, required=True),
                                                     "payload": Field(STRING, required=True),
                                                     "signatures": Field(Array(Table({"keyid": Field(STRING),
                                                                                      "sig": Field(STRING, required=True)})),
                                                                         required=True)}), required=True)),
    # a replay the gate reads: row counts it recomputes the agreement from, finite differences
    "replay": _note_shape(artifacts=Field(Map(STRING), required=True), against=Field(ANY_TABLE, required=True),
                          inputs=Field(ANY_TABLE, required=True), rows=Field(INTEGER, required=True),
                          agree=Field(INTEGER, required=True), agreement=Field(FINITE),
                          max_abs_diff=Field(FINITE), mean_abs_diff=Field(FINITE), top=Field(Array(ANY_TABLE))),
}


def check_record_shape(rec: dict[str, Any], what: str = "note") -> None:
    """Each kind's fields have the types readers rely on (an intact id proves nothing about shape:
    anyone can hash a record). Named by kind and id, which say more than an index in the note."""
    kind = str(rec.get("kind"))
    shape = NOTE_SHAPES.get(kind)
    if shape is None:
        return
    try:
        shape.check(rec)
    except Invalid as problem:
        name = problem.keys[0] if problem.keys else ""  # the record's own key the problem is in
        head = f"{what}: {kind} record {str(rec.get('id'))[:19]}…"
        if problem.kind == "required":
            raise RecordError(f"{head} has no '{name}'") from None
        raise RecordError(f"{head} has a malformed '{name}' ({problem})") from None


def merge_records(left: Iterable[dict[str, Any]], right: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    """Union by id. Commutative, associative and idempotent, so every clone converges.

    When two records share an id but differ (one was tampered with), the intact one wins; if
    neither is intact the canonically smaller wins, so the result still does not depend on order.
    """
    chosen: dict[str, dict[str, Any]] = {}
    for rec in list(left) + list(right):
        rid = rec["id"]
        have = chosen.get(rid)
        if have is None or _prefer(rec, have):
            chosen[rid] = rec
    return sorted(chosen.values(), key=_order)


def _prefer(candidate: dict[str, Any], current: dict[str, Any]) -> bool:
    ok_c, ok_h = record_is_intact(candidate), record_is_intact(current)
    if ok_c != ok_h:
        return ok_c
    return canonical_json(candidate) < canonical_json(current)
