#!/usr/bin/env python3
"""Build synthetic model registries fast, for the benchmarks (never for tests).

Two flavours over the *same* commits (same bytes, same dates, hence the same commit ids):

* ``mv``  — git mv-promote's format: annotated version tags ``refs/tags/mv/<model>/v<N>`` whose
  message is ``VersionRecord(...).to_message()``, stage tags ``refs/tags/mv/<model>/<stage>/<seq>``
  pointing at the version tag object with ``PromotionRecord(...).to_message()``, and one eval
  record per version in ``refs/notes/mv-promote`` at 2/38 fan-out (``render_note``).
* ``gto`` — the GTO twin: ``<model>@v0.0.<N>`` annotated tags on the same commits,
  ``<model>#<stage>#<counter>`` annotated tags for the same stage history, ``artifacts.yaml`` and a
  ``.gto`` config naming the stages.

Everything is written with ``git fast-import`` (three short runs: commits, version tags, then stage
tags + the notes commit, because a stage record must name its version tag's object id), never a
``git tag`` process per tag, and refs are packed at the end (the state of a repository after
``git gc``). The bulk tags and eval records are SIGNED like the ones git mv-promote writes, so
they satisfy the Trust rules (a gate counts only signed evals; reads check tag signatures): each
signature is an SSHSIG made in-process with the benchmark's ed25519 key (``Signer``; the same bytes
``ssh-keygen -Y sign -n git`` makes, ed25519 being deterministic), never a process per tag. Stage
records claim only what is true: ``previous`` (the stage's version before), ``at`` (= tagger time),
``by`` (= the signing key's principal), ``signer`` (its fingerprint) and the policy's digest. What
the write benchmarks create (register, promote, the pushed stage tag) is signed by git mv-promote
itself, with the ssh key made here in a private HOME and listed in the committed
``.mv-promote/allowed_signers`` (beside ``bob``, the reviewer whose signed merges approve).

History shape, per model (10 models m0..m9, versions spread round-robin, one commit per version
that rewrites ``models/<m>/model.bin``): v1 and every ``STAGING_EVERY``-th version are promoted to
staging, v1 and every ``PRODUCTION_EVERY``-th to production (5,000 versions carry 620 stage tags;
even a 100-ref repository has a current version in both stages, so small and large repositories
answer the same questions).
The artifact holds ``"<auc> <eu_auc> <latency_ms>"`` like the test suite's model, and
``eval.py`` turns it into metrics, so later versions beat earlier ones and pass the gate.

Usage:  python benchmarks/make_repo.py --versions 5000 [--gto] [--force]
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import json
import os
import shutil
import subprocess
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
OUT = HERE / "out"
sys.path.insert(0, str(ROOT))

from gitmv.policy import parse_policy
from gitmv.records import (PromotionRecord, VersionRecord, make_note_record, record_payload,
                           render_note)
from gitmv.git.signing import signing_key_fingerprint, verify_signature

FORMAT_VERSION = 5  # bump when the layout changes: cached repos are rebuilt
MODELS = 10
STAGES = ("staging", "production")
STAGING_EVERY = 10
PRODUCTION_EVERY = 50
BASE_EPOCH = 1767225600  # 2026-01-01T00:00:00Z
STEP = 60  # seconds between versions
WHO = "Bench <bench@example.com>"
PRINCIPAL = "bench@example.com"  # the benchmark key's principal in the allowed signers
REVIEWER = "bob@example.com"  # a second allowed signer: signs the merges that approve (R7, approvals)
EVAL_COMMAND = "python3 eval.py {artifact} {output}"

EVAL_SCRIPT = '''import json, sys
# model.bin holds "auc eu_auc [latency]" (the test suite's convention)
parts = open(sys.argv[1]).read().split()
metrics = {"auc": float(parts[0]), "latency_ms": float(parts[2]) if len(parts) > 2 else 5.0}
json.dump({"metrics": metrics, "slices": {"region=eu": {"auc": float(parts[1])},
                                          "region=us": {"auc": float(parts[0])}}}, open(sys.argv[2], "w"))
'''


def model_names(n: int = MODELS) -> list[str]:
    return [f"m{k}" for k in range(n)]


def policy_text(models: list[str], tier: str = "production") -> str:
    """The shape of tests/conftest.py POLICY, one table per model. Staging is unprotected,
    production protected with one approval."""
    out = ['schema = 1', '', '[registry]', 'stages = ["staging", "production"]',
           'protected_stages = ["production"]', 'protected_branch = "main"',
           'allowed_signers = ".mv-promote/allowed_signers"', '']
    for m in models:
        out += [f'[models.{m}]', f'tier = "{tier}"', f'artifacts = ["models/{m}/model.bin"]', '',
                f'[models.{m}.eval]', 'suite = "holdout"', f'command = "{EVAL_COMMAND}"', '',
                f'[models.{m}.gate]', 'metrics = { auc = "max", latency_ms = "min" }',
                'thresholds = { auc = 0.80 }', 'max_regression = { auc = 0.0, latency_ms = 1.0 }',
                'protected_slices = ["region=eu"]', 'approvals = 1', '']
    return "\n".join(out)


def gto_files(models: list[str]) -> dict[str, str]:
    index = "".join(f"{m}:\n  type: model\n  path: models/{m}/model.bin\n  virtual: false\n"
                    f"  description: synthetic benchmark model {m}\n" for m in models)
    return {"artifacts.yaml": index, ".gto": "stages: [staging, production]\ntypes: [model]\n"}


def artifact_bytes(j: int) -> bytes:
    """Version j of a model: strictly better auc than j-1 (distinct digests)."""
    auc = 0.80 + j * 1e-5
    return f"{auc:.5f} {auc:.5f} 5.0\n".encode()


def iso(epoch: int) -> str:
    return datetime.fromtimestamp(epoch, timezone.utc).isoformat().replace("+00:00", "Z")


# ---------------------------------------------------------------- environment

def hermetic_env(home: Path, extra_path: list[str] | None = None) -> dict:
    """No user or system git config, no GIT_* leaking in, a private HOME, C locale, Python as a
    user runs it (bytecode cached, output buffered), and the interpreter running this script
    first on PATH (so `git mv-promote` is the real entry point, not a pyenv shim)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("GIT_", "GTO_"))}
    env.pop("MV_PROMOTE_PYTHON", None)
    env.update(HOME=str(home), XDG_CONFIG_HOME=str(home / ".config"), GIT_CONFIG_NOSYSTEM="1", LC_ALL="C",
               GIT_TERMINAL_PROMPT="0", GTO_EMOJIS="false", PYTHONDONTWRITEBYTECODE="")
    env.pop("PYTHONDONTWRITEBYTECODE")
    env.pop("PYTHONUNBUFFERED", None)  # a user's commands write through a buffer: so do the measured ones
    path = [str(Path(sys.executable).parent)] + list(extra_path or []) + env.get("PATH", "").split(os.pathsep)
    env["PATH"] = os.pathsep.join(dict.fromkeys(p for p in path if p))
    return env


