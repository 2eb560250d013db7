"""The CI templates in docs/ci run the periodic audit on a schedule (GitHub Actions holds the cron
itself; GitLab keeps it in the project's pipeline schedules, which the job's rule answers to)."""

from __future__ import annotations

from pathlib import Path

import pytest

yaml = pytest.importorskip("yaml")

CI = Path(__file__).resolve().parents[2] / "docs" / "ci"


def test_github_actions_runs_the_audit_on_a_cron_schedule():
    doc = yaml.safe_load((CI / "github-actions.yml").read_text())
    triggers = doc.get("on", doc.get(True))  # YAML 1.1 reads the key `on` as true
    assert triggers["schedule"][0]["cron"]
    job = doc["jobs"]["audit"]
    assert "schedule" in job["if"]
    assert any("git mv-promote audit" in step.get("run", "") for step in job["steps"])
    assert job["steps"][0]["with"]["fetch-depth"] == 0


def test_gitlab_runs_the_audit_in_scheduled_pipelines():
    doc = yaml.safe_load((CI / "gitlab-ci.yml").read_text())
    job = doc["mv-promote:audit"]
    assert job["rules"] == [{"if": '$CI_PIPELINE_SOURCE == "schedule"'}]
    assert any(line.startswith("git mv-promote audit") for line in job["script"])
    assert "audit" in doc["stages"] and doc["variables"]["GIT_DEPTH"] == "0"
