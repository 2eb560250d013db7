"""Property-based tests (hypothesis) of the on-disk contract's pure functions:

- record -> canonical TOML -> record is the identity (version and promotion records, and note
  records through `render_note` / `parse_note`, whose ids stay intact);
- policy validation never accepts a policy with an unknown or misspelled key or a wrong-typed
  value (it raises PolicyError, never returns, never crashes otherwise);
- the notes merge (`merge_records`) is commutative, associative and idempotent, also when records
  share an id and some are tampered, and the intact copy of a record always wins.
"""

from __future__ import annotations

import copy
import string
import tomllib
from datetime import timezone

import pytest
import tomli_w
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gitmv import records
from gitmv.errors import PolicyError
from gitmv.policy import parse_policy
from gitmv.records import PromotionRecord, VersionRecord

FAST = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])

# ================================================================ value strategies

hexes = lambda n: st.text("0123456789abcdef", min_size=n, max_size=n)
names = st.from_regex(r"\A[a-z0-9][a-z0-9_-]{0,20}\Z")
versions = st.integers(1, 999_999_999).map(lambda n: f"v{n}")
int64 = st.integers(-(2 ** 63), 2 ** 63 - 1)
finite = st.floats(allow_nan=False, allow_infinity=False)
text = st.text(max_size=30)
scalars = st.one_of(text, int64, finite, st.booleans())
# TOML has no null: values are scalars, arrays and tables (None is dropped by the canonical form)
values = st.recursive(scalars, lambda inner: st.one_of(st.lists(inner, max_size=4),
                                                       st.dictionaries(text, inner, max_size=4)), max_leaves=12)
tables = st.dictionaries(text, values, max_size=5)
times = st.datetimes(timezones=st.just(timezone.utc)).map(
    lambda d: d.replace(microsecond=0).isoformat().replace("+00:00", "Z"))


@st.composite
def version_records(draw) -> VersionRecord:
    digest = st.fixed_dictionaries({"sha256": hexes(64), "size": st.integers(0, 2 ** 40)})
    return VersionRecord(
        model=draw(names), version=draw(versions), commit=draw(hexes(40)), created_at=draw(times),
        created_by=draw(text), artifacts=draw(st.dictionaries(st.text(min_size=1, max_size=20), digest, min_size=1,
                                                              max_size=3)),
        tier=draw(st.sampled_from(["research", "production", "regulated"])),
        policy_digest="sha256:" + draw(hexes(64)), message=draw(text),
        parent=draw(st.none() | versions), run_id=draw(st.none() | text), seeds=draw(st.lists(int64, max_size=4)),
        signer=draw(st.none() | text),
        data=draw(st.lists(st.fixed_dictionaries({"path": text, "md5": hexes(32), "size": st.integers(0, 10 ** 9)}),
                           max_size=2)),
        params=draw(st.none() | st.fixed_dictionaries({"path": text, "sha256": hexes(64), "values": tables})),
        lockfile=draw(st.none() | st.fixed_dictionaries({"path": text, "sha256": hexes(64)})),
        model_card=draw(st.none() | st.fixed_dictionaries({"path": text, "sha256": hexes(64)})),
        experiment=draw(st.none() | tables),
    )


@st.composite
def promotion_records(draw) -> PromotionRecord:
    return PromotionRecord(
        kind=draw(st.sampled_from(["promote", "rollback"])), model=draw(names), version=draw(versions),
        version_tag=draw(hexes(40)), stage=draw(names), seq=draw(st.integers(1, 10 ** 6)), at=draw(times),
        by=draw(text), policy_digest="sha256:" + draw(hexes(64)), previous=draw(st.none() | versions),
        eval_record=draw(st.none() | hexes(64).map(lambda h: "sha256:" + h)),
        gate=draw(st.none() | st.fixed_dictionaries({"passed": st.booleans(), "criteria": st.lists(text, max_size=3)})),
        approval=draw(st.none() | tables), reason=draw(text), signer=draw(st.none() | text),
        forced=draw(st.none() | tables),
    )


