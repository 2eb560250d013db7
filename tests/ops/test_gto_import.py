"""`import --gto`: a GTO registry, built with git exactly as GTO writes it, imports with the same
versions and stage history; GTO's tags stay untouched and a second import is a no-op.

GTO (1.x) writes annotated tags whose message has no trailing newline: `name@vX.Y.Z` when
registering ("Registering artifact NAME version vX.Y.Z"), `name#stage#N` when assigning (N counts
every counted tag of the artifact), `name@vX.Y.Z!` when deregistering, `name#stage!#N` when
unassigning. `artifacts.yaml` is written by GTO's Index with sorted keys. The fixture replays that
with `git mktag`, so the test needs no GTO; set MV_TEST_GTO=/path/to/gto to also check the fixture
with real GTO.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess

import pytest

from conftest import ModelRepo, git
from gitmv import api
from gitmv.errors import MvError, PolicyError, RefusedError
from gitmv.ops.gto_import import assignment_order, import_gto, map_name, parse_gto_tag_name, semver_key

GTO_POLICY = '''schema = 1

[registry]
stages = ["staging", "prod"]
protected_stages = ["prod"]
protected_branch = "main"
allowed_signers = ".mv-promote/allowed_signers"

[models.churn]
tier = "production"
artifacts = ["model.bin"]

[models.churn.eval]
suite = "holdout"
command = "python3 eval.py {artifact} {output}"

[models.churn.gate]
metrics = { auc = "max" }
thresholds = { auc = 0.80 }
'''

# what GTO's Index.write_state writes for `churn` (ruamel safe dump: sorted keys)
ARTIFACTS_YAML = """churn:
  description: Churn model
  labels:
  - tabular
  path: model.bin
  type: model
  virtual: false
"""

T0 = 1793523600  # 2026-11-01T09:00:00Z
BOB = ("Bob", "bob@example.com")


class GtoRepo(ModelRepo):
    """A model repository in which GTO has been used."""

    def gto_tag(self, name: str, commit: str, message: str, at: int, who=BOB) -> str:
        """An annotated tag byte for byte as GTO creates it (no newline after the message)."""
        text = (f"object {commit}\ntype commit\ntag {name}\ntagger {who[0]} <{who[1]}> {at} +0000\n\n{message}")
        oid = subprocess.run(["git", "mktag"], input=text.encode(), cwd=self.path, capture_output=True,
                             check=True).stdout.decode().strip()
        self.git("update-ref", f"refs/tags/{name}", oid, "0" * 40)
        return oid

    def register(self, name: str, version: str, commit: str, at: int) -> None:
        self.gto_tag(f"{name}@{version}", commit, f"Registering artifact {name} version {version}", at)

    def assign(self, name: str, stage: str, n: int, commit: str, version: str, at: int) -> None:
        self.gto_tag(f"{name}#{stage}#{n}", commit, f"Assigning stage {stage} to artifact {name} version {version}", at)

    def train(self, content: str, message: str) -> str:
        (self.path / "model.bin").write_text(content)
        return self.commit(message)

    def other_tags(self) -> str:
        """Every tag that is not ours, with its object id: GTO's must never change."""
        out = self.git("for-each-ref", "--format=%(refname) %(objectname) %(*objectname)", "refs/tags")
        return "\n".join(line for line in out.splitlines() if not line.startswith("refs/tags/mv/"))

    def mv_refs(self) -> str:
        return self.git("for-each-ref", "--format=%(refname) %(objectname)", "refs/tags/mv/", "refs/notes/")


