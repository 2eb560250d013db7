"""The on-disk record format: canonical TOML (golden files), content-derived ids, round trips,
signed tag messages and schema checks. Pure: no repository needed except where noted."""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import tomllib

import pytest

from gitmv import records
from gitmv.errors import RecordError
from gitmv.records import PromotionRecord, VersionRecord

GOLDEN = Path(__file__).parent / "golden"
UPDATE = os.environ.get("MV_UPDATE_GOLDEN") == "1"  # regenerate: MV_UPDATE_GOLDEN=1 pytest tests/test_records.py

SSH_SIG = (b"-----BEGIN SSH SIGNATURE-----\n"
           b"U1NIU0lHAAAAAQAAADMAAAALc3NoLWVkMjU1MTkAAAAgk2n0bS3SEi3Os3kAMRsRbFz9\n"
           b"-----END SSH SIGNATURE-----\n")


def version_record(**changes) -> VersionRecord:
    fields = dict(
        model="churn", version="v2", commit="3f2a" * 10, created_at="2026-11-01T09:00:00Z",
        created_by="Alice <alice@example.com>",
        artifacts={"model.bin": {"sha256": "ab" * 32, "size": 1048576},
                   "prompts/churn.txt": {"sha256": "cd" * 32, "size": 412}},
        tier="production", policy_digest="sha256:" + "ef" * 32, message="retrained on November data",
        parent="v1", run_id="ci-4711", seeds=[42, 7], signer="SHA256:Jq3mU0f5v8lK6m3gE0o1dZ5wq8Hk4b0pYxqT3lRk1aA",
        data=[{"source": "data/train.dvc", "path": "train.csv", "md5": "0123456789abcdef0123456789abcdef",
               "size": 52428800, "remote": "s3store"}],
        params={"path": "params.yaml", "sha256": "12" * 32, "values": {"lr": 0.05, "tree": {"depth": 6}}},
        lockfile={"path": "requirements.lock", "sha256": "34" * 32},
    )
    fields.update(changes)
    return VersionRecord(**fields)


def promotion_record(**changes) -> PromotionRecord:
    fields = dict(
        kind="promote", model="churn", version="v2", version_tag="9c" * 20, stage="production", seq=3,
        at="2026-11-02T14:30:00Z", by="Alice <alice@example.com>", policy_digest="sha256:" + "ef" * 32,
        previous="v1", eval_record="sha256:" + "56" * 32,
        gate={"passed": True, "baseline": "v1",
              "criteria": ["pass: eval: sha256:5656565656565… on suite holdout",
                           "pass: threshold auc: 0.91 ≥ 0.8 required"]},
        reason="beats v1 on holdout", signer="SHA256:Jq3mU0f5v8lK6m3gE0o1dZ5wq8Hk4b0pYxqT3lRk1aA",
    )
    fields.update(changes)
    return PromotionRecord(**fields)


def eval_record(auc: float = 0.91, at: str = "2026-11-02T10:00:00Z") -> dict:
    return records.make_note_record("eval", {
        "model": "churn", "version": "v2", "suite": "holdout", "artifacts": {"model.bin": "ab" * 32},
        "metrics": {"auc": auc, "latency_ms": 4.5}, "slices": {"region=eu": {"auc": 0.88}, "region=us": {"auc": 0.93}},
        "command": "python3 eval.py {artifact} {output}", "exit_status": 0, "duration_s": 1.25,
    }, at=at, by="Alice <alice@example.com>")


def deprecation_record() -> dict:
    return records.make_note_record("deprecation", {"model": "churn", "version": "v2", "reason": "label leak",
                                                    "sunset": "2026-12-01T00:00:00Z"},
                                    at="2026-11-03T08:00:00Z", by="Bob <bob@example.com>")