note_bodies = st.dictionaries(text.filter(lambda k: k not in ("id", "kind", "at", "by")), values, max_size=5)


# kinds whose body may be any table; replay and attestation records have required fields and their
# own round-trip tests (tests/test_records.py golden files, tests/ops/test_attest.py)
OPEN_KINDS = [k for k in records.NOTE_KINDS if k not in ("replay", "attestation")]


@st.composite
def note_records(draw) -> dict:
    kind, body = draw(st.sampled_from(OPEN_KINDS)), draw(note_bodies)
    shape = records.NOTE_SHAPES.get(kind)  # a field the kind types gets no random value (drawn below)
    body = {k: v for k, v in body.items() if shape is None or k not in shape.fields}
    if kind == "eval":  # an eval is evidence only with at least one finite metric
        body["metrics"] = draw(st.dictionaries(text, st.one_of(int64, finite), min_size=1, max_size=3))
    return records.make_note_record(kind, body, at=draw(times), by=draw(text))


# ================================================================ round trips

@FAST
@given(version_records())
def test_version_record_round_trips_through_canonical_toml(rec):
    data = tomllib.loads(records.to_toml(rec.to_dict()))
    assert VersionRecord.from_dict(data) == rec
    assert records.to_toml(data) == records.to_toml(rec.to_dict()), "canonical TOML is a fixed point"


@FAST
@given(version_records())
def test_version_record_round_trips_through_its_tag_message(rec):
    assert VersionRecord.from_message(rec.to_message()) == rec


@FAST
@given(promotion_records())
def test_promotion_record_round_trips_through_its_tag_message(rec):
    assert PromotionRecord.from_message(rec.to_message()) == rec
    assert PromotionRecord.from_dict(tomllib.loads(records.to_toml(rec.to_dict()))) == rec


@FAST
@given(st.lists(note_records(), max_size=5))
def test_note_records_round_trip_through_render_and_parse(recs):
    raw = records.render_note(recs).encode()
    parsed = records.parse_note(raw)
    assert parsed == records.merge_records([], recs)
    assert all(records.record_is_intact(r) for r in parsed), "an id no longer matches its record after TOML"
    assert records.render_note(parsed).encode() == raw, "rendering is canonical: same records, same bytes"


@FAST
@given(note_bodies, note_bodies)
def test_record_ids_depend_on_content_only(a, b):
    ra = records.make_note_record("eval", a, at="2026-11-01T09:00:00Z", by="A")
    rb = records.make_note_record("eval", b, at="2026-11-01T09:00:00Z", by="A")
    assert (ra["id"] == rb["id"]) == (records.canonical_json(ra) == records.canonical_json(rb))
    reordered = dict(reversed(list(a.items())))
    assert records.make_note_record("eval", reordered, at="2026-11-01T09:00:00Z", by="A")["id"] == ra["id"]


# ================================================================ policy validation

def base_policy() -> dict:
    return {
        "schema": 1,
        "registry": {"stages": ["staging", "production"], "protected_stages": ["production"],
                     "protected_branch": "main", "allowed_signers": ".mv-promote/allowed_signers",
                     "require_previous_stage": False, "rollback_requires_approval": False,
                     "experiment_retention": "30d"},
        "models": {"churn": {
            "tier": "production", "artifacts": ["model.bin"], "model_card": "MODEL_CARD.md",
            "data": ["data/train.dvc"], "params": "params.yaml", "lockfile": "requirements.lock",
            "eval": {"suite": "holdout", "command": "python3 eval.py {artifact} {output}", "data": "data/holdout.dvc"},
            "train": {"command": "dvc repro"},
            "gate": {"metrics": {"auc": "max", "latency_ms": "min"}, "thresholds": {"auc": 0.8},
                     "max_regression": {"auc": 0.0}, "protected_slices": ["region=eu"], "approvals": 1},
        }},
    }


def dump(policy: dict) -> bytes:
    return tomli_w.dumps(policy).encode()


