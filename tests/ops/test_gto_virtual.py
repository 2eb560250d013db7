"""`import --gto --write-policy` on a repository a GTO user made with GTO itself (gto.api, 1.x) and
DVC: one model in Git, one in S3 (`dvc import-url` from a moto S3 on 127.0.0.1, so DVC knows its
md5), one in GCS that nothing here has a digest for. One command writes and commits the policy and
brings every version and stage across; URI artifacts are recorded by URI, never fetched, and every
reader says so.
"""

from __future__ import annotations

import hashlib
import shutil
from pathlib import Path

import pytest
from gto import api as gto

from conftest import accepted, dvc, git, push, refused, run_mv
from gitmv import api
from gitmv.policy import parse_policy

S3 = "s3://models/fraud.pkl"
GCS = "gs://models/ranker/model.pt"
FRAUD_V1, FRAUD_V2 = b"fraud weights v1\n", b"fraud weights v2, retrained\n"
ARTIFACTS_YAML = f"""ML/Fraud:
  description: Fraud scorer; weights live in S3
  labels:
  - tabular
  path: {S3}
  type: model
churn:
  description: Churn model
  path: model.bin
  type: model
  virtual: false
ranker:
  path: {GCS}
  type: model
"""
_TEMPLATE: dict[str, Path] = {}


def md5(data: bytes) -> str:
    return hashlib.md5(data).hexdigest()


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


class GtoUser:
    """What a GTO user's repository holds: commits, DVC imports, GTO's own tags."""

    def __init__(self, path: Path):
        self.path = path

    def git(self, *args, check=True) -> str:
        return git(*args, cwd=self.path, check=check)

    def mv(self, *args, code: int | None = 0):
        return run_mv(*args, cwd=self.path, code=code)

    def commit(self, message: str) -> str:
        self.git("add", "-A")
        self.git("commit", "-q", "-m", message)
        return self.git("rev-parse", "HEAD")

    def mv_refs(self) -> str:
        return self.git("for-each-ref", "--format=%(refname) %(objectname)", "refs/tags/mv/", "refs/notes/")


def _build(path: Path, endpoint: str, s3) -> dict:
    """The GTO user's history:
    c1: churn model.bin v1, fraud.pkl imported from S3 (v1 bytes); GTO: churn@v0.9.0, ML/Fraud@v0.1.0,
        ranker@v1.0.0; staging <- churn v0.9.0, prod <- churn v0.9.0, prod <- ML/Fraud v0.1.0
    c2: churn model.bin v2, S3 object overwritten and `dvc update`d; the annotation gains the sha256
        of the new weights; GTO: churn@v1.0.0, ML/Fraud@v0.2.0; staging <- churn v1.0.0,
        prod <- ML/Fraud v0.2.0, prod <- churn v1.0.0; a lightweight churn@v2.0.0 (GTO ignores it)."""
    path.mkdir()
    user = GtoUser(path)
    user.git("init", "-q")
    dvc("init", "-q", cwd=path)
    dvc("config", "core.analytics", "false", cwd=path)
    s3.put_object(Bucket="models", Key="fraud.pkl", Body=FRAUD_V1)
    dvc("import-url", S3, "fraud.pkl", "--fs-config", f"endpointurl={endpoint}", cwd=path)
    (path / "artifacts.yaml").write_text(ARTIFACTS_YAML)
    (path / "model.bin").write_text("0.81 0.80\n")
    c1 = user.commit("first models")
    gto.register(str(path), "churn", c1, version="v0.9.0")
    gto.register(str(path), "ML/Fraud", c1, version="v0.1.0")
    gto.register(str(path), "ranker", c1, version="v1.0.0")
    gto.assign(str(path), "churn", "staging", version="v0.9.0")
    gto.assign(str(path), "churn", "prod", version="v0.9.0")
    gto.assign(str(path), "ML/Fraud", "prod", version="v0.1.0")
    s3.put_object(Bucket="models", Key="fraud.pkl", Body=FRAUD_V2)
    dvc("update", "fraud.pkl.dvc", cwd=path)
    (path / "artifacts.yaml").write_text(ARTIFACTS_YAML.replace(
        "  type: model\nchurn:", f"  type: model\n  custom:\n    sha256: {sha256(FRAUD_V2)}\nchurn:"))
    (path / "model.bin").write_text("0.90 0.88\n")
    c2 = user.commit("retrain both")
    gto.register(str(path), "churn", c2, version="v1.0.0")
    gto.register(str(path), "ML/Fraud", c2, version="v0.2.0")
    gto.assign(str(path), "churn", "staging", version="v1.0.0")
    gto.assign(str(path), "ML/Fraud", "prod", version="v0.2.0")
    gto.assign(str(path), "churn", "prod", version="v1.0.0")
    user.git("tag", "churn@v2.0.0", c2)
    return {"c1": c1, "c2": c2}