def replay_record() -> dict:
    """A replay of v2 against v1 (production) on DVC-pinned inputs: the golden replay record."""
    return records.make_note_record("replay", {
        "model": "churn", "version": "v2", "artifacts": {"model.bin": "ab" * 32},
        "against": {"version": "v1", "stage": "production", "tag": "9c" * 20, "artifacts": {"model.bin": "cd" * 32}},
        "inputs": {"path": "data/prod-sample.csv.dvc", "data": "data/prod-sample.csv",
                   "md5": "0123456789abcdef0123456789abcdef", "sha256": "ef" * 32, "size": 48213},
        "command": "python3 predict.py {artifact} {inputs} {output}", "command_digest": "sha256:" + "12" * 32,
        "code_commit": "3f2a" * 10, "duration_s": 2.5, "format": "lines", "output": "labels",
        "rows": 169, "agree": 166, "agreement": 166 / 169,
        "top": [{"row": 14, "candidate": "benign", "baseline": "malignant"},
                {"row": 87, "candidate": "malignant", "baseline": "benign"},
                {"row": 152, "candidate": "benign", "baseline": "malignant"}],
    }, at="2026-11-02T11:00:00Z", by="alice@example.com")


def golden(name: str, text: str) -> None:
    path = GOLDEN / name
    if UPDATE:
        path.write_text(text)
    assert text == path.read_text(), f"{name} changed; if intended, regenerate with MV_UPDATE_GOLDEN=1"


# ---------------------------------------------------------------- golden files

def test_version_record_renders_exactly_as_the_golden_file():
    golden("version_record.toml", records.to_toml(version_record().to_dict()))


def test_promotion_record_renders_exactly_as_the_golden_file():
    golden("promotion_record.toml", records.to_toml(promotion_record().to_dict()))


def test_note_renders_exactly_as_the_golden_file():
    golden("note.toml", records.render_note([deprecation_record(), eval_record()]))


def test_replay_note_renders_exactly_as_the_golden_file():
    golden("replay_note.toml", records.render_note([replay_record()]))


def test_the_golden_replay_note_parses_back_to_its_record():
    assert records.parse_note((GOLDEN / "replay_note.toml").read_bytes()) == [replay_record()]


def test_version_tag_message_is_the_subject_a_blank_line_and_the_golden_record():
    message = version_record().to_message()
    assert message == "mv-promote: churn v2: retrained on November data\n\n" + (GOLDEN / "version_record.toml").read_text()


def test_promotion_tag_message_is_the_subject_a_blank_line_and_the_golden_record():
    message = promotion_record().to_message()
    assert message == "mv-promote: promote churn v2 to production #3\n\n" + (GOLDEN / "promotion_record.toml").read_text()


def test_rollback_subject_says_roll_back():
    assert promotion_record(kind="rollback").subject() == "mv-promote: roll back churn v2 to production #3"


def test_canonical_toml_sorts_keys_and_omits_none():
    text = records.to_toml(version_record(parent=None, run_id=None).to_dict())
    assert "parent" not in text and "run_id" not in text
    top_keys = [line.split(" = ")[0] for line in text.split("\n\n")[0].splitlines() if " = " in line]
    assert top_keys == sorted(top_keys)
    assert "commit" in top_keys and "version" in top_keys


# ---------------------------------------------------------------- ids

def test_record_id_is_sha256_of_canonical_json_without_the_id():
    rec = eval_record()
    body = {k: v for k, v in rec.items() if k != "id"}
    canonical = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()
    assert rec["id"] == "sha256:" + hashlib.sha256(canonical).hexdigest()


def test_the_same_content_always_gets_the_same_id():
    assert eval_record()["id"] == eval_record()["id"]


def test_changing_any_value_changes_the_id():
    base = eval_record()["id"]
    assert eval_record(auc=0.9100001)["id"] != base
    assert eval_record(at="2026-11-02T10:00:01Z")["id"] != base


def test_a_changed_record_no_longer_matches_its_id():
    rec = eval_record()
    assert records.record_is_intact(rec)
    tampered = {**rec, "metrics": {**rec["metrics"], "auc": 0.99}}
    assert not records.record_is_intact(tampered)


def test_key_order_does_not_change_the_id():
    rec = eval_record()
    reordered = dict(reversed(list(rec.items())))
    assert records.record_id(reordered) == rec["id"]