@pytest.fixture
def gto_repo(tmp_path, keys, monkeypatch):
    """churn v0.9.0, v0.10.0, v1.0.0 (semver order differs from name order) with GTO's stage history:
    staging v0.9.0 -> v0.10.0 -> v1.0.0; prod v0.10.0 -> v1.0.0 -> back to v0.10.0;
    then v0.9.0 deregistered and staging unassigned."""
    repo = GtoRepo(tmp_path / "gto", keys, policy=GTO_POLICY)
    (repo.path / "artifacts.yaml").write_text(ARTIFACTS_YAML)
    c1 = repo.train("0.70 0.70 5.0\n", "train: first model")
    c2 = repo.train("0.85 0.84 5.0\n", "train: more data")
    c3 = repo.train("0.90 0.88 4.0\n", "train: new features")
    repo.git("tag", "-a", "-m", "code release", "release-1", c1)  # not GTO's: must be ignored
    repo.register("churn", "v0.9.0", c1, T0 + 10)
    repo.assign("churn", "staging", 1, c1, "v0.9.0", T0 + 20)
    repo.register("churn", "v0.10.0", c2, T0 + 30)
    repo.assign("churn", "staging", 2, c2, "v0.10.0", T0 + 40)
    repo.assign("churn", "prod", 3, c2, "v0.10.0", T0 + 50)
    repo.register("churn", "v1.0.0", c3, T0 + 60)
    repo.assign("churn", "staging", 4, c3, "v1.0.0", T0 + 70)
    repo.assign("churn", "prod", 5, c3, "v1.0.0", T0 + 80)
    repo.assign("churn", "prod", 6, c2, "v0.10.0", T0 + 90)  # GTO's way to roll back
    repo.gto_tag("churn@v0.9.0!", c1, "Deregistering artifact churn version v0.9.0", T0 + 100)
    repo.gto_tag("churn#staging!#7", c3, "Unassigning stage 'staging' to artifact 'churn' version 'v1.0.0'", T0 + 110)
    repo.git("tag", "churn@v2.0.0", c3)  # lightweight: GTO ignores it, so do we
    repo.commits = [c1, c2, c3]
    monkeypatch.chdir(repo.path)
    return repo


def iso(epoch: int) -> str:
    from datetime import datetime, timezone

    return datetime.fromtimestamp(epoch, timezone.utc).isoformat().replace("+00:00", "Z")


def gto_show(repo: GtoRepo) -> dict | None:
    """`gto show --json` when MV_TEST_GTO names a gto executable (checks the fixture); else None."""
    gto = os.environ.get("MV_TEST_GTO")
    if not gto:
        return None
    assert shutil.which(gto), gto
    proc = subprocess.run([gto, "show", "--json"], cwd=repo.path, capture_output=True, text=True, check=True)
    return json.loads(proc.stdout)


def assert_same_as_gto(repo: GtoRepo, ours: dict) -> None:
    """Our stages (model -> stage -> our version) name the same GTO versions `gto show` reports."""
    shown = gto_show(repo)
    if shown is None:
        return
    for model, stages in ours.items():
        gto_of = {v["version"]: api.show(model, v["version"])["record"]["run_id"].split("@", 1)[1]
                  for v in api.show(model)["versions"]}
        assert {s: gto_of[v] for s, v in stages.items()} == shown[model]["stage"], shown


# ---------------------------------------------------------------- the whole import

