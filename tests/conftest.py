"""Hermetic test environment: every test gets its own HOME, no system git config, fixed dates,
and real ssh signing keys (made once per session with ssh-keygen).

Helpers:
- `mv(*args, cwd=..., code=0)` runs the CLI in-process and returns a Result (code, out, err, json).
- `mv_proc(*args, cwd=...)` runs the installed `git mv-promote` in a real subprocess.
- `model_repo` is a fresh repository with a committed policy, allowed signers and an eval script;
  `model_repo.version(auc, eu)` commits a model.bin with those metrics and registers it.
- Servers (`server`, `daemon_server`), published registries (`published`, `published_v2`, `live`),
  clones (`Clone`, `Reviewer`), approval by review (`approval_team`, `promote_and_push`), and
  what an attacker does by hand (`forge_stage_tag`, `make_tag`, `remake_tag`, `recreate`,
  `put_note`): every helper shared by test modules lives here, once.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from gitservers import git_daemon, http_backend, make_bare

FIXED_DATE = "2026-11-01T09:00:00+00:00"
EVAL_SCRIPT = '''import json, sys
# model.bin holds "auc eu_auc [latency]" so tests can make versions of known quality
parts = open(sys.argv[1]).read().split()
metrics = {"auc": float(parts[0]), "latency_ms": float(parts[2]) if len(parts) > 2 else 5.0}
json.dump({"metrics": metrics, "slices": {"region=eu": {"auc": float(parts[1])},
                                          "region=us": {"auc": float(parts[0])}}}, open(sys.argv[2], "w"))
'''
POLICY = '''schema = 1

[registry]
stages = ["staging", "production"]
protected_stages = ["production"]
protected_branch = "main"
allowed_signers = ".mv-promote/allowed_signers"

[models.churn]
tier = "production"
artifacts = ["model.bin"]

[models.churn.eval]
suite = "holdout"
command = "python3 eval.py {artifact} {output}"

[models.churn.gate]
metrics = { auc = "max", latency_ms = "min" }
thresholds = { auc = 0.80 }
max_regression = { auc = 0.0, latency_ms = 1.0 }
protected_slices = ["region=eu"]
approvals = 0
'''

# A canary rollout stage between staging and production (tests/cli/test_rollout.py and
# tests/hooks/test_hooks_rollout.py); SOAK_POLICY also holds production back until a version has
# held 50% of canary for 24h.
ROLLOUT_POLICY = POLICY.replace('stages = ["staging", "production"]\n',
                                'stages = ["staging", "canary", "production"]\nrollout_stages = ["canary"]\n', 1)
SOAK_POLICY = ROLLOUT_POLICY + 'soak = { stage = "canary", traffic = 50, duration = "24h" }\n'


@dataclass
class Result:
    code: int
    out: str
    err: str

    @property
    def json(self):
        return json.loads(self.out)


class Keys:
    def __init__(self, root: Path):
        self.root = root
        root.mkdir(parents=True, exist_ok=True)
        for name in ("alice", "bob", "carol", "mallory"):
            key = root / name
            subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", f"{name}@example.com", "-f", str(key)],
                           check=True)

    def private(self, name: str) -> Path:
        return self.root / name

    def public(self, name: str) -> str:
        return " ".join((self.root / f"{name}.pub").read_text().split()[:2])

    def allowed_line(self, name: str) -> str:
        return f'{name}@example.com namespaces="git" {self.public(name)}\n'


@pytest.fixture
def deploy(tmp_path) -> Path:
    """The serving side of `get`: an empty directory that is not a clone of anything."""
    d = tmp_path / "deploy"
    d.mkdir()
    return d


@pytest.fixture(scope="session")
def keys(tmp_path_factory) -> Keys:
    return Keys(tmp_path_factory.mktemp("keys"))


def git(*args, cwd, check=True, env=None) -> str:
    proc = subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True, env=env)
    if check and proc.returncode != 0:
        raise AssertionError(f"git {' '.join(args)} failed: {proc.stderr}")
    return proc.stdout.strip()


@pytest.fixture(autouse=True)
def hermetic(tmp_path, monkeypatch, keys):
    home = tmp_path / "home"
    home.mkdir()
    for var in list(os.environ):
        # PYTHONUNBUFFERED: the commands and hooks run write through a buffer, as a user's do
        if var.startswith("GIT_") or var in ("MV_PROMOTE_PYTHON", "PYTHONUNBUFFERED"):
            monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(home / ".config"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(home / ".cache"))  # get's deploy cache stays in the test
    monkeypatch.setenv("GIT_CONFIG_NOSYSTEM", "1")
    monkeypatch.setenv("GIT_AUTHOR_DATE", FIXED_DATE)
    monkeypatch.setenv("GIT_COMMITTER_DATE", FIXED_DATE)
    monkeypatch.setenv("LC_ALL", "C")
    (home / ".gitconfig").write_text(
        "[user]\n\tname = Alice\n\temail = alice@example.com\n"
        f"\tsigningkey = {keys.private('alice')}\n"
        "[gpg]\n\tformat = ssh\n[init]\n\tdefaultBranch = main\n[advice]\n\tdetachedHead = false\n"
        "[protocol \"file\"]\n\tallow = always\n"
    )
    return home


@pytest.fixture(autouse=True)
def libgit2_reads_the_test_home(hermetic):
    """libgit2 fixes its config search path once per process (from HOME when pygit2 is first
    imported), so in-process commands would read another HOME's config than git subprocesses do.
    Point it at this test's HOME for the test's duration."""
    import pygit2
    from pygit2.enums import ConfigLevel

    paths = pygit2.settings.search_path
    levels = {ConfigLevel.GLOBAL: hermetic, ConfigLevel.XDG: hermetic / ".config" / "git",
              ConfigLevel.SYSTEM: hermetic / "no-system-config"}
    old = {level: paths[level] for level in levels}
    for level, path in levels.items():
        paths[level] = str(path)
    yield
    for level, path in old.items():
        paths[level] = path


def set_clock(monkeypatch, when: str) -> None:
    """Move the fixed clock: commits, tags and records all take this time."""
    monkeypatch.setenv("GIT_AUTHOR_DATE", when)
    monkeypatch.setenv("GIT_COMMITTER_DATE", when)


def run_mv(*args: str, cwd: Path, code: int | None = 0) -> Result:
    from gitmv import cli

    out, err = io.StringIO(), io.StringIO()
    old = os.getcwd()
    os.chdir(cwd)
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            try:
                cli.main(list(args))
                rc = 0
            except SystemExit as exc:
                rc = exc.code if isinstance(exc.code, int) else 0
    finally:
        os.chdir(old)
    result = Result(rc, out.getvalue(), err.getvalue())
    if code is not None:
        assert rc == code, f"git mv-promote {' '.join(args)} exited {rc}, wanted {code}\nout: {result.out}\nerr: {result.err}"
    return result


@pytest.fixture
def mv():
    return run_mv


def run_mv_proc(*args: str, cwd: Path, code: int | None = 0, input: str | None = None) -> Result:
    proc = subprocess.run(["git", "mv-promote", *args], cwd=cwd, capture_output=True, text=True, input=input)
    result = Result(proc.returncode, proc.stdout, proc.stderr)
    if code is not None:
        assert proc.returncode == code, f"git mv-promote {' '.join(args)} exited {proc.returncode}\n{proc.stdout}\n{proc.stderr}"
    return result


@pytest.fixture
def mv_proc():
    return run_mv_proc


class ModelRepo:
    """A repository with the test policy committed, alice allowed to sign, and an eval script."""

    def __init__(self, path: Path, keys: Keys, policy: str = POLICY, signers: tuple[str, ...] = ("alice",),
                 extra_signers: str = ""):
        self.path = path
        self.keys = keys
        path.mkdir(parents=True, exist_ok=True)
        git("init", "-q", cwd=path)
        (path / "eval.py").write_text(EVAL_SCRIPT)
        (path / ".mv-promote.toml").write_text(policy)
        (path / ".mv-promote").mkdir(exist_ok=True)
        (path / ".mv-promote" / "allowed_signers").write_text(
            "".join(keys.allowed_line(k) for k in signers) + extra_signers)
        self.commit("Add policy")

    def git(self, *args, check=True) -> str:
        return git(*args, cwd=self.path, check=check)

    def commit(self, message: str) -> str:
        self.git("add", "-A")
        self.git("commit", "-q", "-m", message)
        return self.git("rev-parse", "HEAD")

    def write_model(self, auc: float, eu: float, latency: float = 5.0) -> None:
        (self.path / "model.bin").write_text(f"{auc} {eu} {latency}\n")

    def version(self, auc: float, eu: float, latency: float = 5.0, evaluate: bool = True) -> str:
        self.write_model(auc, eu, latency)
        self.commit(f"train auc={auc} eu={eu}")
        result = run_mv("register", "churn", "-m", f"auc {auc}", "--json", cwd=self.path)
        name = result.json["version"]
        if evaluate:
            run_mv("eval", "churn", name, cwd=self.path)
        return name

    def mv(self, *args, code: int | None = 0) -> Result:
        return run_mv(*args, cwd=self.path, code=code)

    def ref(self, name: str) -> str | None:
        out = self.git("rev-parse", "-q", "--verify", name, check=False)
        return out or None

    def as_(self, who: str) -> tuple[str, ...]:
        """git options to commit, sign and merge as `who` (one of the test keys)."""
        return ("-c", f"user.name={who.title()}", "-c", f"user.email={who}@example.com",
                "-c", f"user.signingkey={self.keys.private(who)}")

    def merge(self, branch: str, *, by: str = "bob", signed: bool = True, message: str | None = None) -> str:
        """Merge `branch` into the current branch with a merge commit made (and signed) by `by`:
        how a change to the policy, the signers or promotions/** reaches a protected branch."""
        self.git(*self.as_(by), "merge", "--no-ff", "-q", *(["-S"] if signed else []),
                 "-m", message or f"Merge {branch}", branch)
        return self.git("rev-parse", "HEAD")

    def reviewed_change(self, files: dict[str, str], message: str, *, reviewer: str = "bob") -> str:
        """Commit `files` on a side branch and merge it into the current branch, the merge signed by
        `reviewer` (an allowed signer): a reviewed change that the protected-branch guard accepts."""
        here = self.git("symbolic-ref", "--short", "HEAD")
        side = "review/change"  # deleted again below
        self.git("checkout", "-q", "-b", side)
        for name, text in files.items():
            target = self.path / name
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(text)
        self.commit(message)
        self.git("checkout", "-q", here)
        self.merge(side, by=reviewer)
        self.git("branch", "-q", "-D", side)
        return self.git("rev-parse", "HEAD")


HOSTS = ["daemon", "http"]


@pytest.fixture(scope="session")
def hosts(tmp_path_factory):
    """One git daemon and one nginx/http-backend for the session; each test serves its own repo."""
    base = tmp_path_factory.mktemp("served")
    work = tmp_path_factory.mktemp("nginx")
    home = tmp_path_factory.mktemp("server-home")
    env = {"PATH": os.environ["PATH"], "HOME": str(home), "GIT_CONFIG_NOSYSTEM": "1", "LC_ALL": "C"}
    with git_daemon(base, env=env) as daemon_url, http_backend(base, work, env=env) as http_url:
        yield base, {"daemon": daemon_url, "http": http_url}


@pytest.fixture(params=HOSTS)
def server(request, hosts, tmp_path):
    base, urls = hosts
    name = f"{tmp_path.name}.git"
    bare = make_bare(base, name, initial_branch="main")
    run_mv("hooks", "install", "--server", str(bare), cwd=tmp_path)
    return Server(bare, urls[request.param] + name)


class Server:
    def __init__(self, path: Path, url: str):
        self.path = path
        self.url = url

    def refs(self) -> dict[str, str]:
        out = git("for-each-ref", "--format=%(refname) %(objectname)", cwd=self.path)
        return dict(line.split(" ", 1) for line in out.splitlines()) if out else {}


def push(repo: ModelRepo, *refspecs: str, force: bool = False) -> subprocess.CompletedProcess:
    args = ["git", "push", "--no-verify", "--porcelain"] + (["--force"] if force else []) + ["origin", *refspecs]
    return subprocess.run(args, cwd=repo.path, capture_output=True, text=True)


def refused(proc: subprocess.CompletedProcess, rule: str) -> None:
    text = proc.stdout + proc.stderr
    assert proc.returncode != 0, f"push was accepted:\n{text}"
    assert "remote: mv-promote: refused" in text, text
    assert rule in text, f"expected rule {rule!r} in:\n{text}"


def accepted(proc: subprocess.CompletedProcess) -> None:
    assert proc.returncode == 0, proc.stdout + proc.stderr


def published_repo(server: Server, tmp_path: Path, keys: Keys, stages=("staging", "production"),
                   extra_signers: str = "") -> ModelRepo:
    """alice's clone: policy on main, v1 (auc 0.85, eu 0.80) evaluated and promoted to `stages`,
    all pushed to `server`. `extra_signers`: more allowed-signers lines, as written."""
    repo = ModelRepo(tmp_path / "alice", keys, extra_signers=extra_signers)
    repo.git("remote", "add", "origin", server.url)
    accepted(push(repo, "main"))
    v1 = repo.version(0.85, 0.80)
    for stage in stages:
        repo.mv("promote", "churn", v1, "--stage", stage)
    accepted(push(repo, "refs/tags/mv/*:refs/tags/mv/*", "refs/notes/mv-promote"))
    return repo


@pytest.fixture
def model_repo(tmp_path, keys) -> ModelRepo:
    return ModelRepo(tmp_path / "repo", keys)


@pytest.fixture
def verified_registry(model_repo) -> ModelRepo:
    """v1 promoted to production and v2 registered, both evaluated; HEAD is v2's commit; `verify`
    has passed once (so its verdict cache is filled)."""
    r = model_repo
    r.version(0.85, 0.80)
    r.mv("promote", "churn", "v1", "--stage", "production")
    r.version(0.90, 0.85)
    assert r.mv("verify", "--json").json["ok"] is True
    return r


# ---------------------------------------------------------------- forging tags by hand (what an attacker can do)

def tag_message(repo: "ModelRepo", ref: str) -> bytes:
    """A tag's message exactly as stored, without its signature."""
    from gitmv.records import split_signature

    raw = subprocess.run(["git", "cat-file", "tag", ref], cwd=repo.path, capture_output=True, check=True).stdout
    message, _ = split_signature(raw.split(b"\n\n", 1)[1])
    return message


def make_tag(repo: "ModelRepo", ref: str, *, target: str, message: bytes, key: str | None) -> None:
    """Create the tag `ref` by hand at `target` with exactly `message`: unsigned, or signed with `key`."""
    msg = repo.path.parent / "forged-message"
    msg.write_bytes(message)
    args = ["-c", "advice.nestedTag=false"]
    if key:
        args += ["-c", f"user.signingkey={repo.keys.private(key)}", "tag", "-s"]
    else:
        args += ["tag", "-a"]
    repo.git(*args, "--cleanup=verbatim", "-F", str(msg), ref.removeprefix("refs/tags/"), target)
    msg.unlink()


def remake_tag(repo: "ModelRepo", ref: str, *, target: str, message: bytes, key: str | None) -> None:
    """Delete the tag `ref` and create it again by hand (see make_tag)."""
    repo.git("tag", "-d", ref.removeprefix("refs/tags/"))
    make_tag(repo, ref, target=target, message=message, key=key)


def recreate(repo: "ModelRepo", ref: str, *, key: str | None) -> None:
    """Re-create an existing local tag with the same message and target, unsigned or signed by `key`."""
    target = repo.git("cat-file", "-p", ref).split()[1]  # the tag object's `object` line
    remake_tag(repo, ref, target=target, message=tag_message(repo, ref), key=key)


def forge_stage_tag(repo: "ModelRepo", version: str, stage: str, seq: int, *, kind: str = "promote",
                    key: str | None = "alice", target: str | None = None, eval_record: str | None = None,
                    traffic: int | None = None) -> str:
    """Write a stage tag by hand (what a hostile or buggy client could do), bypassing the local gate.
    With `traffic`, the record carries that share (schema 2, as a rollout stage's records are)."""
    from gitmv.records import PromotionRecord, promotion_schema

    version_tag = repo.git("rev-parse", f"refs/tags/mv/churn/{version}")
    record = PromotionRecord(kind=kind, model="churn", version=version, version_tag=version_tag, stage=stage, seq=seq,
                             at="2026-11-01T09:00:00Z", by="Alice <alice@example.com>", policy_digest="sha256:x",
                             eval_record=eval_record, reason="forged", traffic=traffic,
                             schema=promotion_schema(traffic))
    ref = f"refs/tags/mv/churn/{stage}/{seq}"
    make_tag(repo, ref, target=target or version_tag, message=record.to_message().encode(), key=key)
    return ref


# ---------------------------------------------------------------- approval by review, with a server

# policy_approvals = 0: the protected-branch guard (R7, tests/hooks/test_branch_guard.py) then only asks
# that promotions/** arrive by merge, so these tests reach the promotion's own approval rule (R1
# approvals) with merges that R7 would otherwise already refuse at the push of main.
APPROVAL_POLICY = POLICY.replace("approvals = 0", "approvals = 1").replace(
    'allowed_signers = ".mv-promote/allowed_signers"\n',
    'allowed_signers = ".mv-promote/allowed_signers"\nhost_signers = ".mv-promote/host_signers"\n'
    "policy_approvals = 0\n")


class Reviewer:
    def __init__(self, path, url, keys, name):
        self.path = path
        self.keys = keys
        subprocess.run(["git", "clone", "-q", url, str(path)], check=True, capture_output=True)
        self.git("config", "user.name", name.title())
        self.git("config", "user.email", f"{name}@example.com")
        self.git("config", "user.signingkey", str(keys.private(name)))

    def git(self, *args, check=True, env=None):
        return git(*args, cwd=self.path, check=check, env=env)

    def mv(self, *args, code=0):
        return run_mv(*args, cwd=self.path, code=code)

    def merge(self, branch: str, *, sign: bool, trailers: str = "", edit=None, key: str | None = None,
              env: dict | None = None) -> None:
        self.git("fetch", "-q", "origin")
        self.git("checkout", "-q", "main")
        self.git("reset", "-q", "--hard", "origin/main")
        how = ["-S"] if sign else ["--no-gpg-sign"]
        config = ["-c", f"user.signingkey={key}"] if key else []
        self.git(*config, "merge", *how, "--no-ff", "-q", "-m", f"Merge pull request #7 from {branch}\n\n{trailers}",
                 f"origin/{branch}", env=env)
        if edit:
            edit(self)
        self.git("push", "-q", "origin", "main")


def promote_and_push(alice: ModelRepo, version: str, seq: int, judged=None) -> dict:
    """alice up to date with the server, `version` promoted to production and pushed; the push's
    result checked by `judged` (default: accepted)."""
    alice.git("pull", "-q", "--no-rebase", "origin", "main")
    alice.mv("sync")
    result = alice.mv("promote", "churn", version, "--stage", "production", "--json").json
    (judged or accepted)(push(alice, f"refs/tags/mv/churn/production/{seq}", "refs/notes/mv-promote"))
    return result["record"]["approval"]


def forced_promote(repo: ModelRepo, version: str, stage: str, monkeypatch, *extra: str) -> dict:
    """What an insider's patched client does: the real `promote`, every gate criterion forced to
    pass. The stage record is otherwise honest (policy digest, previous, seq, at, eval record);
    only a rule that re-judges the gate can tell."""
    from gitmv.rules import gate, promotion

    real = promotion.promotion_verdict

    def everything_passes(*args, **kwargs):
        verdict = real(*args, **kwargs)
        verdict.criteria = [gate.Criterion(c.name, True, c.detail) for c in verdict.criteria]
        return verdict

    with monkeypatch.context() as m:
        m.setattr(promotion, "promotion_verdict", everything_passes)
        return run_mv("promote", "churn", version, "--stage", stage, "--offline", "--json", *extra,
                      cwd=repo.path).json


def approval_repo(server: "Server", tmp_path: Path, keys: Keys, allowed_signers: str, message: str):
    """alice's repository on `server` (signers file `allowed_signers`, host "github" web merges
    signed by mallory's key), main pushed, and bob, a reviewer: (alice, bob)."""
    alice = ModelRepo(tmp_path / "alice", keys, policy=APPROVAL_POLICY)
    signers = alice.path / ".mv-promote"
    (signers / "allowed_signers").write_text(allowed_signers)
    (signers / "host_signers").write_text(f'github namespaces="git" {keys.public("mallory")}\n')
    alice.commit(message)
    alice.git("remote", "add", "origin", server.url)
    accepted(push(alice, "main"))
    return alice, Reviewer(tmp_path / "bob", server.url, keys, "bob")


def request_reviewed(alice: ModelRepo, bob: "Reviewer", version: str) -> None:
    """`version` in staging, its production request pushed and merged by bob with a signed merge."""
    alice.mv("promote", "churn", version, "--stage", "staging")
    alice.mv("request", "churn", version, "--stage", "production", "--push")
    bob.merge(f"mv-promote/churn/{version}-production", sign=True)


def approval_team(server: "Server", tmp_path: Path, keys: Keys, allowed_signers: str, message: str):
    """alice (as `approval_repo`) publishes v1 in production, approved by bob's signed merge, then
    registers a better v2: (alice, bob, v2)."""
    alice, bob = approval_repo(server, tmp_path, keys, allowed_signers, message)
    v1 = alice.version(0.85, 0.80)
    request_reviewed(alice, bob, v1)
    promote_and_push(alice, v1, 1)
    v2 = alice.version(0.90, 0.85)
    alice.mv("sync")
    return alice, bob, v2


def hand_record(r: ModelRepo, version: str, kind: str, body: dict, at: str = "2026-11-01T09:00:00Z") -> dict:
    """Append a record signed by alice to the note on `version` (the library's own writer): what
    an insider writes without the command that would refuse it."""
    from gitmv.git import notes, record_signing
    from gitmv.git.repo import Repo

    repo = Repo.discover(r.path)
    signers = (r.path / ".mv-promote" / "allowed_signers").read_bytes()
    rec = record_signing.new_record(repo, kind, body, at=at, allowed_signers=signers, signed=True)
    notes.append(repo, tag_of(r, version), [rec], f"hand-made {kind} on churn {version}")
    return rec


def old_format_eval(r: ModelRepo, version: str) -> dict:
    """An eval of `version`, signed and bound to its digests, without `code_commit` (written by
    hand: from before R9, or to get around it)."""
    shown = r.mv("show", "churn", version, "--json").json
    return hand_record(r, version, "eval", {
        "model": "churn", "version": version, "suite": "holdout",
        "artifacts": {p: a["sha256"] for p, a in shown["record"]["artifacts"].items()},
        "metrics": {"auc": 0.95, "latency_ms": 4.0}, "slices": {"region=eu": {"auc": 0.95}},
        "command": "python3 eval.py {artifact} {output}", "exit_status": 0, "duration_s": 0.1})


# ---------------------------------------------------------------- clones of a server, reliability figures

class Clone(ModelRepo):
    """A clone of a server (not a fresh repository), with its own committer identity. Every
    clone signs with alice's key (the one allowed signer of the test policy)."""

    def __init__(self, path: Path, url: str, keys, *, name: str = "Bob", tags: bool = True):
        self.path = path
        self.keys = keys
        subprocess.run(["git", "clone", "-q", *([] if tags else ["--no-tags"]), url, str(path)],
                       check=True, capture_output=True)
        self.git("config", "user.name", name)
        self.git("config", "user.email", f"{name.lower()}@example.com")


def eval_from(repo: ModelRepo, version: str, auc: float, eu: float | None = None, *, extra: dict | None = None,
              code: int | None = 0):
    """Record an eval of `version` from a metrics file: distinct numbers make distinct records."""
    metrics = {"auc": auc, "latency_ms": 5.0, **(extra or {})}
    report = {"metrics": metrics, "slices": {"region=eu": {"auc": eu if eu is not None else auc}}}
    f = repo.path.parent / f"metrics-{repo.path.name}.json"
    f.write_text(json.dumps(report))
    return run_mv("eval", "churn", version, "--from-file", str(f), "--json", cwd=repo.path, code=code)


@pytest.fixture
def daemon_server(hosts, tmp_path) -> Server:
    base, urls = hosts
    name = f"{tmp_path.name}.git"
    bare = make_bare(base, name, initial_branch="main")
    run_mv("hooks", "install", "--server", str(bare), cwd=tmp_path)
    return Server(bare, urls["daemon"] + name)


FIGURES = "reliability figures"  # the user property pytest_terminal_summary prints


def report_figures(record_property, title: str, figures: dict) -> None:
    """Record the figures on the test's report, so the run's summary shows them in CI logs: a
    report property, unlike a print, reaches the terminal from pytest-xdist's workers too."""
    line = f"[reliability] {title}: " + ", ".join(f"{k}={v}" for k, v in figures.items())
    print(line)
    for key, value in figures.items():
        record_property(key, value)
    record_property(FIGURES, line)


def pytest_terminal_summary(terminalreporter) -> None:
    lines = [value for reports in terminalreporter.stats.values() for rep in reports
             for name, value in getattr(rep, "user_properties", ()) if name == FIGURES
             and getattr(rep, "when", "call") == "call"]
    if lines:
        terminalreporter.section("reliability figures")
        for line in lines:
            terminalreporter.write_line(line)


# ---------------------------------------------------------------- published registries and hand-edited evidence

@pytest.fixture
def published(server, tmp_path, keys):
    return published_repo(server, tmp_path, keys)


@pytest.fixture
def published_v2(server, tmp_path, keys):
    """v1 live in production on the server, v2 registered (not evaluated) and pushed."""
    repo = published_repo(server, tmp_path, keys, stages=("production",))
    repo.version(0.90, 0.85, evaluate=False)
    accepted(push(repo, "refs/tags/mv/churn/v2"))
    return repo


@pytest.fixture
def live(server, tmp_path, keys):
    """v1 in production on the server, v2 (better) registered, evaluated and pushed."""
    repo = published_repo(server, tmp_path, keys, stages=("production",))
    repo.version(0.90, 0.85)
    accepted(push(repo, "refs/tags/mv/churn/v2", "refs/notes/mv-promote"))
    return repo


def tag_of(repo: ModelRepo, version: str) -> str:
    return repo.git("rev-parse", f"refs/tags/mv/churn/{version}")


def note_text(repo: ModelRepo, version: str) -> str:
    return repo.git("notes", "--ref", "mv-promote", "show", tag_of(repo, version)) + "\n"


def put_note(repo: ModelRepo, version: str, text: str) -> None:
    """Replace the note (a new notes commit on top of the current one: a fast-forward)."""
    repo.git("notes", "--ref", "mv-promote", "add", "-f", "-m", text.rstrip("\n"), tag_of(repo, version))


def weaken(repo: ModelRepo, floor: str = "0.10") -> None:
    path = repo.path / ".mv-promote.toml"
    text = path.read_text()
    assert "auc = 0.80" in text or "auc = 0.10" in text
    path.write_text(text.replace("auc = 0.80", f"auc = {floor}").replace("auc = 0.10", f"auc = {floor}"))


def approve(repo: ModelRepo, branch: str, by: str = "bob") -> None:
    """`by` signs an empty approve commit on `branch` naming the tree of its tip."""
    repo.git("checkout", "-q", branch)
    tree = repo.git("rev-parse", "HEAD^{tree}")
    repo.git(*repo.as_(by), "commit", "-q", "--allow-empty", "-S", "-m", "approve",
             "-m", f"Mv-Promote-Approve: tree:{tree}")
    repo.git("checkout", "-q", "main")


# ---------------------------------------------------------------- DVC repositories and remotes
# A churn model trained by a DVC pipeline (model.bin is a DVC output, never committed); its
# remote is a local directory (`drepo`) or an S3 bucket served by moto on 127.0.0.1 (`s3_remote`).

DVC_TRAIN = '''import hashlib, pathlib, yaml
params = yaml.safe_load(open("params.yaml"))
h = hashlib.sha256(str(params["seed"]).encode())
for f in sorted(pathlib.Path("data/train").iterdir()):
    h.update(f.name.encode() + f.read_bytes())
pathlib.Path("model.bin").write_text(h.hexdigest() + "\\n")
'''
DVC_EVAL = '''import json, sys
digest = open(sys.argv[1]).read().strip()
auc = 0.8 + int(digest[:2], 16) / 2550
json.dump({"metrics": {"auc": round(auc, 4)}, "slices": {"region=eu": {"auc": round(auc, 4)}}}, open(sys.argv[2], "w"))
'''
DVC_YAML = '''stages:
  train:
    cmd: python3 train.py
    deps:
      - train.py
      - data/train
    params:
      - seed
    outs:
      - model.bin
  eval:
    cmd: python3 eval.py model.bin metrics.json
    deps:
      - eval.py
      - model.bin
    outs:
      - metrics.json:
          cache: false
'''
DVC_POLICY = '''schema = 1
[registry]
stages = ["staging", "production"]
protected_stages = ["production"]
allowed_signers = ".mv-promote/allowed_signers"
[models.churn]
artifacts = ["model.bin"]
data = ["data/train.dvc"]
params = "params.yaml"
[models.churn.eval]
suite = "holdout"
command = "python3 eval.py {artifact} {output}"
[models.churn.gate]
metrics = { auc = "max" }
max_regression = { auc = 1.0 }
'''


def dvc(*args, cwd, check=True):
    proc = subprocess.run(["dvc", *args], cwd=cwd, capture_output=True, text=True)
    if check and proc.returncode != 0:
        raise AssertionError(f"dvc {' '.join(args)}: {proc.stdout}{proc.stderr}")
    return proc


class DvcRepo:
    def __init__(self, path: Path, keys, remote_args: list[str]):
        self.path = path
        path.mkdir()
        git("init", "-q", cwd=path)
        dvc("init", "-q", cwd=path)
        dvc("config", "core.analytics", "false", cwd=path)
        dvc("config", "core.check_update", "false", cwd=path)
        dvc("remote", "add", "-d", *remote_args, cwd=path)
        (path / "train.py").write_text(DVC_TRAIN)
        (path / "eval.py").write_text(DVC_EVAL)
        (path / "dvc.yaml").write_text(DVC_YAML)
        (path / "params.yaml").write_text("seed: 7\n")
        (path / ".mv-promote.toml").write_text(DVC_POLICY)
        (path / ".mv-promote").mkdir()
        (path / ".mv-promote" / "allowed_signers").write_text(keys.allowed_line("alice"))
        data = path / "data" / "train"
        data.mkdir(parents=True)
        for name in ("a.csv", "b.csv", "c.csv"):
            (data / name).write_text(f"{name},1\n")
        dvc("add", "-q", "data/train", cwd=path)
        self.commit("data and pipeline")

    def commit(self, message):
        git("add", "-A", cwd=self.path)
        git("commit", "-q", "-m", message, cwd=self.path)

    def train_and_register(self, message="train") -> str:
        dvc("repro", "-q", "train", cwd=self.path)
        dvc("push", "-q", cwd=self.path)
        self.commit(message)
        return run_mv("register", "churn", "-m", message, "--json", cwd=self.path).json["version"]

    def two_versions_in(self, stage: str) -> None:
        """v1 trained, evaluated and promoted to `stage`; then retrained with another seed as v2,
        which replaces it there (v1 is the stage's rollback target)."""
        for message in ("v1", "v2"):
            if message == "v2":
                (self.path / "params.yaml").write_text("seed: 8\n")
            version = self.train_and_register(message)
            run_mv("eval", "churn", version, cwd=self.path)
            run_mv("promote", "churn", version, "--stage", stage, cwd=self.path)

    def remote_objects(self, root: Path) -> list[Path]:
        return [p for p in root.rglob("*") if p.is_file()]


@pytest.fixture
def dvc_env(monkeypatch):
    monkeypatch.setenv("DVC_NO_ANALYTICS", "1")
    for var in ("HTTP_PROXY", "HTTPS_PROXY", "http_proxy", "https_proxy"):
        monkeypatch.delenv(var, raising=False)


@pytest.fixture
def local_remote(tmp_path):
    return tmp_path / "dvc-remote"


@pytest.fixture
def drepo(tmp_path, keys, dvc_env, local_remote):
    local_remote.mkdir()
    return DvcRepo(tmp_path / "repo", keys, ["store", str(local_remote)])


@pytest.fixture
def s3_remote(monkeypatch):
    boto3 = pytest.importorskip("boto3")
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    endpoint = f"http://{host}:{port}"
    for key, value in {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
                       "AWS_DEFAULT_REGION": "us-east-1"}.items():
        monkeypatch.setenv(key, value)
    client = boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1")
    client.create_bucket(Bucket="models")
    yield endpoint, client
    server.stop()


# ---------------------------------------------------------------- replay: real scikit-learn versions
# Two (or more) classifiers trained on scikit-learn's breast cancer data with different
# hyperparameters, pickled as model.bin; predict.py writes one label per input row; the inputs
# are the held-out rows, committed as data/prod.csv (or pinned by DVC).

REPLAY_POLICY = '''schema = 1

[registry]
stages = ["staging", "production"]
protected_stages = ["production"]
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
max_regression = { auc = 1.0 }
replay = { against = "production", min_agreement = 0.98 }

[models.churn.replay]
command = "python3 predict.py {artifact} {inputs} {output}"
inputs = "data/prod.csv"
'''
REPLAY_PREDICT = '''import pickle, sys
import numpy as np
model = pickle.load(open(sys.argv[1], "rb"))
rows = np.loadtxt(sys.argv[2], delimiter=",", skiprows=1, ndmin=2)
names = {0: "malignant", 1: "benign"}
with open(sys.argv[3], "w") as out:
    for label in model.predict(rows):
        out.write(names[int(label)] + "\\n")
'''
REPLAY_EVAL = '''import json, pickle, sys
import numpy as np
model = pickle.load(open(sys.argv[1], "rb"))
data = np.loadtxt("data/holdout.csv", delimiter=",", skiprows=1, ndmin=2)
accuracy = float((model.predict(data[:, :-1]) == data[:, -1]).mean())
json.dump({"metrics": {"auc": accuracy}}, open(sys.argv[2], "w"))
'''
# kind -> the estimator: lr-1 and lr-0.1 agree on 168 of the 169 held-out rows (0.994), tree-2
# and lr-1 on 154 (0.911)
CLASSIFIERS = ("lr-1", "lr-0.1", "tree-2")


def breast_cancer_split():
    from sklearn.datasets import load_breast_cancer
    import numpy as np

    X, y = load_breast_cancer(return_X_y=True)
    order = np.random.RandomState(0).permutation(len(X))
    return X[order[:400]], y[order[:400]], X[order[400:]], y[order[400:]]


def train_classifier(kind: str) -> bytes:
    """A pickled scikit-learn classifier of `kind` (CLASSIFIERS), trained on the first 400 rows."""
    import pickle

    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler
    from sklearn.tree import DecisionTreeClassifier

    X, y, _, _ = breast_cancer_split()
    if kind.startswith("lr-"):
        model = make_pipeline(StandardScaler(), LogisticRegression(C=float(kind[3:]), max_iter=5000))
    else:
        model = DecisionTreeClassifier(max_depth=int(kind.split("-")[1]), random_state=0)
    return pickle.dumps(model.fit(X, y))


def csv_rows(X, header: str) -> str:
    return header + "\n" + "".join(",".join(repr(float(v)) for v in row) + "\n" for row in X)


class SklearnRepo(ModelRepo):
    """A repository whose versions are real scikit-learn classifiers, with a replay policy."""

    def __init__(self, path: Path, keys: Keys, policy: str = REPLAY_POLICY, inputs: bool = True):
        pytest.importorskip("sklearn")
        super().__init__(path, keys, policy=policy)
        _, _, X, y = breast_cancer_split()
        (path / "predict.py").write_text(REPLAY_PREDICT)
        (path / "eval.py").write_text(REPLAY_EVAL)
        (path / "data").mkdir(exist_ok=True)
        features = ",".join(f"f{i}" for i in range(X.shape[1]))
        (path / "data" / "holdout.csv").write_text(
            features + ",label\n" + "".join(",".join(repr(float(v)) for v in row) + f",{int(t)}\n" for row, t in zip(X, y, strict=True)))
        self.inputs = csv_rows(X, features)  # the held-out rows without their labels
        if inputs:
            (path / "data" / "prod.csv").write_text(self.inputs)
        self.commit("predict, eval and production inputs")

    def classifier(self, kind: str, evaluate: bool = True) -> str:
        """Commit model.bin trained as `kind`, register it (and eval it): the version name."""
        (self.path / "model.bin").write_bytes(train_classifier(kind))
        self.commit(f"train {kind}")
        name = run_mv("register", "churn", "-m", kind, "--json", cwd=self.path).json["version"]
        if evaluate:
            run_mv("eval", "churn", name, cwd=self.path)
        return name