def test_reformatting_the_toml_does_not_change_the_id():
    rec = eval_record()
    reformatted = f'''# hand-edited layout: comments, spacing, quoting, inline tables, other number spellings
schema=1
[[record]]
  kind   =   'eval'
  id = "{rec['id']}"
  version = "v2"
  model = "churn"
  at = "2026-11-02T10:00:00Z"
  by = 'Alice <alice@example.com>'
  suite = "holdout"
  command = 'python3 eval.py {{artifact}} {{output}}'
  exit_status = +0
  duration_s = 125e-2
  artifacts = {{ "model.bin" = "{'ab' * 32}" }}
  metrics = {{ latency_ms = 4.50, auc = 0.9100 }}
  slices."region=us" = {{ auc = 9.3e-1 }}
  slices."region=eu".auc = 0.880
'''
    parsed = tomllib.loads(reformatted)["record"]
    assert len(parsed) == 1
    assert records.record_is_intact(parsed[0])
    assert records.record_id(parsed[0]) == rec["id"]
    assert records.render_note(parsed) == records.render_note([rec])
    # ...but a note is accepted only in its canonical bytes: one parser, one reading
    with pytest.raises(RecordError, match="not in canonical form"):
        records.parse_note(reformatted.encode())
    assert records.parse_note(records.render_note(parsed).encode()) == [rec]


def test_a_note_hiding_a_deprecation_in_literal_strings_is_refused():
    dep = records.make_note_record("deprecation", {"model": "churn", "version": "v2", "reason": "leak"},
                                   at="2026-11-02T10:00:00Z", by="alice@example.com")
    canonical = records.render_note([dep])
    literal = canonical.replace('"deprecation"', "'deprecation'")
    assert tomllib.loads(literal) == tomllib.loads(canonical)
    with pytest.raises(RecordError, match="not in canonical form"):
        records.parse_note(literal.encode())


def test_a_version_record_is_accepted_only_in_canonical_form():
    from gitmv.records import VersionRecord
    rec = VersionRecord(model="churn", version="v1", commit="c" * 40, created_at="2026-11-01T09:00:00Z",
                        created_by="alice@example.com", artifacts={"model.bin": {"sha256": "ab" * 32, "size": 3}},
                        tier="production", policy_digest="sha256:" + "0" * 64)
    message = rec.to_message().encode()
    assert records.parse_canonical_message(message, VersionRecord, "tag") == rec
    for variant in (message.replace(b'tier = "production"', b"tier = 'production'"),
                    message + b"\n", message.replace(b"\n\n", b"\n\n# note\n", 1)):
        with pytest.raises(RecordError, match="not in canonical form"):
            records.parse_canonical_message(variant, VersionRecord, "tag")


def test_note_record_with_an_unknown_kind_cannot_be_made():
    with pytest.raises(ValueError):
        records.make_note_record("gossip", {}, at="2026-11-01T00:00:00Z", by="x")


# ---------------------------------------------------------------- round trips

def test_version_record_round_trips_toml_to_record_to_toml():
    text = (GOLDEN / "version_record.toml").read_text()
    rec = VersionRecord.from_dict(records._loads(text, "golden"))
    assert rec == version_record()
    assert records.to_toml(rec.to_dict()) == text


def test_version_record_round_trips_through_its_tag_message():
    rec = version_record()
    assert VersionRecord.from_message(rec.to_message()) == rec


def test_promotion_record_round_trips_through_its_tag_message():
    rec = promotion_record()
    back = PromotionRecord.from_message(rec.to_message())
    assert back == rec
    assert records.to_toml(back.to_dict()) == (GOLDEN / "promotion_record.toml").read_text()


def test_note_round_trips_toml_to_records_to_toml():
    text = (GOLDEN / "note.toml").read_text()
    parsed = records.parse_note(text.encode())
    assert [r["kind"] for r in parsed] == ["eval", "deprecation"]  # canonical order: by time
    assert all(records.record_is_intact(r) for r in parsed)
    assert records.render_note(parsed) == text


def test_note_rendering_is_independent_of_input_order_and_duplicates():
    a, b = eval_record(), deprecation_record()
    assert records.render_note([a, b]) == records.render_note([b, a, b, a])


def test_merging_notes_is_a_union_by_id_and_order_independent():
    a, b, c = eval_record(0.9), eval_record(0.91), deprecation_record()
    left = records.merge_records([a, b], [c])
    right = records.merge_records([c, b], [a, c])
    assert left == right
    assert len(left) == 3


