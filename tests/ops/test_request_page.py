"""The reviewer page of a promotion request is the format reviewers read: pinned by a golden file.

Object ids depend on the per-session signing key, so hex ids are masked before comparing;
everything else (layout, metrics, deltas, pass/fail marks, policy) must match exactly.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

from conftest import set_clock

GOLDEN = Path(__file__).resolve().parents[1] / "golden" / "request_page.md"


def _mask(text: str) -> str:
    text = re.sub(r"sha256:[0-9a-f]{12,64}", "sha256:<id>", text)
    text = re.sub(r"SHA256:[A-Za-z0-9+/=]+", "SHA256:<key fingerprint>", text)
    return re.sub(r"\b[0-9a-f]{12,64}\b", "<id>", text)


def test_reviewer_page_matches_the_golden_file(model_repo, monkeypatch):
    r = model_repo
    (r.path / "params.yaml").write_text("C: 1.0\nseed: 7\n")
    policy = (r.path / ".mv-promote.toml").read_text().replace('artifacts = ["model.bin"]',
                                                              'artifacts = ["model.bin"]\nparams = "params.yaml"')
    (r.path / ".mv-promote.toml").write_text(policy)
    r.commit("params")
    v1 = r.version(0.85, 0.80)
    r.mv("promote", "churn", v1, "--stage", "staging")
    r.mv("promote", "churn", v1, "--stage", "production")
    set_clock(monkeypatch, "2026-11-02T09:00:00+00:00")
    (r.path / "params.yaml").write_text("C: 0.1\nseed: 7\n")
    v2 = r.version(0.90, 0.85, latency=4.5)
    page = r.mv("request", "churn", v2, "--stage", "production", "-m", "better on every slice", "--json").json["page"]
    committed = r.git("show", f"mv-promote/churn/{v2}-production:promotions/churn/production.md")
    assert committed.strip() == page.strip()
    if os.environ.get("MV_UPDATE_GOLDEN"):
        GOLDEN.write_text(_mask(page))
    assert _mask(page) == GOLDEN.read_text()


def test_reviewer_page_is_well_formed_markdown(model_repo):
    r = model_repo
    v1 = r.version(0.85, 0.80)
    r.mv("promote", "churn", v1, "--stage", "production")
    v2 = r.version(0.90, 0.85)
    page = r.mv("request", "churn", v2, "--stage", "production", "--json").json["page"]
    assert page.startswith(f"# Promote churn {v2} to production\n")
    lines = page.splitlines()
    for n, line in enumerate(lines):
        if line.startswith("|") and n + 1 < len(lines) and lines[n + 1].startswith("|--") or line.startswith("|---"):
            continue
        if line.startswith("|"):
            header = next(lines[k] for k in range(n, -1, -1) if k == 0 or not lines[k - 1].startswith("|"))
            assert line.count("|") == header.count("|"), f"table row with a different column count: {line!r}"
