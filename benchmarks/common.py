"""Shared helpers of the benchmarks: timed subprocesses, scratch copies, the GTO virtualenv.

Every timing is a whole process (start to exit) measured with `time.perf_counter`, so Python's
start-up, imports and git subprocesses are all included, as a user would see them.
"""

from __future__ import annotations

import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

HERE = Path(__file__).resolve().parent
OUT = HERE / "out"
GTO_VENV = HERE / ".venv-gto"
GTO = GTO_VENV / "bin" / "gto"

sys.path.insert(0, str(HERE))
import make_repo

MV = ["git", "mv-promote"]


class Failed(RuntimeError):
    pass


def env_for(out: Path = OUT) -> dict:
    return make_repo.hermetic_env(make_repo.ensure_home(out))


def _children_cpu() -> float:
    ru = resource.getrusage(resource.RUSAGE_CHILDREN)
    return ru.ru_utime + ru.ru_stime


def run(cmd: list[str], cwd: Path, env: dict, *, input: bytes | None = None, check: bool = True,
        timeout: float | None = None) -> tuple[float, subprocess.CompletedProcess]:
    """(wall seconds, completed process) of one whole process. `proc.cpu_s` is the user+system
    CPU time of the process and every descendant it waited for (RUSAGE_CHILDREN delta): less
    sensitive than wall time to other load on the machine."""
    c0 = _children_cpu()
    t0 = time.perf_counter()
    try:
        proc = subprocess.run(cmd, cwd=str(cwd), env=env, input=input, capture_output=True, timeout=timeout)
    except subprocess.TimeoutExpired as exc:
        raise Failed(f"{' '.join(map(str, cmd))} timed out after {timeout} s") from exc
    dt = time.perf_counter() - t0
    proc.cpu_s = _children_cpu() - c0
    if check and proc.returncode != 0:
        raise Failed(f"{' '.join(map(str, cmd))} (in {cwd}) exited {proc.returncode}: "
                     f"{proc.stderr.decode(errors='replace')[-2000:]}{proc.stdout.decode(errors='replace')[-500:]}")
    return dt, proc


def out_json(proc: subprocess.CompletedProcess) -> dict:
    return json.loads(proc.stdout.decode())


def git(args: list[str], cwd: Path, env: dict, **kw) -> str:
    return run(["git", *args], cwd, env, **kw)[1].stdout.decode()


def median(xs: list[float]) -> float | None:
    return statistics.median(xs) if xs else None


class Times(list):
    """Wall seconds of several runs; `.cpu` holds the CPU seconds of the same runs."""

    def __init__(self, walls=(), cpus=()):
        super().__init__(walls)
        self.cpu = list(cpus)

    def add(self, wall: float, proc) -> None:
        """`proc`: a completed process of `run` (its CPU seconds), or CPU seconds measured otherwise."""
        self.append(wall)
        self.cpu.append(proc if isinstance(proc, (int, float)) else getattr(proc, "cpu_s", float("nan")))


@dataclass
class Side:
    """One version of the code under measurement: `env` makes `git mv-promote` (through `entry`,
    first on PATH), `python -m gitmv.hooks` and `import gitmv` run the gitmv of `root`."""

    name: str  # "current" or "baseline"
    label: str
    root: Path
    env: dict
    entry: str
    python: str = sys.executable  # the interpreter of `entry` and of the hook shim `hooks install` writes


def alternate(sides: list[Side], runs: int, one, warmup: int = 1) -> dict[str, dict[str, Times]]:
    """`one(side)` for every side, `warmup` untimed rounds then `runs` timed ones; the order of the
    sides flips every round (A B, B A, ...) so a drift in the machine's load hits every side alike.
    `one` returns {measurement: (wall, proc or CPU seconds) or plain seconds}; the result is
    {measurement: {side name: Times}} (a side that skipped a measurement has no runs of it)."""
    out: dict[str, dict[str, Times]] = {}
    for r in range(warmup + runs):
        for s in (sides if r % 2 == 0 else sides[::-1]):
            got = one(s)
            if r < warmup:
                continue
            for key, value in got.items():
                times = out.setdefault(key, {x.name: Times() for x in sides})[s.name]
                if isinstance(value, tuple):
                    times.add(*value)
                else:
                    times.append(value)
    return out


def import_times(stderr: bytes, startup: set[str] = frozenset()) -> float:
    """Seconds that `python -X importtime` reports for the imports a command made: the cumulative
    time of every top-level import that is not one of the interpreter's own start-up imports
    (`startup`, the top-level names `python -X importtime -c pass` reports)."""
    total = 0
    for line in stderr.decode(errors="replace").splitlines():
        if not line.startswith("import time:") or "|" not in line:
            continue
        _, cumulative, name = line[len("import time:"):].split("|", 2)
        if name.startswith("  ") or not cumulative.strip().isdigit():  # nested, or the header line
            continue
        if name.strip() not in startup:
            total += int(cumulative)
    return total / 1e6


def startup_imports(python: str, env: dict, cwd: Path) -> set[str]:
    proc = subprocess.run([python, "-X", "importtime", "-c", "pass"], cwd=str(cwd), env=env, capture_output=True)
    return {line.split("|", 2)[2].strip() for line in proc.stderr.decode(errors="replace").splitlines()
            if line.startswith("import time:") and line.count("|") >= 2 and not line.split("|", 2)[2].startswith("  ")}


