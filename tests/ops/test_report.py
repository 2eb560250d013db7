"""`git mv-promote report --html`: one self-contained page, checked as HTML and in headless Chromium."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from html.parser import HTMLParser
from pathlib import Path

import pytest

from conftest import set_clock

CHROMIUM = shutil.which("chromium") or ("/usr/bin/chromium" if os.path.exists("/usr/bin/chromium") else None)
HOSTILE = "<script>alert(1)</script> & friends"


@pytest.fixture
def registry(model_repo, monkeypatch):
    """The smoke-loop registry: v1 in staging and production, v2 worse on region=eu (deprecated),
    v3 promoted to production, then a rollback of production to v1."""
    r = model_repo
    v1 = r.version(0.85, 0.80)
    set_clock(monkeypatch, "2026-11-01T10:00:00+00:00")
    r.mv("promote", "churn", v1, "--stage", "staging")
    r.mv("promote", "churn", v1, "--stage", "production")
    set_clock(monkeypatch, "2026-11-02T09:00:00+00:00")
    r.write_model(0.86, 0.75)
    r.commit("train auc=0.86 eu=0.75")
    v2 = r.mv("register", "churn", "-m", HOSTILE, "--json").json["version"]
    r.mv("eval", "churn", v2)
    r.mv("deprecate", "churn", v2, "-m", "regresses on region=eu")
    set_clock(monkeypatch, "2026-11-03T09:00:00+00:00")
    v3 = r.version(0.90, 0.85)
    r.mv("promote", "churn", v3, "--stage", "staging")
    r.mv("promote", "churn", v3, "--stage", "production")
    set_clock(monkeypatch, "2026-11-04T09:00:00+00:00")
    r.mv("rollback", "churn", "--stage", "production", "-m", "incident <b>INC-7</b>")
    assert (v1, v2, v3) == ("v1", "v2", "v3")
    return r


class _Collect(HTMLParser):
    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict]] = []
        self.text: list[str] = []

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))

    def handle_data(self, data):
        self.text.append(data)

    def find(self, tag: str, **attrs) -> list[dict]:
        want = {k.replace("_", "-"): v for k, v in attrs.items()}
        return [a for t, a in self.tags if t == tag and all(a.get(k) == v for k, v in want.items())]


def test_report_is_self_contained_and_lists_versions_and_stages(registry, tmp_path, monkeypatch):
    from gitmv.ops import report

    monkeypatch.chdir(registry.path)
    out = tmp_path / "site"
    result = report.build(str(out))
    assert result == {"path": str((out / "index.html").resolve()), "models": 1, "versions": 3}
    html = Path(result["path"]).read_text(encoding="utf-8")

    # self-contained: no URL to anywhere, no script, nothing loaded from outside
    assert not re.search(r"https?://", html, re.I)
    assert not re.search(r"<script|<link\b|<img\b|@import|url\((?!#)", html, re.I)
    # autoescaped: the hostile message and rollback reason are text, not markup
    assert "<script>alert(1)</script>" not in html and "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "<b>INC-7</b>" not in html and "&lt;b&gt;INC-7&lt;/b&gt;" in html

    page = _Collect()
    page.feed(html)
    # registry table: churn, latest v3, 3 versions, v1 current in both stages (after the rollback)
    assert page.find("tr", data_model="churn")
    assert page.find("td", data_stage="staging", data_version="v3")
    assert page.find("td", data_stage="production", data_version="v1")
    # versions table: every version, v2 flagged deprecated
    rows = {a["data-version"]: a for a in page.find("tr") if "data-version" in a}
    assert set(rows) == {"v1", "v2", "v3"}
    assert rows["v2"]["data-deprecated"] == "true" and rows["v1"]["data-deprecated"] == "false"
    # stage history: every promote and the rollback, newest first
    prod = [(a["data-version"], a["data-kind"]) for a in page.find("li", data_stage="production")]
    assert prod == [("v1", "rollback"), ("v3", "promote"), ("v1", "promote")]
    staging = [(a["data-version"], a["data-kind"]) for a in page.find("li", data_stage="staging")]
    assert staging == [("v3", "promote"), ("v1", "promote")]
    # timeline, lineage of the production version, one chart per metric with overall and both slices
    assert page.find("svg", id="timeline-churn")
    assert page.find("svg", id="lineage-churn", data_version="v1")
    kinds = {a["data-node-kind"] for a in page.find("g") if "data-node-kind" in a}
    assert {"version", "commit", "eval", "stage"} <= kinds
    assert {a["data-metric"] for a in page.find("svg") if "metric-chart" in a.get("class", "")} == {"auc", "latency_ms"}
    eu = {a["data-version"]: float(a["data-value"]) for a in page.find("rect", data_group="region=eu")}
    assert eu == {"v1": 0.80, "v2": 0.75, "v3": 0.85}
    # the latest-vs-production comparison comes from api.metric_deltas
    assert page.find("table", data_a="v1", data_b="v3")


def test_report_of_a_model_without_versions(model_repo, tmp_path):
    from gitmv.ops import report

    result = report.build(str(tmp_path / "out"), path=str(model_repo.path))
    assert result["models"] == 1 and result["versions"] == 0        # the policy's model, nothing registered
    html = Path(result["path"]).read_text(encoding="utf-8")
    assert "No version registered." in html and 'id="lineage-churn"' not in html


def _chromium(*args: str, profile: Path) -> subprocess.CompletedProcess:
    cmd = [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
           "--disable-background-networking", "--disable-component-update", "--disable-sync",
           "--disable-dev-shm-usage", "--hide-scrollbars", f"--user-data-dir={profile}", *args]
    env = {k: v for k, v in os.environ.items() if not k.startswith("GIT_")}
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=60, env=env)
    assert proc.returncode == 0, f"{' '.join(cmd)} exited {proc.returncode}:\n{proc.stderr[-2000:]}"
    return proc


@pytest.mark.skipif(CHROMIUM is None, reason="headless Chromium (Debian package 'chromium') is not installed")
def test_report_renders_in_headless_chromium(registry, tmp_path):
    from gitmv.ops import report

    index = Path(report.build(str(tmp_path / "site"), path=str(registry.path))["path"])
    url = index.as_uri()

    dom = _chromium("--dump-dom", url, profile=tmp_path / "profile-dom").stdout
    for v in ("v1", "v2", "v3"):
        assert re.search(rf'<tr [^>]*data-version="{v}"', dom), f"no row for {v} in the rendered DOM"
    for stage in ("staging", "production"):
        assert re.search(rf'<li [^>]*data-stage="{stage}"', dom), f"no history for {stage} in the rendered DOM"
    assert re.search(r'<li [^>]*data-stage="production" data-version="v1" data-kind="rollback"', dom)
    assert '<svg id="lineage-churn"' in dom and 'class="metric-chart"' in dom

    artifacts = os.environ.get("MV_PROMOTE_ARTIFACTS")
    shot = Path(artifacts) / "report.png" if artifacts else tmp_path / "report.png"
    shot.parent.mkdir(parents=True, exist_ok=True)
    shot.unlink(missing_ok=True)
    _chromium(f"--screenshot={shot}", "--window-size=1400,2000", url, profile=tmp_path / "profile-shot")
    data = shot.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    assert len(data) > 20_000, f"screenshot is only {len(data)} bytes: the page probably did not render"


def test_report_reads_the_registry_through_one_context(registry, tmp_path, monkeypatch):
    """One run, one registry view: every model is gathered from the same context."""
    from gitmv.ops import context, lifecycle
    from gitmv.ops import inspect as inspect_ops
    from gitmv.ops.report import collect as collect_mod

    opened = []
    real = context.open_context

    def counting(*args, **kwargs):
        opened.append(args)
        return real(*args, **kwargs)

    # wherever it is looked up from: the report's own module, or any operation it might call
    for module in (collect_mod, context, inspect_ops, lifecycle):
        monkeypatch.setattr(module, "open_context", counting)
    data = collect_mod.collect(str(registry.path))
    assert len(opened) == 1
    assert [m.name for m in data.models] == ["churn"] and [v["version"] for v in data.models[0].versions] == ["v1", "v2", "v3"]


def test_the_report_is_readable_by_others_as_a_plain_write_would_be(model_repo, mv, tmp_path):
    import os
    import stat

    model_repo.version(0.85, 0.80)
    old = os.umask(0o022)
    try:
        mv("report", "--html", str(tmp_path / "site"), cwd=model_repo.path)
    finally:
        os.umask(old)
    mode = stat.S_IMODE((tmp_path / "site" / "index.html").stat().st_mode)
    assert mode == 0o644


def test_every_place_a_deprecated_version_is_named_carries_the_same_mark(registry, tmp_path, monkeypatch):
    from gitmv.ops import report

    registry.mv("deprecate", "churn", "v1", "-m", "label leak")  # v1 is live in production
    monkeypatch.chdir(registry.path)
    page = _Collect()
    page.feed(Path(report.build(str(tmp_path / "site"))["path"]).read_text(encoding="utf-8"))
    marks = page.find("span", data_deprecated_version="v1")
    named = (len(page.find("td", data_version="v1")) + len(page.find("li", data_version="v1"))
             + len(page.find("tr", data_version="v1")) + len(page.find("span", data_version="v1"))
             + 1)  # the model header's "production: v1"
    assert len(marks) == named
    assert not page.find("span", data_deprecated_version="v3")  # v3 is not deprecated: no mark