def test_gto_repo_imports_with_the_same_versions_and_stage_history(gto_repo):
    before = gto_repo.other_tags()
    result = import_gto()

    assert [(v["gto"], v["model"], v["version"]) for v in result["versions"]] == [
        ("churn@v0.9.0", "churn", "v1"), ("churn@v0.10.0", "churn", "v2"), ("churn@v1.0.0", "churn", "v3")]
    assert result["dry_run"] is False
    for n, commit in enumerate(gto_repo.commits, start=1):
        assert gto_repo.git("rev-parse", f"mv/churn/v{n}^{{commit}}") == commit  # the GTO tag's commit, not HEAD
        assert gto_repo.git("cat-file", "-t", f"mv/churn/v{n}") == "tag"

    shown = {v["version"]: v for v in api.show("churn")["versions"]}
    assert [shown[f"v{n}"]["parent"] for n in (1, 2, 3)] == [None, "v1", "v2"]
    assert shown["v1"]["deprecated"] is True  # GTO deregistered v0.9.0
    assert not shown["v2"]["deprecated"] and not shown["v3"]["deprecated"]
    for n, (gto_version, at) in enumerate([("v0.9.0", T0 + 10), ("v0.10.0", T0 + 30), ("v1.0.0", T0 + 60)], start=1):
        record = api.show("churn", f"v{n}")["record"]
        assert record["run_id"] == f"gto:churn@{gto_version}"
        assert record["message"] == f"imported from GTO churn@{gto_version}"
        assert record["created_at"] == iso(at) and record["created_by"] == "Bob <bob@example.com>"
        blob = gto_repo.git("show", f"{gto_repo.commits[n - 1]}:model.bin").encode() + b"\n"
        assert record["artifacts"] == {"model.bin": {"sha256": hashlib.sha256(blob).hexdigest(), "size": len(blob)}}
        assert record["signer"]  # signed with the test key

    history = api.history("churn")["stages"]
    # GTO's times are kept (the stage tags carry them); `by` is the principal who signed the import
    assert [(r["version"], r["kind"], r["reason"], r["at"], r["by"]) for r in history["staging"]] == [
        ("v1", "promote", "imported from GTO churn#staging#1", iso(T0 + 20), "alice@example.com"),
        ("v2", "promote", "imported from GTO churn#staging#2", iso(T0 + 40), "alice@example.com"),
        ("v3", "promote", "imported from GTO churn#staging#4", iso(T0 + 70), "alice@example.com"),
        # GTO's unassignment of v1.0.0 makes staging fall back to v0.10.0: a rollback here
        ("v2", "rollback", "imported from GTO churn#staging!#7", iso(T0 + 110), "alice@example.com")]
    assert [(r["seq"], r["version"], r["kind"], r["previous"]) for r in history["prod"]] == [
        (1, "v2", "promote", None), (2, "v3", "promote", "v2"), (3, "v2", "rollback", "v3")]
    assert [(s["gto"], s["ref"]) for s in result["stages"]] == [
        ("churn#staging#1", "refs/tags/mv/churn/staging/1"), ("churn#staging#2", "refs/tags/mv/churn/staging/2"),
        ("churn#prod#3", "refs/tags/mv/churn/prod/1"), ("churn#staging#4", "refs/tags/mv/churn/staging/3"),
        ("churn#prod#5", "refs/tags/mv/churn/prod/2"), ("churn#prod#6", "refs/tags/mv/churn/prod/3"),
        ("churn#staging!#7", "refs/tags/mv/churn/staging/4")]
    assert api.show("churn")["stages"] == {"staging": "v2", "prod": "v2"}  # what `gto show` says: v0.10.0 in both
    assert_same_as_gto(gto_repo, {"churn": {"staging": "v2", "prod": "v2"}})

    # the audit trail is honest about the missing gate
    raw = gto_repo.git("cat-file", "-p", "mv/churn/prod/1")
    assert "imported from GTO: not gated" in raw and "-----BEGIN SSH SIGNATURE-----" in raw
    assert gto_repo.git("rev-parse", "mv/churn/prod/1^{}") == gto_repo.commits[1]
    assert gto_repo.git("rev-parse", "mv/churn/prod/1^{tag}") != gto_repo.git("rev-parse", "mv/churn/v2")
    assert gto_repo.git("cat-file", "-p", "mv/churn/prod/1").split("\n")[0] == \
        "object " + gto_repo.git("rev-parse", "mv/churn/v2")  # points at the version tag object

    skipped = "\n".join(result["skipped"])
    assert "churn@v2.0.0: lightweight tag" in skipped
    assert "release-1" not in skipped
    assert [(d["gto"], d["version"]) for d in result["deprecations"]] == [("churn@v0.9.0!", "v1")]

    assert gto_repo.other_tags() == before  # GTO's tags untouched
    verified = gto_repo.mv("verify", "--json")
    assert verified.json["ok"], verified.json["failures"]


def test_second_import_is_a_no_op(gto_repo):
    import_gto()
    refs, notes_ref = gto_repo.mv_refs(), gto_repo.ref("refs/notes/mv-promote")
    again = import_gto()
    assert again["versions"] == [] and again["stages"] == [] and again["deprecations"] == []
    assert set(again["already_imported"]) >= {"churn@v0.9.0", "churn@v0.10.0", "churn@v1.0.0", "churn#staging#1",
                                              "churn#prod#6", "churn@v0.9.0!"}
    assert gto_repo.mv_refs() == refs and gto_repo.ref("refs/notes/mv-promote") == notes_ref


def test_new_gto_activity_after_an_import_is_picked_up(gto_repo):
    import_gto()
    c4 = gto_repo.train("0.95 0.93 4.0\n", "train: bigger model")
    gto_repo.register("churn", "v1.1.0", c4, T0 + 200)
    gto_repo.assign("churn", "prod", 8, c4, "v1.1.0", T0 + 210)
    result = import_gto()
    assert [(v["gto"], v["version"], v["parent"]) for v in result["versions"]] == [("churn@v1.1.0", "v4", "v3")]
    assert [(s["gto"], s["seq"], s["kind"], s["previous"]) for s in result["stages"]] == [("churn#prod#8", 4, "promote", "v2")]
    assert api.show("churn")["stages"]["prod"] == "v4"
    assert_same_as_gto(gto_repo, {"churn": {"staging": "v2", "prod": "v4"}})


