"""Ref names as bytes, through real pushes to real hosts (git daemon, nginx + http-backend).

Git allows ref names that hold U+2028, U+0085 or bytes that are not UTF-8; Python's
`str.splitlines()` splits on the first two, and decoding fails on the last. The hooks read their
input as bytes, and the registry namespace (`refs/tags/mv`, `refs/tags/mv/…`,
`refs/notes/mv-promote*`) admits only the registry grammar (rule `R3 valid-ref-name`). Every bad
name is pushed with `--no-verify` and must be refused by the server with its refs unchanged,
compared as bytes.
"""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from conftest import ModelRepo, accepted, push

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
LS = "\u2028"  # LINE SEPARATOR: str.splitlines() splits on it, git allows it in a ref name
NEL = "\x85"  # NEXT LINE (UTF-8 c2 85): the same


def gitb(*args: str | bytes, cwd, check: bool = True) -> bytes:
    proc = subprocess.run(["git", *args], cwd=cwd, capture_output=True)
    if check and proc.returncode != 0:
        raise AssertionError(f"git {args!r} failed: {proc.stderr.decode(errors='replace')}")
    return proc.stdout


def server_refs(server) -> bytes:
    """The server's refs exactly as bytes (NUL-framed: no name can be misread here either)."""
    return gitb("for-each-ref", "--format=%(refname)%00%(objectname)%00", cwd=server.path)


def push_raw(repo: ModelRepo, *refspecs: str | bytes, verify: bool = False) -> subprocess.CompletedProcess:
    args = ["git", "push", "--porcelain"] + ([] if verify else ["--no-verify"]) + ["origin", *refspecs]
    return subprocess.run(args, cwd=repo.path, capture_output=True)


def text_of(proc: subprocess.CompletedProcess) -> str:
    return (proc.stdout + proc.stderr).decode("utf-8", "replace")


def refused_by_server(proc: subprocess.CompletedProcess, rule: str) -> str:
    text = text_of(proc)
    assert proc.returncode != 0, f"push was accepted:\n{text}"
    assert "remote: mv-promote: refused" in text, text
    assert rule in text, f"expected rule {rule!r} in:\n{text}"
    assert "Traceback" not in text, text
    return text


@pytest.fixture
def clone(server, tmp_path, keys):
    """A clone whose server holds the policy on main and no registry refs yet."""
    repo = ModelRepo(tmp_path / "alice", keys)
    repo.git("remote", "add", "origin", server.url)
    accepted(push(repo, "main"))
    return repo


BAD_NAMES = [
    pytest.param(b"refs/tags/mv", id="refs/tags/mv-itself"),
    pytest.param(b"refs/tags/mv/churn", id="model-dir-as-ref"),
    pytest.param(b"refs/tags/mv/churn/v0", id="version-zero"),
    pytest.param(b"refs/tags/mv/churn/v1/2", id="stage-named-like-a-version"),
    pytest.param(b"refs/tags/mv/churn/production/1/x", id="too-deep"),
    pytest.param(b"refs/notes/mv-promote/x", id="below-the-notes-ref"),
    pytest.param(b"refs/notes/mv-promote2", id="notes-look-alike-2"),
    pytest.param(b"refs/notes/mv-promote-old", id="notes-look-alike-old"),
    pytest.param(f"refs/tags/mv/churn/production{LS}x/1".encode(), id="u2028-in-stage"),
    pytest.param(f"refs/tags/mv/churn/prod{NEL}/1".encode(), id="u0085-in-stage"),
    pytest.param(b"refs/tags/mv/churn/prod\xff/1", id="not-utf8"),
]


@pytest.mark.parametrize("name", BAD_NAMES)
def test_creating_a_ref_in_the_registry_namespace_outside_the_grammar_is_refused(clone, server, name):
    before = server_refs(server)
    refused_by_server(push_raw(clone, b"HEAD:" + name), "R3 valid-ref-name")
    assert server_refs(server) == before


def test_the_refusal_names_the_ref_in_printable_ascii(clone, server):
    text = refused_by_server(push_raw(clone, f"HEAD:refs/tags/mv/churn/production{LS}x/1".encode()), "R3 valid-ref-name")
    assert "refs/tags/mv/churn/production\\xe2\\x80\\xa8x/1" in text


@pytest.mark.parametrize("sep", [LS, NEL, "\u2029"], ids=["u2028", "u0085", "u2029"])
def test_a_valid_version_tag_under_a_name_with_a_line_separator_is_refused(published, server, sep):
    """Split on the separator, `…/v2<sep>x` would read as the valid-looking `…/v2`, and be judged as it."""
    v2 = published.version(0.90, 0.85)
    accepted(push(published, "refs/notes/mv-promote"))
    before = server_refs(server)
    refused_by_server(push_raw(published, f"refs/tags/mv/churn/{v2}:refs/tags/mv/churn/{v2}{sep}x".encode()),
                      "R3 valid-ref-name")
    assert server_refs(server) == before