def test_merging_prefers_the_intact_copy_of_a_tampered_record():
    rec = eval_record()
    tampered = {**rec, "metrics": {"auc": 0.99, "latency_ms": 1.0}}
    assert records.merge_records([tampered], [rec]) == [rec]
    assert records.merge_records([rec], [tampered]) == [rec]


# ---------------------------------------------------------------- tag messages with signatures

def test_tag_message_with_an_ssh_signature_block_parses_after_splitting_it_off():
    message = version_record().to_message().encode()
    body, signature = records.split_signature(message + SSH_SIG)
    assert body == message
    assert signature == SSH_SIG
    assert VersionRecord.from_message(body.decode()) == version_record()


def test_tag_message_without_a_signature_splits_into_itself():
    message = promotion_record().to_message().encode()
    assert records.split_signature(message) == (message, b"")


def test_signature_marker_inside_a_line_is_not_a_signature():
    message = version_record(message="see -----BEGIN SSH SIGNATURE----- in docs").to_message().encode()
    assert records.split_signature(message) == (message, b"")


def test_a_real_signed_version_tag_message_parses(model_repo):
    r = model_repo
    r.write_model(0.85, 0.80)
    r.commit("m")
    r.mv("register", "churn", "-m", "real")
    raw = r.git("cat-file", "tag", "mv/churn/v1").encode() + b"\n"
    message = raw.split(b"\n\n", 1)[1]
    body, signature = records.split_signature(message)
    assert signature.startswith(b"-----BEGIN SSH SIGNATURE-----")
    rec = VersionRecord.from_message(body.decode())
    assert (rec.model, rec.version, rec.message) == ("churn", "v1", "real")


# ---------------------------------------------------------------- refusals

def test_version_record_with_an_unknown_schema_is_a_record_error():
    text = version_record().to_message().replace("schema = 1", "schema = 3")
    with pytest.raises(RecordError) as info:
        VersionRecord.from_message(text)
    assert "schema 3" in str(info.value)
    assert "upgrade" in str(info.value)


# ---------------------------------------------------------------- schema 2: artifacts recorded by URI

S3_URI = "s3://models/churn/v2.pkl"


def uri_version_record(**changes) -> VersionRecord:
    """v2 of churn as a GTO import records it: model.bin from Git, the weights by URI with DVC's md5."""
    fields = dict(artifacts={"model.bin": {"sha256": "ab" * 32, "size": 1048576},
                             S3_URI: {"uri": S3_URI, "md5": "0f" * 16, "size": 73400320}},
                  data=[], params=None, lockfile=None, run_id="gto:churn@v1.1.0", seeds=[],
                  message="imported from GTO churn@v1.1.0")
    fields.update(changes)
    return version_record(**fields)


def test_version_record_with_a_uri_artifact_renders_exactly_as_the_schema_2_golden_file():
    golden("version_record_uri.toml", records.to_toml(uri_version_record().to_dict()))


def test_a_version_record_is_schema_2_exactly_when_it_records_an_artifact_by_uri():
    assert uri_version_record().schema == 2
    assert version_record().schema == 1  # every record without a URI keeps its schema-1 bytes
    assert uri_version_record(artifacts={"model.bin": {"sha256": "ab" * 32, "size": 1}}).schema == 1


def test_a_version_record_with_a_uri_artifact_round_trips_through_its_tag_message():
    rec = uri_version_record()
    back = VersionRecord.from_message(rec.to_message())
    assert back == rec and back.uri_artifacts == {S3_URI: {"uri": S3_URI, "md5": "0f" * 16, "size": 73400320}}


def test_a_uri_artifact_may_carry_no_digest_at_all():
    rec = uri_version_record(artifacts={S3_URI: {"uri": S3_URI}})
    assert VersionRecord.from_message(rec.to_message()).artifacts == {S3_URI: {"uri": S3_URI}}


def test_a_schema_1_record_holding_a_uri_artifact_is_a_record_error():
    """An old writer never made one; claiming schema 1 would let an old reader take the URI for a path."""
    text = uri_version_record().to_message().replace("schema = 2", "schema = 1")
    with pytest.raises(RecordError, match="schema must be 2: it records an artifact by URI"):
        VersionRecord.from_message(text)