def test_dry_run_writes_nothing(gto_repo):
    refs = gto_repo.mv_refs()
    result = import_gto(dry_run=True)
    assert result["dry_run"] is True
    assert [v["version"] for v in result["versions"]] == ["v1", "v2", "v3"]
    assert len(result["stages"]) == 7 and result["deprecations"]
    assert all(s["tag"] is None for s in result["stages"])
    assert gto_repo.mv_refs() == refs == ""


# ---------------------------------------------------------------- refusals and skips

def test_models_missing_from_the_policy_are_refused_with_a_snippet(gto_repo):
    c = gto_repo.commits[0]
    gto_repo.register("ML/Fraud_Model", "v1.0.0", c, T0 + 300)
    with pytest.raises(PolicyError) as err:
        import_gto()
    assert "model(s) not in .mv-promote.toml: ml-fraud_model" in err.value.cause
    assert "[models.ml-fraud_model]" in err.value.fix and "[models.churn]" not in err.value.fix
    assert gto_repo.mv_refs() == ""  # nothing written, not even churn


def test_stages_missing_from_the_policy_are_refused(gto_repo):
    gto_repo.assign("churn", "Shadow", 9, gto_repo.commits[2], "v1.0.0", T0 + 300)
    with pytest.raises(PolicyError) as err:
        import_gto()
    assert "shadow (GTO 'Shadow')" in err.value.cause
    assert 'stages = ["staging", "prod", "shadow"]' in err.value.fix
    assert gto_repo.mv_refs() == ""


def test_two_gto_names_mapping_to_one_model_are_refused(gto_repo):
    gto_repo.register("Churn", "v3.0.0", gto_repo.commits[2], T0 + 300)
    with pytest.raises(MvError) as err:
        import_gto()
    assert "'Churn' and 'churn'" in err.value.cause and "'churn'" in err.value.cause
    assert gto_repo.mv_refs() == ""


def test_uncommitted_artifact_skips_the_version_and_its_assignments(tmp_path, keys, monkeypatch):
    """Changed with virtual artifacts: an `s3://` path is now recorded by URI (tests/ops/test_gto_virtual.py);
    a repository path that is in neither Git nor DVC, and not annotated `virtual: true`, is still skipped."""
    repo = GtoRepo(tmp_path / "virt", keys, policy=GTO_POLICY)
    (repo.path / "artifacts.yaml").write_text("churn:\n  path: models/churn.pkl\n  type: model\n")
    c1 = repo.commit("annotate an artifact that was never committed")
    repo.register("churn", "v0.1.0", c1, T0 + 10)
    repo.assign("churn", "prod", 1, c1, "v0.1.0", T0 + 20)
    monkeypatch.chdir(repo.path)
    result = import_gto()
    assert result["versions"] == [] and result["stages"] == []
    skipped = "\n".join(result["skipped"])
    assert (f"churn@v0.1.0: artifact models/churn.pkl at {c1[:12]} is not retrievable: not committed to Git and not "
            "tracked by DVC; version not imported") in skipped
    assert "churn#prod#1: churn@v0.1.0 was not imported" in skipped
    assert repo.mv_refs() == ""


def test_without_artifacts_yaml_the_policy_artifacts_are_used(tmp_path, keys, monkeypatch):
    repo = GtoRepo(tmp_path / "noindex", keys, policy=GTO_POLICY)
    c1 = repo.train("0.9 0.9\n", "train")
    repo.register("churn", "v1.0.0", c1, T0 + 10)
    monkeypatch.chdir(repo.path)
    result = import_gto()
    assert [(v["version"], v["artifacts_from"]) for v in result["versions"]] == [("v1", "policy")]
    assert repo.mv("verify", "--json").json["ok"]


# ---------------------------------------------------------------- version records: the builder register uses

DATA_PIN = "outs:\n- md5: 0123456789abcdef0123456789abcdef\n  size: 10\n  path: data.csv\n"


