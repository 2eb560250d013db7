"""R9: what `register`, `eval` and `deprecate` refuse on the client cannot be pushed by hand.

alice is an allowed signer with push rights. She makes tags and notes by hand (with the
library's own record writer, signed with her key, as an insider can) and pushes them with
`git push --no-verify` to the served repositories (git daemon and http-backend). Each bypass is
refused naming the rule, the ref and the fix, and leaves the server's refs as they were; the
honest case next to it is accepted.
"""

from __future__ import annotations

import dataclasses
import subprocess

import pytest

from conftest import Clone, ModelRepo, accepted, make_tag, push, refused, tag_message, tag_of

NOTES = "refs/notes/mv-promote"
EVIL_EVAL = '''import json, sys
json.dump({"metrics": {"auc": 0.99, "latency_ms": 1.0}, "slices": {"region=eu": {"auc": 0.99}}}, open(sys.argv[2], "w"))
'''


def _record(r: ModelRepo, version: str, kind: str, body: dict, at: str = "2026-11-01T09:00:00Z") -> dict:
    """Append a record signed by alice to the note on `version`, as the library writes one, but
    with whatever fields the insider chooses. Returns it."""
    from gitmv.git import notes, record_signing
    from gitmv.git.repo import Repo

    repo = Repo.discover(r.path)
    signers = (r.path / ".mv-promote" / "allowed_signers").read_bytes()
    rec = record_signing.new_record(repo, kind, body, at=at, allowed_signers=signers, signed=True)
    notes.append(repo, tag_of(r, version), [rec], f"hand-made {kind} on churn {version}")
    return rec


def _eval_body(r: ModelRepo, version: str, **fields) -> dict:
    shown = r.mv("show", "churn", version, "--json").json
    return {"model": "churn", "version": version, "suite": "holdout",
            "artifacts": {p: a["sha256"] for p, a in shown["record"]["artifacts"].items()},
            "metrics": {"auc": 0.95, "latency_ms": 4.0}, "slices": {"region=eu": {"auc": 0.95}},
            "command": "python3 eval.py {artifact} {output}", "exit_status": 0, "duration_s": 0.1, **fields}


def _refused_unchanged(server, proc, rule: str, *texts: str) -> None:
    refused(proc, rule)
    out = proc.stdout + proc.stderr
    for text in texts:
        assert text in out, out


@pytest.fixture
def alice(published):
    """alice's clone: churn v1 evaluated and live in staging and production on the server."""
    return published


# ---------------------------------------------------------------- (a) a version must stay retrievable

def _version_at_commit_without_artifact(r: ModelRepo) -> str:
    """v2 registered honestly, then its tag re-made by hand at a commit that no longer holds
    model.bin (removed from Git, ignored), its record otherwise unchanged and signed by alice."""
    from gitmv.records import VersionRecord

    v2 = r.version(0.90, 0.85, evaluate=False)
    ref = f"refs/tags/mv/churn/{v2}"
    record = VersionRecord.from_message(tag_message(r, ref).decode())
    r.git("rm", "-q", "--cached", "model.bin")
    (r.path / ".gitignore").write_text("model.bin\n")
    gone = r.commit("keep model.bin out of Git")
    r.git("tag", "-d", ref.removeprefix("refs/tags/"))
    make_tag(r, ref, target=gone, message=dataclasses.replace(record, commit=gone).to_message().encode(), key="alice")
    return ref


def test_a_version_tag_whose_artifact_is_not_at_its_commit_is_refused(server, alice):
    ref = _version_at_commit_without_artifact(alice)
    before = server.refs()
    proc = push(alice, ref)
    _refused_unchanged(server, proc, "R9 version-retrievable", f"refused {ref}",
                       "model.bin is neither committed at", "'dvc add' it and commit its .dvc file")
    assert server.refs() == before


def test_a_version_whose_artifact_is_pinned_by_dvc_at_its_commit_is_accepted(server, alice):
    """model.bin ignored by Git and pinned by model.bin.dvc (as `dvc add` writes it): retrievable."""
    alice.write_model(0.90, 0.85)
    size = (alice.path / "model.bin").stat().st_size
    (alice.path / ".gitignore").write_text("/model.bin\n")
    (alice.path / "model.bin.dvc").write_text(
        f"outs:\n- md5: 0123456789abcdef0123456789abcdef\n  size: {size}\n  hash: md5\n  path: model.bin\n")
    alice.git("rm", "-q", "--cached", "model.bin")
    alice.commit("track model.bin with DVC")
    v2 = alice.mv("register", "churn", "--json").json["version"]
    accepted(push(alice, f"refs/tags/mv/churn/{v2}"))
    assert f"refs/tags/mv/churn/{v2}" in server.refs()


def test_a_dvc_pin_of_another_size_does_not_make_the_version_retrievable(server, alice):
    ref = _version_at_commit_without_artifact(alice)
    (alice.path / "model.bin.dvc").write_text(
        "outs:\n- md5: 0123456789abcdef0123456789abcdef\n  size: 1\n  hash: md5\n  path: model.bin\n")
    pinned = alice.commit("pin some other model.bin")
    record_text = tag_message(alice, ref).decode().replace(alice.git("rev-parse", f"{ref}^{{commit}}"), pinned)
    alice.git("tag", "-d", ref.removeprefix("refs/tags/"))
    make_tag(alice, ref, target=pinned, message=record_text.encode(), key="alice")
    before = server.refs()
    _refused_unchanged(server, push(alice, ref), "R9 version-retrievable", "but the DVC pin at")
    assert server.refs() == before