def test_the_base_policy_is_valid():
    policy = parse_policy(dump(base_policy()))
    assert policy.models["churn"].gate.approvals == 1


# tables whose keys are a fixed set (models.* and gate.metrics/thresholds name user things)
KNOWN = {
    (): {"schema", "registry", "models"},
    ("registry",): set(base_policy()["registry"]),
    ("models", "churn"): set(base_policy()["models"]["churn"]),
    ("models", "churn", "eval"): {"suite", "command", "data"},
    ("models", "churn", "train"): {"command"},
    ("models", "churn", "gate"): set(base_policy()["models"]["churn"]["gate"]),
}


def misspellings(word: str) -> st.SearchStrategy[str]:
    i = st.integers(0, len(word) - 1)
    return st.one_of(
        i.map(lambda k: word[:k] + word[k + 1:]),                              # a letter dropped
        i.map(lambda k: word[:k] + word[k] + word[k:]),                        # a letter doubled
        i.map(lambda k: word[:k] + word[k + 1:k + 2] + word[k:k + 1] + word[k + 2:]),  # swapped
        st.just(word.upper()), st.just(word.capitalize()), st.just(word + "s"),
        st.just(word.replace("_", "-")), st.just(word.replace("_", "")),
        st.text(string.ascii_lowercase + "_-", min_size=1, max_size=12),
    )


@st.composite
def policies_with_an_unknown_key(draw):
    path = draw(st.sampled_from(sorted(KNOWN)))
    known = KNOWN[path]
    original = draw(st.sampled_from(sorted(known)))
    key = draw(misspellings(original).filter(lambda k: k not in known and k.strip() != ""))
    policy = base_policy()
    table = policy
    for part in path:
        table = table[part]
    value = draw(st.one_of(st.just(copy.deepcopy(table[original])), values))
    table[key] = value
    if draw(st.booleans()):  # the misspelling replaces the real key (the typo case), or sits beside it
        del table[original]
    return path, key, policy


@FAST
@given(policies_with_an_unknown_key())
def test_policy_with_an_unknown_or_misspelled_key_is_refused(case):
    path, key, policy = case
    with pytest.raises(PolicyError):
        parse_policy(dump(policy))


# every key the validator reads: (path, key, strategy of values of a wrong type or out of range)
not_str = st.one_of(int64, finite, st.booleans(), st.lists(text, max_size=2), st.dictionaries(text, text, max_size=2))
not_bool = st.one_of(text, int64, finite, st.lists(st.booleans(), max_size=2))
not_int = st.one_of(text, finite, st.booleans(), st.lists(int64, max_size=2))
not_table = st.one_of(text, int64, finite, st.booleans(), st.lists(int64, max_size=2))
bad_str_list = st.one_of(text, int64, st.booleans(), st.dictionaries(text, text, max_size=2),
                         st.lists(st.one_of(int64, st.booleans(), st.just("")), min_size=1, max_size=3))
