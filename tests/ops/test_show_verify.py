"""`show` (all models, one model, one version; text and --json) and `verify` (signatures, digests,
note integrity) over real signed tags."""

from __future__ import annotations

import hashlib
import subprocess

import pytest

from gitmv.records import split_signature


@pytest.fixture
def two_versions(model_repo):
    """v1 (promoted to production) and v2, both evaluated; HEAD is v2's commit."""
    r = model_repo
    r.version(0.85, 0.80)
    r.mv("promote", "churn", "v1", "--stage", "production")
    r.version(0.90, 0.85)
    return r


def recreate_tag(r, ref_name: str, *, sign_with=None) -> None:
    """Delete a version tag and create it again by hand with the very same message."""
    raw = r.git("cat-file", "tag", ref_name) + "\n"
    message, _ = split_signature(raw.split("\n\n", 1)[1].encode())
    commit = r.git("rev-parse", f"{ref_name}^{{commit}}")
    msg_file = r.path.parent / "tag-message.txt"
    msg_file.write_bytes(message)
    r.git("tag", "-d", ref_name)
    if sign_with is None:
        r.git("tag", "-a", "--cleanup=verbatim", "-F", str(msg_file), ref_name, commit)
    else:
        r.git("config", "user.signingkey", str(sign_with))
        r.git("tag", "-s", "--cleanup=verbatim", "-F", str(msg_file), ref_name, commit)


# ================================================================ show

def test_show_without_arguments_lists_each_model_with_latest_version_and_stages(two_versions):
    out = two_versions.mv("show").out
    lines = out.splitlines()
    assert lines[0].split() == ["model", "latest", "versions", "stages"]
    assert lines[2].split() == ["churn", "v2", "2", "production=v1"]


def test_show_json_lists_models(two_versions):
    models = two_versions.mv("show", "--json").json["models"]
    assert models == [{"model": "churn", "latest": "v2", "versions": 2, "stages": {"production": "v1"},
                       "traffic": {}, "in_policy": True}]


def test_show_lists_a_policy_model_that_has_no_versions_yet(model_repo):
    assert model_repo.mv("show").out.splitlines()[2].split() == ["churn", "-", "0", "-"]
    assert model_repo.mv("show", "--json").json["models"][0] == {
        "model": "churn", "latest": None, "versions": 0, "stages": {}, "traffic": {}, "in_policy": True}


def test_show_model_lists_its_versions_with_stage_and_message(two_versions):
    r = two_versions
    out = r.mv("show", "churn").out
    rows = {line.split()[0]: line for line in out.splitlines()[2:]}
    assert set(rows) == {"v1", "v2"}
    assert "production" in rows["v1"] and "auc 0.85" in rows["v1"]
    assert "production" not in rows["v2"] and "auc 0.9" in rows["v2"]


def test_show_model_json_has_one_row_per_version(two_versions):
    r = two_versions
    data = r.mv("show", "churn", "--json").json
    assert [v["version"] for v in data["versions"]] == ["v1", "v2"]
    v1, v2 = data["versions"]
    assert v1["stages"] == ["production"] and v2["stages"] == []
    assert v2["parent"] == "v1"
    assert v2["commit"] == r.git("rev-parse", "HEAD")
    assert data["stages"] == {"production": "v1"}
    assert v1["deprecated"] is False


def test_show_unknown_model_is_exit_1(model_repo):
    result = model_repo.mv("show", "fraud", code=1)
    assert "fraud" in result.err


def test_show_version_prints_signature_stage_record_and_evidence(two_versions):
    r = two_versions
    out = r.mv("show", "churn", "v1").out
    tag = r.git("rev-parse", "refs/tags/mv/churn/v1")
    assert out.splitlines()[0] == f"churn v1  refs/tags/mv/churn/v1  tag {tag}"
    assert "signature: good, alice@example.com SHA256:" in out
    assert "current in: production" in out
    assert 'model = "churn"' in out and 'version = "v1"' in out
    assert "[eval sha256:" in out and "suite holdout: auc=0.85" in out


def test_show_version_json_carries_record_signature_and_evidence(two_versions):
    r = two_versions
    data = r.mv("show", "churn", "v2", "--json").json
    digest = hashlib.sha256((r.path / "model.bin").read_bytes()).hexdigest()
    assert data["record"]["artifacts"]["model.bin"]["sha256"] == digest
    assert data["signature"]["ok"] is True and data["signature"]["principal"] == "alice@example.com"
    assert data["signature"]["fingerprint"] == data["record"]["signer"]
    assert [e["kind"] for e in data["evidence"]] == ["eval"]
    assert data["current_in"] == [] and data["deprecated"] is False


def test_show_unregistered_version_is_exit_1_naming_it(two_versions):
    result = two_versions.mv("show", "churn", "v9", code=1)
    assert "v9" in result.err and "not registered" in result.err


# ================================================================ verify: passing

def test_verify_passes_for_v1_and_v2_after_v2_is_registered(two_versions):
    r = two_versions
    result = r.mv("verify", "--json").json
    assert result["ok"] is True, result["failures"]
    assert result["checked"] == ["churn v1", "churn v2"]


def test_verify_one_version(two_versions):
    result = two_versions.mv("verify", "churn", "v1", "--json").json
    assert result == {"ok": True, "checked": ["churn v1"], "failures": [], "unverifiable": [], "warnings": []}


def test_verify_text_output_says_ok(two_versions):
    assert "verified 2 version(s): ok" in two_versions.mv("verify").out