def timed_runs(cmd: list[str], cwd: Path, env: dict, runs: int, warmup: int = 1, before=None, **kw) -> Times:
    """`runs` timed runs after `warmup` untimed ones; `before()` (untimed) precedes every run."""
    for _ in range(warmup):
        if before:
            before()
        run(cmd, cwd, env, **kw)
    out = Times()
    for _ in range(runs):
        if before:
            before()
        out.add(*run(cmd, cwd, env, **kw))
    return out


RECORD_CACHE = Path(".git") / "mv-promote"  # gitmv.cache: parsed tag records by object id (derived data)


def drop_record_cache(repo: Path) -> None:
    """Back to a fresh clone's state: no derived record cache."""
    shutil.rmtree(repo / RECORD_CACHE, ignore_errors=True)


def fill_record_cache(repo: Path, env: dict, models: list[str]) -> float:
    """The steady state of a used clone: every model listed once, so every version and stage
    record is in the cache. Returns the seconds it took."""
    t0 = time.perf_counter()
    for m in models:
        run(MV + ["show", m], repo, env)
        run(MV + ["history", m], repo, env)
    return time.perf_counter() - t0


def cache_size(repo: Path) -> tuple[int, int]:
    """(files, bytes) of the record cache, whatever its layout."""
    files = [f for f in (repo / RECORD_CACHE).rglob("*") if f.is_file()] if (repo / RECORD_CACHE).is_dir() else []
    return len(files), sum(f.stat().st_size for f in files)


def loadavg() -> str:
    return "/".join(f"{x:.1f}" for x in os.getloadavg())


def wait_idle(limit: float = 1.5, max_wait: float = 60, log=print) -> str:
    """Wait (at most `max_wait` s) for the 1-minute load average to fall under `limit`: other
    work on a 2-core machine inflates wall times. Returns the load average when we went on."""
    t0 = time.monotonic()
    while os.getloadavg()[0] >= limit and time.monotonic() - t0 < max_wait:
        time.sleep(5)
    load = loadavg()
    if os.getloadavg()[0] >= limit:
        log(f"  (machine busy: load average {load}; measuring anyway)")
    return load


def scratch_copy(src: Path, name: str, out: Path = OUT) -> Path:
    """A throw-away copy of a cached repository (writes never touch the cache)."""
    dest = out / "scratch" / name
    if dest.exists():
        shutil.rmtree(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    subprocess.run(["cp", "-a", str(src), str(dest)], check=True)
    drop_record_cache(dest)
    return dest


def fmt_s(x: float | None) -> str:
    if x is None:
        return "-"
    if x < 0.01:
        return f"{x * 1000:.1f} ms"
    return f"{x * 1000:.0f} ms" if x < 10 else f"{x:.1f} s"


def latest_j(repo: Path, model: str) -> int:
    """The build number in the work tree's models/<model>/model.bin (see make_repo.artifact_bytes)."""
    auc = float((repo / "models" / model / "model.bin").read_text().split()[0])
    return round((auc - 0.80) / 1e-5)


def commit_new_artifact(repo: Path, env: dict, model: str, j: int) -> None:
    """A new training result for `model` (build j), committed: what precedes every register."""
    (repo / "models" / model / "model.bin").write_bytes(make_repo.artifact_bytes(j))
    git(["commit", "-q", "-a", "-m", f"train {model} build {j}"], repo, env)


def register_signed(repo: Path, env: dict, model: str, j: int) -> str:
    """Commit, register (signed) and eval a new version; returns its name. Untimed setup."""
    commit_new_artifact(repo, env, model, j)
    _, proc = run(MV + ["register", model, "-m", f"bench build {j}", "--json"], repo, env)
    version = out_json(proc)["version"]
    run(MV + ["eval", model, version], repo, env)
    return version


def code_version() -> str:
    """HEAD of the project and a digest of gitmv/*.py as the running processes see them: other
    engineers commit while benchmarks run, and every `git mv-promote` process loads the current
    files (editable install), so each section records what it measured."""
    import hashlib

    root = HERE.parent
    head = subprocess.run(["git", "-C", str(root), "rev-parse", "--short", "HEAD"], capture_output=True,
                          text=True).stdout.strip()
    h = hashlib.sha256()
    for f in sorted((root / "gitmv").rglob("*.py")):
        h.update(f.relative_to(root).as_posix().encode() + b"\0" + f.read_bytes())
    return f"{head} gitmv:{h.hexdigest()[:10]}"


def machine() -> dict:
    cpu = "?"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    gto_version = "-"
    if GTO.exists():
        proc = subprocess.run([str(GTO_VENV / "bin" / "python"), "-c", "import gto; print(gto.__version__)"],
                              capture_output=True, text=True)
        gto_version = proc.stdout.strip() or "?"
    import pygit2

    return {"nproc": os.cpu_count(), "cpu": cpu, "python": sys.version.split()[0],
            "git": subprocess.run(["git", "--version"], capture_output=True, text=True).stdout.strip(),
            "pygit2": pygit2.__version__, "libgit2": pygit2.LIBGIT2_VERSION, "gto": gto_version,
            "sha_ni": "sha_ni" in Path("/proc/cpuinfo").read_text()}
