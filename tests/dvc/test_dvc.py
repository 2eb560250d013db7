"""Data with DVC, with real `dvc`: pins read at register, data diff file by file, object-by-object
remote checks (local directory remote and an S3 remote served by moto on 127.0.0.1), rollback
refusing unretrievable data, `reproduce` in a temporary worktree, and eval provenance."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import DvcRepo, dvc, git, run_mv

pytest.importorskip("dvc", reason="DVC tests need the [dvc] extra")


def _remote_path(remote: Path, md5: str) -> Path:
    return remote / "files" / "md5" / md5[:2] / md5[2:]


def test_register_reads_pins_from_dvc_files_and_dvc_lock(drepo):
    v1 = drepo.train_and_register()
    record = run_mv("show", "churn", v1, "--json", cwd=drepo.path).json["record"]
    pins = {(p["source"], p["path"]): p for p in record["data"]}
    assert pins[("data/train.dvc", "data/train")]["md5"].endswith(".dir")
    assert pins[("data/train.dvc", "data/train")]["nfiles"] == 3
    assert pins[("data/train.dvc", "data/train")]["remote"] == "store"
    assert pins[("dvc.lock", "model.bin")]["stage"] == "train"
    assert record["params"]["values"] == {"seed": 7}


def test_core_reads_pins_without_dvc_installed(drepo, tmp_path):
    dvc("repro", "-q", "train", cwd=drepo.path)
    drepo.commit("train")
    poison = tmp_path / "nodvc"
    (poison / "dvc").mkdir(parents=True)
    (poison / "dvc" / "__init__.py").write_text("raise ImportError('dvc is not installed here')\n")
    root = Path(__file__).resolve().parents[2]
    env = {**os.environ, "PYTHONPATH": f"{poison}{os.pathsep}{root}"}
    proc = subprocess.run([sys.executable, "-m", "gitmv", "register", "churn", "--json"], cwd=drepo.path,
                          capture_output=True, text=True, env=env)
    assert proc.returncode == 0, proc.stderr
    assert any(p["path"] == "data/train" for p in json.loads(proc.stdout)["record"]["data"])


def test_diff_lists_data_changes_file_by_file(drepo):
    v1 = drepo.train_and_register("v1")
    data = drepo.path / "data" / "train"
    (data / "a.csv").write_text("a.csv,2\n")
    (data / "c.csv").unlink()
    (data / "d.csv").write_text("d.csv,1\n")
    dvc("add", "-q", "data/train", cwd=drepo.path)
    v2 = drepo.train_and_register("v2")
    out = run_mv("diff", "churn", v1, v2, "--json", cwd=drepo.path).json
    change = next(c for c in out["data"] if c["path"] == "data/train")
    assert change["status"] == "changed"
    assert change["files"] == [{"path": "a.csv", "status": "modified"}, {"path": "c.csv", "status": "removed"},
                               {"path": "d.csv", "status": "added"}]


def test_diff_reads_manifests_from_the_remote_when_the_cache_lacks_them(drepo):
    v1 = drepo.train_and_register("v1")
    (drepo.path / "data" / "train" / "b.csv").write_text("b.csv,9\n")
    dvc("add", "-q", "data/train", cwd=drepo.path)
    v2 = drepo.train_and_register("v2")
    shutil.rmtree(drepo.path / ".dvc" / "cache")
    change = next(c for c in run_mv("diff", "churn", v1, v2, "--json", cwd=drepo.path).json["data"]
                  if c["path"] == "data/train")
    assert change["files"] == [{"path": "b.csv", "status": "modified"}]


def test_diff_says_when_a_manifest_is_not_available_locally(drepo, local_remote):
    v1 = drepo.train_and_register("v1")
    (drepo.path / "data" / "train" / "b.csv").write_text("b.csv,9\n")
    dvc("add", "-q", "data/train", cwd=drepo.path)
    v2 = drepo.train_and_register("v2")
    shutil.rmtree(drepo.path / ".dvc" / "cache")
    shutil.rmtree(local_remote)
    change = next(c for c in run_mv("diff", "churn", v1, v2, "--json", cwd=drepo.path).json["data"]
                  if c["path"] == "data/train")
    assert change["files"] is None
    assert "not available locally" in change["note"]


def test_verify_data_passes_when_every_object_is_in_the_remote(drepo):
    drepo.train_and_register()
    result = run_mv("verify", "--data", "churn", "--json", cwd=drepo.path).json
    assert result["ok"] is True
    assert result["objects_checked"] >= 5  # .dir manifest, three files, the model


def test_an_object_deleted_from_the_remote_fails_verify_data_by_name(drepo, local_remote):
    v1 = drepo.train_and_register()
    victim = _remote_path(local_remote, _md5_of(drepo.path / "data" / "train" / "b.csv"))
    victim.unlink()
    assert dvc("status", "-c", cwd=drepo.path, check=False).returncode == 0, "DVC itself does not notice"
    out = run_mv("verify", "--data", "churn", v1, cwd=drepo.path, code=1)
    assert f"data/train/b.csv object {_md5_of(drepo.path / 'data' / 'train' / 'b.csv')} missing from remote store" in out.err


def test_rollback_refuses_a_target_whose_data_is_gone_and_force_records_it(drepo, local_remote):
    drepo.two_versions_in("staging")
    md5 = _md5_of(drepo.path / "data" / "train" / "a.csv")
    _remote_path(local_remote, md5).unlink()
    rehearsal = run_mv("rollback", "churn", "--stage", "staging", "--dry-run", cwd=drepo.path, code=1)
    assert f"data/train/a.csv object {md5} missing" in rehearsal.out
    refused = run_mv("rollback", "churn", "--stage", "staging", cwd=drepo.path, code=1)
    assert f"object {md5} missing" in refused.err
    assert drepo.path.joinpath(".git", "refs", "tags", "mv", "churn", "staging", "3").exists() is False
    forced = run_mv("rollback", "churn", "--stage", "staging", "--force", "--json", cwd=drepo.path).json
    assert forced["record"]["forced"]["missing_objects"] == [md5]


def test_reproduce_matches_for_a_deterministic_pipeline(drepo):
    v1 = drepo.train_and_register()
    before = git("status", "--porcelain", cwd=drepo.path)
    out = run_mv("reproduce", "churn", v1, "--json", cwd=drepo.path).json
    assert out["match"] is True
    assert out["record"]["kind"] == "reproduction"
    assert git("status", "--porcelain", cwd=drepo.path) == before, "the user's work tree is untouched"
    assert git("worktree", "list", cwd=drepo.path).count("\n") == 0


def test_reproduce_reports_a_mismatch_after_a_seed_change(drepo):
    dvc("repro", "-q", "train", cwd=drepo.path)
    dvc("push", "-q", cwd=drepo.path)
    (drepo.path / "params.yaml").write_text("seed: 8\n")  # committed code no longer made this model
    drepo.commit("change the seed without retraining")
    v1 = run_mv("register", "churn", "--json", cwd=drepo.path).json["version"]
    out = run_mv("reproduce", "churn", v1, "--json", cwd=drepo.path, code=1).json
    assert out["match"] is False
    rec = out["record"]
    assert rec["artifacts"]["model.bin"] != rec["produced"]["model.bin"]


def test_eval_from_a_dvc_stage_checks_the_model_it_measured(drepo):
    v1 = drepo.train_and_register()
    dvc("repro", "-q", "eval", cwd=drepo.path)
    out = run_mv("eval", "churn", v1, "--from-file", "metrics.json", "--json", cwd=drepo.path).json
    assert out["record"]["provenance"]["stage"] == "eval"
    (drepo.path / "params.yaml").write_text("seed: 9\n")
    dvc("repro", "-q", "eval", cwd=drepo.path)  # metrics now measure another model
    bad = run_mv("eval", "churn", v1, "--from-file", "metrics.json", cwd=drepo.path, code=1)
    assert "not the registered artifact" in bad.err


def test_rollback_retrieves_an_artifact_from_the_dvc_remote(drepo):
    drepo.two_versions_in("staging")
    shutil.rmtree(drepo.path / ".dvc" / "cache")
    plan = run_mv("rollback", "churn", "--stage", "staging", "--dry-run", "--json", cwd=drepo.path).json
    assert plan["retrievable"] == [{"path": "model.bin", "ok": True, "source": "dvc remote", "tried": plan["retrievable"][0]["tried"]}]


def _md5_of(path: Path) -> str:
    import hashlib

    return hashlib.md5(path.read_bytes()).hexdigest()


def test_s3_remote_verify_data_passes_then_names_a_deleted_object(tmp_path, keys, dvc_env, s3_remote):
    endpoint, client = s3_remote
    repo = DvcRepo(tmp_path / "s3repo", keys, ["s3store", "s3://models/store"])
    dvc("remote", "modify", "s3store", "endpointurl", endpoint, cwd=repo.path)
    repo.commit("s3 endpoint")
    v1 = repo.train_and_register()
    assert run_mv("verify", "--data", "churn", v1, "--json", cwd=repo.path).json["ok"] is True
    md5 = _md5_of(repo.path / "data" / "train" / "c.csv")
    client.delete_object(Bucket="models", Key=f"store/files/md5/{md5[:2]}/{md5[2:]}")
    out = run_mv("verify", "--data", "churn", v1, cwd=repo.path, code=1)
    assert f"data/train/c.csv object {md5} missing from remote s3store" in out.err
