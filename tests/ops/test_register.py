"""`init` and `register`: setting up a registry, and a version as a signed annotated tag whose
record says exactly what made it. Every refusal leaves no tag behind."""

from __future__ import annotations

import dataclasses
import hashlib
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from conftest import POLICY, ModelRepo, git, make_tag, remake_tag, tag_message
from gitmv.hooks.install import CHAINED_SUFFIX, MARKER
from gitmv.policy import parse_policy
from gitmv.records import VersionRecord, split_signature

NOTES_FETCH = "+refs/notes/mv-promote*:refs/notes/remotes/origin/mv-promote*"


def registry_tags(r) -> list[str]:
    return r.git("tag", "-l", "mv/*").split()


def record_of(r, ref: str) -> VersionRecord:
    raw = r.git("cat-file", "tag", ref)
    body = raw.split("\n\n", 1)[1] + "\n"
    message, _ = split_signature(body.encode())
    return VersionRecord.from_message(message.decode())


# ================================================================ init

@pytest.fixture
def fresh(tmp_path) -> Path:
    """A clone-like repository with an origin remote and one commit, no policy."""
    bare = tmp_path / "origin.git"
    git("init", "-q", "--bare", str(bare), cwd=tmp_path)
    work = tmp_path / "work"
    work.mkdir()
    git("init", "-q", cwd=work)
    (work / "README").write_text("hello\n")
    git("add", "README", cwd=work)
    git("commit", "-q", "-m", "first", cwd=work)
    git("remote", "add", "origin", str(bare), cwd=work)
    return work


def local_config(path: Path) -> str:
    return git("config", "--local", "--list", cwd=path)


def test_init_writes_a_commented_policy_that_parses(fresh, mv):
    mv("init", "--model", "fraud", "--artifact", "fraud.onnx", cwd=fresh)
    text = (fresh / ".mv-promote.toml").read_text()
    assert text.lstrip().startswith("#")
    assert sum(1 for line in text.splitlines() if "#" in line) >= 5
    policy = parse_policy(text.encode())
    assert policy.model("fraud").artifacts == ("fraud.onnx",)


def test_init_never_overwrites_an_existing_policy(fresh, mv):
    mine = POLICY.replace("holdout", "my-suite")
    (fresh / ".mv-promote.toml").write_text(mine)
    result = mv("init", "--model", "other", "--json", cwd=fresh)
    assert (fresh / ".mv-promote.toml").read_text() == mine
    assert any("kept" in d for d in result.json["done"])


def test_init_adds_the_notes_fetch_refspec_to_origin(fresh, mv):
    mv("init", cwd=fresh)
    fetch = git("config", "--get-all", "remote.origin.fetch", cwd=fresh).splitlines()
    assert NOTES_FETCH in fetch
    assert "+refs/heads/*:refs/remotes/origin/*" in fetch


def test_init_adds_no_push_refspec(fresh, mv):
    mv("init", cwd=fresh)
    assert git("config", "--get-all", "remote.origin.push", cwd=fresh, check=False) == ""
    assert "remote.origin.push" not in local_config(fresh)


def test_init_is_idempotent(fresh, mv):
    mv("init", cwd=fresh)
    config_once = local_config(fresh)
    policy_once = (fresh / ".mv-promote.toml").read_text()
    hook_once = (fresh / ".git" / "hooks" / "pre-push").read_text()
    mv("init", cwd=fresh)
    assert local_config(fresh) == config_once
    fetch = git("config", "--get-all", "remote.origin.fetch", cwd=fresh).splitlines()
    assert fetch.count(NOTES_FETCH) == 1
    assert (fresh / ".mv-promote.toml").read_text() == policy_once
    assert (fresh / ".git" / "hooks" / "pre-push").read_text() == hook_once
    assert not (fresh / ".git" / "hooks" / f"pre-push{CHAINED_SUFFIX}").exists()