def ensure_home(out: Path = OUT) -> Path:
    """out/home: .gitconfig with identity and ssh signing; the key itself under out/home/.ssh."""
    home = out / "home"
    key = home / ".ssh" / "bench"
    if not key.exists():
        key.parent.mkdir(parents=True, exist_ok=True)
        subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "bench@example.com", "-f", str(key)],
                       check=True)
    cfg = (f"[user]\n\tname = Bench\n\temail = bench@example.com\n\tsigningkey = {key}\n"
           "[gpg]\n\tformat = ssh\n[init]\n\tdefaultBranch = main\n[advice]\n\tdetachedHead = false\n"
           "\tnestedTag = false\n[protocol \"file\"]\n\tallow = always\n[gc]\n\tauto = 0\n"
           "[maintenance]\n\tauto = false\n")
    (home / ".gitconfig").write_text(cfg)
    return home


def public_key(home: Path, name: str = "bench") -> str:
    return " ".join((home / ".ssh" / f"{name}.pub").read_text().split()[:2])


def reviewer_key(home: Path) -> Path:
    """out/home/.ssh/bob: the reviewer's key (an allowed signer other than the benchmark's own)."""
    key = home / ".ssh" / "bob"
    if not key.exists():
        subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", REVIEWER, "-f", str(key)], check=True)
    return key


