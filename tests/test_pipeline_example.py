"""examples/pipeline.py, the API example from docs/api.md, against a real model repository.

The repository is conftest's `model_repo` (the test policy, alice allowed to sign, an eval
script reading "auc eu_auc latency" from model.bin); the script runs in a subprocess with the
test's hermetic HOME, exactly as a CI job would run it.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from conftest import git, run_mv

ROOT = Path(__file__).resolve().parent.parent
PIPELINE = ROOT / "examples" / "pipeline.py"


def pipeline(repo, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(PIPELINE), *args], cwd=repo.path, capture_output=True, text=True,
                          timeout=120)


def train(repo, auc: float, eu: float) -> None:
    repo.write_model(auc, eu)
    repo.commit(f"train auc={auc} eu={eu}")


def test_pipeline_registers_evaluates_and_opens_the_request_branch(model_repo):
    train(model_repo, 0.91, 0.88)
    proc = pipeline(model_repo, "--model", "churn", "--stage", "production", "-m", "nightly retrain", "--run-id", "ci-42")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    out = proc.stdout
    assert "registered churn v1 (refs/tags/mv/churn/v1" in out
    assert "evaluated churn v1 on suite holdout: auc=0.91, latency_ms=5.0" in out
    assert "requested churn v1 -> production on branch mv-promote/churn/v1-production" in out
    assert "  pass  threshold auc:" in out

    # registered: a signed version tag carrying the run id
    shown = model_repo.mv("show", "churn", "v1", "--json").json
    assert shown["signature"]["ok"], shown["signature"]
    assert shown["record"]["run_id"] == "ci-42"
    assert shown["record"]["message"] == "nightly retrain"
    # evaluated: an eval record on the version's note, bound to the artifact's digest
    evals = [r for r in shown["evidence"] if r["kind"] == "eval"]
    assert len(evals) == 1 and evals[0]["metrics"]["auc"] == 0.91
    assert evals[0]["artifacts"]["model.bin"] == shown["record"]["artifacts"]["model.bin"]["sha256"]
    # requested: the review branch holds the request naming this version's tag, and the page
    branch = "refs/heads/mv-promote/churn/v1-production"
    assert model_repo.ref(branch)
    request = model_repo.git("show", f"{branch}:promotions/churn/production.toml")
    assert 'version = "v1"' in request and shown["tag"] in request
    assert model_repo.git("show", f"{branch}:promotions/churn/production.md").startswith("# Promote churn v1 to production")


def test_pipeline_push_sends_the_branch_tags_and_notes_to_the_server(model_repo, tmp_path):
    server = tmp_path / "server.git"
    git("init", "-q", "--bare", str(server), cwd=tmp_path)
    run_mv("hooks", "install", "--server", str(server), cwd=tmp_path)
    model_repo.git("remote", "add", "origin", str(server))
    model_repo.git("push", "-q", "origin", "main")
    train(model_repo, 0.9, 0.9)
    proc = pipeline(model_repo, "--model", "churn", "--stage", "production", "--push")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert ("pushed mv-promote/churn/v1-production to origin, and synced: refs/tags/mv/churn/v1, refs/notes/mv-promote"
            in proc.stdout), proc.stdout
    refs = git("for-each-ref", "--format=%(refname)", cwd=server).split()
    assert "refs/heads/mv-promote/churn/v1-production" in refs
    assert "refs/tags/mv/churn/v1" in refs
    assert "refs/notes/mv-promote" in refs


def test_pipeline_reuses_a_registered_version(model_repo):
    name = model_repo.version(0.93, 0.9, evaluate=False)
    proc = pipeline(model_repo, "--model", "churn", "--stage", "staging", "--version", name)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert f"using churn {name} (refs/tags/mv/churn/{name}" in proc.stdout
    assert model_repo.ref(f"refs/heads/mv-promote/churn/{name}-staging")
    assert model_repo.ref("refs/tags/mv/churn/v2") is None  # nothing new was registered


def test_pipeline_exits_with_the_errors_exit_code_when_the_gate_refuses(model_repo):
    train(model_repo, 0.70, 0.70)  # below the policy's auc threshold of 0.80
    proc = pipeline(model_repo, "--model", "churn", "--stage", "production")
    assert proc.returncode == 1, proc.stdout + proc.stderr
    # registered and evaluated: the evidence stays, whatever the gate says ...
    assert "registered churn v1" in proc.stdout and "evaluated churn v1" in proc.stdout
    assert "error: request for churn v1 in production refused by the gate: threshold auc" in proc.stderr
    assert "fix: see 'git mv-promote check churn v1 --stage production'" in proc.stderr
    # ... but no request branch
    assert model_repo.ref("refs/heads/mv-promote/churn/v1-production") is None


def test_pipeline_usage_errors_exit_2(model_repo):
    proc = pipeline(model_repo, "--model", "Churn.v2", "--stage", "production")
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert "error: invalid model name 'Churn.v2'" in proc.stderr


def test_docs_api_md_documents_every_public_function_with_its_real_signature():
    import inspect
    import re

    from gitmv import api

    text = (ROOT / "docs" / "api.md").read_text()
    documented = {m.group(1): m.group(2) for m in re.finditer(r"^### `(\w+)\((.*)\) -> dict`$", text, re.M)}
    public = ["register", "evaluate", "check", "promote", "rollout", "rollback", "request", "approvals_status", "sync", "show",
              "history", "log", "diff", "deprecate", "verify", "verify_data", "reproduce", "experiments", "gc",
              "lineage", "init", "attest", "replay", "audit", "resolve", "get"]
    assert sorted(documented) == sorted(public)
    for name in public:
        parts, keyword_only = [], False
        for p in inspect.signature(getattr(api, name)).parameters.values():
            if p.kind == p.KEYWORD_ONLY and not keyword_only:
                parts.append("*")
                keyword_only = True
            parts.append(p.name if p.default is p.empty else f"{p.name}={p.default!r}".replace("'", '"'))
        assert documented[name] == ", ".join(parts), f"docs/api.md: {name}({documented[name]}) is out of date"