def test_plain_git_push_still_pushes_the_current_branch_after_init(fresh, mv):
    git("push", "-q", "-u", "origin", "HEAD:main", cwd=fresh)
    mv("init", "--no-hook", cwd=fresh)
    (fresh / "README").write_text("again\n")
    git("commit", "-qam", "second", cwd=fresh)
    git("push", "-q", cwd=fresh)
    assert git("rev-parse", "main", cwd=fresh.parent / "origin.git") == git("rev-parse", "HEAD", cwd=fresh)


def test_plain_git_fetch_still_works_after_init_when_the_remote_has_no_notes_yet(fresh, mv):
    git("push", "-q", "-u", "origin", "HEAD:main", cwd=fresh)
    mv("init", "--no-hook", cwd=fresh)
    proc = subprocess.run(["git", "fetch", "origin"], cwd=fresh, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr


def test_plain_git_fetch_brings_the_notes_once_the_remote_has_them(fresh, mv):
    git("push", "-q", "-u", "origin", "HEAD:main", cwd=fresh)
    mv("init", "--no-hook", cwd=fresh)
    git("notes", "--ref", "mv-promote", "add", "-m", "schema = 1", "HEAD", cwd=fresh)
    git("push", "-q", "origin", "refs/notes/mv-promote", cwd=fresh)
    git("update-ref", "-d", "refs/notes/mv-promote", cwd=fresh)
    git("fetch", "-q", "origin", cwd=fresh)
    assert git("rev-parse", "refs/notes/remotes/origin/mv-promote", cwd=fresh)


def test_init_without_a_remote_adds_no_fetch_refspec(tmp_path, mv):
    git("init", "-q", cwd=tmp_path)
    mv("init", cwd=tmp_path)
    assert "mv-promote" not in local_config(tmp_path).replace("hookspath", "")


def test_init_add_signer_adds_the_users_key_to_allowed_signers(fresh, mv, keys):
    mv("init", "--add-signer", cwd=fresh)
    allowed = (fresh / ".mv-promote" / "allowed_signers").read_text()
    assert keys.public("alice") in allowed
    assert allowed.startswith("alice@example.com ")
    assert 'namespaces="git"' in allowed


def test_init_add_signer_twice_adds_the_key_once(fresh, mv, keys):
    mv("init", "--add-signer", cwd=fresh)
    mv("init", "--add-signer", cwd=fresh)
    allowed = (fresh / ".mv-promote" / "allowed_signers").read_text()
    assert allowed.count(keys.public("alice")) == 1


def test_init_add_signer_without_ssh_signing_is_refused(fresh, mv):
    git("config", "gpg.format", "openpgp", cwd=fresh)
    result = mv("init", "--add-signer", cwd=fresh, code=1)
    assert "signingkey" in result.err or "ssh" in result.err


def test_init_installs_the_pre_push_hook(fresh, mv):
    mv("init", cwd=fresh)
    hook = fresh / ".git" / "hooks" / "pre-push"
    assert MARKER in hook.read_text()
    assert os.access(hook, os.X_OK)


def test_init_keeps_an_existing_pre_push_hook_as_chained(fresh, mv):
    hook = fresh / ".git" / "hooks" / "pre-push"
    hook.parent.mkdir(exist_ok=True)
    original = "#!/bin/sh\necho my own hook\nexit 0\n"
    hook.write_text(original)
    hook.chmod(0o755)
    mv("init", cwd=fresh)
    chained = fresh / ".git" / "hooks" / f"pre-push{CHAINED_SUFFIX}"
    assert chained.read_text() == original
    assert MARKER in hook.read_text()


def test_init_no_hook_installs_nothing(fresh, mv):
    mv("init", "--no-hook", cwd=fresh)
    assert not (fresh / ".git" / "hooks" / "pre-push").exists()


def test_a_committed_init_policy_lets_register_work(fresh, mv):
    mv("init", "--model", "churn", "--artifact", "model.bin", "--add-signer", cwd=fresh)
    (fresh / "model.bin").write_bytes(b"weights")
    git("add", "-A", cwd=fresh)
    git("commit", "-q", "-m", "policy and model", cwd=fresh)
    assert mv("register", "churn", "--json", cwd=fresh).json["version"] == "v1"


# ================================================================ register: the tag

def test_register_creates_a_signed_annotated_tag(model_repo):
    r = model_repo
    r.version(0.85, 0.80, evaluate=False)
    assert r.git("cat-file", "-t", "refs/tags/mv/churn/v1") == "tag"
    assert "-----BEGIN SSH SIGNATURE-----" in r.git("cat-file", "tag", "refs/tags/mv/churn/v1")


def test_git_verify_tag_accepts_the_version_tag_with_the_policy_allowed_signers(model_repo):
    r = model_repo
    r.version(0.85, 0.80, evaluate=False)
    proc = subprocess.run(["git", "-c", "gpg.ssh.allowedSignersFile=.mv-promote/allowed_signers", "verify-tag",
                           "mv/churn/v1"], cwd=r.path, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    assert 'Good "git" signature for alice@example.com' in proc.stderr


def test_version_tag_points_at_the_head_commit(model_repo):
    r = model_repo
    r.version(0.85, 0.80, evaluate=False)
    head = r.git("rev-parse", "HEAD")
    assert r.git("rev-parse", "refs/tags/mv/churn/v1^{commit}") == head
    assert record_of(r, "refs/tags/mv/churn/v1").commit == head


def test_versions_are_numbered_v1_v2_v3(model_repo):
    r = model_repo
    assert [r.version(0.8 + i / 100, 0.8, evaluate=False) for i in range(3)] == ["v1", "v2", "v3"]
    assert registry_tags(r) == ["mv/churn/v1", "mv/churn/v2", "mv/churn/v3"]


def test_tag_message_is_a_subject_line_then_the_toml_record(model_repo):
    r = model_repo
    r.write_model(0.85, 0.8)
    r.commit("m")
    r.mv("register", "churn", "-m", "retrained on November data")
    subject = r.git("tag", "-l", "--format=%(contents:subject)", "mv/churn/v1")
    assert subject == "mv-promote: churn v1: retrained on November data"


# ================================================================ register: the record

def test_record_artifact_digest_and_size_match_hashlib(model_repo):
    r = model_repo
    r.version(0.85, 0.80, evaluate=False)
    data = (r.path / "model.bin").read_bytes()
    rec = record_of(r, "refs/tags/mv/churn/v1")
    assert rec.artifacts == {"model.bin": {"sha256": hashlib.sha256(data).hexdigest(), "size": len(data)}}


def test_record_identity_time_tier_and_policy_digest(model_repo, keys):
    r = model_repo
    r.version(0.85, 0.80, evaluate=False)
    rec = record_of(r, "refs/tags/mv/churn/v1")
    assert rec.model == "churn" and rec.version == "v1" and rec.kind == "version" and rec.schema == 1
    assert rec.created_by == "Alice <alice@example.com>"
    assert rec.created_at == "2026-11-01T09:00:00Z"
    assert rec.tier == "production"
    policy = (r.path / ".mv-promote.toml").read_bytes()
    assert rec.policy_digest == "sha256:" + hashlib.sha256(policy).hexdigest()
    fpr = subprocess.run(["ssh-keygen", "-lf", str(keys.private("alice")) + ".pub"], capture_output=True, text=True).stdout.split()[1]
    assert rec.signer == fpr


def test_first_version_has_no_parent_and_the_next_defaults_to_the_previous(model_repo):
    r = model_repo
    r.version(0.85, 0.80, evaluate=False)
    r.version(0.86, 0.80, evaluate=False)
    assert record_of(r, "refs/tags/mv/churn/v1").parent is None
    assert record_of(r, "refs/tags/mv/churn/v2").parent == "v1"


def test_parent_option_names_an_earlier_version(model_repo):
    r = model_repo
    r.version(0.85, 0.80, evaluate=False)
    r.version(0.86, 0.80, evaluate=False)
    r.write_model(0.87, 0.8)
    r.commit("from v1")
    r.mv("register", "churn", "--parent", "v1")
    assert record_of(r, "refs/tags/mv/churn/v3").parent == "v1"


def test_parent_option_naming_an_unregistered_version_is_refused(model_repo):
    r = model_repo
    r.version(0.85, 0.80, evaluate=False)
    r.write_model(0.87, 0.8)
    r.commit("x")
    result = r.mv("register", "churn", "--parent", "v9", code=1)
    assert "v9" in result.err
    assert registry_tags(r) == ["mv/churn/v1"]


def test_seeds_run_id_and_message_are_recorded(model_repo):
    r = model_repo
    r.write_model(0.85, 0.8)
    r.commit("m")
    r.mv("register", "churn", "--seed", "42", "--seed", "7", "--run-id", "ci-1234", "-m", "nightly retrain")
    rec = record_of(r, "refs/tags/mv/churn/v1")
    assert rec.seeds == [42, 7]
    assert rec.run_id == "ci-1234"
    assert rec.message == "nightly retrain"


def test_register_json_returns_the_record_and_the_tag_id(model_repo):
    r = model_repo
    r.write_model(0.85, 0.8)
    r.commit("m")
    out = r.mv("register", "churn", "--json").json
    assert out["ref"] == "refs/tags/mv/churn/v1"
    assert out["tag"] == r.git("rev-parse", "refs/tags/mv/churn/v1")
    assert out["record"]["commit"] == r.git("rev-parse", "HEAD")


def test_register_text_output_names_the_version_and_the_digest(model_repo):
    r = model_repo
    r.write_model(0.85, 0.8)
    r.commit("m")
    out = r.mv("register", "churn").out
    digest = hashlib.sha256((r.path / "model.bin").read_bytes()).hexdigest()
    assert "registered churn v1" in out
    assert digest in out


def test_params_and_lockfile_named_in_policy_are_recorded(tmp_path, keys, mv):
    policy = POLICY.replace('artifacts = ["model.bin"]',
                            'artifacts = ["model.bin"]\nparams = "params.yaml"\nlockfile = "requirements.lock"')
    r = ModelRepo(tmp_path / "p", keys, policy)
    (r.path / "params.yaml").write_text("lr: 0.1\ntree:\n  depth: 3\n")
    (r.path / "requirements.lock").write_text("numpy==1.26.4\n")
    r.version(0.85, 0.8, evaluate=False)
    rec = record_of(r, "refs/tags/mv/churn/v1")
    assert rec.params["values"] == {"lr": 0.1, "tree": {"depth": 3}}
    assert rec.params["sha256"] == hashlib.sha256(b"lr: 0.1\ntree:\n  depth: 3\n").hexdigest()
    assert rec.lockfile == {"path": "requirements.lock", "sha256": hashlib.sha256(b"numpy==1.26.4\n").hexdigest()}


# ================================================================ register: refusals

def test_unknown_model_is_refused_exit_1(model_repo):
    r = model_repo
    r.write_model(0.85, 0.8)
    r.commit("m")
    result = r.mv("register", "fraud", code=1)
    assert "unknown model 'fraud'" in result.err
    assert registry_tags(r) == []


def test_missing_artifact_is_refused_naming_it(model_repo):
    r = model_repo
    result = r.mv("register", "churn", code=1)
    assert "model.bin" in result.err and "not found" in result.err
    assert registry_tags(r) == []


def test_already_registered_digests_are_refused_naming_the_version(model_repo):
    r = model_repo
    r.version(0.85, 0.80, evaluate=False)
    (r.path / "README").write_text("docs only\n")
    r.commit("docs")
    result = r.mv("register", "churn", code=1)
    assert "already registered as churn v1" in result.err
    assert registry_tags(r) == ["mv/churn/v1"]


def test_dirty_tracked_file_is_refused_naming_it(model_repo):
    r = model_repo
    r.write_model(0.85, 0.8)
    r.commit("m")
    (r.path / "eval.py").write_text("# edited\n")
    result = r.mv("register", "churn", code=1)
    assert "eval.py" in result.err and "uncommitted" in result.err
    assert registry_tags(r) == []


def test_staged_but_uncommitted_change_is_refused(model_repo):
    r = model_repo
    r.write_model(0.85, 0.8)
    r.commit("m")
    (r.path / "eval.py").write_text("# edited\n")
    r.git("add", "eval.py")
    r.mv("register", "churn", code=1)
    assert registry_tags(r) == []


def test_untracked_files_do_not_make_the_tree_dirty(model_repo):
    r = model_repo
    r.write_model(0.85, 0.8)
    r.commit("m")
    (r.path / "scratch.txt").write_text("notes\n")
    r.mv("register", "churn")
    assert registry_tags(r) == ["mv/churn/v1"]


def test_allow_dirty_is_refused_outside_the_research_tier(model_repo):
    r = model_repo
    r.write_model(0.85, 0.8)
    r.commit("m")
    (r.path / "eval.py").write_text("# edited\n")
    result = r.mv("register", "churn", "--allow-dirty", code=1)
    assert "--allow-dirty" in result.err and "production" in result.err
    assert registry_tags(r) == []


def research_repo(tmp_path, keys) -> ModelRepo:
    policy = POLICY.replace('tier = "production"', 'tier = "research"')
    return ModelRepo(tmp_path / "research", keys, policy)


def test_allow_dirty_is_allowed_in_the_research_tier(tmp_path, keys):
    r = research_repo(tmp_path, keys)
    r.write_model(0.85, 0.8)
    r.commit("m")
    (r.path / "eval.py").write_text("# edited\n")
    r.mv("register", "churn", "--allow-dirty")
    assert registry_tags(r) == ["mv/churn/v1"]


def test_no_sign_is_refused_outside_the_research_tier(model_repo):
    r = model_repo
    r.write_model(0.85, 0.8)
    r.commit("m")
    result = r.mv("register", "churn", "--no-sign", code=1)
    assert "unsigned" in result.err and "production" in result.err
    assert registry_tags(r) == []


def test_no_sign_in_the_research_tier_writes_an_unsigned_annotated_tag(tmp_path, keys):
    r = research_repo(tmp_path, keys)
    r.write_model(0.85, 0.8)
    r.commit("m")
    r.mv("register", "churn", "--no-sign")
    raw = r.git("cat-file", "tag", "refs/tags/mv/churn/v1")
    assert "SIGNATURE" not in raw
    assert record_of(r, "refs/tags/mv/churn/v1").signer is None


@pytest.mark.parametrize("bad", ["Churn", "churn.v2", "churn/x", "-churn"])
def test_invalid_model_name_is_a_usage_error_exit_2(model_repo, bad):
    r = model_repo
    r.write_model(0.85, 0.8)
    r.commit("m")
    r.mv("register", bad, code=2)
    assert registry_tags(r) == []


def test_signing_failure_is_refused_and_leaves_no_ref(model_repo, hermetic):
    r = model_repo
    gitconfig = hermetic / ".gitconfig"
    gitconfig.write_text("\n".join(l for l in gitconfig.read_text().splitlines() if "signingkey" not in l) + "\n")
    r.write_model(0.85, 0.8)
    r.commit("m")
    result = r.mv("register", "churn", code=1)
    assert "sign" in result.err
    assert "Traceback" not in result.err
    assert registry_tags(r) == []
    assert r.git("for-each-ref", "refs/tags/") == ""


def test_missing_identity_is_refused(model_repo, hermetic):
    r = model_repo
    r.write_model(0.85, 0.8)
    r.commit("m")
    gitconfig = hermetic / ".gitconfig"
    gitconfig.write_text("\n".join(l for l in gitconfig.read_text().splitlines()
                                   if "name =" not in l and "email =" not in l) + "\n")
    result = r.mv("register", "churn", code=1)
    assert "user.name" in result.err
    assert registry_tags(r) == []


# ================================================================ big artifacts

@pytest.mark.slow
def test_a_200_mb_artifact_registers_with_the_right_digest(tmp_path, keys):
    r = research_repo(tmp_path, keys)  # an ignored artifact without a DVC pin: research tier only (issue 17)
    chunk = os.urandom(1 << 20)
    expected = hashlib.sha256()
    with open(r.path / "model.bin", "wb") as fh:
        for i in range(200):
            block = chunk[i:] + chunk[:i]  # no two blocks alike, nothing sparse
            fh.write(block)
            expected.update(block)
    (r.path / ".gitignore").write_text("model.bin\n")
    r.commit("ignore the big artifact")
    out = r.mv("register", "churn", "--json").json
    assert out["record"]["artifacts"]["model.bin"] == {"sha256": expected.hexdigest(), "size": 200 << 20}


def test_digests_of_an_older_version_are_refused_once_the_digest_index_knows_it(model_repo):
    """register's duplicate check reads each version's digests once (indexed in the record cache by
    tag object id); a later register still finds v1 among the indexed versions."""
    r = model_repo
    r.version(0.85, 0.80, evaluate=False)
    r.version(0.90, 0.85, evaluate=False)  # indexes v1 on the way
    r.write_model(0.85, 0.80)
    r.commit("back to v1's model")
    result = r.mv("register", "churn", code=1)
    assert "already registered as churn v1" in result.err


def test_a_version_retagged_with_other_digests_is_read_again_not_taken_from_the_index(model_repo):
    """The index is keyed by the tag object: v1 re-created (a new object) naming other digests is
    read afresh, so its old digests register again and its new ones are refused."""
    r = model_repo
    r.version(0.85, 0.80, evaluate=False)
    r.version(0.90, 0.85, evaluate=False)  # indexes v1
    ref = "refs/tags/mv/churn/v1"
    old_digest = hashlib.sha256(b"0.85 0.8 5.0\n").hexdigest()
    message = tag_message(r, ref)
    assert old_digest.encode() in message
    r.write_model(0.95, 0.90)
    new_digest = hashlib.sha256((r.path / "model.bin").read_bytes()).hexdigest()
    remake_tag(r, ref, target=r.git("rev-parse", f"{ref}^{{commit}}"),
               message=message.replace(old_digest.encode(), new_digest.encode()), key="alice")
    r.commit("train auc=0.95")
    assert "already registered as churn v1" in r.mv("register", "churn", code=1).err


def test_a_register_after_registers_lists_no_versions_digests(model_repo, monkeypatch):
    """Flat in history: each register leaves in the record cache the listing of version refs it
    made (every version's digests indexed), so the next one reads neither the index of the whole
    model nor any version; also past v9, where git's name order puts v10 between v1 and v2."""
    from gitmv.cache import RecordCache
    from gitmv.registry import Registry

    r = model_repo
    for i in range(9):
        r.version(round(0.80 + i / 100, 2), 0.80, evaluate=False)

    def whole_model(*_args):
        raise AssertionError("a register went through every version of the model")

    read_back = Registry.version_by_tag

    def only_its_own(reg, oid, ref):  # a register reads back the one tag it made, no earlier one
        if int(ref.rsplit("/v", 1)[1]) < 10:
            raise AssertionError(f"a register read {ref}")
        return read_back(reg, oid, ref)

    monkeypatch.setattr(RecordCache, "digests_of", whole_model)
    monkeypatch.setattr(Registry, "version_by_tag", only_its_own)
    assert r.version(0.90, 0.80, evaluate=False) == "v10"
    assert r.version(0.91, 0.80, evaluate=False) == "v11"
    assert record_of(r, "refs/tags/mv/churn/v11").parent == "v10"
    r.write_model(0.83, 0.80)
    r.commit("back to v4's model")
    assert "already registered as churn v4" in r.mv("register", "churn", code=1).err


def test_the_listing_a_register_remembers_is_the_one_git_lists_next(model_repo):
    """What is remembered is a prediction (the new line inserted in git's order); it must be
    exactly the bytes git gives afterwards, or every register takes the full path."""
    from gitmv.cache import RecordCache
    from gitmv.git.repo import Repo
    from gitmv.names import model_versions_pattern

    r = model_repo
    for i in range(11):
        r.version(round(0.80 + i / 100, 2), 0.80, evaluate=False)
        listing = Repo.discover(r.path).ref_listing(model_versions_pattern("churn"))
        remembered = RecordCache(r.path / ".git").indexed_listing("churn")
        assert remembered == (hashlib.sha256(listing).hexdigest(), i + 1)


def tag_v3_by_hand(r, model_bytes: bytes) -> None:
    """Another writer's churn v3 (on v2's commit) whose model.bin is `model_bytes`, tagged with
    git by hand and signed with an allowed key: a version no register of this clone made."""
    theirs = dataclasses.replace(record_of(r, "refs/tags/mv/churn/v2"), version="v3", parent="v2",
                                 artifacts={"model.bin": {"sha256": hashlib.sha256(model_bytes).hexdigest(),
                                                          "size": len(model_bytes)}})
    make_tag(r, "refs/tags/mv/churn/v3", target=theirs.commit, message=theirs.to_message().encode(), key="alice")


def test_a_version_tagged_by_another_writer_with_the_same_digests_is_refused(model_repo):
    """A version the remembered listing does not hold (another clone's, fetched; a tag made by
    hand) makes the listing differ: its record is read, and its digests are refused."""
    r = model_repo
    r.version(0.85, 0.80, evaluate=False)
    r.version(0.90, 0.85, evaluate=False)
    r.write_model(0.95, 0.90)
    tag_v3_by_hand(r, (r.path / "model.bin").read_bytes())
    r.commit("train auc=0.95")
    assert "already registered as churn v3" in r.mv("register", "churn", code=1).err
    assert registry_tags(r) == ["mv/churn/v1", "mv/churn/v2", "mv/churn/v3"]


def test_a_deleted_record_cache_still_refuses_known_digests(model_repo):
    """The remembered listing lives in the record cache: without it every version is read again."""
    r = model_repo
    r.version(0.85, 0.80, evaluate=False)
    r.version(0.90, 0.85, evaluate=False)
    shutil.rmtree(r.path / ".git" / "mv-promote")
    r.write_model(0.85, 0.80)
    r.commit("back to v1's model")
    assert "already registered as churn v1" in r.mv("register", "churn", code=1).err


def test_a_version_another_writer_tags_while_a_register_runs_is_not_hidden(model_repo, monkeypatch):
    """The listing a register remembers is the one it read plus its own tag: a version another
    writer made in between (here v3, taken just before this register's own tag, which becomes v4)
    makes what git lists differ from it, so the next register reads v3 and refuses its digests."""
    import gitmv.ops.register as register_op

    r = model_repo
    r.version(0.85, 0.80, evaluate=False)
    r.version(0.90, 0.85, evaluate=False)
    theirs_model = b"0.99 0.99 5.0\n"
    real = register_op.create_version_tag

    def racing(*args, **kwargs):
        tag_v3_by_hand(r, theirs_model)
        return real(*args, **kwargs)

    monkeypatch.setattr(register_op, "create_version_tag", racing)
    assert r.version(0.95, 0.90, evaluate=False) == "v4"
    monkeypatch.setattr(register_op, "create_version_tag", real)
    (r.path / "model.bin").write_bytes(theirs_model)
    r.commit("the same model as the other writer's v3")
    assert "already registered as churn v3" in r.mv("register", "churn", code=1).err


def test_a_version_unreadable_during_one_register_is_checked_once_it_can_be_read(model_repo):
    """A version skipped as unreadable (a damaged object, a repack under way) leaves the listing
    unremembered: the next register reads it and refuses its digests."""
    r = model_repo
    r.version(0.85, 0.80, evaluate=False)
    shutil.rmtree(r.path / ".git" / "mv-promote")  # v1 not indexed, as in a fresh clone
    oid = r.git("rev-parse", "refs/tags/mv/churn/v1")
    loose = r.path / ".git" / "objects" / oid[:2] / oid[2:]
    good = loose.read_bytes()
    loose.chmod(0o644)
    loose.write_bytes(b"not a zlib stream")
    try:
        assert r.version(0.90, 0.85, evaluate=False) == "v2"
    finally:
        loose.write_bytes(good)
    r.write_model(0.85, 0.80)
    r.commit("back to v1's model")
    assert "already registered as churn v1" in r.mv("register", "churn", code=1).err
    assert registry_tags(r) == ["mv/churn/v1", "mv/churn/v2"]


def test_a_record_cache_locked_after_the_listing_matched_does_not_let_a_duplicate_through(model_repo, monkeypatch):
    """Between the listing's match and the digest query another process locks the cache: the
    query's failure is no "none has them", and the versions are read."""
    import sqlite3

    from gitmv.cache import RecordCache

    r = model_repo
    r.version(0.85, 0.80, evaluate=False)
    r.version(0.90, 0.85, evaluate=False)
    matched = RecordCache.indexed_listing
    blockers = []

    def then_locked(cache, model):
        found = matched(cache, model)
        blockers.append(sqlite3.connect(str(cache.path), isolation_level=None))
        blockers[-1].execute("BEGIN EXCLUSIVE")
        return found

    monkeypatch.setattr(RecordCache, "indexed_listing", then_locked)
    r.write_model(0.85, 0.80)
    r.commit("back to v1's model")
    try:
        assert "already registered as churn v1" in r.mv("register", "churn", code=1).err
    finally:
        for blocker in blockers:
            blocker.execute("ROLLBACK")
            blocker.close()
    assert registry_tags(r) == ["mv/churn/v1", "mv/churn/v2"]


@pytest.mark.parametrize("alias", ["v3", "v2"])
def test_a_ref_aliasing_an_indexed_versions_tag_object_is_not_named_for_it(model_repo, alias):
    """A ref made by hand to point at v1's tag object is no version (its record names v1): the
    refusal names v1 whether the index is read whole (alias v3, made after the registers) or the
    remembered listing answers (alias v2, made before v3 was registered over it)."""
    r = model_repo
    r.version(0.85, 0.80, evaluate=False)
    v1 = r.git("rev-parse", "refs/tags/mv/churn/v1")
    if alias == "v2":
        r.git("update-ref", "refs/tags/mv/churn/v2", v1)
        assert r.version(0.90, 0.85, evaluate=False) == "v3"
    else:
        r.version(0.90, 0.85, evaluate=False)
        r.git("update-ref", "refs/tags/mv/churn/v3", v1)
    r.write_model(0.85, 0.80)
    r.commit("back to v1's model")
    assert "already registered as churn v1" in r.mv("register", "churn", code=1).err


def test_two_registers_of_the_same_digests_racing_make_one_version(model_repo, monkeypatch):
    """Both checked before either tagged; the second to tag finds its number taken, reads the
    version that took it, and refuses its digests instead of taking the next number."""
    import gitmv.ops.register as register_op

    r = model_repo
    r.version(0.85, 0.80, evaluate=False)
    r.version(0.90, 0.85, evaluate=False)
    r.write_model(0.95, 0.90)
    r.commit("train auc=0.95")
    real = register_op.create_version_tag
    other = []

    def racing(*args, **kwargs):
        if not other:  # the other writer registers the same commit first (once: it runs this too)
            other.append("")
            other[0] = r.mv("register", "churn", "--json").json["version"]
        return real(*args, **kwargs)

    monkeypatch.setattr(register_op, "create_version_tag", racing)
    assert "already registered as churn v3" in r.mv("register", "churn", code=1).err
    assert other == ["v3"]
    assert registry_tags(r) == ["mv/churn/v1", "mv/churn/v2", "mv/churn/v3"]


def test_a_ref_in_the_way_of_the_next_version_is_named_with_the_fix(model_repo):
    """`refs/tags/mv/churn/v3/x` (no registry name: the hook refuses it on the server) keeps git
    from creating v3: the error names it and how to remove it, not "set up signing"."""
    r = model_repo
    r.version(0.85, 0.80, evaluate=False)
    r.version(0.90, 0.85, evaluate=False)
    r.git("update-ref", "refs/tags/mv/churn/v3/x", r.git("rev-parse", "refs/tags/mv/churn/v1"))
    r.write_model(0.95, 0.90)
    r.commit("train auc=0.95")
    err = r.mv("register", "churn", code=1).err
    assert "refs/tags/mv/churn/v3 cannot be created: the ref refs/tags/mv/churn/v3/x is in the way" in err
    assert "git update-ref -d refs/tags/mv/churn/v3/x" in err
    assert "signing" not in err
    assert registry_tags(r) == ["mv/churn/v1", "mv/churn/v2", "mv/churn/v3/x"]
