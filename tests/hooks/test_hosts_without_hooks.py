"""docs/hooks.md §5.5, hosts without server hooks: the CI check and the deploy gate run as written.

The blocks marked `<!-- tested: ci-check -->` and `<!-- tested: deploy-check -->` are extracted
and run with bash against a bare repository that has no hooks (the stand-in for GitHub.com or
GitLab.com, which accept any push the rulesets allow). They must pass on a good registry and
fail closed on a tampered one.
"""

from __future__ import annotations

import os
import re
import subprocess
import textwrap
from pathlib import Path

import pytest

from conftest import ModelRepo, forced_promote, git, push
from gitmv.records import parse_note, render_note

ROOT = Path(__file__).resolve().parents[2]
DOC = ROOT / "docs" / "hooks.md"


def block(marker: str) -> str:
    m = re.search(rf"<!-- tested: {marker} -->\n([ \t]*)```sh\n(.*?)\n[ \t]*```", DOC.read_text(), re.S)
    assert m, f"no block marked {marker} in {DOC}"
    return textwrap.dedent(m.group(1) + m.group(2).replace("\n" + m.group(1), "\n"))


def run_block(marker: str, cwd: Path, **env: str) -> subprocess.CompletedProcess:
    full = {**os.environ, **env}
    return subprocess.run(["bash", "-c", block(marker)], cwd=cwd, env=full, capture_output=True, text=True)


@pytest.fixture
def host(tmp_path, keys):
    """A hookless bare repository holding alice's registry: v1 in staging and production, notes."""
    bare = tmp_path / "host.git"
    git("init", "-q", "--bare", "--initial-branch=main", str(bare), cwd=tmp_path)
    repo = ModelRepo(tmp_path / "alice", keys)
    repo.git("remote", "add", "origin", str(bare))
    v1 = repo.version(0.85, 0.80)
    repo.mv("promote", "churn", v1, "--stage", "staging")
    repo.mv("promote", "churn", v1, "--stage", "production")
    assert push(repo, "main", "refs/tags/mv/*:refs/tags/mv/*", "refs/notes/mv-promote").returncode == 0
    return bare, repo


def ci_checkout(bare: Path, tmp_path: Path) -> Path:
    """What a CI job starts from: a clone at the protected branch (without the notes)."""
    work = tmp_path / "ci"
    git("clone", "-q", str(bare), str(work), cwd=tmp_path)
    return work


def forge_unsigned_stage_tag(repo: ModelRepo) -> None:
    from conftest import forge_stage_tag

    v2 = repo.version(0.90, 0.85)
    forge_stage_tag(repo, v2, "production", 2, key=None)
    assert push(repo, f"refs/tags/mv/churn/{v2}", "refs/tags/mv/churn/production/2",
                "refs/notes/mv-promote").returncode == 0  # no hook: the host takes it


def edit_an_eval_record(repo: ModelRepo) -> None:
    tag = repo.git("rev-parse", "refs/tags/mv/churn/v1")
    records = parse_note(repo.git("notes", "--ref", "mv-promote", "show", tag).encode() + b"\n")
    for record in records:
        if "metrics" in record:
            record["metrics"]["auc"] = 0.99
    (repo.path / "n.toml").write_text(render_note(records))
    repo.git("notes", "--ref", "mv-promote", "add", "-f", "-F", str(repo.path / "n.toml"), tag)
    assert push(repo, "refs/notes/mv-promote").returncode == 0


def test_the_documented_blocks_are_there():
    assert "git mv-promote verify" in block("ci-check")
    assert "git mv-promote verify" in block("deploy-check")


def test_ci_check_passes_on_a_good_registry(host, tmp_path):
    bare, _ = host
    proc = run_block("ci-check", ci_checkout(bare, tmp_path))
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_ci_check_fails_on_an_unsigned_stage_tag_the_host_accepted(host, tmp_path):
    bare, repo = host
    forge_unsigned_stage_tag(repo)
    proc = run_block("ci-check", ci_checkout(bare, tmp_path))
    assert proc.returncode != 0, proc.stdout + proc.stderr
    assert "production/2" in proc.stdout + proc.stderr


def test_ci_check_fails_on_an_evidence_record_edited_after_the_fact(host, tmp_path):
    bare, repo = host
    edit_an_eval_record(repo)
    proc = run_block("ci-check", ci_checkout(bare, tmp_path))
    assert proc.returncode != 0, proc.stdout + proc.stderr
    assert "tampered" in proc.stdout + proc.stderr


def test_ci_check_fails_closed_when_the_notes_are_missing(host, tmp_path):
    bare, _ = host
    git("update-ref", "-d", "refs/notes/mv-promote", cwd=bare)
    proc = run_block("ci-check", ci_checkout(bare, tmp_path))
    assert proc.returncode != 0
    assert "the evidence is missing" in proc.stderr


def test_ci_check_fails_closed_without_git_mv_promote(host, tmp_path):
    bare, _ = host
    work = ci_checkout(bare, tmp_path)
    bare_path = "/usr/bin:/bin"  # git, no git-mv-promote
    proc = run_block("ci-check", work, PATH=bare_path)
    assert proc.returncode != 0


def test_deploy_gate_passes_and_shows_production_on_a_good_registry(host, tmp_path):
    bare, _ = host
    proc = run_block("deploy-check", tmp_path, MV_REGISTRY_URL=str(bare))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "production" in proc.stdout


def test_deploy_gate_fails_on_a_promotion_the_gate_refuses_though_verify_passes(host, tmp_path, monkeypatch):
    """v2 (auc 0.50, under the 0.80 threshold), promoted by a patched client that forces every gate
    criterion to pass: every signature and claim holds, so `verify` passes; `get` re-judges."""
    bare, repo = host
    v2 = repo.version(0.50, 0.40)
    forced_promote(repo, v2, "production", monkeypatch)
    assert push(repo, "refs/tags/mv/*:refs/tags/mv/*", "refs/notes/mv-promote").returncode == 0
    proc = run_block("deploy-check", tmp_path, MV_REGISTRY_URL=str(bare))
    assert proc.returncode != 0, proc.stdout + proc.stderr
    assert "threshold auc" in proc.stderr
    assert not (tmp_path / "model").exists()


def test_deploy_gate_fails_on_a_tampered_registry(host, tmp_path):
    bare, repo = host
    forge_unsigned_stage_tag(repo)
    proc = run_block("deploy-check", tmp_path, MV_REGISTRY_URL=str(bare))
    assert proc.returncode != 0, proc.stdout + proc.stderr