WRONG = [
    ((), "schema", st.one_of(not_int, st.integers(2, 99), st.integers(-99, 0))),
    ((), "registry", not_table),
    ((), "models", not_table),
    (("registry",), "stages", st.one_of(bad_str_list, st.just([]), st.just(["v1"]), st.just(["Staging"]),
                                        st.just(["staging", "staging"]))),
    (("registry",), "protected_stages", st.one_of(bad_str_list, st.just(["prod"]))),
    (("registry",), "protected_branch", not_str),
    (("registry",), "allowed_signers", st.one_of(not_str, st.just("/etc/allowed"), st.just("../signers"))),
    (("registry",), "require_previous_stage", not_bool),
    (("registry",), "rollback_requires_approval", not_bool),
    (("registry",), "experiment_retention", st.one_of(not_str, st.just("30 days"), st.just("-1d"), st.just("1y"))),
    (("models",), "churn", not_table),
    (("models", "churn"), "tier", st.one_of(not_str, st.just("prod"), st.just("Production"))),
    (("models", "churn"), "artifacts", st.one_of(bad_str_list, st.just([]), st.just(["/abs/model.bin"]))),
    (("models", "churn"), "model_card", st.one_of(not_str, st.just("../card.md"))),
    (("models", "churn"), "data", st.one_of(bad_str_list, st.just(["../x.dvc"]))),
    (("models", "churn"), "params", st.one_of(not_str, st.just("/params.yaml"))),
    (("models", "churn"), "lockfile", st.one_of(not_str, st.just("a\\b.lock"))),
    (("models", "churn"), "eval", not_table),
    (("models", "churn"), "train", not_table),
    (("models", "churn"), "gate", not_table),
    (("models", "churn", "eval"), "suite", st.one_of(not_str, st.just(""))),
    (("models", "churn", "eval"), "command", st.one_of(not_str, st.just("python3 eval.py {artefact} {output}"),
                                                       st.just("python3 eval.py {artifact} {ouput}"))),
    (("models", "churn", "eval"), "data", not_str),
    (("models", "churn", "train"), "command", not_str),
    (("models", "churn", "gate"), "metrics", st.one_of(not_table, st.just({}),
                                                       st.dictionaries(st.just("auc"), st.one_of(
                                                           text.filter(lambda t: t not in ("max", "min")), int64,
                                                           st.booleans()), min_size=1))),
    (("models", "churn", "gate"), "thresholds", st.one_of(
        not_table, st.dictionaries(st.just("auc"), st.one_of(text, st.booleans(), st.lists(finite, max_size=1)),
                                   min_size=1),
        st.just({"accuracy": 0.9}))),
    (("models", "churn", "gate"), "max_regression", st.one_of(
        not_table, st.dictionaries(st.just("auc"), st.one_of(text, st.booleans(), st.floats(max_value=-1e-9)),
                                   min_size=1),
        st.just({"AUC": 0.0}))),
    (("models", "churn", "gate"), "protected_slices", bad_str_list),
    (("models", "churn", "gate"), "approvals", st.one_of(not_int, st.integers(-99, -1))),
]


@st.composite
def policies_with_a_wrong_value(draw):
    path, key, wrong = draw(st.sampled_from(WRONG))
    policy = base_policy()
    table = policy
    for part in path:
        table = table[part]
    table[key] = draw(wrong)
    return path, key, policy


@settings(max_examples=150, deadline=None)
@given(policies_with_a_wrong_value())
def test_policy_with_a_wrong_typed_or_out_of_range_value_is_refused(case):
    path, key, policy = case
    with pytest.raises(PolicyError) as info:
        parse_policy(dump(policy))
    assert info.value.cause, "the error names the cause"


def test_every_key_the_validator_reads_is_covered_by_the_wrong_value_property():
    covered = {(path, key) for path, key, _ in WRONG}
    for path, keys in KNOWN.items():
        for key in keys:
            assert (path, key) in covered, f"{'.'.join(path + (key,))} has no wrong-value case"


toml_docs = st.dictionaries(st.sampled_from(["schema", "registry", "models", "x"]),
                            st.one_of(values, st.dictionaries(text, values, max_size=4)), max_size=4)


@FAST
@given(toml_docs)
def test_policy_validation_only_ever_raises_policy_error(doc):
    try:
        parse_policy(dump(doc))
    except PolicyError:
        pass


@FAST
@given(st.binary(max_size=200))
def test_policy_validation_of_arbitrary_bytes_only_ever_raises_policy_error(raw):
    try:
        parse_policy(raw)
    except PolicyError:
        pass


# ================================================================ merge

@st.composite
def record_pools(draw) -> list[dict]:
    """A few intact records and tampered copies (same id, edited content)."""
    base = draw(st.lists(st.builds(lambda auc, by, at: records.make_note_record(
        "eval", {"metrics": {"auc": auc}, "suite": "holdout"}, at=at, by=by),
        finite, st.sampled_from(["A", "B"]), st.sampled_from(["2026-11-01T09:00:00Z", "2026-11-02T09:00:00Z"])),
        min_size=1, max_size=4, unique_by=lambda r: r["id"]))
    tampered = []
    for rec in base:
        for delta in draw(st.lists(st.sampled_from([0.5, 1.5, 7.0]), max_size=2, unique=True)):
            t = copy.deepcopy(rec)
            t["metrics"]["auc"] = rec["metrics"]["auc"] + delta
            if not records.record_is_intact(t):
                tampered.append(t)
    return base + tampered