def allowed_signers(home: Path) -> bytes:
    reviewer_key(home)
    return (f'{PRINCIPAL} namespaces="git" {public_key(home)}\n'
            f'{REVIEWER} namespaces="git" {public_key(home, "bob")}\n').encode()


class Signer:
    """SSHSIG signatures (PROTOCOL.sshsig, namespace "git", sha512) with the benchmark's ed25519
    key, in-process: what `ssh-keygen -Y sign` writes, at microseconds per signature."""

    def __init__(self, home: Path):
        from cryptography.hazmat.primitives import serialization

        self.key = serialization.load_ssh_private_key((home / ".ssh" / "bench").read_bytes(), password=None)
        self.pub_blob = base64.b64decode(public_key(home).split()[1])

    @staticmethod
    def _string(b: bytes) -> bytes:
        return len(b).to_bytes(4, "big") + b

    def sign(self, payload: bytes, namespace: bytes = b"git") -> bytes:
        st = self._string
        signed = b"SSHSIG" + st(namespace) + st(b"") + st(b"sha512") + st(hashlib.sha512(payload).digest())
        sig = st(b"ssh-ed25519") + st(self.key.sign(signed))
        blob = b"SSHSIG" + (1).to_bytes(4, "big") + st(self.pub_blob) + st(namespace) + st(b"") + st(b"sha512") + st(sig)
        b64 = base64.b64encode(blob)
        lines = [b64[k:k + 70] for k in range(0, len(b64), 70)]
        return b"-----BEGIN SSH SIGNATURE-----\n" + b"\n".join(lines) + b"\n-----END SSH SIGNATURE-----\n"

    def tag_message(self, target: str, type_: str, name: str, tagger: bytes, message: bytes) -> bytes:
        """The message of a signed tag: git signs the object's headers and message, and appends the
        signature to the message."""
        payload = b"object %s\ntype %s\ntag %s\ntagger %s\n\n" % (target.encode(), type_.encode(), name.encode(),
                                                                  tagger) + message
        return message + self.sign(payload)

    def record(self, rec: dict) -> dict:
        return {**rec, "signature": self.sign(record_payload(rec)).decode()}


def git(args: list[str], cwd: Path, env: dict, input: bytes | None = None) -> str:
    proc = subprocess.run(["git", *args], cwd=str(cwd), env=env, input=input, capture_output=True)
    if proc.returncode != 0:
        raise RuntimeError(f"git {' '.join(args)} failed: {proc.stderr.decode(errors='replace')}")
    return proc.stdout.decode()


# ---------------------------------------------------------------- fast-import stream

def _data(b: bytes) -> bytes:
    return b"data %d\n" % len(b) + b + b"\n"


class Stream:
    """Feeds a `git fast-import` process incrementally (100k tags never sit in memory)."""

    def __init__(self, repo: Path, env: dict, export_marks: Path | None = None):
        args = ["git", "fast-import", "--quiet", "--done"]
        if export_marks:
            args.append(f"--export-marks={export_marks}")
        self.proc = subprocess.Popen(args, cwd=str(repo), env=env, stdin=subprocess.PIPE)
        self.buf: list[bytes] = []
        self.size = 0

    def write(self, b: bytes) -> None:
        self.buf.append(b)
        self.size += len(b)
        if self.size > 1 << 20:
            self.flush()

    def flush(self) -> None:
        self.proc.stdin.write(b"".join(self.buf))
        self.buf, self.size = [], 0

    def close(self) -> None:
        self.write(b"done\n")
        self.flush()
        self.proc.stdin.close()
        if self.proc.wait() != 0:
            raise RuntimeError("git fast-import failed")


def read_marks(path: Path) -> dict[int, str]:
    out = {}
    for line in path.read_text().splitlines():
        mark, sha = line.split()
        out[int(mark[1:])] = sha
    return out