# ---------------------------------------------------------------- (b) evidence must say what produced it

def test_an_eval_run_at_a_commit_the_server_lacks_is_refused_until_main_has_it(server, alice):
    alice.git("commit", "-q", "--allow-empty", "-m", "unpushed work")
    alice.mv("eval", "churn", "v1")
    before = server.refs()
    proc = push(alice, NOTES)
    _refused_unchanged(server, proc, "R9 eval-provenance", f"refused {NOTES}", "is not in the repository",
                       "git push origin main")
    assert server.refs() == before
    accepted(push(alice, "main"))  # the fix the refusal names
    accepted(push(alice, NOTES))


def test_an_eval_run_at_a_commit_on_no_published_history_is_refused(server, alice):
    """The commit is on the server, but only on a side branch: it could vanish with the branch."""
    alice.git("checkout", "-q", "-b", "side")
    alice.git("commit", "-q", "--allow-empty", "-m", "side work")
    alice.mv("eval", "churn", "v1")
    accepted(push(alice, "side"))
    before = server.refs()
    _refused_unchanged(server, push(alice, NOTES), "R9 eval-provenance", "in neither main's history nor a version's")
    assert server.refs() == before


def test_an_eval_run_with_an_eval_script_other_than_mains_is_refused(server, alice):
    """alice commits an eval script that reports 0.99 whatever the model, registers v2 there and
    evaluates it: the record is true about its commit, but it is not main's eval command."""
    (alice.path / "eval.py").write_text(EVIL_EVAL)
    alice.commit("a friendlier eval")
    v2 = alice.version(0.70, 0.60)
    accepted(push(alice, f"refs/tags/mv/churn/{v2}"))
    before = server.refs()
    _refused_unchanged(server, push(alice, NOTES), "R9 eval-provenance",
                       "other than the eval command on main")
    assert server.refs() == before


def test_an_eval_record_with_a_forged_command_digest_is_refused(server, alice):
    head = alice.git("rev-parse", "HEAD")
    _record(alice, "v1", "eval", _eval_body(alice, "v1", code_commit=head, command_digest="sha256:" + "0" * 64))
    before = server.refs()
    _refused_unchanged(server, push(alice, NOTES), "R9 eval-provenance",
                       "do not match the policy's eval command and its files at code_commit")
    assert server.refs() == before


def test_an_eval_record_in_the_old_format_is_refused_when_pushed_now(server, alice):
    _record(alice, "v1", "eval", _eval_body(alice, "v1"))  # no code_commit, no command_digest
    before = server.refs()
    _refused_unchanged(server, push(alice, NOTES), "R9 eval-provenance", "it has no code_commit")
    assert server.refs() == before


def test_an_eval_record_with_a_code_commit_of_the_wrong_type_is_refused_naming_the_key(server, alice):
    _record(alice, "v1", "eval", _eval_body(alice, "v1", code_commit=42))
    before = server.refs()
    _refused_unchanged(server, push(alice, NOTES), "R3 notes-valid", "malformed 'code_commit'",
                       "code_commit must be a string, got 42")
    assert server.refs() == before


def test_an_honest_eval_at_the_versions_commit_is_accepted(server, alice):
    alice.mv("eval", "churn", "v1")
    accepted(push(alice, NOTES))
    assert server.refs()[NOTES] == alice.ref(NOTES)


def test_an_old_format_eval_already_on_the_server_is_not_judged_again(server, alice, tmp_path, keys):
    """Evidence from before the fields existed stays readable: a record the server holds (put
    there by an admin, before the hook knew R9) comes back in bob's sync merge and is accepted."""
    _record(alice, "v1", "eval", _eval_body(alice, "v1"))
    # the admin brings the old notes into the bare repository directly (no hook runs on fetch)
    subprocess.run(["git", "--git-dir", str(server.path), "fetch", "-q", str(alice.path), f"+{NOTES}:{NOTES}"],
                   check=True)
    bob = Clone(tmp_path / "bob", server.url, keys)
    bob.mv("eval", "churn", "v1")  # bob's own notes, not yet holding the server's
    bob.mv("sync")
    assert server.refs()[NOTES] == bob.ref(NOTES)


# ---------------------------------------------------------------- (c) a deprecation is said once

def test_a_second_identical_deprecation_pushed_by_hand_is_refused(server, alice):
    alice.mv("deprecate", "churn", "v1", "-m", "leaks labels")
    _record(alice, "v1", "deprecation", {"model": "churn", "version": "v1", "reason": "leaks labels"},
            at="2026-11-02T09:00:00Z")
    before = server.refs()
    _refused_unchanged(server, push(alice, NOTES), "R9 deprecation-once", f"refused {NOTES}",
                       "repeats the reason and sunset of", "already deprecated")
    assert server.refs() == before


def test_a_deprecation_repeating_one_already_on_the_server_is_refused(server, alice):
    alice.mv("deprecate", "churn", "v1", "-m", "leaks labels")
    accepted(push(alice, NOTES))
    _record(alice, "v1", "deprecation", {"model": "churn", "version": "v1", "reason": "leaks labels"},
            at="2026-11-02T09:00:00Z")
    before = server.refs()
    _refused_unchanged(server, push(alice, NOTES), "R9 deprecation-once")
    assert server.refs() == before


def test_a_deprecation_with_a_new_reason_is_accepted(server, alice):
    alice.mv("deprecate", "churn", "v1", "-m", "leaks labels")
    alice.mv("deprecate", "churn", "v1", "-m", "leaks labels and drifts")
    accepted(push(alice, NOTES))