def test_a_schema_2_record_without_a_uri_artifact_is_a_record_error():
    text = version_record().to_message().replace("schema = 1", "schema = 2")
    with pytest.raises(RecordError, match="schema must be 1: it records no artifact by URI"):
        VersionRecord.from_message(text)


def test_a_uri_artifact_whose_uri_is_not_its_key_is_a_record_error():
    text = uri_version_record().to_message().replace(f'uri = "{S3_URI}"', 'uri = "s3://models/other.pkl"')
    with pytest.raises(RecordError, match="must be the artifact's key"):
        VersionRecord.from_message(text)


def test_a_stored_artifact_without_its_sha256_is_a_record_error():
    text = version_record().to_message().replace('sha256 = "' + "ab" * 32 + '"\n', "")
    with pytest.raises(RecordError, match=r"artifacts\.model\.bin\.sha256 is required"):
        VersionRecord.from_message(text)


def test_a_uri_artifact_with_a_malformed_md5_is_a_record_error():
    text = uri_version_record().to_message().replace('md5 = "' + "0f" * 16, 'md5 = "' + "0F" * 16)
    with pytest.raises(RecordError, match="must be an md5 digest"):
        VersionRecord.from_message(text)


def test_promotion_record_with_an_unknown_schema_is_a_record_error():
    with pytest.raises(RecordError):
        PromotionRecord.from_message(promotion_record().to_message().replace("schema = 1", "schema = 7"))


def test_note_with_an_unknown_schema_is_a_record_error():
    text = records.render_note([eval_record()]).replace("schema = 1", "schema = 2", 1)
    with pytest.raises(RecordError):
        records.parse_note(text.encode())


def test_record_without_a_schema_is_a_record_error():
    with pytest.raises(RecordError):
        VersionRecord.from_message(version_record().to_message().replace("schema = 1\n", ""))


def test_version_record_with_an_unknown_key_is_a_record_error():
    with pytest.raises(RecordError) as info:
        VersionRecord.from_message(version_record().to_message().replace("schema = 1", "schema = 1\ncolour = \"red\""))
    assert "colour" in str(info.value)


def test_version_record_missing_a_required_key_is_a_record_error():
    text = version_record().to_message()
    text = "\n".join(line for line in text.splitlines() if not line.startswith("commit = ")) + "\n"
    with pytest.raises(RecordError) as info:
        VersionRecord.from_message(text)
    assert "commit" in str(info.value)


def test_promotion_record_of_an_unknown_kind_is_a_record_error():
    with pytest.raises(RecordError):
        PromotionRecord.from_message(promotion_record().to_message().replace('kind = "promote"', 'kind = "demote"'))


def test_a_promotion_record_is_not_a_version_record():
    with pytest.raises(RecordError):
        VersionRecord.from_message(promotion_record().to_message())


def test_tag_message_without_a_record_is_a_record_error():
    with pytest.raises(RecordError):
        VersionRecord.from_message("just a subject line")


def test_tag_message_with_broken_toml_is_a_record_error():
    with pytest.raises(RecordError):
        VersionRecord.from_message("subject\n\nschema = 1\nmodel = \n")


def test_note_record_without_an_id_is_a_record_error():
    with pytest.raises(RecordError):
        records.parse_note(b'schema = 1\n[[record]]\nkind = "eval"\n')


def test_note_that_is_not_utf8_is_a_record_error():
    with pytest.raises(RecordError):
        records.parse_note(b"schema = 1\n# \xff\xfe\n")


def test_oversized_note_is_a_record_error():
    with pytest.raises(RecordError):
        records.parse_note(b"#" * (records.MAX_NOTE_BYTES + 1))


# ---------------------------------------------------------------- names and times

@pytest.mark.parametrize("text, expected", [
    ("2026-11-02T10:00:00Z", "2026-11-02T10:00:00+00:00"),
    ("2026-11-02T10:00Z", "2026-11-02T10:00:00+00:00"),
    ("2026-11-02", "2026-11-02T00:00:00+00:00"),
    ("2026-11-02T12:00:00+02:00", "2026-11-02T10:00:00+00:00"),
])
def test_times_parse_to_utc(text, expected):
    assert records.parse_time(text).isoformat() == expected


def test_a_non_time_is_a_record_error():
    with pytest.raises(RecordError):
        records.parse_time("yesterday")