def test_verify_passes_on_an_older_commit_with_other_work_tree_bytes(two_versions):
    r = two_versions
    r.git("checkout", "-q", r.git("rev-parse", "mv/churn/v1^{commit}"))
    assert r.mv("verify", "--json").json["ok"] is True


# ================================================================ verify: failing

def test_verify_fails_naming_the_file_when_the_work_tree_artifact_of_head_changes(two_versions):
    r = two_versions
    (r.path / "model.bin").write_text("0.99 0.99 1\n")
    result = r.mv("verify", code=1)
    assert "FAIL refs/tags/mv/churn/v2: artifact model.bin in the work tree has sha256" in result.err
    assert "verified 2 version(s): 1 failure(s)" in result.out  # v1 is checked through its git blob


def test_verify_after_work_tree_edit_still_passes_for_v1(two_versions):
    r = two_versions
    (r.path / "model.bin").write_text("0.99 0.99 1\n")
    assert r.mv("verify", "churn", "v1", "--json").json["ok"] is True
    assert r.mv("verify", "churn", "v2", "--json", code=1).json["ok"] is False


def test_verify_fails_when_the_work_tree_artifact_of_head_is_deleted(two_versions):
    r = two_versions
    (r.path / "model.bin").unlink()
    failures = r.mv("verify", "--json", code=1).json["failures"]
    assert failures == ["refs/tags/mv/churn/v2: artifact model.bin is missing from the work tree"]


def test_verify_fails_naming_the_ref_when_a_version_tag_is_recreated_unsigned(two_versions):
    r = two_versions
    recreate_tag(r, "mv/churn/v1")
    result = r.mv("verify", code=1)
    assert "FAIL refs/tags/mv/churn/v1: signature: unsigned" in result.err


def test_verify_fails_naming_the_ref_when_a_version_tag_is_signed_by_a_key_not_allowed(two_versions, keys):
    r = two_versions
    recreate_tag(r, "mv/churn/v2", sign_with=keys.private("mallory"))
    failures = r.mv("verify", "--json", code=1).json["failures"]
    assert any(f.startswith("refs/tags/mv/churn/v2: signature: signed by a key not in allowed signers") for f in failures)


def test_git_itself_agrees_the_mallory_tag_is_not_allowed(two_versions, keys):
    r = two_versions
    recreate_tag(r, "mv/churn/v2", sign_with=keys.private("mallory"))
    proc = subprocess.run(["git", "-c", "gpg.ssh.allowedSignersFile=.mv-promote/allowed_signers", "verify-tag",
                           "mv/churn/v2"], cwd=r.path, capture_output=True, text=True)
    assert proc.returncode != 0


def test_registering_with_a_key_not_in_allowed_signers_is_caught_by_verify(model_repo, keys):
    r = model_repo
    r.git("config", "user.signingkey", str(keys.private("mallory")))
    r.version(0.85, 0.80, evaluate=False)
    result = r.mv("show", "churn", "v1", "--json").json
    assert result["signature"]["ok"] is False
    r.mv("verify", code=1)


def test_verify_fails_when_a_stage_tag_is_recreated_unsigned(two_versions):
    r = two_versions
    ref = "mv/churn/production/1"
    raw = r.git("cat-file", "tag", ref) + "\n"
    message, _ = split_signature(raw.split("\n\n", 1)[1].encode())
    target = r.git("rev-parse", "refs/tags/mv/churn/v1")
    (r.path.parent / "msg").write_bytes(message)
    r.git("tag", "-d", ref)
    r.git("-c", "advice.nestedTag=false", "tag", "-a", "--cleanup=verbatim", "-F", str(r.path.parent / "msg"), ref, target)
    failures = r.mv("verify", "--json", code=1).json["failures"]
    assert "refs/tags/mv/churn/production/1: signature: unsigned" in failures


def test_verify_fails_when_a_version_tag_is_moved_to_another_commit(two_versions):
    r = two_versions
    raw = r.git("cat-file", "tag", "mv/churn/v1") + "\n"
    message, _ = split_signature(raw.split("\n\n", 1)[1].encode())
    (r.path.parent / "msg").write_bytes(message)
    r.git("tag", "-d", "mv/churn/v1")
    r.git("tag", "-s", "--cleanup=verbatim", "-F", str(r.path.parent / "msg"), "mv/churn/v1", "HEAD")
    failures = r.mv("verify", "--json", code=1).json["failures"]
    assert any(f.startswith("refs/tags/mv/churn/v1: refs/tags/mv/churn/v1 points at") for f in failures), failures


def test_verify_fails_when_a_note_record_is_tampered(two_versions):
    r = two_versions
    tag = r.git("rev-parse", "refs/tags/mv/churn/v2")
    note = r.git("notes", "--ref", "mv-promote", "show", tag)
    tampered = note.replace("auc = 0.9\n", "auc = 0.99\n", 1)
    assert tampered != note
    r.git("notes", "--ref", "mv-promote", "add", "-f", "-m", tampered, tag)
    failures = r.mv("verify", "--json", code=1).json["failures"]
    assert any(f.startswith("refs/tags/mv/churn/v2: note record sha256:") and "tampered" in f for f in failures)


def test_verify_fails_when_a_note_record_disappears_from_history(two_versions):
    r = two_versions
    tag = r.git("rev-parse", "refs/tags/mv/churn/v2")
    r.git("notes", "--ref", "mv-promote", "add", "-f", "-m", "schema = 1", tag)
    failures = r.mv("verify", "--json", code=1).json["failures"]
    assert any("disappeared from refs/notes/mv-promote" in f for f in failures)