def _policy_with(extra: str) -> str:
    return GTO_POLICY.replace('artifacts = ["model.bin"]\n', f'artifacts = ["model.bin"]\n{extra}\n')


def test_an_imported_version_records_the_data_pins_the_policy_names(tmp_path, keys, monkeypatch):
    repo = GtoRepo(tmp_path / "pins", keys, policy=_policy_with('data = ["data.csv.dvc"]'))
    (repo.path / "data.csv.dvc").write_text(DATA_PIN)
    c1 = repo.train("0.9 0.9\n", "train on pinned data")
    repo.register("churn", "v1.0.0", c1, T0 + 10)
    monkeypatch.chdir(repo.path)
    import_gto()
    (pin,) = api.show("churn", "v1")["record"]["data"]
    assert (pin["source"], pin["path"], pin["md5"]) == ("data.csv.dvc", "data.csv", "0123456789abcdef0123456789abcdef")


def test_a_version_whose_commit_lacks_a_data_pin_the_policy_names_refuses_the_import(tmp_path, keys, monkeypatch):
    """Changed with the one record builder: the import used to record such a version with no data
    pins at all; like register, it now refuses, and writes nothing."""
    repo = GtoRepo(tmp_path / "nopin", keys, policy=_policy_with('data = ["data.csv.dvc"]'))
    c1 = repo.train("0.8 0.8\n", "train before data was pinned")
    (repo.path / "data.csv.dvc").write_text(DATA_PIN)
    c2 = repo.train("0.9 0.9\n", "train on pinned data")
    repo.register("churn", "v1.0.0", c1, T0 + 10)
    repo.register("churn", "v2.0.0", c2, T0 + 20)
    monkeypatch.chdir(repo.path)
    result = repo.mv("import", "--gto", code=1)
    assert f"churn@v1.0.0 at {c1[:12]}: DVC pin file data.csv.dvc is not committed at this commit" in result.err
    assert "churn@v2.0.0" not in result.err and "Traceback" not in result.err
    assert repo.mv_refs() == ""


def test_a_version_whose_params_file_does_not_parse_refuses_the_import(tmp_path, keys, monkeypatch):
    """Changed with the one record builder: the import used to record the params digest without its
    values; like register, it now refuses, and writes nothing."""
    repo = GtoRepo(tmp_path / "badparams", keys, policy=_policy_with('params = "params.yaml"'))
    (repo.path / "params.yaml").write_text("lr: [0.1\n")
    c1 = repo.train("0.9 0.9\n", "train with broken params")
    repo.register("churn", "v1.0.0", c1, T0 + 10)
    monkeypatch.chdir(repo.path)
    with pytest.raises(RefusedError) as err:
        import_gto(dry_run=True)
    assert err.value.cause.startswith("GTO import refused, nothing written: churn@v1.0.0")
    assert "params file params.yaml does not parse" in err.value.cause
    assert repo.mv_refs() == ""


def test_no_policy_names_the_models_to_add(tmp_path, monkeypatch):
    path = tmp_path / "bare-gto"
    path.mkdir()
    git("init", "-q", cwd=path)
    (path / "model.bin").write_text("x\n")
    git("add", "-A", cwd=path)
    git("commit", "-q", "-m", "m", cwd=path)
    git("tag", "-a", "-m", "Registering artifact my_model version v1.0.0", "my_model@v1.0.0", cwd=path)
    monkeypatch.chdir(path)
    with pytest.raises(PolicyError) as err:
        import_gto()
    assert "my_model" in err.value.cause and "[models.my_model]" in err.value.fix


# ---------------------------------------------------------------- GTO's grammar

