"""The registry's ref namespace and grammar (gitmv.rules.refs): pure functions on bytes, no repo.

Git allows bytes in ref names that Python's str methods treat as separators (U+2028, U+0085 …)
and bytes that are not UTF-8; these tests pin that every such name is judged exactly.
"""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gitmv.rules import refs

OLD, NEW = "1" * 40, "2" * 40
SEPARATORS = ["\u2028", "\u2029", "\x85", "\x1c", "\x1d", "\x1e", "\v", "\f"]  # str.splitlines() splits on all


# ---------------------------------------------------------------- grammar and namespace

@pytest.mark.parametrize("name", ["refs/tags/mv/churn/v1", "refs/tags/mv/churn/v999999999",
                                  "refs/tags/mv/churn/production/1", "refs/tags/mv/a_b-c/staging/12",
                                  "refs/notes/mv-promote"])
def test_names_in_the_grammar_are_accepted(name):
    assert refs.parse(name.encode()) is not None
    assert refs.name_refusal(name.encode()) is None


def test_a_version_ref_parses_into_model_and_version():
    parsed = refs.parse(b"refs/tags/mv/churn/v12")
    assert (parsed.kind, parsed.model, parsed.version, parsed.name) == ("version", "churn", "v12", "refs/tags/mv/churn/v12")


def test_a_stage_ref_parses_into_model_stage_and_seq():
    parsed = refs.parse(b"refs/tags/mv/churn/production/3")
    assert (parsed.kind, parsed.model, parsed.stage, parsed.seq) == ("stage", "churn", "production", 3)


@pytest.mark.parametrize("name", [
    b"refs/tags/mv", b"refs/tags/mv/", b"refs/tags/mv/churn", b"refs/tags/mv/churn/v0", b"refs/tags/mv/churn/v01",
    b"refs/tags/mv/Churn/v1", b"refs/tags/mv/churn/x/y/v9", b"refs/tags/mv/churn.v/v9",
    b"refs/tags/mv/churn/production/0", b"refs/tags/mv/churn/production/1/2", b"refs/tags/mv/churn/v1/2",
    b"refs/tags/mv/churn/v1\n", b"refs/tags/mv/churn/production/1\n",
    "refs/tags/mv/churn/production\u2028x/1".encode(), "refs/tags/mv/churn/prod\x85/1".encode(),
    b"refs/tags/mv/churn/prod\x85/1", b"refs/tags/mv/churn/v1\xff",
    b"refs/notes/mv-promote/x", b"refs/notes/mv-promote2", b"refs/notes/mv-promote-old", b"refs/notes/mv-promote\xe2\x80\xa8",
])
def test_names_in_the_namespace_outside_the_grammar_are_refused(name):
    assert refs.in_namespace(name)
    assert refs.parse(name) is None
    assert refs.name_refusal(name)


@pytest.mark.parametrize("name", [b"refs/tags/mvp", b"refs/tags/mv-old/x", b"refs/tags/v1", b"refs/heads/mv/x",
                                  b"refs/notes/commits", b"refs/notes/mv-promot", b"refs/notes/remotes/origin/mv-promote",
                                  b"refs/heads/\xff", "refs/heads/a\u2028b".encode(), b"refs/mv-exp/churn/x"])
def test_names_outside_the_namespace_are_not_claimed(name):
    assert not refs.in_namespace(name)
    assert refs.name_refusal(name) is None


def test_a_ref_named_refs_tags_mv_is_refused_as_blocking_the_namespace():
    assert "directory/file conflict" in refs.name_refusal(b"refs/tags/mv")


def test_a_ref_below_the_notes_ref_is_refused_as_blocking_the_notes():
    assert "notes" in refs.name_refusal(b"refs/notes/mv-promote/x")


def test_a_stage_that_looks_like_a_version_is_outside_the_grammar():
    """refs/tags/mv/churn/v1/2 would block the version tag refs/tags/mv/churn/v1 (and v.v.)."""
    assert refs.parse(b"refs/tags/mv/churn/v1/2") is None
    assert refs.STAGE_REF_RE.match("refs/tags/mv/churn/v1/2") is None


def test_str_and_bytes_grammars_agree():
    assert refs.VERSION_REF_RE.match("refs/tags/mv/churn/v1")
    assert not refs.VERSION_REF_RE.match("refs/tags/mv/churn/v1\n"), "anchored with \\Z, not $"


def test_registry_module_re_exports_the_one_grammar():
    from gitmv import registry

    assert registry.VERSION_REF_RE is refs.VERSION_REF_RE and registry.STAGE_REF_RE is refs.STAGE_REF_RE