def write_commits(repo: Path, env: dict, versions: int, models: list[str], root_files: dict[str, bytes]) -> list[str]:
    """Commit 0 holds the policy, signers, eval.py and GTO's files; commit i+1 is version i.
    Returns the commit ids (index 0 = root)."""
    marks = repo / ".git" / "bench-commit-marks"
    s = Stream(repo, env, export_marks=marks)
    ident = b"Bench <bench@example.com>"

    def commit(mark: int, epoch: int, msg: str, files: dict[str, bytes]) -> None:
        s.write(b"commit refs/heads/main\nmark :%d\n" % mark)
        s.write(b"author %s %d +0000\ncommitter %s %d +0000\n" % (ident, epoch, ident, epoch))
        s.write(_data(msg.encode()))
        for path, content in files.items():
            s.write(b"M 100644 inline %s\n" % path.encode())
            s.write(_data(content))
        s.write(b"\n")

    commit(1, BASE_EPOCH - 3600, "Registry setup: policy, signers, eval script, GTO index", root_files)
    n = len(models)
    for i in range(versions):
        m, j = models[i % n], i // n + 1
        commit(i + 2, BASE_EPOCH + i * STEP, f"train {m} build {j}", {f"models/{m}/model.bin": artifact_bytes(j)})
    s.close()
    found = read_marks(marks)
    marks.unlink()
    return [found[k + 1] for k in range(versions + 1)]


# ---------------------------------------------------------------- the two registries

def _plan(versions: int, models: list[str]):
    """Yield (i, model, j, stage_list) per version: the shared history of both flavours."""
    n = len(models)
    for i in range(versions):
        m, j = models[i % n], i // n + 1
        stages = []
        if j % STAGING_EVERY == 0 or j == 1:
            stages.append("staging")
        if j % PRODUCTION_EVERY == 0 or j == 1:
            stages.append("production")
        yield i, m, j, stages


