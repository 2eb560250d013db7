"""The fast reader of canonical record TOML (gitmv.canonical).

Its one promise, for every text: `canonical.loads(text)` is None, or it is exactly what tomllib
reads from `text` (same types all the way down) AND `text` is the canonical rendering of it
(`records.to_toml`). Checked on generated values, on arbitrary text, and on mutations of real
canonical notes and tag messages; plus: it answers (is not None) for the records the tool writes,
and the record readers built on it still refuse every non-canonical form.
"""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gitmv import canonical, records
from gitmv.errors import RecordError
from gitmv.records import PromotionRecord, VersionRecord

GOLDEN = Path(__file__).parent / "golden"
MANY = settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])

SIGNATURE = ("-----BEGIN SSH SIGNATURE-----\nU1NIU0lHAAAAAQAAADMAAAALc3NoLWVkMjU1MTkAAAAgsIKYHXj/Xy5wCCBfN0OKOhAaTk\n"
             "-----END SSH SIGNATURE-----\n")


def promise_holds(text: str) -> bool:
    """For this text, None or (tomllib agrees exactly and the text is the canonical rendering)."""
    found = canonical.loads(text)
    if found is None:
        return True
    return canonical.same(tomllib.loads(text), found) and records.to_toml(found) == text


def real_texts() -> list[str]:
    """Canonical notes and tag messages as the tool writes them."""
    evaluation = records.make_note_record(
        "eval", {"model": "churn", "version": "v2", "suite": "holdout", "metrics": {"auc": 0.91, "latency_ms": 4.5},
                 "slices": {"region=eu": {"auc": 0.88}, "region=us": {"auc": 0.93}},
                 "artifacts": {"model.bin": "ab" * 32}, "command": "python3 eval.py {artifact} {output}",
                 "duration_s": 0.1, "exit_status": 0, "signature": SIGNATURE},
        at="2026-11-02T10:00:00Z", by="alice@example.com")
    deprecation = records.make_note_record("deprecation", {"reason": "leak: \"q\"\ttab \\ back", "sunset": "2027-01-01"},
                                           at="2026-11-03T10:00:00Z", by="Bob <bob@example.com>")
    version = VersionRecord(model="churn", version="v2", commit="c" * 40, created_at="2026-11-01T09:00:00Z",
                            created_by="alice@example.com", artifacts={"model.bin": {"sha256": "ab" * 32, "size": 3}},
                            tier="production", policy_digest="sha256:" + "0" * 64, seeds=[1, 2], parent="v1",
                            params={"path": "params.yaml", "sha256": "cd" * 32, "values": {"lr": 0.1, "deep": True}})
    promotion = PromotionRecord(kind="promote", model="churn", version="v2", version_tag="d" * 40, stage="production",
                                seq=3, at="2026-11-04T10:00:00Z", by="alice@example.com",
                                policy_digest="sha256:" + "1" * 64, gate={"passed": True, "criteria": ["auc 0.91 >= 0.8"]})
    texts = [records.render_note([evaluation, deprecation]), records.render_note([evaluation]),
             records.to_toml(version.to_dict()), records.to_toml(promotion.to_dict())]
    texts += [p.read_text() for p in sorted(GOLDEN.glob("*.toml"))]
    return texts


REAL = real_texts()

# ---------------------------------------------------------------- values and texts

keys = st.one_of(st.from_regex(r"\A[a-z_-][a-z0-9_-]{0,8}\Z"), st.text(max_size=8))
scalars = st.one_of(st.text(max_size=12), st.integers(-(2 ** 63), 2 ** 63 - 1),
                    st.floats(allow_nan=False, allow_infinity=False), st.booleans())
leaves = st.one_of(scalars, st.lists(scalars, max_size=3))
tables = st.recursive(st.dictionaries(keys, leaves, max_size=4),
                      lambda inner: st.dictionaries(keys, st.one_of(leaves, inner), max_size=4), max_leaves=10)
documents = st.one_of(tables, st.builds(lambda t, rows: {**t, "record": rows}, tables,
                                        st.lists(tables, min_size=1, max_size=3)))


@MANY
@given(documents)
def test_a_canonical_rendering_is_read_back_exactly_or_declined(value):
    text = records.to_toml(value)
    found = canonical.loads(text)
    assert found is None or canonical.same(found, tomllib.loads(text))


