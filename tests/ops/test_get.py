"""`get`: what a serving job deploys is resolved, verified link by link and stamped.

The registry lives on a real bare server with the server hook (git daemon, nginx + http-backend),
the artifact of the DVC case in a real S3 bucket (moto on 127.0.0.1). The deploying side is a
fresh directory with only `--remote URL`: no clone. Forgeries are written straight into the bare
repository (a fetch into it runs no hook), as an admin or a host without hooks would let happen.
"""

from __future__ import annotations

import hashlib
import json
import re
import subprocess
from pathlib import Path

import pytest

from conftest import (DVC_POLICY, DvcRepo, ModelRepo, accepted, approval_team, dvc, forge_stage_tag, note_text, push,
                      published_repo, put_note, recreate, run_mv, set_clock)

STAMP_KEYS = {"model", "version", "tag", "stage", "seq", "stage_tag", "digests", "code_commit", "policy_digest",
              "resolved_at"}


def allow_partial_clone(bare: Path) -> None:
    """What GitHub, GitLab and Gitea serve: `--filter` (blobs are then fetched by id on demand,
    which protocol v2 allows for any reachable object)."""
    subprocess.run(["git", "--git-dir", str(bare), "config", "uploadpack.allowFilter", "true"], check=True)


def around_the_hook(server, repo: ModelRepo, *refspecs: str) -> None:
    """Copy refs from `repo` into the bare server by a fetch run in the server: no hook sees it."""
    subprocess.run(["git", "--git-dir", str(server.path), "fetch", "-q", str(repo.path), *refspecs],
                   check=True, capture_output=True)


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def snapshot(root: Path) -> dict:
    return {str(p.relative_to(root)): (p.stat().st_ino, p.stat().st_mtime_ns) for p in sorted(root.rglob("*"))}


# ---------------------------------------------------------------- a DVC model whose artifact is in S3

@pytest.fixture
def s3_live(daemon_server, tmp_path, keys, dvc_env, s3_remote):
    """churn v1 trained by DVC (model.bin a DVC output, never in Git), pushed to S3, evaluated and
    promoted to production, all pushed to the server: (repo, server, bucket client). Served by git
    daemon only: what these tests exercise is the S3 side; `get --remote` over http is covered by
    the Git-blob tests below, which run on both servers."""
    server = daemon_server
    endpoint, client = s3_remote
    allow_partial_clone(server.path)
    # a prefix of its own: moto keeps one bucket state per process, across tests
    repo = DvcRepo(tmp_path / "repo", keys, ["s3store", f"s3://models/{tmp_path.name}"])
    dvc("remote", "modify", "s3store", "endpointurl", endpoint, cwd=repo.path)
    (repo.path / ".mv-promote.toml").write_text(DVC_POLICY.replace("[registry]\n", '[registry]\nprotected_branch = "main"\n'))
    repo.commit("s3 endpoint")
    v1 = repo.train_and_register()
    run_mv("eval", "churn", v1, cwd=repo.path)
    run_mv("promote", "churn", v1, "--stage", "production", cwd=repo.path)
    subprocess.run(["git", "remote", "add", "origin", server.url], cwd=repo.path, check=True)
    for refs in (["main"], ["refs/tags/mv/*:refs/tags/mv/*", "refs/notes/mv-promote"]):
        accepted(subprocess.run(["git", "push", "--no-verify", "origin", *refs], cwd=repo.path, capture_output=True,
                                text=True))
    return repo, server, client


def s3_key(repo: DvcRepo) -> str:
    md5 = hashlib.md5((repo.path / "model.bin").read_bytes()).hexdigest()
    return f"{repo.path.parent.name}/files/md5/{md5[:2]}/{md5[2:]}"


def test_get_with_only_a_remote_retrieves_productions_artifact_from_s3_and_stamps_it(s3_live, deploy, mv):
    repo, server, _ = s3_live
    out = mv("get", "churn@production", "--remote", server.url, "-o", "model", "--json", cwd=deploy).json
    want = json.loads(run_mv("show", "churn", "v1", "--json", cwd=repo.path).out)
    assert sha256(deploy / "model" / "model.bin") == want["record"]["artifacts"]["model.bin"]["sha256"]
    assert out["sources"] == {"model.bin": "dvc remote"}
    stamp = json.loads((deploy / "model" / "mv-promote.json").read_text())
    assert STAMP_KEYS <= set(stamp)
    assert (stamp["model"], stamp["version"], stamp["stage"], stamp["seq"]) == ("churn", "v1", "production", 1)
    assert stamp["tag"] == want["tag"] and stamp["code_commit"] == want["record"]["commit"]
    assert stamp["digests"] == {"model.bin": want["record"]["artifacts"]["model.bin"]["sha256"]}
    assert stamp["policy_digest"].startswith("sha256:")


