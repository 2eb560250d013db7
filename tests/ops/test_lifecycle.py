"""Lifecycle: experiments kept apart (never pushed), gc with retention, lineage as a graph, and
the three tiers enforced by check, promote and the server hook alike."""

from __future__ import annotations

import shutil
import subprocess

import pytest

from conftest import POLICY, ModelRepo, accepted, push, refused, set_clock

RESEARCH = POLICY.replace('tier = "production"', 'tier = "research"')
REGULATED = POLICY.replace('tier = "production"', 'tier = "regulated"\nmodel_card = "MODEL_CARD.md"').replace(
    "[models.churn.eval]", '[models.churn.train]\ncommand = "python3 train.py"\n\n[models.churn.eval]').replace(
    "approvals = 0", 'approvals = 0\neval_signers = ["carol@example.com"]')
TRAIN = "open('model.bin', 'w').write(open('recipe.txt').read())\n"


def _experiment(repo: ModelRepo, name: str, auc: float, eu: float) -> dict:
    repo.write_model(auc, eu)
    return repo.mv("register", "churn", "--experiment", name, "--json").json


def test_an_experiment_is_an_annotated_object_outside_refs_tags(model_repo):
    out = _experiment(model_repo, "lr-sweep-3", 0.86, 0.81)
    assert out["ref"] == "refs/mv-exp/churn/lr-sweep-3"
    assert model_repo.git("cat-file", "-t", out["ref"]) == "tag"
    assert model_repo.git("tag", "--list") == ""
    listed = model_repo.mv("show", "churn", "--experiments", "--json").json["experiments"]
    assert [e["id"] for e in listed] == ["lr-sweep-3"]


def test_an_experiment_without_a_name_gets_a_generated_id(model_repo):
    out = _experiment(model_repo, "", 0.86, 0.81)
    assert out["experiment"].startswith("e") and len(out["experiment"]) == 13


def test_evals_attach_to_experiments(model_repo):
    _experiment(model_repo, "trial", 0.86, 0.81)
    rec = model_repo.mv("eval", "churn", "trial", "--json").json["record"]
    assert rec["metrics"]["auc"] == 0.86
    assert model_repo.mv("show", "churn", "--experiments", "--json").json["experiments"][0]["evals"] == 1


def test_a_version_from_an_experiment_keeps_it_in_its_lineage_after_the_ref_is_gone(model_repo):
    _experiment(model_repo, "trial", 0.86, 0.81)
    model_repo.mv("eval", "churn", "trial")
    model_repo.commit("winner")
    v1 = model_repo.mv("register", "churn", "--from-experiment", "trial", "--json").json
    assert v1["record"]["experiment"]["id"] == "trial"
    assert v1["record"]["experiment"]["evals"][0]["metrics"]["auc"] == 0.86
    model_repo.git("update-ref", "-d", "refs/mv-exp/churn/trial")
    graph = model_repo.mv("lineage", "churn", "v1", "--json").json
    assert {"id": "experiment/trial", "kind": "experiment", "label": "experiment trial"} in graph["nodes"]


def test_experiments_are_never_pushed_by_sync_or_a_plain_push(server, tmp_path, keys):
    repo = ModelRepo(tmp_path / "alice", keys)
    repo.git("remote", "add", "origin", server.url)
    accepted(push(repo, "main"))
    _experiment(repo, "trial", 0.86, 0.81)
    repo.version(0.85, 0.80)
    repo.mv("sync")
    subprocess.run(["git", "push", "-q", "--tags", "origin", "main"], cwd=repo.path, check=True, capture_output=True)
    refs = server.refs()
    assert "refs/tags/mv/churn/v1" in refs
    assert not [r for r in refs if r.startswith("refs/mv-exp/")]