@pytest.mark.parametrize("sep", [LS, NEL], ids=["u2028", "u0085"])
def test_a_valid_stage_tag_under_a_name_with_a_line_separator_is_refused(published, server, sep):
    v2 = published.version(0.90, 0.85)
    published.mv("promote", "churn", v2, "--stage", "production")
    accepted(push(published, f"refs/tags/mv/churn/{v2}", "refs/notes/mv-promote"))
    before = server_refs(server)
    spec = f"refs/tags/mv/churn/production/2:refs/tags/mv/churn/production{sep}refs/tags/mv/churn/production/2"
    refused_by_server(push_raw(published, spec.encode()), "R3 valid-ref-name")
    assert server_refs(server) == before


def test_a_push_mixing_a_branch_update_and_a_bad_registry_name_is_refused_whole(clone, server):
    (clone.path / "README").write_text("docs\n")
    clone.commit("docs")
    before = server_refs(server)
    refused_by_server(push_raw(clone, b"main", b"HEAD:refs/notes/mv-promote2"), "R3 valid-ref-name")
    assert server_refs(server) == before, "the branch update went through with the refused ref"


def test_deleting_a_bad_name_that_is_already_on_the_server_is_refused(clone, server):
    """A name made on the server before the hook was installed stays until an admin removes it."""
    name = f"refs/tags/mv/churn/production{LS}x/1".encode()
    head = gitb("rev-parse", "main", cwd=server.path).strip()
    gitb("update-ref", name, head, cwd=server.path)
    before = server_refs(server)
    refused_by_server(push_raw(clone, b":" + name), "R3 valid-ref-name")
    assert server_refs(server) == before


@pytest.mark.parametrize("name", [b"refs/tags/mvp", b"refs/tags/mv-old/x", b"refs/heads/mv/x", b"refs/notes/commits",
                                  f"refs/heads/a{LS}b".encode(), b"refs/heads/\xff"])
def test_pushes_outside_the_namespace_are_untouched_by_the_hook(clone, server, name):
    proc = push_raw(clone, b"HEAD:" + name)
    assert proc.returncode == 0, text_of(proc)
    assert "mv-promote" not in text_of(proc)
    assert name + b"\x00" in server_refs(server)


# ---------------------------------------------------------------- the client hook (pre-push)

@pytest.fixture
def clone_with_hook(clone):
    clone.mv("hooks", "install")
    return clone


@pytest.mark.parametrize("name", [b"refs/notes/mv-promote2", f"refs/tags/mv/churn/v1{LS}x".encode(),
                                  b"refs/tags/mv/churn/prod\xff/1"], ids=["look-alike", "u2028", "not-utf8"])
def test_pre_push_refuses_a_bad_registry_name_before_it_reaches_the_server(clone_with_hook, server, name):
    before = server_refs(server)
    proc = push_raw(clone_with_hook, b"HEAD:" + name, verify=True)
    text = text_of(proc)
    assert proc.returncode != 0, text
    assert "pre-push (client)" in text and "R3 valid-ref-name" in text, text
    assert "remote: mv-promote" not in text, "refused locally, not by the server"
    assert "Traceback" not in text, text
    assert server_refs(server) == before


def test_pre_push_lets_a_branch_through_whose_local_side_holds_a_space(clone_with_hook, server):
    """git hands the hook what was typed as the local side (`HEAD^{/Add policy}`), spaces and all."""
    proc = push_raw(clone_with_hook, b"HEAD^{/Add policy}:refs/heads/topic", verify=True)
    assert proc.returncode == 0, text_of(proc)
    assert b"refs/heads/topic\x00" in server_refs(server)


# ---------------------------------------------------------------- the hook entry point itself

def _hook(kind: str, stdin: bytes, cwd) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": ROOT}
    return subprocess.run([sys.executable, "-m", "gitmv.hooks", kind, "origin", "url"], input=stdin,
                          capture_output=True, env=env, cwd=cwd)


@pytest.mark.parametrize("kind,line", [
    ("pre-receive", b"%s %s" % (b"0" * 40, b"1" * 40)),
    ("pre-receive", b"%s %s refs/tags/mv/churn/v1 extra" % (b"0" * 40, b"1" * 40)),
    ("pre-receive", b"%s %s refs/heads/main" % (b"0" * 40, b"xyz")),
    ("pre-push", b"refs/heads/main %s refs/heads/main" % (b"1" * 40)),
], ids=["pre-receive-2-fields", "pre-receive-4-fields", "pre-receive-bad-id", "pre-push-3-fields"])
def test_a_malformed_input_line_makes_the_hook_refuse(tmp_path, kind, line):
    proc = _hook(kind, line + b"\n", tmp_path)
    err = proc.stderr.decode("utf-8", "replace")
    assert proc.returncode == 1, err
    assert "mv-promote: refused" in err and "line 1" in err, err
    assert "Traceback" not in err, err