@pytest.mark.parametrize("name, number", [("v1", 1), ("v12", 12)])
def test_version_names_have_numbers(name, number):
    assert records.version_number(name) == number


@pytest.mark.parametrize("name", ["v0", "v01", "1", "V1", "v1.2", "latest"])
def test_non_version_names_are_refused(name):
    with pytest.raises(RecordError):
        records.version_number(name)


# ---------------------------------------------------------------- eval evidence must be finite and non-empty

def _eval_note(metrics_toml: str, slices_toml: str = "") -> bytes:
    """A note whose eval's id is correctly re-hashed: only the content is wrong."""
    import tomllib

    text = f'schema = 1\n[[record]]\nkind = "eval"\nsuite = "holdout"\nat = "2026-11-02T10:00:00Z"\n{metrics_toml}\n{slices_toml}'
    rec = tomllib.loads(text)["record"][0]
    rec["id"] = records.record_id(rec)
    return records.render_note([rec]).encode()  # canonical bytes: only the content is under test


@pytest.mark.parametrize("value", ["inf", "-inf", "nan", "+inf"])
def test_a_note_holding_an_eval_with_a_non_finite_metric_is_a_record_error(value):
    with pytest.raises(RecordError, match="malformed 'metrics'"):
        records.parse_note(_eval_note(f"[record.metrics]\nauc = {value}"))


def test_a_note_holding_an_eval_with_a_non_finite_slice_metric_is_a_record_error():
    with pytest.raises(RecordError, match="malformed 'slices'"):
        records.parse_note(_eval_note("[record.metrics]\nauc = 0.9", '[record.slices."region=eu"]\nauc = nan'))


def test_a_note_holding_an_eval_with_an_empty_metrics_table_is_a_record_error():
    with pytest.raises(RecordError, match="malformed 'metrics'"):
        records.parse_note(_eval_note("[record.metrics]"))


def test_a_note_holding_an_eval_without_metrics_is_a_record_error():
    with pytest.raises(RecordError, match="has no 'metrics'"):
        records.parse_note(_eval_note(""))


def test_a_note_holding_an_eval_with_finite_metrics_parses():
    assert records.parse_note(_eval_note("[record.metrics]\nauc = 0.9\nn = 12"))[0]["metrics"] == {"auc": 0.9, "n": 12}


# ---------------------------------------------------------------- the record specs mirror the dataclasses

@pytest.mark.parametrize("cls, spec", [(VersionRecord, records.VERSION_RECORD), (PromotionRecord, records.PROMOTION_RECORD)])
def test_a_record_spec_declares_every_field_required_exactly_when_it_has_no_default(cls, spec):
    import dataclasses

    fields = {f.name: f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING
              for f in dataclasses.fields(cls)}
    fields["kind"] = fields["schema"] = True  # what a reader checks first: which record, which format
    assert {name: f.required for name, f in spec.fields.items()} == fields


def test_a_version_record_field_of_the_wrong_type_is_named():
    text = version_record().to_message().replace('run_id = "ci-4711"', "run_id = 4711")
    with pytest.raises(RecordError, match="^version record: run_id must be a string, got 4711$"):
        VersionRecord.from_message(text)


def test_a_version_record_with_a_malformed_artifact_digest_names_the_artifact():
    text = version_record().to_message().replace('sha256 = "' + "ab" * 32, 'sha256 = "' + "AB" * 32)
    with pytest.raises(RecordError, match=r"artifacts\.model\.bin\.sha256 must be a sha256 digest"):
        VersionRecord.from_message(text)


def test_a_note_record_of_the_wrong_shape_is_named_by_kind_id_and_key():
    with pytest.raises(RecordError) as info:
        records.parse_note(_eval_note("[record.metrics]\nauc = 0.9", '[record.slices."region=eu"]\nauc = "high"'))
    assert "note: eval record sha256:" in str(info.value)
    assert "has a malformed 'slices' (slices.region=eu.auc is not a finite number, got 'high')" in str(info.value)


# ---------------------------------------------------------------- rollout records (schema 2)