@pytest.fixture
def gto_user(tmp_path, request, dvc_env, monkeypatch):
    """A fresh copy of the GTO user's repository (built once per session with GTO, DVC and moto S3)."""
    if "repo" not in _TEMPLATE:
        endpoint, s3 = request.getfixturevalue("s3_remote")
        base = Path(request.config._tmp_path_factory.mktemp("gto-user"))
        _TEMPLATE.update(repo=base / "repo", **{k: Path(v) for k, v in _build(base / "repo", endpoint, s3).items()})
    shutil.copytree(_TEMPLATE["repo"], tmp_path / "user", symlinks=True)
    user = GtoUser(tmp_path / "user")
    user.commits = {"c1": str(_TEMPLATE["c1"]), "c2": str(_TEMPLATE["c2"])}
    monkeypatch.chdir(user.path)
    return user


# ---------------------------------------------------------------- one command: policy, versions, stages

def test_write_policy_commits_a_policy_from_gtos_annotations_that_validates(gto_user):
    result = gto_user.mv("import", "--gto", "--write-policy", "--json").json
    policy = result["policy"]
    assert policy["written"] and policy["commit"] == gto_user.git("rev-parse", "HEAD")
    assert gto_user.git("show", "--name-only", "--format=", "HEAD").splitlines() == [
        ".mv-promote.toml", ".mv-promote/allowed_signers"]
    text = gto_user.git("show", "HEAD:.mv-promote.toml") + "\n"
    parsed = parse_policy(text.encode())  # the validator every command uses
    assert parsed.stages == ("staging", "prod") and parsed.protected_stages == ()
    assert {m: (p.tier, p.artifacts) for m, p in parsed.models.items()} == {
        "churn": ("research", ("model.bin",)), "ml-fraud": ("research", (S3,)), "ranker": ("research", (GCS,))}
    assert "# GTO artifact 'ML/Fraud', from artifacts.yaml at HEAD; type model; labels tabular\n" \
           "# Fraud scorer; weights live in S3\n[models.ml-fraud]" in text
    assert "alice@example.com" in gto_user.git("show", "HEAD:.mv-promote/allowed_signers")


def test_every_version_and_its_artifact_record_comes_across(gto_user):
    c1, c2 = gto_user.commits["c1"], gto_user.commits["c2"]
    gto_user.mv("import", "--gto", "--write-policy")
    records = {(m, v): api.show(m, v)["record"] for m, v in [("churn", "v1"), ("churn", "v2"), ("ml-fraud", "v1"),
                                                               ("ml-fraud", "v2"), ("ranker", "v1")]}
    assert {k: (r["run_id"], r["commit"], r["schema"]) for k, r in records.items()} == {
        ("churn", "v1"): ("gto:churn@v0.9.0", c1, 1), ("churn", "v2"): ("gto:churn@v1.0.0", c2, 1),
        ("ml-fraud", "v1"): ("gto:ML/Fraud@v0.1.0", c1, 2), ("ml-fraud", "v2"): ("gto:ML/Fraud@v0.2.0", c2, 2),
        ("ranker", "v1"): ("gto:ranker@v1.0.0", c1, 2)}
    blob = b"0.90 0.88\n"
    assert records[("churn", "v2")]["artifacts"] == {"model.bin": {"sha256": sha256(blob), "size": len(blob)}}
    # md5 and size from DVC's import-url pin at each commit; sha256 from the annotation where it gives one
    assert records[("ml-fraud", "v1")]["artifacts"] == {S3: {"uri": S3, "md5": md5(FRAUD_V1), "size": len(FRAUD_V1)}}
    assert records[("ml-fraud", "v2")]["artifacts"] == {
        S3: {"uri": S3, "md5": md5(FRAUD_V2), "size": len(FRAUD_V2), "sha256": sha256(FRAUD_V2)}}
    assert records[("ranker", "v1")]["artifacts"] == {GCS: {"uri": GCS}}  # nobody knew a digest