@MANY
@given(documents)
def test_the_renderer_writes_what_tomli_w_writes_or_declines(value):
    try:
        rendered = canonical.render(value)
    except canonical._Decline:
        return
    assert rendered == records.to_toml(value)


@MANY
@given(st.text(alphabet=st.sampled_from(list('ab1.=" \n[]{},#\\-+eutrfls\'0_:')), max_size=80))
def test_any_text_is_declined_or_is_the_canonical_rendering_of_what_tomllib_reads(text):
    assert promise_holds(text)


EDITS = st.sampled_from(["insert", "delete", "replace", "duplicate_line", "swap_lines", "drop_line"])
SIGNIFICANT = st.sampled_from(list(' \n\t"\'\\=.[],#{}0123456789eE+-_abnrtfu') + ["\\n", "\\u000a", "\r\n", '\\"', "\\\\"])


@MANY
@given(st.sampled_from(range(len(REAL))), st.lists(st.tuples(EDITS, st.integers(0, 10 ** 6), SIGNIFICANT),
                                                    min_size=1, max_size=3))
def test_a_mutated_real_record_is_declined_or_is_canonical_for_what_it_says(which, edits):
    text = REAL[which]
    for edit, at, piece in edits:
        lines = text.split("\n")
        pos, row = at % (len(text) + 1), at % len(lines)
        if edit == "insert":
            text = text[:pos] + piece + text[pos:]
        elif edit == "delete":
            text = text[:pos] + text[pos + 1 + at % 5:]
        elif edit == "replace":
            text = text[:pos] + piece + text[pos + 1:]
        elif edit == "duplicate_line":
            text = "\n".join(lines[:row + 1] + lines[row:])
        elif edit == "swap_lines":
            other = (row + 1) % len(lines)
            lines[row], lines[other] = lines[other], lines[row]
            text = "\n".join(lines)
        else:
            text = "\n".join(lines[:row] + lines[row + 1:])
    assert promise_holds(text)


# ---------------------------------------------------------------- what it reads and what it declines

@pytest.mark.parametrize("index", range(len(REAL)), ids=lambda i: f"real-{i}")
def test_the_records_the_tool_writes_are_read_fast(index):
    text = REAL[index]
    if "replay" in text:
        pytest.skip("a replay note's `top` rows render inline: the general path reads it")
    assert canonical.same(canonical.loads(text), tomllib.loads(text))


@pytest.mark.parametrize("spelling", [
    'kind = "a\\u000ab"\n',  # an escape tomli_w writes otherwise (\n)
    "kind = 'literal'\n",  # a literal string
    "kind = \"x\" # comment\n",  # a comment
    "a.b = 1\n",  # a dotted key
    "b = 1\na = 2\n",  # unsorted keys
    "a = 1\n\nb = 2\n",  # a blank line tomli_w does not write
    "a = 1",  # no final newline
    "a = 1_000\n", "a = 0x10\n", "a = 1e5\n", "a = +1\n", "a = inf\n", "a = nan\n",  # other number spellings
    "a = 2026-11-02T10:00:00Z\n",  # a date (records hold times as strings)
    "a = { b = 1 }\n",  # an inline table
    "a = [1, 2]\n",  # an array on one line
    "a = [\n  1,\n]\n",  # another indent
    "[a]\nb = 1\n[c]\nd = 2\n",  # no blank line before a table
    "[a.b]\nc = 1\n\n[a]\nd = 2\n",  # a parent table after its child
    "[[record]]\nid = \"x\"\n",  # a record tomli_w would write inline
    'a = "x"y"\n',  # a bare quote inside a string (the reader's quick path for plain strings)
    'a = "\n',  # a lone quote
    "[a..b]\nc = 1\n", "[a. b]\nc = 1\n", "[.a]\nc = 1\n",  # header paths the quick split takes apart
])
def test_non_canonical_spellings_are_declined(spelling):
    assert canonical.loads(spelling) is None


def test_a_table_nested_past_the_stack_is_declined_not_raised():
    assert canonical.loads("[" + ".".join(["a"] * 5000) + "]\nb = 1\n") is None


def test_a_note_nested_past_the_stack_is_refused_as_a_record_error():
    with pytest.raises(RecordError):
        records.parse_note(("schema = 1\n\n[" + ".".join(["a"] * 5000) + "]\nb = 1\n").encode())


