"""The README's first command, as a new user runs it: the demo completes and shows the loop."""

import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

pytest.importorskip("sklearn", reason="the demo needs the [examples] extra (scikit-learn)")


@pytest.mark.slow
def test_demo_runs_the_whole_loop_and_the_server_refuses_the_deletion():
    proc = subprocess.run(["bash", str(ROOT / "scripts" / "demo.sh")], capture_output=True, text=True, timeout=300)
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out[-3000:]
    assert "FAIL  slice region=eu auc vs v1 (production)" in out
    assert "promoted churn v3 to production" in out
    assert "remote: mv-promote: refused refs/tags/mv/churn/production/2: [R3 immutable]" in out
    assert "rolled back churn production from v3 to v1" in out
    assert "verified 3 version(s): ok" in out
    assert "audit: clean (3 protected stage entries, 1 rollback target(s), 1 live version(s))" in out