def test_tag_grammar_matches_gto():
    assert parse_gto_tag_name("churn@v1.0.0")["action"] == "register"
    assert parse_gto_tag_name("churn@v1.0.0!")["action"] == "deregister"
    assert parse_gto_tag_name("churn#prod#3") == {"artifact": "churn", "counter": 3, "version": None,
                                                  "stage": "prod", "action": "assign"}
    assert parse_gto_tag_name("churn#prod")["counter"] is None
    assert parse_gto_tag_name("churn#prod!#4")["action"] == "unassign"
    assert parse_gto_tag_name("churn@deprecated")["action"] == "deprecate"
    assert parse_gto_tag_name("models/nlp=churn@v1.0.0-rc.1")["artifact"] == "models/nlp:churn"
    for not_gto in ("mv/churn/v1", "mv/churn/prod/1", "churn@1.0.0", "v1.0.0", "release-1"):
        assert parse_gto_tag_name(not_gto) is None
    assert map_name("models/nlp:Churn.V2") == "models-nlp-churn-v2"
    versions = ["v1.0.0", "v0.10.0", "v1.0.0-rc.1", "v0.9.0", "v1.0.0-alpha", "v1.0.0-alpha.1", "v1.0.0-beta.11",
                "v1.0.0-beta.2"]
    assert sorted(versions, key=semver_key) == ["v0.9.0", "v0.10.0", "v1.0.0-alpha", "v1.0.0-alpha.1",
                                                "v1.0.0-beta.2", "v1.0.0-beta.11", "v1.0.0-rc.1", "v1.0.0"]


def test_assignment_order_is_counter_order_with_old_tags_by_date():
    from gitmv.ops.gto_import import GtoTag

    def tag(name, epoch):
        p = parse_gto_tag_name(name)
        return GtoTag(name=name, artifact=p["artifact"], action=p["action"], commit="c" * 40, annotated=True,
                      epoch=epoch, tagger=None, message="", stage=p["stage"], counter=p["counter"])

    tags = [tag("m#prod#3", 100), tag("m#prod", 5), tag("m#staging#1", 300), tag("m#staging#2", 200)]
    assert [t.name for t in assignment_order(tags)] == ["m#prod", "m#staging#1", "m#staging#2", "m#prod#3"]


# ---------------------------------------------------------------- the fixture is what GTO reads

@pytest.mark.skipif(not os.environ.get("MV_TEST_GTO"), reason="set MV_TEST_GTO to a gto executable")
def test_fixture_reads_in_real_gto_as_intended(gto_repo):
    shown = gto_show(gto_repo)
    assert shown["churn"]["version"] == "v1.0.0"
    assert shown["churn"]["stage"] == {"prod": "v0.10.0", "staging": "v0.10.0"}
    proc = subprocess.run([os.environ["MV_TEST_GTO"], "history", "churn", "--json"], cwd=gto_repo.path,
                          capture_output=True, text=True, check=True)
    events = sorted(json.loads(proc.stdout), key=lambda e: e["timestamp"])
    assert [(e["event"], e["version"], e.get("stage")) for e in events if e["event"] != "registration"] == [
        ("assignment", "v0.9.0", "staging"), ("assignment", "v0.10.0", "staging"), ("assignment", "v0.10.0", "prod"),
        ("assignment", "v1.0.0", "staging"), ("assignment", "v1.0.0", "prod"), ("assignment", "v0.10.0", "prod"),
        ("deregistration", "v0.9.0", None), ("unassignment", "v1.0.0", "staging")]


def test_deregistration_and_unassignment_follow_what_gto_shows(tmp_path, keys, monkeypatch):
    """prod: v0.1.0, then v0.2.0; v0.2.0 deregistered -> GTO shows v0.1.0 again (our rollback);
    staging: v0.2.0, emptied in GTO by that deregistration (we cannot empty a stage: skipped, said so)."""
    repo = GtoRepo(tmp_path / "dereg", keys, policy=GTO_POLICY)
    (repo.path / "artifacts.yaml").write_text(ARTIFACTS_YAML)
    c1 = repo.train("0.81 0.80\n", "one")
    c2 = repo.train("0.82 0.80\n", "two")
    repo.register("churn", "v0.1.0", c1, T0 + 10)
    repo.assign("churn", "prod", 1, c1, "v0.1.0", T0 + 20)
    repo.register("churn", "v0.2.0", c2, T0 + 30)
    repo.assign("churn", "prod", 2, c2, "v0.2.0", T0 + 40)
    repo.assign("churn", "staging", 3, c2, "v0.2.0", T0 + 50)
    repo.gto_tag("churn@v0.2.0!", c2, "Deregistering artifact churn version v0.2.0", T0 + 60)
    repo.gto_tag("churn#staging!#4", c2, "Unassigning stage 'staging' to artifact 'churn' version 'v0.2.0'", T0 + 70)
    monkeypatch.chdir(repo.path)
    result = import_gto()
    prod = api.history("churn", stage="prod")["stages"]["prod"]
    assert [(r["version"], r["kind"], r["reason"]) for r in prod] == [
        ("v1", "promote", "imported from GTO churn#prod#1"), ("v2", "promote", "imported from GTO churn#prod#2"),
        ("v1", "rollback", "imported from GTO churn@v0.2.0!")]
    assert [r["version"] for r in api.history("churn", stage="staging")["stages"]["staging"]] == ["v2"]
    # deregistering v0.2.0 already leaves GTO's staging empty; the unassignment then changes nothing
    assert any(s.startswith("churn@v0.2.0!: empties staging in GTO") for s in result["skipped"])
    assert "churn#staging!#4: changes nothing GTO shows (staging stays empty)" in result["skipped"]
    assert api.show("churn")["versions"][1]["deprecated"] is True
    shown = gto_show(repo)
    if shown is not None:
        assert shown["churn"]["stage"] == {"prod": "v0.1.0"}
    assert import_gto()["stages"] == []
    assert repo.mv("verify", "--json").json["ok"]