def test_non_utf8_hook_input_outside_the_namespace_passes_without_decoding(tmp_path):
    bare = tmp_path / "server.git"  # its protected branch is main (HEAD): \xff\xfe is not guarded
    subprocess.run(["git", "init", "-q", "--bare", "-b", "main", str(bare)], check=True)
    proc = _hook("pre-receive", b"%s %s refs/heads/\xff\xfe\n" % (b"0" * 40, b"1" * 40), bare)
    assert proc.returncode == 0, proc.stderr.decode(errors="replace")


# ---------------------------------------------------------------- ref listings

def _odd_names(version_tag: str) -> dict[bytes, str]:
    """Names git allows under refs/tags/mv/ that are not registry refs, each pointing at a real tag."""
    return {name: version_tag for name in (
        f"refs/tags/mv/churn/v1{LS}x".encode(),
        f"refs/tags/mv/churn/production{LS}refs/tags/mv/churn/production/1".encode(),
        f"refs/tags/mv/churn/v2{NEL}".encode(),
        b"refs/tags/mv/churn/prod\xff/1",
        b"refs/tags/mv/churn\xff/v1",
        b"refs/tags/mv/chu\xe2\x80\xa8rn/v1",
    )}


@pytest.fixture
def odd_repo(model_repo):
    """A repo with v1 registered and, beside it, refs under refs/tags/mv/ outside the grammar."""
    v1 = model_repo.version(0.85, 0.80)
    tag = model_repo.git("rev-parse", f"refs/tags/mv/churn/{v1}")
    for name, oid in _odd_names(tag).items():
        gitb("update-ref", name, oid, cwd=model_repo.path)
    return model_repo


def _registry(repo: ModelRepo):
    from gitmv import api

    return api.open_context(repo.path).registry


def test_listing_sees_only_the_registry_refs_in_the_grammar(odd_repo):
    reg = _registry(odd_repo)
    assert reg.model_names == ["churn"]
    assert reg.versions("churn") == ["v1"]
    assert reg.stages_present("churn") == []
    assert reg.stage_seqs("churn", "production") == []


def test_version_summaries_list_one_row_per_version_despite_odd_names(odd_repo):
    rows = _registry(odd_repo).version_summaries("churn")
    assert [r["version"] for r in rows] == ["v1"]


def test_ref_listing_keeps_utf8_names_whole_and_skips_the_rest(odd_repo):
    from gitmv.git.repo import Repo

    names = [name for name, _ in Repo.discover(odd_repo.path).refs_under("refs/tags/mv/")]
    assert f"refs/tags/mv/churn/production{LS}refs/tags/mv/churn/production/1" in names
    assert f"refs/tags/mv/churn/v1{LS}x" in names
    assert not any("\ufffd" in n or "\udcff" in n for n in names), "a non-UTF-8 name was read as text"


def test_show_does_not_crash_on_odd_names(odd_repo):
    result = odd_repo.mv("show", "churn", "--json")
    assert [row["version"] for row in result.json["versions"]] == ["v1"]


def test_a_tag_message_cannot_forge_a_row_in_the_version_listing(model_repo):
    """Listing text is framed by its length: a message holding the old separators adds no version."""
    v1 = model_repo.version(0.85, 0.80)
    commit = model_repo.git("rev-parse", "HEAD")
    forged = (f"\x01refs/tags/mv/churn/v9\x00{'a' * 40}\x00{commit}\x00kind = \"version\"\n").encode()
    gitb("tag", "-a", "-m", b"note " + forged.replace(b"\x00", b" "), "mv/other/v1", "HEAD", cwd=model_repo.path)
    assert [r["version"] for r in _registry(model_repo).version_summaries("churn")] == [v1]


def test_sync_skips_odd_names_on_the_server(clone, server):
    head = gitb("rev-parse", "main", cwd=server.path).strip().decode()
    for name in _odd_names(head):
        gitb("update-ref", name, head, cwd=server.path)
    v1 = clone.version(0.85, 0.80)
    report = clone.mv("sync", "--json").json
    assert f"refs/tags/mv/churn/{v1}" in report["pushed"]
    local = gitb("for-each-ref", "--format=%(refname)%00", "refs/tags/mv/", cwd=clone.path)
    assert local == f"refs/tags/mv/churn/{v1}\x00\n".encode(), "an odd name was fetched"


def test_verify_and_history_do_not_crash_on_odd_names(odd_repo):
    assert odd_repo.mv("verify", "--json").json["ok"] is True
    odd_repo.mv("history", "churn", "--json")