def test_every_stage_assignment_comes_across(gto_user):
    gto_user.mv("import", "--gto", "--write-policy")
    history = {m: {s: [(e["version"], e["kind"], e["reason"]) for e in entries]
                   for s, entries in api.history(m)["stages"].items() if entries} for m in ("churn", "ml-fraud")}
    assert history == {
        "churn": {"staging": [("v1", "promote", "imported from GTO churn#staging#1"),
                              ("v2", "promote", "imported from GTO churn#staging#3")],
                  "prod": [("v1", "promote", "imported from GTO churn#prod#2"),
                           ("v2", "promote", "imported from GTO churn#prod#4")]},
        "ml-fraud": {"prod": [("v1", "promote", "imported from GTO ML/Fraud#prod#1"),
                              ("v2", "promote", "imported from GTO ML/Fraud#prod#2")]}}
    shown = gto.show(str(gto_user.path))  # what GTO itself says the stages hold
    gto_of = {m: {v["version"]: api.show(m, v["version"])["record"]["run_id"].split("@")[1]
                  for v in api.show(m)["versions"]} for m in ("churn", "ml-fraud")}
    assert {s: gto_of["churn"][v] for s, v in api.show("churn")["stages"].items()} == shown["churn"]["stage"]
    assert {s: gto_of["ml-fraud"][v] for s, v in api.show("ml-fraud")["stages"].items()} == \
        {s: v for s, v in shown["ML/Fraud"]["stage"].items() if v}


def test_the_report_says_what_was_renamed_and_skipped_and_why(gto_user):
    result = gto_user.mv("import", "--gto", "--write-policy", "--json").json
    renamed = result["renamed"]
    assert {"kind": "model", "gto": "ML/Fraud", "as": "ml-fraud",
            "why": "model names are [a-z0-9][a-z0-9_-]{0,63}: lower case, anything else becomes '-'"} in renamed
    assert [(r["gto"], r["as"]) for r in renamed if r["kind"] == "version"] == [
        ("ML/Fraud@v0.1.0", "ml-fraud v1"), ("ML/Fraud@v0.2.0", "ml-fraud v2"), ("churn@v0.9.0", "churn v1"),
        ("churn@v1.0.0", "churn v2"), ("ranker@v1.0.0", "ranker v1")]
    assert result["skipped"] == ["churn@v2.0.0: lightweight tag (GTO itself ignores lightweight tags)"]


def test_the_human_report_lists_imports_renames_skips_and_uri_artifacts(tmp_path, gto_user):
    out = gto_user.mv("import", "--gto", "--write-policy").out
    assert "wrote .mv-promote.toml from GTO's annotations (3 model(s), stages staging, prod) and committed it as" in out
    assert (f"imported ML/Fraud@v0.1.0 as ml-fraud v1; artifact {S3}: recorded by URI (md5 {md5(FRAUD_V1)}); "
            "not fetchable offline") in out
    assert "renamed GTO model 'ML/Fraud' to 'ml-fraud': model names are" in out
    assert "renumbered 5 version(s): ML/Fraud@v0.1.0 -> ml-fraud v1," in out
    assert "skipped churn@v2.0.0: lightweight tag (GTO itself ignores lightweight tags)" in out
    assert out.rstrip().endswith("5 version(s), 6 stage entries, 0 deprecation(s) imported; 1 name(s) renamed; "
                                 "1 skipped; 0 imported before")


# ---------------------------------------------------------------- the policy is never overwritten