def test_display_escapes_everything_but_printable_ascii():
    shown = refs.display("refs/tags/mv/churn/prod\u2028x/1".encode() + b"\xff\n")
    assert shown == "refs/tags/mv/churn/prod\\xe2\\x80\\xa8x/1\\xff\\x0a"
    assert shown.isascii() and shown.isprintable()


# ---------------------------------------------------------------- properties

_component = st.binary(min_size=0, max_size=12)
_alphabet = st.sampled_from([b"a", b"z", b"0", b"9", b"-", b"_", b"v", b"/", b".", b"A", b" ", b"\n",
                             b"\x85", b"\xc2", b"\xe2\x80\xa8", b"\xff", b"1"])
_near = st.lists(_alphabet, max_size=20).map(b"".join)
_prefixes = st.sampled_from([b"refs/tags/mv", b"refs/tags/mv/", b"refs/tags/mv/churn/", b"refs/notes/mv-promote",
                             b"refs/notes/mv-promote/", b"refs/tags/", b"refs/notes/", b"refs/heads/", b""])


@given(_prefixes, st.one_of(_component, _near))
def test_every_name_in_the_namespace_is_in_the_grammar_or_refused(prefix, tail):
    name = prefix + tail
    if refs.in_namespace(name):
        assert (refs.parse(name) is None) != (refs.name_refusal(name) is None)
    else:
        assert refs.parse(name) is None and refs.name_refusal(name) is None


@given(_prefixes, st.one_of(_component, _near))
def test_the_namespace_is_exactly_refs_tags_mv_and_refs_notes_mv_promote_prefix(prefix, tail):
    name = prefix + tail
    expected = name == b"refs/tags/mv" or name.startswith(b"refs/tags/mv/") or name.startswith(b"refs/notes/mv-promote")
    assert refs.in_namespace(name) == expected


@given(st.binary(max_size=40))
def test_parsed_names_are_ascii_and_round_trip(tail):
    for name in (b"refs/tags/mv/" + tail, b"refs/tags/mv/churn/" + tail):
        parsed = refs.parse(name)
        if parsed is not None:
            assert parsed.name.encode("ascii") == name


@given(st.binary(max_size=40))
def test_text_round_trips_any_bytes(name):
    assert refs.to_bytes(refs.to_text(name)) == name
    assert refs.in_namespace(refs.to_text(name)) == refs.in_namespace(name)


# ---------------------------------------------------------------- hook input

def test_pre_receive_lines_parse_into_old_new_and_ref_bytes():
    data = f"{OLD} {NEW} refs/heads/main\n{OLD} {NEW} refs/tags/mv/churn/v1\n".encode()
    assert refs.parse_pre_receive(data) == [(OLD, NEW, b"refs/heads/main"), (OLD, NEW, b"refs/tags/mv/churn/v1")]


@pytest.mark.parametrize("sep", SEPARATORS)
def test_pre_receive_splits_lines_on_lf_only(sep):
    ref = f"refs/tags/mv/churn/production{sep}refs/tags/mv/churn/production/1".encode()
    assert refs.parse_pre_receive(f"{OLD} {NEW} ".encode() + ref + b"\n") == [(OLD, NEW, ref)]


def test_pre_receive_keeps_non_utf8_names_as_bytes():
    ref = b"refs/tags/mv/churn/prod\x85\xff/1"
    assert refs.parse_pre_receive(f"{OLD} {NEW} ".encode() + ref + b"\n") == [(OLD, NEW, ref)]


@pytest.mark.parametrize("line", [
    f"{OLD} {NEW}".encode(), f"{OLD} {NEW} refs/heads/a b".encode(), f"{OLD}  {NEW} refs/heads/a".encode(),
    f"{OLD}\t{NEW} refs/heads/a".encode(), f"{OLD} {NEW} ".encode(), f"{OLD[:-1]}x {NEW} refs/heads/a".encode(),
    f"{'A' * 40} {NEW} refs/heads/a".encode(), f"{OLD[:39]} {NEW} refs/heads/a".encode(),
    f"{OLD}\u2028{NEW} refs/heads/a".encode(),
])
def test_a_malformed_pre_receive_line_raises_rather_than_being_skipped(line):
    with pytest.raises(refs.HookInputError):
        refs.parse_pre_receive(b"%s %s refs/heads/ok\n" % (OLD.encode(), NEW.encode()) + line + b"\n")


def test_pre_receive_accepts_sha256_object_ids():
    old, new = "a" * 64, "0" * 64
    assert refs.parse_pre_receive(f"{old} {new} refs/heads/x\n".encode()) == [(old, new, b"refs/heads/x")]


