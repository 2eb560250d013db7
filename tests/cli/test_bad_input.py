"""Bad input never crashes `show`, `verify`, `register` or `eval`: the answer is exit 0 (when the
command can do its job regardless), or exit 1/2 with a one-line `error: …` (plus an optional
`  fix: …` line) — never exit 3 and never a traceback.

Inputs: malformed, huge (> 4 MiB), binary and non-UTF-8 notes, notes and records of an unknown
schema, malformed version records, a repository without commits, a detached HEAD, a shallow
clone, a bare repository, a non-UTF-8 policy, non-UTF-8 and malformed command-line arguments and
metrics files. Commands run through the CLI entry point in-process (the same `cli.main` that maps
every exception to an exit code), and as real `git mv-promote` subprocesses where the process
matters (non-UTF-8 argv, repository shapes).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from conftest import ModelRepo, Result, git, run_mv, tag_message
from gitmv import records

COMMANDS = {"show": ["show", "churn", "v1"], "verify": ["verify"], "register": ["register", "churn"],
            "eval": ["eval", "churn", "v1"]}


# ================================================================ helpers

def run(cwd: Path, *args: str) -> Result:
    """The CLI in-process (fast); exit codes as the real command has them."""
    return run_mv(*args, cwd=cwd, code=None)


def run_proc(cwd: Path, *args: str | bytes, env: dict | None = None) -> Result:
    proc = subprocess.run(["git", "mv-promote", *args], cwd=cwd, capture_output=True, env=env)
    return Result(proc.returncode, proc.stdout.decode("utf-8", "replace"), proc.stderr.decode("utf-8", "replace"))


def assert_clean(result: Result, allowed=(0, 1, 2), *, says: str | None = None) -> None:
    """Exit 0, or 1/2 with a one-line cause; never 3, never a traceback."""
    err, out = result.err, result.out
    assert "Traceback" not in err + out, err
    assert result.code != 3, f"exit 3 (a bug): {err}"
    assert result.code in allowed, f"exit {result.code}, wanted one of {allowed}: {err}"
    lines = [ln for ln in err.splitlines() if ln and not ln.startswith("warning: ")]
    if result.code != 0:
        if lines and lines[0].startswith("FAIL "):  # verify: one line per failure, then a summary
            assert all(ln.startswith("FAIL ") for ln in lines), err
            assert re.search(r"verified \d+ version\(s\): \d+ failure\(s\)", out), out
        elif result.code == 2 and lines and lines[0].startswith("Usage: "):  # click's usage block
            assert lines[-1].startswith("Error: ") and len(lines) == 3, err
        else:
            assert lines and lines[0].startswith("error: "), err
            assert len(lines) == 1 or (len(lines) == 2 and lines[1].startswith("  fix: ")), \
                f"not a one-line message:\n{err}"
    if says is not None:
        assert says in err + out, f"{says!r} not in: {err}{out}"


_TEMPLATE: dict[str, Path] = {}


class Copied(ModelRepo):
    def __init__(self, path: Path, keys):
        self.path, self.keys = path, keys


def registered(tmp_path: Path, keys, name: str = "repo") -> ModelRepo:
    """v1 registered and evaluated; a new model committed, so `register` has something to do.
    Built once, then copied (the registry is plain files in .git)."""
    if "repo" not in _TEMPLATE or not _TEMPLATE["repo"].exists():
        r = ModelRepo(tmp_path / "template", keys)
        r.version(0.85, 0.80)
        r.write_model(0.90, 0.85)
        r.commit("next model")
        _TEMPLATE["repo"] = r.path
    shutil.copytree(_TEMPLATE["repo"], tmp_path / name, symlinks=True)
    return Copied(tmp_path / name, keys)


def set_note(r: ModelRepo, data: bytes, version: str = "v1") -> None:
    tag = r.git("rev-parse", f"refs/tags/mv/churn/{version}")
    blob = subprocess.run(["git", "hash-object", "-w", "--stdin"], cwd=r.path, input=data,
                          capture_output=True, check=True).stdout.decode().strip()
    r.git("notes", "--ref", "mv-promote", "add", "-f", "-C", blob, tag)


def resign_tag(r: ModelRepo, ref: str, message: bytes) -> None:
    """Replace a version tag by one with `message`, validly signed (a buggy or foreign writer)."""
    msg = r.path.parent / "tag-message"
    msg.write_bytes(message)
    commit = r.git("rev-parse", f"{ref}^{{commit}}")
    r.git("tag", "-d", ref)
    r.git("tag", "-s", "--cleanup=verbatim", "-F", str(msg), ref, commit)


def check_matrix(path: Path, expected: dict) -> None:
    """expected: command -> (allowed exit codes, text the output must hold or None)."""
    for name, (allowed, says) in expected.items():
        assert_clean(run(path, *COMMANDS[name]), allowed, says=says)


# ================================================================ malformed notes

NOTE_CASES = {
    "malformed_toml": (b"this is [not toml", "not valid TOML"),
    "huge": (b"schema = 1\n# " + b"x" * (4 * 1024 * 1024 + 10) + b"\n", "over the 4194304 byte limit"),
    "binary": (bytes(range(256)) * 8, "not UTF-8"),
    "non_utf8_record": (b'schema = 1\n[[record]]\nid = "sha256:00"\nkind = "eval"\nby = "M\xe9nard"\n', "not UTF-8"),
    "unknown_schema": (b"schema = 2\n", "has schema 2"),
    "no_schema": (b'[[record]]\nid = "x"\nkind = "eval"\n', "has schema None"),
    "record_not_an_array": (b'schema = 1\n[record]\nid = "x"\nkind = "eval"\n', "must be an array of tables"),
    "record_without_id": (b'schema = 1\n[[record]]\nkind = "eval"\n', "without a valid id and kind"),
    "unknown_record_kind": (b'schema = 1\n[[record]]\nid = "x"\nkind = "vibes"\n', "without a valid id and kind"),
}


@pytest.mark.parametrize("case", sorted(NOTE_CASES))
def test_a_bad_note_gets_a_one_line_error(tmp_path, keys, case):
    data, why = NOTE_CASES[case]
    r = registered(tmp_path, keys)
    set_note(r, data)
    check_matrix(r.path, {
        "show": ((1,), why),
        "verify": ((1,), "FAIL refs/tags/mv/churn/v1: note: note on "),
        "register": ((0,), None),  # registering another version does not read v1's note
        "eval": ((1,), why),  # nothing is appended to a note that cannot be read
    })


# ================================================================ malformed version records

def test_a_version_record_of_an_unknown_schema(tmp_path, keys):
    r = registered(tmp_path, keys)
    resign_tag(r, "mv/churn/v1", tag_message(r, "mv/churn/v1").replace(b"schema = 1", b"schema = 3"))
    check_matrix(r.path, {"show": ((1,), "has schema 3"), "verify": ((1,), "has schema 3"),
                          "register": ((0,), None), "eval": ((1,), "has schema 3")})


def test_a_binary_version_record(tmp_path, keys):
    r = registered(tmp_path, keys)
    resign_tag(r, "mv/churn/v1", b"subject\n\n" + bytes(range(1, 256)) * 4)
    check_matrix(r.path, {"show": ((1,), "not UTF-8 text"), "verify": ((1,), "not UTF-8 text"),
                          "register": ((0,), None), "eval": ((1,), "not UTF-8 text")})


def test_non_utf8_bytes_in_a_version_record(tmp_path, keys):
    r = registered(tmp_path, keys)
    resign_tag(r, "mv/churn/v1", tag_message(r, "mv/churn/v1").replace(b'message = "auc 0.85"', b'message = "M\xe9nard"'))
    check_matrix(r.path, {"show": ((0, 1), None), "verify": ((0, 1), None), "register": ((0,), None),
                          "eval": ((0, 1), None)})


def test_a_lightweight_tag_in_the_registry(tmp_path, keys):
    r = registered(tmp_path, keys)
    r.git("tag", "mv/churn/v2", "HEAD")
    assert_clean(run(r.path, "verify"), (1,), says="FAIL refs/tags/mv/churn/v2: refs/tags/mv/churn/v2 is not an annotated tag")
    assert_clean(run(r.path, "show", "churn", "v2"), (1,), says="not an annotated tag")
    assert_clean(run(r.path, "eval", "churn", "v2"), (1,), says="not an annotated tag")


def test_a_version_record_with_malformed_artifacts(tmp_path, keys):
    r = registered(tmp_path, keys)
    text = tag_message(r, "mv/churn/v1").decode()
    text = re.sub(r'\[artifacts\."model\.bin"\]\nsha256 = "[0-9a-f]+"\nsize = \d+\n', "", text)
    text = text.replace("tier =", 'artifacts = { "model.bin" = "deadbeef" }\ntier =')
    resign_tag(r, "mv/churn/v1", text.encode())
    check_matrix(r.path, {"show": ((0, 1), None), "verify": ((1,), "refs/tags/mv/churn/v1"),
                          "register": ((0, 1), None), "eval": ((1,), None)})


# ================================================================ a corrupted notes ref

@pytest.mark.parametrize("what", ["blob", "tree"])
def test_a_notes_ref_that_is_not_a_commit(tmp_path, keys, what):
    r = registered(tmp_path, keys)
    oid = r.git("rev-parse", "HEAD^{tree}") if what == "tree" else \
        subprocess.run(["git", "hash-object", "-w", "--stdin"], cwd=r.path, input=b"x",
                       capture_output=True).stdout.decode().strip()
    r.git("update-ref", "refs/notes/mv-promote", oid)
    check_matrix(r.path, {"show": ((1,), "refs/notes/mv-promote"), "verify": ((1,), "refs/notes/mv-promote"),
                          "register": ((0,), None), "eval": ((1,), "refs/notes/mv-promote")})


def test_a_notes_ref_naming_a_missing_object(tmp_path, keys):
    r = registered(tmp_path, keys)
    (r.path / ".git" / "refs" / "notes" / "mv-promote").write_text("1" * 40 + "\n")
    check_matrix(r.path, {"show": ((1,), "refs/notes/mv-promote"), "verify": ((1,), "refs/notes/mv-promote"),
                          "register": ((0,), None), "eval": ((1,), "refs/notes/mv-promote")})


# ================================================================ intact records of an unexpected shape

def test_an_intact_eval_record_of_the_wrong_shape(tmp_path, keys):
    r = registered(tmp_path, keys)
    odd = records.make_note_record("eval", {"metrics": "high", "slices": 3, "suite": "holdout"},
                                   at="2026-11-02T09:00:00Z", by="Mallory")
    assert records.record_is_intact(odd)
    tag = r.git("rev-parse", "refs/tags/mv/churn/v1")
    current = records.parse_note(subprocess.run(["git", "notes", "--ref", "mv-promote", "show", tag], cwd=r.path,
                                                capture_output=True).stdout)
    set_note(r, records.render_note(current + [odd]).encode())
    check_matrix(r.path, {"show": ((0, 1), None), "verify": ((0, 1), None), "register": ((0,), None),
                          "eval": ((0, 1), None)})
    assert_clean(run(r.path, "log"), (0, 1))


# ================================================================ repositories of unusual shapes

def test_a_repository_without_commits(tmp_path):
    path = tmp_path / "empty"
    git("init", "-q", str(path), cwd=tmp_path)
    for name in COMMANDS:
        assert_clean(run_proc(path, *COMMANDS[name]), (1,), says="has no commits yet")


def test_outside_any_repository(tmp_path):
    path = tmp_path / "nowhere"
    path.mkdir()
    env = {**os.environ, "GIT_CEILING_DIRECTORIES": str(tmp_path)}
    for name in COMMANDS:
        assert_clean(run_proc(path, *COMMANDS[name], env=env), (1,), says="not a Git repository")


def test_a_detached_head(tmp_path, keys):
    r = registered(tmp_path, keys)
    r.git("checkout", "-q", "--detach", "HEAD")
    check_matrix(r.path, {"show": ((0,), None), "verify": ((0,), None), "register": ((0,), None), "eval": ((0,), None)})
    assert r.git("tag", "-l", "mv/churn/v2") == "mv/churn/v2"


def test_a_shallow_clone_with_shallow_notes(tmp_path, keys):
    origin = registered(tmp_path, keys, "origin")
    origin.mv("register", "churn")
    origin.mv("eval", "churn", "v2")
    path = tmp_path / "shallow"
    git("clone", "-q", "--depth", "1", f"file://{origin.path}", str(path), cwd=tmp_path)
    git("fetch", "-q", "--depth", "1", "origin", "refs/tags/mv/*:refs/tags/mv/*",
        "refs/notes/mv-promote:refs/notes/mv-promote", cwd=path)
    assert (path / ".git" / "shallow").exists()
    assert git("rev-list", "--count", "refs/notes/mv-promote", cwd=path) == "1", "the notes history is cut"
    (path / "model.bin").write_text("0.95 0.90 5\n")
    git("commit", "-qam", "shallow work", cwd=path)
    # verify cannot see the history it must check: it fails and names the fix (issue "Newcomer")
    check_matrix(path, {"show": ((0,), None), "verify": ((1,), "git fetch --unshallow"), "register": ((0,), None),
                        "eval": ((0,), None)})


def test_a_bare_repository(tmp_path, keys):
    r = registered(tmp_path, keys)
    bare = tmp_path / "bare.git"
    git("clone", "-q", "--bare", str(r.path), str(bare), cwd=tmp_path)
    git("fetch", "-q", str(r.path), "refs/notes/*:refs/notes/*", cwd=bare)
    check_matrix(bare, {"show": ((0,), None), "verify": ((0,), None),
                        "register": ((2,), "register needs a work tree"), "eval": ((0, 1), None)})


# ================================================================ bad policy, arguments and metrics

@pytest.mark.parametrize("policy,why", [
    (b"schema = 1\n# \xff\xfe\n", "not UTF-8"),
    (b"schema = 2\n[registry]\nstages = [\"staging\"]\n", "schema = 2"),
    (b"\x00\x01\x02 binary", "not valid TOML"),
])
def test_a_bad_committed_policy(tmp_path, keys, policy, why):
    r = registered(tmp_path, keys)
    (r.path / ".mv-promote.toml").write_bytes(policy)
    r.commit("break the policy")
    for name in COMMANDS:
        assert_clean(run(r.path, *COMMANDS[name]), (1,), says=why)


@pytest.mark.parametrize("args", [
    [b"show", b"churn\xff"], [b"register", b"\xff"], [b"eval", b"churn", b"v\xff"], [b"show", b"churn", b"v0"],
    [b"show", b"churn", b"v01"], [b"show", b"churn", b"v1/../v2"], [b"show", b"Churn"], [b"register", b"a" * 70],
    [b"eval", b"churn"], [b"verify", b"churn", b"v99999999999"], [b"register", b"churn", b"--seed", b"x"],
])
def test_bad_arguments(tmp_path, keys, args):
    r = registered(tmp_path, keys)
    assert_clean(run_proc(r.path, *args), (1, 2))


# Every command that takes a model or a version checks it by the one grammar (gitmv.names), before
# anything else: the same one-line message and exit 2 wherever the name is typed.
WITH_MODEL = [["show", "{m}"], ["show", "{m}", "--experiments"], ["history", "{m}"], ["log", "{m}"],
              ["diff", "{m}", "v1", "v1"], ["check", "{m}", "v1", "--stage", "production"],
              ["promote", "{m}", "v1", "--stage", "production"], ["rollback", "{m}", "--stage", "production"],
              ["eval", "{m}", "v1"], ["reproduce", "{m}", "v1"], ["deprecate", "{m}", "v1", "-m", "why"],
              ["request", "{m}", "v1", "--stage", "production"], ["approve", "{m}", "v1", "--stage", "production"],
              ["approvals", "{m}", "v1"], ["lineage", "{m}", "v1"], ["verify", "{m}"], ["verify", "--data", "{m}"],
              ["register", "{m}"]]
WITH_VERSION = [["show", "churn", "{v}"], ["diff", "churn", "{v}", "v1"], ["diff", "churn", "v1", "{v}"],
                ["check", "churn", "{v}", "--stage", "production"], ["promote", "churn", "{v}", "--stage", "production"],
                ["rollback", "churn", "--stage", "production", "--to", "{v}"], ["eval", "churn", "{v}"],
                ["reproduce", "churn", "{v}"], ["deprecate", "churn", "{v}", "-m", "why"],
                ["request", "churn", "{v}", "--stage", "production"], ["approve", "churn", "{v}", "--stage", "production"],
                ["approvals", "churn", "{v}"], ["lineage", "churn", "{v}"], ["verify", "churn", "{v}"],
                ["verify", "--data", "churn", "{v}"], ["register", "churn", "--parent", "{v}"]]


@pytest.mark.parametrize("args", WITH_MODEL, ids=lambda a: "-".join(x for x in a if x != "{m}"))
def test_an_invalid_model_name_is_exit_2_with_one_message_in_every_command(tmp_path, keys, args):
    r = registered(tmp_path, keys)
    result = run(r.path, *[a.format(m="Churn") for a in args])
    assert_clean(result, (2,))
    assert result.err.startswith("error: invalid model name 'Churn'"), result.err


@pytest.mark.parametrize("args", WITH_VERSION, ids=lambda a: "-".join(x for x in a if x != "{v}"))
def test_a_malformed_version_is_exit_2_with_one_message_in_every_command(tmp_path, keys, args):
    r = registered(tmp_path, keys)
    for bad in ("2", "V2"):
        result = run(r.path, *[a.format(v=bad) for a in args])
        assert_clean(result, (2,))
        assert result.err.startswith(f"error: invalid version name '{bad}'"), result.err


@pytest.mark.parametrize("name,data,why", [
    ("binary", bytes(range(256)), "is not JSON"),
    ("non_utf8", b'{"metrics": {"auc": 0.9, "\xff": 1}}', "is not JSON"),
    ("nan", b'{"metrics": {"auc": NaN}}', "not a finite number"),
    ("not_a_table", b"[1, 2]", "no metrics table"),
    ("huge_integer", b'{"metrics": {"auc": 1' + b"0" * 5000 + b"}}", "is not JSON"),
    ("empty", b"", "is not JSON"),
])
def test_a_bad_metrics_file(tmp_path, keys, name, data, why):
    r = registered(tmp_path, keys)
    f = tmp_path / f"{name}.json"
    f.write_bytes(data)
    before = r.ref("refs/notes/mv-promote")
    assert_clean(run(r.path, "eval", "churn", "v1", "--from-file", str(f)), (1,), says=why)
    assert r.ref("refs/notes/mv-promote") == before, "nothing is recorded"


def test_a_deeply_nested_metrics_file(tmp_path, keys):
    r = registered(tmp_path, keys)
    f = tmp_path / "deep.json"
    f.write_bytes(b'{"metrics": ' + b'{"a":' * 100_000 + b"1" + b"}" * 100_000 + b"}")
    assert_clean(run_proc(r.path, "eval", "churn", "v1", "--from-file", str(f)), (1,))


def test_an_eval_too_big_for_a_note_is_refused_and_the_version_stays_readable(tmp_path, keys):
    r = registered(tmp_path, keys)
    f = tmp_path / "big.json"
    f.write_text(json.dumps({"metrics": {"auc": 0.9, "x" * (4 * 1024 * 1024 + 1): 1.0}}))
    assert_clean(run(r.path, "eval", "churn", "v1", "--from-file", str(f)), (0, 1))
    check_matrix(r.path, {"show": ((0,), None), "verify": ((0,), None), "eval": ((0,), None)})