def test_gc_removes_an_expired_experiment_and_keeps_one_a_version_names(model_repo, monkeypatch):
    set_clock(monkeypatch, "2026-09-01T00:00:00+00:00")
    _experiment(model_repo, "old-loser", 0.70, 0.70)
    _experiment(model_repo, "old-winner", 0.86, 0.81)
    model_repo.commit("winner")
    model_repo.mv("register", "churn", "--from-experiment", "old-winner")
    set_clock(monkeypatch, "2026-09-20T00:00:00+00:00")
    model_repo.write_model(0.87, 0.82)
    model_repo.mv("register", "churn", "--experiment", "recent")
    set_clock(monkeypatch, "2026-10-15T00:00:00+00:00")
    dry = model_repo.mv("gc", "--dry-run", "--json").json
    assert [r["ref"] for r in dry["removed"]] == ["refs/mv-exp/churn/old-loser"]
    assert model_repo.ref("refs/mv-exp/churn/old-loser")
    done = model_repo.mv("gc", "--json").json
    assert [r["ref"] for r in done["removed"]] == ["refs/mv-exp/churn/old-loser"]
    assert model_repo.ref("refs/mv-exp/churn/old-loser") is None
    assert model_repo.ref("refs/mv-exp/churn/old-winner") and model_repo.ref("refs/mv-exp/churn/recent")
    assert model_repo.mv("gc", "--older-than", "1d", "--json").json["removed"][0]["ref"] == "refs/mv-exp/churn/recent"


def test_lineage_dot_names_experiment_commit_data_pins_and_stages(model_repo, tmp_path):
    _experiment(model_repo, "trial", 0.86, 0.81)
    model_repo.commit("winner")
    v1 = model_repo.mv("register", "churn", "--from-experiment", "trial", "--json").json
    model_repo.mv("eval", "churn", "v1")
    model_repo.mv("promote", "churn", "v1", "--stage", "staging")
    model_repo.mv("promote", "churn", "v1", "--stage", "production")
    model_repo.version(0.90, 0.85)
    dot = model_repo.mv("lineage", "churn", "v2", "--dot").out
    assert "experiment" in model_repo.mv("lineage", "churn", "v1", "--dot").out
    v1_dot = model_repo.mv("lineage", "churn", "v1", "--dot").out
    assert "experiment trial" in v1_dot
    assert f"commit {v1['record']['commit'][:12]}" in v1_dot
    assert "staging #1" in v1_dot and "production #1" in v1_dot
    assert '"churn/v2" -> "churn/v1" [label="parent"]' in dot
    if shutil.which("dot"):
        svg = subprocess.run(["dot", "-Tsvg"], input=v1_dot, capture_output=True, text=True, check=True).stdout
        assert "<svg" in svg and "experiment trial" in svg


def test_lineage_lists_dvc_data_pins(model_repo):
    (model_repo.path / "data").mkdir()
    (model_repo.path / "data" / "train.dvc").write_text("outs:\n- md5: 0123456789abcdef0123456789abcdef.dir\n  path: train\n  nfiles: 2\n")
    policy = (model_repo.path / ".mv-promote.toml").read_text().replace('artifacts = ["model.bin"]', 'artifacts = ["model.bin"]\ndata = ["data/train.dvc"]')
    (model_repo.path / ".mv-promote.toml").write_text(policy)
    model_repo.version(0.85, 0.80)
    dot = model_repo.mv("lineage", "churn", "v1", "--dot").out
    assert "data/train @ 0123456789ab" in dot


# ---------------------------------------------------------------- tiers

def test_research_tier_registers_unsigned_and_dirty(tmp_path, keys):
    repo = ModelRepo(tmp_path / "r", keys, RESEARCH)
    repo.write_model(0.85, 0.80)
    (repo.path / "eval.py").write_text((repo.path / "eval.py").read_text() + "\n# local tweak\n")
    out = repo.mv("register", "churn", "--no-sign", "--allow-dirty", "--json").json
    assert out["record"].get("signer") is None
    assert "BEGIN SSH SIGNATURE" not in repo.git("cat-file", "tag", "refs/tags/mv/churn/v1")