def test_write_policy_refuses_to_overwrite_a_committed_policy(gto_user):
    gto_user.mv("import", "--gto", "--write-policy")
    head, refs = gto_user.git("rev-parse", "HEAD"), gto_user.mv_refs()
    result = gto_user.mv("import", "--gto", "--write-policy", code=1)
    assert "error: .mv-promote.toml already exists (committed at HEAD); --write-policy never overwrites a policy" in result.err
    assert "without --write-policy" in result.err and "Traceback" not in result.err
    assert gto_user.git("rev-parse", "HEAD") == head and gto_user.mv_refs() == refs


def test_write_policy_refuses_an_uncommitted_policy_file_too(gto_user):
    (gto_user.path / ".mv-promote.toml").write_text("schema = 1\n")
    result = gto_user.mv("import", "--gto", "--write-policy", code=1)
    assert ".mv-promote.toml already exists (in the work tree)" in result.err
    assert (gto_user.path / ".mv-promote.toml").read_text() == "schema = 1\n" and gto_user.mv_refs() == ""


def test_write_policy_dry_run_shows_the_policy_and_the_plan_and_writes_nothing(gto_user):
    head = gto_user.git("rev-parse", "HEAD")
    result = gto_user.mv("import", "--gto", "--write-policy", "--dry-run", "--json").json
    assert result["dry_run"] and not result["policy"]["written"] and result["policy"]["commit"] is None
    assert parse_policy(result["policy"]["text"].encode()).models["ml-fraud"].artifacts == (S3,)
    assert len(result["versions"]) == 5 and len(result["stages"]) == 6
    assert gto_user.git("rev-parse", "HEAD") == head and gto_user.mv_refs() == ""
    assert not (gto_user.path / ".mv-promote.toml").exists()


def test_a_second_run_without_write_policy_imports_nothing_twice(gto_user):
    gto_user.mv("import", "--gto", "--write-policy")
    refs = gto_user.mv_refs()
    again = gto_user.mv("import", "--gto", "--json").json
    assert again["versions"] == [] and again["stages"] == [] and gto_user.mv_refs() == refs


# ---------------------------------------------------------------- every reader of a URI artifact

def test_verify_reports_uri_artifacts_as_not_verifiable_offline_neither_failed_nor_ok(gto_user):
    gto_user.mv("import", "--gto", "--write-policy")
    result = gto_user.mv("verify", "--json").json
    assert result["ok"] and result["failures"] == []
    assert result["unverifiable"] == [
        f"refs/tags/mv/ml-fraud/v1: artifact {S3} is not verifiable offline: recorded by URI (md5 {md5(FRAUD_V1)})",
        f"refs/tags/mv/ml-fraud/v2: artifact {S3} is not verifiable offline: recorded by URI "
        f"(sha256 {sha256(FRAUD_V2)}, md5 {md5(FRAUD_V2)})",
        f"refs/tags/mv/ranker/v1: artifact {GCS} is not verifiable offline: recorded by URI (no digest)"]
    human = gto_user.mv("verify", "ranker")
    assert f"NOT VERIFIABLE OFFLINE refs/tags/mv/ranker/v1: artifact {GCS} is not verifiable offline" in human.out
    assert human.out.rstrip().endswith("no failures; 1 artifact(s) not verifiable offline (recorded by URI)")
    assert human.code == 0 and ": ok" not in human.out


def test_show_says_a_uri_artifact_is_not_fetchable_offline(gto_user):
    gto_user.mv("import", "--gto", "--write-policy")
    assert api.show("ranker", "v1")["not_fetchable_offline"] == [f"{GCS}: recorded by URI (no digest); not fetchable offline"]
    assert api.show("churn", "v1")["not_fetchable_offline"] == []
    out = gto_user.mv("show", "ml-fraud", "v1").out
    assert f"artifact {S3}: recorded by URI (md5 {md5(FRAUD_V1)}); not fetchable offline" in out


def test_eval_of_a_uri_version_is_refused_as_not_retrievable_offline(gto_user):
    gto_user.mv("import", "--gto", "--write-policy")
    metrics = gto_user.path.parent / "m.json"
    metrics.write_text('{"metrics": {"auc": 0.9}}')
    result = gto_user.mv("eval", "ml-fraud", "v1", "--suite", "holdout", "--from-file", str(metrics), code=1)
    assert (f"cannot fetch the artifacts of ml-fraud v1: {S3} is not retrievable offline: recorded by URI "
            f"(md5 {md5(FRAUD_V1)})") in result.err
    assert "Traceback" not in result.err