def write_mv_tags(repo: Path, env: dict, versions: int, models: list[str], commits: list[str], policy_digest: str,
                  signer: Signer, fingerprint: str | None) -> dict:
    # pass 1: version tags (signed, like `git mv-promote register` makes them)
    marks = repo / ".git" / "bench-tag-marks"
    s = Stream(repo, env, export_marks=marks)
    info = {}
    for i, m, j, _ in _plan(versions, models):
        data = artifact_bytes(j)
        epoch = BASE_EPOCH + i * STEP + 1
        rec = VersionRecord(
            model=m, version=f"v{j}", commit=commits[i + 1], created_at=iso(epoch), created_by=WHO,
            artifacts={f"models/{m}/model.bin": {"sha256": hashlib.sha256(data).hexdigest(), "size": len(data)}},
            tier="production", policy_digest=policy_digest, message=f"build {j}", parent=f"v{j - 1}" if j > 1 else None,
            run_id=f"run-{i}", seeds=[j], signer=fingerprint)
        tagger = b"%s %d +0000" % (WHO.encode(), epoch)
        s.write(b"tag mv/%s/v%d\nmark :%d\nfrom %s\n" % (m.encode(), j, i + 1, commits[i + 1].encode()))
        s.write(b"tagger %s\n" % tagger)
        s.write(_data(signer.tag_message(commits[i + 1], "commit", f"mv/{m}/v{j}", tagger, rec.to_message().encode())))
        info[i] = rec
    s.close()
    tag_ids = read_marks(marks)
    marks.unlink()

    # pass 2: stage tags (records name the version tag object) and the notes commit
    s = Stream(repo, env)
    seq = {}
    current = {}
    notes: list[tuple[str, bytes]] = []
    for i, m, j, stages in _plan(versions, models):
        rec = info[i]
        tag_id = tag_ids[i + 1]
        epoch = BASE_EPOCH + i * STEP + 10
        auc = float(artifact_bytes(j).split()[0])
        ev = make_note_record("eval", {
            "model": m, "version": f"v{j}", "suite": "holdout",
            "artifacts": {p: meta["sha256"] for p, meta in rec.artifacts.items()},
            "metrics": {"auc": auc, "latency_ms": 5.0},
            "slices": {"region=eu": {"auc": auc}, "region=us": {"auc": auc}},
            "command": EVAL_COMMAND, "exit_status": 0, "duration_s": 0.1}, at=iso(epoch), by=PRINCIPAL)
        ev = signer.record(ev)  # evidence only when signed by an allowed signer whose principal is `by`
        notes.append((tag_id, render_note([ev]).encode()))
        for k, stage in enumerate(stages):
            key = (m, stage)
            seq[key] = seq.get(key, 0) + 1
            at = BASE_EPOCH + i * STEP + 20 + k
            # no approval claim: the synthetic main line holds no reviewed merges, and a record claims only
            # what `verify` recomputes (the hook benchmark's production tag carries a real one)
            approval = None
            prec = PromotionRecord(
                kind="promote", model=m, version=f"v{j}", version_tag=tag_id, stage=stage, seq=seq[key], at=iso(at),
                by=PRINCIPAL, signer=fingerprint, policy_digest=policy_digest, previous=current.get(key), eval_record=ev["id"],
                gate={"passed": True, "baseline": current.get(key), "criteria": ["pass: synthetic history"]},
                approval=approval, reason="synthetic history")
            current[key] = f"v{j}"
            tagger = b"%s %d +0000" % (WHO.encode(), at)
            name = f"mv/{m}/{stage}/{seq[key]}"
            s.write(b"tag %s\nfrom %s\n" % (name.encode(), tag_id.encode()))
            s.write(b"tagger %s\n" % tagger)
            s.write(_data(signer.tag_message(tag_id, "tag", name, tagger, prec.to_message().encode())))
    s.write(b"commit refs/notes/mv-promote\n")
    s.write(b"committer %s %d +0000\n" % (WHO.encode(), BASE_EPOCH + versions * STEP))
    s.write(_data(b"mv-promote: synthetic eval records"))
    for target, data in notes:
        s.write(b"M 100644 inline %s/%s\n" % (target[:2].encode(), target[2:].encode()))
        s.write(_data(data))
    s.write(b"\n")
    s.close()
    return {"stage_tags": sum(seq.values()), "current": {f"{m}/{st}": v for (m, st), v in current.items()},
            "seq": {f"{m}/{st}": n for (m, st), n in seq.items()}}


def write_gto_tags(repo: Path, env: dict, versions: int, models: list[str], commits: list[str]) -> dict:
    """GTO's own format, as `gto register` / `gto assign` write it (annotated, default messages)."""
    s = Stream(repo, env)
    counter: dict[str, int] = {}
    n_stage = 0
    for i, m, j, stages in _plan(versions, models):
        epoch = BASE_EPOCH + i * STEP + 1
        s.write(b"tag %s@v0.0.%d\nfrom %s\n" % (m.encode(), j, commits[i + 1].encode()))
        s.write(b"tagger %s %d +0000\n" % (WHO.encode(), epoch))
        s.write(_data(f"Registering artifact {m} version v0.0.{j}".encode()))
        for k, stage in enumerate(stages):
            counter[m] = counter.get(m, 0) + 1
            at = BASE_EPOCH + i * STEP + 20 + k
            s.write(b"tag %s#%s#%d\nfrom %s\n" % (m.encode(), stage.encode(), counter[m], commits[i + 1].encode()))
            s.write(b"tagger %s %d +0000\n" % (WHO.encode(), at))
            s.write(_data(f"Assigning stage {stage} to artifact {m} version v0.0.{j}".encode()))
            n_stage += 1
    s.close()
    return {"stage_tags": n_stage}


# ---------------------------------------------------------------- entry points

def count_refs(versions: int, models: int = MODELS) -> int:
    """Refs a registry of `versions` holds: version tags + stage tags + main + the notes ref."""
    return versions + sum(len(st) for *_, st in _plan(versions, model_names(models))) + 2