def test_research_tier_cannot_enter_a_protected_stage_locally_or_on_the_server(server, tmp_path, keys):
    repo = ModelRepo(tmp_path / "r", keys, RESEARCH)
    repo.git("remote", "add", "origin", server.url)
    accepted(push(repo, "main"))
    v1 = repo.version(0.85, 0.80)
    repo.mv("promote", "churn", v1, "--stage", "staging")
    out = repo.mv("promote", "churn", v1, "--stage", "production", code=1)
    assert "research-tier models cannot enter protected stage production" in out.err
    from conftest import forge_stage_tag

    forge_stage_tag(repo, v1, "production", 1)
    accepted(push(repo, f"refs/tags/mv/churn/{v1}", "refs/tags/mv/churn/staging/1", "refs/notes/mv-promote"))
    before = server.refs()
    refused(push(repo, "refs/tags/mv/churn/production/1"), "R1 tier")
    assert server.refs() == before


@pytest.fixture
def regulated(tmp_path, keys):
    repo = ModelRepo(tmp_path / "reg", keys, REGULATED)
    allow_eval_signer(repo, keys)
    (repo.path / "MODEL_CARD.md").write_text("# Churn model\nIntended use: retention offers.\n")
    (repo.path / "train.py").write_text(TRAIN)
    (repo.path / "recipe.txt").write_text("0.85 0.80 5.0\n")
    repo.commit("model card and training")
    subprocess.run(["python3", "train.py"], cwd=repo.path, check=True)
    repo.commit("train")
    v1 = repo.mv("register", "churn", "--json").json
    assert v1["record"]["model_card"]["path"] == "MODEL_CARD.md"
    evaluate_as_carol(repo, keys, "v1")
    return repo


def allow_eval_signer(repo: ModelRepo, keys) -> None:
    """The regulated tier separates duties: carol (CI) signs evals, alice registers."""
    with (repo.path / ".mv-promote" / "allowed_signers").open("a") as fh:
        fh.write(keys.allowed_line("carol"))


def evaluate_as_carol(repo: ModelRepo, keys, version: str) -> None:
    repo.git("config", "user.signingkey", str(keys.private("carol")))
    repo.mv("eval", "churn", version)
    repo.git("config", "--unset", "user.signingkey")


def test_regulated_without_a_reproduction_is_refused(regulated):
    out = regulated.mv("check", "churn", "v1", "--stage", "staging", "--json", code=1).json
    failed = {c["name"] for c in out["criteria"] if not c["passed"]}
    assert failed == {"reproduction"}


def test_regulated_with_a_matching_reproduction_passes_an_unprotected_stage(regulated):
    assert regulated.mv("reproduce", "churn", "v1", "--json").json["match"] is True
    regulated.mv("promote", "churn", "v1", "--stage", "staging")


def test_regulated_with_a_mismatching_reproduction_is_refused(regulated, keys):
    (regulated.path / "recipe.txt").write_text("0.99 0.99 5.0\n")  # committed recipe no longer makes the model
    regulated.write_model(0.86, 0.81)
    regulated.commit("a model that the committed recipe does not make")
    regulated.mv("register", "churn")
    evaluate_as_carol(regulated, keys, "v2")
    assert regulated.mv("reproduce", "churn", "v2", "--json", code=1).json["match"] is False
    out = regulated.mv("check", "churn", "v2", "--stage", "staging", "--json", code=1).json
    assert [c["name"] for c in out["criteria"] if not c["passed"]] == ["reproduction"]