def rollout_record(**changes) -> PromotionRecord:
    fields = dict(kind="rollout", model="churn", version="v2", version_tag="9c" * 20, stage="canary", seq=4,
                  at="2026-11-03T09:00:00Z", by="Alice <alice@example.com>", policy_digest="sha256:" + "ef" * 32,
                  previous="v2", eval_record="sha256:" + "56" * 32, reason="no errors at 25%",
                  signer="SHA256:Jq3mU0f5v8lK6m3gE0o1dZ5wq8Hk4b0pYxqT3lRk1aA", traffic=50,
                  schema=records.ROLLOUT_SCHEMA)
    fields.update(changes)
    return PromotionRecord(**fields)


def test_rollout_record_renders_exactly_as_the_golden_file():
    golden("rollout_record.toml", records.to_toml(rollout_record().to_dict()))


def test_rollout_tag_message_says_the_share_and_parses_back():
    message = rollout_record().to_message()
    assert message == "mv-promote: roll out churn v2 to 50% of canary #4\n\n" + (GOLDEN / "rollout_record.toml").read_text()
    assert records.parse_canonical_message(message.encode(), PromotionRecord, "rollout") == rollout_record()


def test_a_record_carrying_traffic_is_written_in_schema_2_and_one_without_in_schema_1():
    assert (records.promotion_schema(25), records.promotion_schema(None)) == (2, 1)


def test_schema_1_stage_records_stay_readable():
    assert PromotionRecord.from_message(promotion_record().to_message()).schema == 1


def test_a_schema_1_record_carrying_traffic_is_a_record_error():
    text = rollout_record(kind="promote").to_message().replace("schema = 2", "schema = 1")
    with pytest.raises(RecordError, match="is schema 1 but carries traffic"):
        PromotionRecord.from_message(text)


def test_a_schema_2_record_without_traffic_is_a_record_error():
    text = promotion_record().to_message().replace("schema = 1", "schema = 2")
    with pytest.raises(RecordError, match="is schema 2 but carries no traffic"):
        PromotionRecord.from_message(text)


def test_traffic_of_the_wrong_type_is_named():
    text = rollout_record().to_message().replace("traffic = 50", 'traffic = "half"')
    with pytest.raises(RecordError, match="traffic must be an integer"):
        PromotionRecord.from_message(text)



def _eval_rec(second: int, auc: float = 0.9) -> dict:
    return records.make_note_record("eval", {"suite": "holdout", "metrics": {"auc": auc},
                                             "slices": {"region=eu": {"auc": auc}}},
                                    at=f"2026-01-01T00:00:{second:02d}Z", by="alice")


def test_appending_a_record_that_sorts_last_gives_the_rendered_note():
    have = [_eval_rec(k) for k in range(5)]
    new = _eval_rec(9)
    raw = records.render_note(have).encode()
    assert records.append_to_note(raw, records.note_end(have), [new]) == records.render_note(have + [new]).encode()


def test_appending_a_record_that_sorts_before_the_end_is_left_to_a_full_render():
    have = [_eval_rec(k) for k in range(1, 5)]
    raw = records.render_note(have).encode()
    assert records.append_to_note(raw, records.note_end(have), [_eval_rec(0)]) is None


def test_appending_a_record_whose_id_is_already_in_the_note_is_left_to_a_full_render():
    have = [_eval_rec(k) for k in range(5)]
    again = {**have[-1], "at": "2026-01-01T00:00:59Z"}  # a later copy under an id the note holds
    raw = records.render_note(have).encode()
    assert records.append_to_note(raw, records.note_end(have), [again]) is None


@pytest.mark.parametrize("golden_file, cls", [("version_record.toml", VersionRecord),
                                               ("version_record_uri.toml", VersionRecord),
                                               ("promotion_record.toml", PromotionRecord),
                                               ("rollout_record.toml", PromotionRecord)])
def test_a_record_rebuilt_from_its_checked_dict_is_the_record_the_checks_build(golden_file, cls):
    """What the record cache relies on: `from_checked(to_dict())` skips the checks, not a field."""
    checked = cls.from_dict(tomllib.loads((GOLDEN / golden_file).read_text()))
    assert cls.from_checked(checked.to_dict()) == checked


def test_a_dict_of_another_shape_is_refused_by_from_checked():
    data = version_record().to_dict()
    data["retired_field"] = 1
    with pytest.raises(TypeError):
        VersionRecord.from_checked(data)