def test_get_refuses_an_artifact_byte_changed_in_the_dvc_remote_and_writes_nothing(s3_live, deploy, mv):
    repo, server, client = s3_live
    key = s3_key(repo)
    body = client.get_object(Bucket="models", Key=key)["Body"].read()
    client.put_object(Bucket="models", Key=key, Body=bytes([body[0] ^ 1]) + body[1:])
    err = mv("get", "churn@production", "--remote", server.url, "-o", "model", cwd=deploy, code=1).err
    assert "model.bin is not retrievable" in err and "does not have the recorded sha256" in err
    assert list(deploy.iterdir()) == []


def test_get_refuses_an_artifact_deleted_from_the_dvc_remote_and_writes_nothing(s3_live, deploy, mv):
    repo, server, client = s3_live
    client.delete_object(Bucket="models", Key=s3_key(repo))
    err = mv("get", "churn@production", "--remote", server.url, "-o", "model", cwd=deploy, code=1).err
    assert "model.bin is not retrievable" in err and "dvc remote s3store: no object" in err
    assert list(deploy.iterdir()) == []


# ---------------------------------------------------------------- a model kept in Git, on a daemon

@pytest.fixture
def published(daemon_server, tmp_path, keys):
    """v1 in staging and production on the server (model.bin committed in Git)."""
    allow_partial_clone(daemon_server.path)
    return published_repo(daemon_server, tmp_path, keys), daemon_server


def test_get_in_a_clone_reads_the_clone_and_takes_the_work_tree_file(published, mv):
    repo, _ = published
    out = mv("get", "churn@production", "-o", str(repo.path.parent / "out"), "--json", cwd=repo.path).json
    assert out["sources"] == {"model.bin": "work tree"}
    assert (repo.path.parent / "out" / "model.bin").read_bytes() == (repo.path / "model.bin").read_bytes()


def test_second_get_of_an_unchanged_stage_fetches_and_writes_nothing(published, deploy, mv):
    _, server = published
    first = mv("get", "churn@production", "--remote", server.url, "--json", cwd=deploy).json
    assert first["fetched"] is True and (deploy / "churn" / "model.bin").is_file()
    before = snapshot(deploy / "churn")
    second = mv("get", "churn@production", "--remote", server.url, "--json", cwd=deploy).json
    assert second["fetched"] is False and second["unchanged"] is True and second["written"] == []
    assert snapshot(deploy / "churn") == before
    assert second["stamp"] == first["stamp"]


def test_the_installed_command_writes_once_then_finds_nothing_to_write(published, deploy, mv_proc):
    _, server = published
    first = mv_proc("get", "churn@production", "--remote", server.url, cwd=deploy)
    assert "churn v1 (production #1): verified; wrote model.bin from git blob" in first.out
    second = mv_proc("get", "churn@production", "--remote", server.url, cwd=deploy)
    assert "already holds it, nothing written" in second.out


def test_get_at_a_time_resolves_the_version_the_stage_held_then(published, deploy, mv, monkeypatch):
    repo, server = published
    set_clock(monkeypatch, "2026-11-05T09:00:00+00:00")
    v2 = repo.version(0.90, 0.85)
    repo.mv("promote", "churn", v2, "--stage", "production")
    accepted(push(repo, "refs/tags/mv/*:refs/tags/mv/*", "refs/notes/mv-promote"))
    now = mv("get", "churn@production", "--remote", server.url, "-o", "now", "--json", cwd=deploy).json["stamp"]
    then = mv("get", "churn@production", "--remote", server.url, "--at", "2026-11-03T00:00:00Z", "-o", "then",
              "--json", cwd=deploy).json["stamp"]
    assert (now["version"], now["seq"]) == ("v2", 2)
    assert (then["version"], then["seq"]) == ("v1", 1)
    assert (deploy / "then" / "model.bin").read_text().startswith("0.85")


def test_a_forged_stage_tag_pushed_around_the_hook_is_refused_naming_it(published, deploy, mv):
    repo, server = published
    mv("get", "churn@production", "--remote", server.url, "-o", "before", cwd=deploy)  # verified and remembered
    before = snapshot(deploy)
    ref = forge_stage_tag(repo, "v1", "production", 2, key="alice")
    around_the_hook(server, repo, f"{ref}:{ref}")
    err = mv("get", "churn@production", "--remote", server.url, "-o", "before", cwd=deploy, code=1).err
    assert re.search(r"refused churn@production: refs/tags/mv/churn/production/2: .*(policy_digest|at|previous)", err)
    assert snapshot(deploy) == before