def test_regulated_needs_two_distinct_approvers_for_production(regulated, keys):
    signers = regulated.path / ".mv-promote" / "allowed_signers"
    signers.write_text(signers.read_text() + keys.allowed_line("bob") + keys.allowed_line("mallory"))
    regulated.commit("allow bob and mallory (reviewers)")
    regulated.mv("reproduce", "churn", "v1")
    regulated.mv("promote", "churn", "v1", "--stage", "staging")
    regulated.mv("request", "churn", "v1", "--stage", "production")
    branch = "mv-promote/churn/v1-production"
    regulated.git("checkout", "-q", "main")
    bob = ["-c", f"user.signingkey={keys.private('bob')}", "-c", "user.email=bob@example.com"]
    regulated.git(*bob, "merge", "-S", "--no-ff", "-q", "-m", f"Merge {branch}\n\nReviewed-by: Mallory <mallory@example.com>", branch)
    out = regulated.mv("promote", "churn", "v1", "--stage", "production", code=1)
    assert "needs 2 distinct approver(s)" in out.err and "has 1" in out.err
    regulated.git("reset", "-q", "--hard", "HEAD~1")
    approve_as(regulated, keys, "mallory")
    regulated.git(*bob, "merge", "-S", "--no-ff", "-q", "-m", f"Merge {branch}", branch)
    done = regulated.mv("promote", "churn", "v1", "--stage", "production", "--json").json
    assert done["record"]["approval"]["approvers"] == ["bob@example.com", "mallory@example.com"]


def approve_as(repo: ModelRepo, keys, who: str) -> None:
    repo.git("config", "user.signingkey", str(keys.private(who)))
    repo.mv("approve", "churn", "v1", "--stage", "production")
    repo.git("config", "--unset", "user.signingkey")


def test_regulated_refuses_the_eval_signer_as_an_approver(regulated, keys):
    signers = regulated.path / ".mv-promote" / "allowed_signers"
    signers.write_text(signers.read_text() + keys.allowed_line("bob"))
    regulated.commit("allow bob")
    regulated.mv("reproduce", "churn", "v1")
    regulated.mv("request", "churn", "v1", "--stage", "production")
    approve_as(regulated, keys, "carol")  # carol signed the eval
    bob = ["-c", f"user.signingkey={keys.private('bob')}", "-c", "user.email=bob@example.com"]
    regulated.git(*bob, "merge", "-S", "--no-ff", "-q", "-m", "Merge", "mv-promote/churn/v1-production")
    out = regulated.mv("promote", "churn", "v1", "--stage", "production", code=1)
    assert "carol@example.com is both eval signer and approver" in out.err


def test_regulated_counts_only_an_eval_signer_other_than_the_registrant(regulated):
    regulated.mv("eval", "churn", "v1")  # alice registered v1, and she cannot be its eval signer
    regulated.mv("reproduce", "churn", "v1")
    out = regulated.mv("check", "churn", "v1", "--stage", "production", "--json", code=1).json
    # her eval does not count (eval_signers names carol); carol's does, and is a different principal
    assert out["eval_record"] is not None
    sod = next(c for c in out["criteria"] if c["name"] == "separation of duties")
    assert sod["passed"] and "registrant: alice@example.com" in sod["detail"] and "eval signer: carol@example.com" in sod["detail"]


def test_regulated_refused_by_the_server_without_two_approvers(server, tmp_path, keys):
    repo = ModelRepo(tmp_path / "reg", keys, REGULATED)
    allow_eval_signer(repo, keys)
    (repo.path / "MODEL_CARD.md").write_text("# card\n")
    (repo.path / "train.py").write_text(TRAIN)
    (repo.path / "recipe.txt").write_text("0.85 0.80 5.0\n")
    subprocess.run(["python3", "train.py"], cwd=repo.path, check=True)
    repo.commit("train")
    repo.git("remote", "add", "origin", server.url)
    accepted(push(repo, "main"))
    repo.mv("register", "churn")
    evaluate_as_carol(repo, keys, "v1")
    repo.mv("reproduce", "churn", "v1")
    from conftest import forge_stage_tag

    forge_stage_tag(repo, "v1", "production", 1)
    before = server.refs()
    refused(push(repo, "refs/tags/mv/churn/v1", "refs/tags/mv/churn/production/1", "refs/notes/mv-promote"), "R1 approvals")
    assert server.refs() == before
