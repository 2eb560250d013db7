"""docs/api.md's serving snippet runs as written: it loads through `gitmv.api.get()` from a real
server and logs the stamp with each prediction."""

from __future__ import annotations

import json
import logging
import re
from pathlib import Path

from conftest import published_repo

ROOT = Path(__file__).resolve().parents[2]


def serving_snippet() -> str:
    text = (ROOT / "docs" / "api.md").read_text()
    section = text.split("## Serving: load through `get()` and stamp every prediction", 1)[1]
    return re.search(r"```python\n(.*?)```", section, re.S).group(1)


def test_the_documented_serving_snippet_logs_the_verified_stamp_with_each_prediction(
        daemon_server, tmp_path, keys, monkeypatch, caplog):
    published_repo(daemon_server, tmp_path, keys)
    serving = tmp_path / "serving"
    serving.mkdir()
    monkeypatch.chdir(serving)
    monkeypatch.setenv("MODEL_REGISTRY", daemon_server.url)
    monkeypatch.setenv("MODEL_DIR", str(serving / "model"))
    scope: dict = {"__name__": "serving"}
    exec(compile(serving_snippet(), "docs/api.md", "exec"), scope)
    with caplog.at_level(logging.INFO, logger="serving"):
        scope["predict"]({"tenure": 3})
    logged = json.loads(caplog.records[-1].getMessage())
    stamp = json.loads((serving / "model" / "mv-promote.json").read_text())
    assert logged["served_by"]["version"] == stamp["version"] == "v1"
    assert logged["served_by"]["tag"] == stamp["tag"] and logged["served_by"]["stage"] == "production"