def test_a_version_tag_re_signed_by_a_foreign_key_is_refused(published, deploy, mv):
    repo, server = published
    recreate(repo, "refs/tags/mv/churn/v1", key="mallory")
    around_the_hook(server, repo, "+refs/tags/mv/churn/v1:refs/tags/mv/churn/v1")
    err = mv("get", "churn@v1", "--remote", server.url, cwd=deploy, code=1).err
    assert "refused churn@v1: refs/tags/mv/churn/v1: signature:" in err
    assert list(deploy.iterdir()) == []


@pytest.mark.parametrize("forgery", ["tampered", "unsigned"])
def test_a_forged_eval_in_the_notes_is_refused(published, deploy, mv, forgery):
    repo, server = published
    text = note_text(repo, "v1")
    if forgery == "tampered":  # a better number under the same id: the id no longer matches
        forged = re.sub(r"^auc = [0-9.]+$", "auc = 0.99", text, count=1, flags=re.M)
    else:  # the signature stripped: not evidence
        forged = re.sub(r"^signature = .*\n", "", text, flags=re.M)
    assert forged != text
    put_note(repo, "v1", forged)
    around_the_hook(server, repo, "+refs/notes/mv-promote:refs/notes/mv-promote")
    err = mv("get", "churn@production", "--remote", server.url, cwd=deploy, code=1).err
    assert "refused churn@production:" in err
    assert ("tampered" in err) if forgery == "tampered" else ("eval" in err)
    assert list(deploy.iterdir()) == []


def test_get_of_a_version_needs_no_stage_and_stamps_none(published, deploy, mv):
    _, server = published
    stamp = mv("get", "churn@v1", "--remote", server.url, "--json", cwd=deploy).json["stamp"]
    assert (stamp["version"], stamp["stage"], stamp["seq"], stamp["stage_tag"]) == ("v1", None, None, None)
    assert (deploy / "churn" / "model.bin").is_file()


def test_at_with_a_version_reference_is_a_usage_error(deploy, mv):
    err = mv("get", "churn@v1", "--at", "2026-11-03T00:00:00Z", cwd=deploy, code=2).err
    assert "--at applies to MODEL@STAGE" in err


def test_a_directory_that_get_did_not_write_is_refused_untouched(published, deploy, mv):
    _, server = published
    (deploy / "churn").mkdir()
    (deploy / "churn" / "notes.txt").write_text("mine")
    err = mv("get", "churn@production", "--remote", server.url, cwd=deploy, code=1).err
    assert "holds no mv-promote.json" in err
    assert [p.name for p in (deploy / "churn").iterdir()] == ["notes.txt"]


def test_the_deploy_cache_is_a_partial_clone_that_reuses_what_it_fetched(published, deploy, mv):
    from gitmv.ops.fetch_cache import cache_path

    _, server = published
    mv("get", "churn@production", "--remote", server.url, cwd=deploy)
    cache = cache_path(server.url)
    missing = subprocess.run(["git", "--git-dir", str(cache), "rev-list", "--objects", "--missing=print", "--all"],
                             capture_output=True, text=True, check=True).stdout
    assert "\n?" in "\n" + missing  # blobs never read (eval.py) were never fetched
    assert cache.parent.parent == deploy.parent / "home" / ".cache" / "git-mv-promote"


def test_an_approved_production_entry_verifies_its_approval_from_the_remote(daemon_server, tmp_path, keys, deploy, mv):
    """approvals = 1: bob's signed merge of alice's request is recomputed from the remote's main."""
    allow_partial_clone(daemon_server.path)
    approval_team(daemon_server, tmp_path, keys, keys.allowed_line("alice") + keys.allowed_line("bob"), "signers")
    stamp = mv("get", "churn@production", "--remote", daemon_server.url, "--json", cwd=deploy).json["stamp"]
    assert (stamp["version"], stamp["seq"]) == ("v1", 1)


def test_resolve_verifies_without_downloading(published, deploy):
    from gitmv import api

    _, server = published
    stamp = api.resolve("churn@production", remote=server.url)
    assert (stamp["version"], stamp["stage"]) == ("v1", "production")
    assert list(deploy.iterdir()) == []


@pytest.mark.parametrize("ref", ["churn", "churn@", "Churn@production", "churn@v0", "@production"])
def test_a_bad_reference_is_a_usage_error_with_the_grammar(deploy, mv, ref):
    err = mv("get", ref, cwd=deploy, code=2).err
    assert "MODEL@STAGE or MODEL@vN" in err or "invalid" in err