def test_a_tag_message_nested_past_the_stack_is_refused_as_a_record_error():
    body = "[" + ".".join(["a"] * 5000) + "]\nb = 1\n"
    with pytest.raises(RecordError):
        records.parse_canonical_message(f"mv-promote: m v1\n\n{body}".encode(), VersionRecord, "tag")


@pytest.mark.parametrize("text, value", [
    ('a = "plain"\n', "plain"),
    ('a = "x\\ny"\n', "x\ny"),  # a newline escape
    ('a = "x\\\\ny"\n', "x\\ny"),  # an escaped backslash, then a letter n
    ('a = "say \\"hi\\""\n', 'say "hi"'),
])
def test_strings_read_as_tomllib_reads_them(text, value):
    assert canonical.loads(text) == tomllib.loads(text) == {"a": value}


def test_a_note_out_of_canonical_order_is_refused_although_its_toml_is_canonical():
    first = records.make_note_record("deprecation", {"reason": "a"}, at="2026-11-02T10:00:00Z", by="x@example.com")
    second = records.make_note_record("deprecation", {"reason": "b"}, at="2026-11-03T10:00:00Z", by="x@example.com")
    reordered = records.to_toml({"schema": records.SCHEMA, "record": [second, first]})
    assert canonical.loads(reordered) is not None
    with pytest.raises(RecordError, match="not in canonical form"):
        records.parse_note(reordered.encode())


def test_a_note_with_a_record_twice_is_refused():
    rec = records.make_note_record("deprecation", {"reason": "a"}, at="2026-11-02T10:00:00Z", by="x@example.com")
    twice = records.to_toml({"schema": records.SCHEMA, "record": [rec, rec]})
    with pytest.raises(RecordError, match="not in canonical form"):
        records.parse_note(twice.encode())


def version_record() -> VersionRecord:
    return VersionRecord(model="churn", version="v1", commit="c" * 40, created_at="2026-11-01T09:00:00Z",
                         created_by="alice@example.com", artifacts={"model.bin": {"sha256": "ab" * 32, "size": 3}},
                         tier="production", policy_digest="sha256:" + "0" * 64)


def test_a_tag_message_without_a_field_its_record_defaults_is_refused():
    message = version_record().to_message()
    without = message.replace("data = []\n", "")
    assert canonical.loads(without.partition("\n\n")[2]) is not None
    with pytest.raises(RecordError, match="not in canonical form"):
        records.parse_canonical_message(without.encode(), VersionRecord, "tag")


def test_a_tag_message_with_another_subject_is_refused():
    message = version_record().to_message().replace("registered", "tampered", 1)
    with pytest.raises(RecordError, match="not in canonical form"):
        records.parse_canonical_message(message.encode(), VersionRecord, "tag")


def test_a_tag_message_whose_integer_is_written_as_a_float_is_refused():
    message = version_record().to_message().replace("size = 3\n", "size = 3.0\n")
    with pytest.raises(RecordError):
        records.parse_canonical_message(message.encode(), VersionRecord, "tag")


def test_a_canonical_tag_message_reads_to_its_record():
    rec = version_record()
    assert records.parse_canonical_message(rec.to_message().encode(), VersionRecord, "tag") == rec


def test_same_tells_apart_values_that_compare_equal():
    assert not canonical.same({"a": 1}, {"a": True})
    assert not canonical.same({"a": [1]}, {"a": [1.0]})
    assert canonical.same({"a": [1, {"b": "c"}]}, {"a": [1, {"b": "c"}]})


@pytest.mark.parametrize("name, cls", [("version_record.toml", VersionRecord), ("version_record_uri.toml", VersionRecord),
                                       ("promotion_record.toml", PromotionRecord), ("rollout_record.toml", PromotionRecord)])
def test_what_the_record_cache_stores_of_a_record_read_is_its_to_dict(name, cls):
    """fields_dict() (no sorted deep copy) stands for to_dict() for any record read from TOML, and
    builds the same record again."""
    rec = cls.from_dict(tomllib.loads((GOLDEN / name).read_text()), name)
    assert rec.fields_dict() == rec.to_dict()
    assert cls.from_checked(rec.fields_dict()) == rec
