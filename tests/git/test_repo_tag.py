"""Repo.tag reads a tag object's header itself (one object read instead of libgit2's two): for every
tag it must give exactly what libgit2's parse gives (`_tag_parsed`), whatever the header holds."""

from __future__ import annotations

import subprocess

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from conftest import git
from gitmv.git.repo import Repo

TAGGER = "tagger Alice <alice@example.com> 1767225600 +0100\n"


@pytest.fixture
def repo(tmp_path):
    git("init", "-q", "--initial-branch=main", str(tmp_path), cwd=tmp_path)
    git("commit", "-q", "--allow-empty", "-m", "c1", cwd=tmp_path)
    return tmp_path


def write_tag(path, raw: bytes) -> str:
    """Any bytes stored as a tag object, as a careless or hostile client could push them."""
    return subprocess.run(["git", "hash-object", "-t", "tag", "--literally", "-w", "--stdin"], cwd=path, input=raw,
                          capture_output=True, check=True).stdout.decode().strip()


def head(path) -> str:
    return git("rev-parse", "HEAD", cwd=path)


def same_as_libgit2(path, oid: str) -> None:
    r = Repo.discover(path)
    raw = r.read_raw(oid)
    assert r.tag(oid) == r._tag_parsed(oid, "", raw)


def test_an_annotated_tag_reads_as_libgit2_reads_it(repo):
    git("tag", "-a", "v1", "-m", "subject\n\nbody line", cwd=repo)
    oid = git("rev-parse", "refs/tags/v1", cwd=repo)
    same_as_libgit2(repo, oid)
    info = Repo.discover(repo).tag(oid)
    assert (info.name, info.target, info.target_type) == ("v1", head(repo), "commit")


@pytest.mark.parametrize("header, message", [
    (TAGGER, "hello\n"),                                             # the common form
    ("", "no tagger line\n"),                                         # old tags have none
    (TAGGER, ""),                                                     # an empty message
    (TAGGER, "two\n\nparagraphs\n-----BEGIN SSH SIGNATURE-----\nx\n-----END SSH SIGNATURE-----\n"),
    ("tagger Alice <alice@example.com> 0000000042 -0700\n", "leading zeros in the time\n"),
    ("tagger Al<ice <a@example.com> 1767225600 +0000\n", "a '<' in the name\n"),
    ("tagger Alice <alice@example.com>\n", "no time at all\n"),
    ("tagger Alice <alice@example.com> 99999999999999999999 +0000\n", "a time past 64 bits\n"),
    (TAGGER + "extra header\n", "an unknown header line\n"),
    (TAGGER.replace("\n", "\r\n"), "CR before LF\n"),
    (TAGGER, "a NUL \0 inside the message\n"),
])
def test_unusual_headers_read_as_libgit2_reads_them(repo, header, message):
    raw = f"object {head(repo)}\ntype commit\ntag odd\n{header}\n{message}".encode()
    same_as_libgit2(repo, write_tag(repo, raw))


def test_a_name_that_is_not_utf8_reads_as_libgit2_reads_it(repo):
    raw = f"object {head(repo)}\ntype commit\ntag ".encode() + b"caf\xe9" + f"\n{TAGGER}\nmsg\n".encode()
    same_as_libgit2(repo, write_tag(repo, raw))


@pytest.mark.parametrize("name, tagger", [
    (b"mv/m/v1\0tail", TAGGER.encode()),  # libgit2 keeps the name up to the NUL
    (b"v1", b"tagger Al\0ice <alice@example.com> 1767225600 +0000\n"),
])
def test_a_nul_in_the_header_reads_as_libgit2_reads_it(repo, name, tagger):
    raw = f"object {head(repo)}\ntype commit\ntag ".encode() + name + b"\n" + tagger + b"\nmsg\n"
    same_as_libgit2(repo, write_tag(repo, raw))


@pytest.mark.parametrize("tail", [b"", TAGGER.encode()])
def test_a_tag_without_a_blank_line_reads_with_an_empty_message(repo, tail):
    raw = f"object {head(repo)}\ntype commit\ntag bare\n".encode() + tail
    oid = write_tag(repo, raw)
    same_as_libgit2(repo, oid)
    assert Repo.discover(repo).tag(oid).message == ""


def test_a_tag_of_a_missing_object_says_so(repo):
    missing = "1" * 40
    oid = write_tag(repo, f"object {missing}\ntype commit\ntag ghost\n{TAGGER}\nmsg\n".encode())
    same_as_libgit2(repo, oid)
    assert Repo.discover(repo).tag(oid).target_type == "missing"


def test_a_tag_of_a_tree_names_the_tree_type_from_the_object_not_the_header(repo):
    tree = git("rev-parse", "HEAD^{tree}", cwd=repo)
    oid = write_tag(repo, f"object {tree}\ntype commit\ntag lies\n{TAGGER}\nmsg\n".encode())
    same_as_libgit2(repo, oid)
    assert Repo.discover(repo).tag(oid).target_type == "tree"


def test_an_object_that_is_not_a_tag_is_none(repo):
    r = Repo.discover(repo)
    assert r.tag(head(repo)) is None
    assert r.tag("2" * 40) is None


# header fields built from the characters that matter to a parser of them
FIELD = st.text(alphabet=st.sampled_from(list("ab1 <>\n\0+-:")), max_size=12).map(str.encode)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(name=FIELD, who=FIELD, when=st.sampled_from([b"1767225600", b"0", b"-5", b"", b"12a", b"99999999999999"]),
       zone=st.sampled_from([b"+0000", b"-0730", b"0000", b"+00", b""]), with_tagger=st.booleans(), message=FIELD)
def test_any_header_reads_as_libgit2_reads_it(repo, name, who, when, zone, with_tagger, message):
    tagger = b"tagger " + who + b" <a@b> " + when + b" " + zone + b"\n" if with_tagger else b""
    raw = f"object {head(repo)}\ntype commit\ntag ".encode() + name + b"\n" + tagger + b"\n" + message
    same_as_libgit2(repo, write_tag(repo, raw))