def versions_for_refs(refs: int, models: int = MODELS) -> int:
    """The number of versions (a multiple of `models`) whose registry holds about `refs` refs."""
    v = max(models, int(refs / 1.12) // models * models)
    while count_refs(v, models) < refs and count_refs(v + models, models) - refs < refs - count_refs(v, models):
        v += models
    while v > models and count_refs(v, models) > refs and refs - count_refs(v - models, models) < count_refs(v, models) - refs:
        v -= models
    return v


def build(dest: Path, versions: int, flavour: str = "mv", models: int = MODELS, out: Path = OUT) -> dict:
    """Build (from scratch) a work repository at `dest`; returns its metadata (also saved in
    `dest/.git/bench-meta.json`)."""
    assert flavour in ("mv", "gto")
    started = time.monotonic()
    home = ensure_home(out)
    env = hermetic_env(home)
    if dest.exists():
        shutil.rmtree(dest)
    dest.mkdir(parents=True)
    git(["init", "-q", "-b", "main", str(dest)], dest, env)
    names = model_names(models)
    policy = policy_text(names).encode()
    signers = allowed_signers(home)
    root_files = {".mv-promote.toml": policy, ".mv-promote/allowed_signers": signers, "eval.py": EVAL_SCRIPT.encode(),
                  **{k: v.encode() for k, v in gto_files(names).items()},
                  **{f"models/{m}/model.bin": artifact_bytes(0) for m in names}}
    commits = write_commits(dest, env, versions, names, root_files)
    if flavour == "mv":
        extra = write_mv_tags(dest, env, versions, names, commits, parse_policy(policy).digest, Signer(home),
                              signing_key_fingerprint(str(home / ".ssh" / "bench"), "ssh"))
        # the in-process signatures must be what git mv-promote accepts: check one (two ssh-keygen runs)
        raw = git(["cat-file", "tag", f"refs/tags/mv/{names[0]}/v1"], dest, env).encode()
        check = verify_signature(raw, signers)
        if not (check.ok and check.principal == PRINCIPAL):
            raise RuntimeError(f"make_repo.Signer made a signature git mv-promote refuses: {check.reason}")
    else:
        extra = write_gto_tags(dest, env, versions, names, commits)
    git(["pack-refs", "--all"], dest, env)
    git(["reset", "-q", "--hard", "main"], dest, env)
    refs = int(git(["for-each-ref", "--format=x"], dest, env).count("x"))
    meta = {"format": FORMAT_VERSION, "flavour": flavour, "versions": versions, "models": names, "refs": refs,
            "head": commits[-1], "build_s": round(time.monotonic() - started, 1), **extra}
    (dest / ".git" / "bench-meta.json").write_text(json.dumps(meta, indent=1))
    return meta


def cached(versions: int, flavour: str = "mv", out: Path = OUT, force: bool = False) -> tuple[Path, dict]:
    """The repo under out/repos/<flavour>-<versions>, built once and reused while its format matches."""
    dest = out / "repos" / f"{flavour}-{versions}"
    meta_file = dest / ".git" / "bench-meta.json"
    if not force and meta_file.exists():
        meta = json.loads(meta_file.read_text())
        if meta.get("format") == FORMAT_VERSION and meta.get("versions") == versions:
            ensure_home(out)
            return dest, meta
    return dest, build(dest, versions, flavour, out=out)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--versions", type=int, action="append", help="versions to build (repeatable); default 5000")
    ap.add_argument("--gto", action="store_true", help="also build the GTO twin")
    ap.add_argument("--only-gto", action="store_true", help="build the GTO twin only")
    ap.add_argument("--force", action="store_true", help="rebuild even when a cached copy exists")
    ap.add_argument("--out", type=Path, default=OUT)
    args = ap.parse_args()
    for n in args.versions or [5000]:
        flavours = ["gto"] if args.only_gto else (["mv", "gto"] if args.gto else ["mv"])
        for flavour in flavours:
            dest, meta = cached(n, flavour, args.out, args.force)
            print(f"{dest}: {meta['versions']} versions, {meta['refs']} refs, {meta['stage_tags']} stage tags "
                  f"(built in {meta['build_s']} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
