"""The issue-4 acceptance loop end to end, through the CLI with --json."""


def test_full_loop_register_eval_gate_promote_rollback(model_repo, monkeypatch):
    from conftest import set_clock

    r = model_repo
    v1 = r.version(0.85, 0.80)
    set_clock(monkeypatch, "2026-11-01T10:00:00+00:00")
    r.mv("promote", "churn", v1, "--stage", "staging")
    r.mv("promote", "churn", v1, "--stage", "production")
    set_clock(monkeypatch, "2026-11-02T09:00:00+00:00")
    v2 = r.version(0.86, 0.75)
    failed = r.mv("check", "churn", v2, "--stage", "production", "--json", code=1).json
    bad = [c["name"] for c in failed["criteria"] if not c["passed"]]
    assert bad == ["slice region=eu auc vs v1 (production)"]
    set_clock(monkeypatch, "2026-11-03T09:00:00+00:00")
    v3 = r.version(0.90, 0.85)
    r.mv("promote", "churn", v3, "--stage", "production")
    set_clock(monkeypatch, "2026-11-04T09:00:00+00:00")
    r.mv("rollback", "churn", "--stage", "production", "-m", "incident")
    hist = r.mv("history", "churn", "--stage", "production", "--json").json["stages"]["production"]
    assert [(h["version"], h["kind"]) for h in hist] == [("v1", "promote"), ("v3", "promote"), ("v1", "rollback")]
    at = lambda t: r.mv("history", "churn", "--at", t, "--json").json["stages"]["production"]["version"]
    assert at("2026-11-01T09:30Z") is None
    assert at("2026-11-02T10:00Z") == "v1"
    assert at("2026-11-03T12:00Z") == "v3"
    assert at("2026-11-05T00:00Z") == "v1"
    events = r.mv("log", "--json").json["events"]
    kinds = [(e["event"], e["version"]) for e in events]
    assert kinds[0] == ("rollback", "v1")
    assert ("register", "v2") in kinds and ("eval", "v2") in kinds
    assert all(e["by"] == "alice@example.com" for e in events)  # principals of signatures
    assert r.mv("verify", "--json").json["ok"] is True