def test_folder_prefixed_name_reads_dvc_yaml_and_a_folder_artifact(tmp_path, keys, monkeypatch):
    """`models:nlp` (tag `models=nlp@…`) is DVC's name for an artifact declared in models/dvc.yaml;
    a folder artifact is recorded file by file; a message of one's own is kept."""
    policy = GTO_POLICY + '''
[models.models-nlp]
tier = "research"
artifacts = ["models/nlp"]
'''
    repo = GtoRepo(tmp_path / "mono", keys, policy=policy)
    (repo.path / "models" / "nlp").mkdir(parents=True)
    (repo.path / "models" / "dvc.yaml").write_text("artifacts:\n  nlp:\n    path: nlp\n    type: model\n")
    (repo.path / "models" / "nlp" / "weights.bin").write_text("w1\n")
    (repo.path / "models" / "nlp" / "vocab.txt").write_text("a b c\n")
    c1 = repo.commit("nlp model")
    repo.gto_tag("models=nlp@v1.0.0", c1, "first multilingual model", T0 + 10)
    repo.gto_tag("models=nlp@deprecated", c1, "Deprecating artifact 'models:nlp'", T0 + 20)
    monkeypatch.chdir(repo.path)
    result = import_gto()
    (v,) = result["versions"]
    assert (v["gto"], v["model"], v["version"], v["artifacts_from"]) == ("models=nlp@v1.0.0", "models-nlp", "v1",
                                                                         "models/dvc.yaml")
    assert sorted(v["artifacts"]) == ["models/nlp/vocab.txt", "models/nlp/weights.bin"]
    record = api.show("models-nlp", "v1")["record"]
    assert record["message"] == "imported from GTO models=nlp@v1.0.0: first multilingual model"
    assert [(d["gto"], d["version"]) for d in result["deprecations"]] == [("models=nlp@deprecated", "v1")]
    assert api.show("models-nlp")["versions"][0]["deprecated"] is True
    assert repo.mv("verify", "--json").json["ok"]


def test_a_version_number_taken_meanwhile_shifts_the_import(gto_repo, monkeypatch):
    """Another writer registers v1 between planning and writing: the import moves on to the next
    free numbers and keeps its parents and stage entries consistent."""
    from gitmv.ops.gto_import import planning

    plan = planning.plan

    def plan_then_race(*args, **kwargs):
        planned = plan(*args, **kwargs)
        api.register("churn", message="native")  # HEAD = GTO's v1.0.0 commit
        return planned

    monkeypatch.setattr(planning, "plan", plan_then_race)
    result = import_gto()
    assert [(v["gto"], v["version"], v["parent"]) for v in result["versions"]] == [
        ("churn@v0.9.0", "v2", None), ("churn@v0.10.0", "v3", "v2"), ("churn@v1.0.0", "v4", "v3")]
    prod = api.history("churn", stage="prod")["stages"]["prod"]
    assert [(r["version"], r["kind"], r["previous"]) for r in prod] == [
        ("v3", "promote", None), ("v4", "promote", "v3"), ("v3", "rollback", "v4")]
    assert gto_repo.mv("verify", "--json").json["ok"]
    monkeypatch.setattr(planning, "plan", plan)
    assert import_gto()["versions"] == []