@st.composite
def three_sides(draw):
    pool = draw(record_pools())
    side = st.lists(st.sampled_from(pool), max_size=6)
    return draw(side), draw(side), draw(side)


@FAST
@given(three_sides())
def test_merge_is_commutative(sides):
    a, b, _ = sides
    assert records.merge_records(a, b) == records.merge_records(b, a)
    assert records.render_note(records.merge_records(a, b)) == records.render_note(records.merge_records(b, a))


@FAST
@given(three_sides())
def test_merge_is_associative(sides):
    a, b, c = sides
    m = records.merge_records
    assert m(m(a, b), c) == m(a, m(b, c))


@FAST
@given(three_sides())
def test_merge_is_idempotent(sides):
    a, b, _ = sides
    m = records.merge_records
    assert m(a, a) == m(a, []) == m([], a)
    assert m(m(a, b), b) == m(a, b) == m(a, m(a, b))


@FAST
@given(three_sides())
def test_merge_keeps_one_record_per_id_and_the_intact_copy_wins(sides):
    a, b, _ = sides
    merged = records.merge_records(a, b)
    ids = [r["id"] for r in merged]
    assert len(ids) == len(set(ids)) and set(ids) == {r["id"] for r in a + b}
    intact = {r["id"] for r in a + b if records.record_is_intact(r)}
    for rec in merged:
        if rec["id"] in intact:
            assert records.record_is_intact(rec), "a tampered copy beat the intact record"


# ================================================================ merge of notes commits (what sync does)

TARGETS = ["1" * 40, "ab" + "2" * 38, "ab" + "3" * 38]


@st.composite
def split_histories(draw):
    """Records on a few annotated objects, each in the common base, only in ours, or only in theirs."""
    pool = draw(record_pools())
    return draw(st.lists(st.tuples(st.sampled_from(TARGETS), st.sampled_from(["base", "ours", "theirs"]),
                                   st.sampled_from(pool)), max_size=10))


@settings(max_examples=30, deadline=None)
@given(split_histories())
def test_merging_notes_commits_converges_to_the_same_tree_in_either_order(entries):
    import tempfile

    import pygit2

    from gitmv.git import notes
    from gitmv.git.repo import Repo

    def write(repo, parent, sides):
        per_target: dict[str, list] = {}
        for target, side, rec in entries:
            if side in sides:
                per_target.setdefault(target, []).append(rec)
        data = {t: records.render_note(recs).encode() for t, recs in per_target.items()}
        return repo.write_notes(data, [parent] if parent else [], f"notes {sides}")

    with tempfile.TemporaryDirectory(prefix="mv-merge-") as tmp:
        repo = Repo(pygit2.init_repository(tmp, bare=True))
        base = write(repo, None, {"base"})
        ours = write(repo, base, {"base", "ours"})
        theirs = write(repo, base, {"base", "theirs"})
        one = notes.merge_commits(repo, ours, theirs, "merge")
        other = notes.merge_commits(repo, theirs, ours, "merge")
        assert repo.notes_commit_tree(one) == repo.notes_commit_tree(other), "clones would not converge"
        for target in TARGETS:
            want = records.merge_records(*[[r for t, s, r in entries if t == target and s in sides]
                                           for sides in ({"base", "ours"}, {"base", "theirs"})])
            got = notes.read_records(repo, one, target)
            assert got == want
        # merging again changes nothing (idempotent at the commit level)
        assert notes.merge_commits(repo, one, theirs, "again") == one
        assert repo.notes_commit_tree(notes.merge_commits(repo, one, other, "again")) == repo.notes_commit_tree(one)