def test_rollback_to_a_uri_version_is_refused_unless_forced(gto_user):
    gto_user.mv("import", "--gto", "--write-policy")
    result = gto_user.mv("rollback", "ml-fraud", "--stage", "prod", "--json", code=1)
    assert f"retrievable {S3}: {S3} is not retrievable offline: recorded by URI (md5 {md5(FRAUD_V1)})" in result.err
    forced = gto_user.mv("rollback", "ml-fraud", "--stage", "prod", "--force", "--json").json
    assert forced["to"] == "v1" and api.show("ml-fraud")["stages"]["prod"] == "v1"


def test_diff_compares_what_is_known_of_uri_artifacts(gto_user):
    gto_user.mv("import", "--gto", "--write-policy")
    (change,) = api.diff("ml-fraud", "v1", "v2")["artifacts"]
    assert (change["key"], change["a"], change["b"]) == (
        S3, f"by URI, md5 {md5(FRAUD_V1)}", f"by URI, sha256 {sha256(FRAUD_V2)}, md5 {md5(FRAUD_V2)}")


def test_register_refuses_a_uri_artifact_with_the_way_out(gto_user):
    gto_user.mv("import", "--gto", "--write-policy")
    result = gto_user.mv("register", "ranker", code=1)
    assert f"artifact {GCS} is a URI: register records files it can hash" in result.err
    assert "dvc import-url" in result.err


# ---------------------------------------------------------------- the server hook

def test_the_imported_registry_with_uri_artifacts_is_accepted_by_the_server_hook(gto_user, server):
    gto_user.mv("import", "--gto", "--write-policy")
    gto_user.git("remote", "add", "origin", server.url)
    accepted(push(gto_user, "main"))
    accepted(push(gto_user, "refs/tags/mv/*:refs/tags/mv/*"))
    refs = server.refs()
    assert {"refs/tags/mv/ml-fraud/v1", "refs/tags/mv/ml-fraud/v2", "refs/tags/mv/ranker/v1",
            "refs/tags/mv/ml-fraud/prod/2", "refs/tags/mv/churn/prod/2"} <= set(refs)


def test_a_uri_version_is_refused_by_a_server_whose_policy_puts_the_model_in_the_regulated_tier(gto_user, server):
    """The regulated tier needs every artifact's bytes (a reproduction compares them): a version
    recording one by URI is refused at the server, whatever the pushing clone's policy says."""
    gto_user.mv("import", "--gto", "--write-policy")
    _regulated(gto_user)
    gto_user.git("remote", "add", "origin", server.url)
    accepted(push(gto_user, "main"))
    before = server.refs()
    proc = push(gto_user, "refs/tags/mv/ml-fraud/v1")
    refused(proc, "R1 version-artifacts")
    assert "the regulated tier needs every artifact retrievable by digest" in proc.stdout + proc.stderr
    assert server.refs() == before


def _regulated(user: GtoUser) -> None:
    """Move ml-fraud to the regulated tier on main (a policy commit of its own)."""
    path = user.path / ".mv-promote.toml"
    text = path.read_text()
    head, sep, rest = text.partition('[models.ml-fraud]\ntier = "research"\n')
    artifacts_line, _, tail = rest.partition("\n")
    path.write_text(head + sep.replace("research", "regulated") + 'model_card = "CARD.md"\n' + artifacts_line + "\n\n"
                    '[models.ml-fraud.eval]\nsuite = "holdout"\n\n[models.ml-fraud.gate]\nmetrics = { auc = "max" }\n'
                    'eval_signers = ["alice@example.com"]\n' + tail)
    parse_policy(path.read_bytes())
    user.commit("ml-fraud is regulated")


# ---------------------------------------------------------------- annotations in dvc.yaml, virtual paths, stage order