def test_empty_lines_carry_no_update():
    assert refs.parse_pre_receive(b"") == [] and refs.parse_pre_receive(b"\n") == []


def test_pre_push_lines_parse_into_four_fields():
    data = f"refs/heads/main {NEW} refs/heads/main {OLD}\n(delete) {'0' * 40} refs/tags/mv/x {OLD}\n".encode()
    assert refs.parse_pre_push(data) == [(b"refs/heads/main", NEW, b"refs/heads/main", OLD),
                                         (b"(delete)", "0" * 40, b"refs/tags/mv/x", OLD)]


def test_pre_push_allows_a_local_side_with_spaces():
    """The local side is whatever was typed (`HEAD^{/fix it}`); the remote ref cannot hold a space."""
    data = f"HEAD^{{/fix it}} {NEW} refs/heads/x {OLD}\n".encode()
    assert refs.parse_pre_push(data) == [(b"HEAD^{/fix it}", NEW, b"refs/heads/x", OLD)]


@pytest.mark.parametrize("sep", SEPARATORS)
def test_pre_push_splits_on_lf_and_single_spaces_only(sep):
    remote = f"refs/tags/mv/churn/production{sep}x/1".encode()
    assert refs.parse_pre_push(b"refs/x %s " % NEW.encode() + remote + b" %s\n" % OLD.encode())[0][2] == remote


@pytest.mark.parametrize("line", [f"refs/heads/a {NEW} refs/heads/a".encode(), f"refs/heads/a {NEW} refs/heads/a zz".encode(),
                                  f"{NEW} refs/heads/a {OLD}".encode(), f"refs/heads/a {NEW}  {OLD}".encode()])
def test_a_malformed_pre_push_line_raises(line):
    with pytest.raises(refs.HookInputError):
        refs.parse_pre_push(line + b"\n")


# ---------------------------------------------------------------- listings

def test_ref_listing_is_framed_by_nul():
    data = b"refs/tags/mv/churn/v1\x00" + OLD.encode() + b"\x00\n" + "refs/tags/mv/a\u2028b\x85".encode() + b"\x00" + NEW.encode() + b"\x00\n"
    assert refs.parse_ref_listing(data, 2) == [(b"refs/tags/mv/churn/v1", OLD.encode()),
                                               ("refs/tags/mv/a\u2028b\x85".encode(), NEW.encode())]


def test_sized_listing_frames_free_text_by_its_length():
    forged = b"x\n\x01refs/tags/mv/churn/v9\x00" + NEW.encode() + b"\x00\x00\n"
    data = b"refs/tags/mv/churn/v1\x00" + OLD.encode() + b"\x00\x00" + str(len(forged)).encode() + b"\x00" + forged + b"\n"
    assert refs.parse_ref_listing(data, 4, sized=True) == [(b"refs/tags/mv/churn/v1", OLD.encode(), b"", forged)]


@pytest.mark.parametrize("data", [b"refs/x\x00" + OLD.encode() + b"\n", b"refs/x\x00" + OLD.encode() + b"\x00",
                                  b"refs/x\x00" + OLD.encode() + b"\x00junk\n"])
def test_unframed_listing_raises(data):
    with pytest.raises(ValueError):
        refs.parse_ref_listing(data, 2)


def test_ls_remote_is_split_on_lf_and_tab_only_and_drops_peeled_lines():
    name = "refs/tags/mv/churn/prod\u2028x/1".encode()
    data = OLD.encode() + b"\t" + name + b"\n" + NEW.encode() + b"\t" + name + b"^{}\n"
    assert refs.parse_ls_remote(data) == [(name, OLD)]


@pytest.mark.parametrize("data", [b"refs/x\x00" + OLD.encode() + b"\x00" + b"\n\n",  # a blank line after
                                  b"refs/x\x00\n" + OLD.encode() + b"\x00\n",  # LF inside a record
                                  b"refs/x\x00" + OLD.encode() + b"\x00extra\x00\n"])  # a field too many
def test_a_listing_with_an_lf_or_a_field_out_of_place_raises(data):
    with pytest.raises(ValueError):
        refs.parse_ref_listing(data, 2)


@given(st.lists(st.tuples(st.binary(max_size=12).filter(lambda b: b"\x00" not in b and b"\n" not in b),
                          st.binary(max_size=12).filter(lambda b: b"\x00" not in b and b"\n" not in b)),
                max_size=8))
def test_any_framed_listing_reads_back_its_fields(records):
    data = b"".join(name + b"\x00" + oid + b"\x00\n" for name, oid in records)
    assert refs.parse_ref_listing(data, 2) == records