def _plain_repo(path: Path) -> GtoUser:
    path.mkdir()
    user = GtoUser(path)
    user.git("init", "-q")
    return user


def test_dvc_yaml_artifacts_give_the_path_description_and_a_sha256(tmp_path, monkeypatch):
    """DVC's model registry annotations: `artifacts:` in dvc.yaml, `desc`, digests under `meta`."""
    user = _plain_repo(tmp_path / "dvcyaml")
    digest = sha256(b"ranker weights\n")
    (user.path / "dvc.yaml").write_text(f"artifacts:\n  ranker:\n    path: https://models.example.com/ranker.pt\n"
                                        f"    type: model\n    desc: Search ranker\n    meta:\n      sha256: {digest}\n"
                                        "      size: 15\n")
    c1 = user.commit("annotate the ranker")
    gto.register(str(user.path), "ranker", c1, version="v1.0.0")
    gto.assign(str(user.path), "ranker", "Shadow", version="v1.0.0")
    monkeypatch.chdir(user.path)
    result = user.mv("import", "--gto", "--write-policy", "--json").json
    text = user.git("show", "HEAD:.mv-promote.toml")
    assert "# GTO artifact 'ranker', from dvc.yaml at HEAD; type model\n# Search ranker\n[models.ranker]" in text
    assert parse_policy((text + "\n").encode()).stages == ("shadow",)
    uri = "https://models.example.com/ranker.pt"
    assert api.show("ranker", "v1")["record"]["artifacts"] == {uri: {"uri": uri, "sha256": digest, "size": 15}}
    assert {"kind": "stage", "gto": "Shadow", "as": "shadow",
            "why": "stage names follow the model grammar: lower case, anything else becomes '-'"} in result["renamed"]
    assert api.show("ranker")["stages"] == {"shadow": "v1"}


def test_an_explicitly_virtual_path_outside_git_and_dvc_is_recorded_by_that_path(tmp_path, monkeypatch):
    user = _plain_repo(tmp_path / "virtual")
    (user.path / "artifacts.yaml").write_text("big:\n  path: weights/big.safetensors\n  type: model\n  virtual: true\n"
                                              "  custom:\n    md5: NOT-A-DIGEST\n")
    c1 = user.commit("annotate a model stored elsewhere")
    gto.register(str(user.path), "big", c1, version="v0.1.0")
    monkeypatch.chdir(user.path)
    result = user.mv("import", "--gto", "--write-policy", "--json").json
    path = "weights/big.safetensors"
    assert api.show("big", "v1")["record"]["artifacts"] == {path: {"uri": path}}
    assert ("big@v0.1.0: the annotation's md5 'NOT-A-DIGEST' is not a valid md5 digest; not recorded"
            in result["warnings"])


def test_gto_config_stages_give_the_policy_its_stage_order(tmp_path, monkeypatch):
    user = _plain_repo(tmp_path / "staged")
    (user.path / ".gto").write_text("stages: [dev, staging, prod]\n")
    (user.path / "artifacts.yaml").write_text("churn:\n  path: model.bin\n  type: model\n")
    (user.path / "model.bin").write_text("0.9\n")
    c1 = user.commit("model")
    gto.register(str(user.path), "churn", c1, version="v1.0.0")
    gto.assign(str(user.path), "churn", "prod", version="v1.0.0")  # straight to prod: no order to learn from
    monkeypatch.chdir(user.path)
    result = user.mv("import", "--gto", "--write-policy", "--json").json
    assert result["policy"]["stages"] == ["dev", "staging", "prod"]
    assert parse_policy(user.git("show", "HEAD:.mv-promote.toml").encode() + b"\n").stages == ("dev", "staging", "prod")


def test_write_policy_without_a_signing_key_refuses_before_writing_anything(gto_user):
    gto_user.git("config", "user.signingkey", "")
    head = gto_user.git("rev-parse", "HEAD")
    result = gto_user.mv("import", "--gto", "--write-policy", code=1)
    assert "no signing key is configured" in result.err and "--no-sign" in result.err
    assert gto_user.git("rev-parse", "HEAD") == head and gto_user.mv_refs() == ""
    assert not (gto_user.path / ".mv-promote.toml").exists()
