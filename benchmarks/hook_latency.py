#!/usr/bin/env python3
"""Server hook latency for a one-stage-tag push, at a small and a large number of existing refs.

For each size a synthetic registry (benchmarks/make_repo.py) is cloned into a bare "server"
repository with the real pre-receive hook installed by `git mv-promote hooks install --server`;
the work repository is its client (remote `origin` = the bare repo's local path). On the client a
new version of m3 is registered (signed with the benchmark's ssh key), evaluated and pushed (through
the hook), then promoted to `staging` (unprotected: record, seq and signature checks) and, after a
reviewed merge of `git mv-promote request` into main signed by a reviewer's key, to
`production` (protected: the full gate, baseline eval, approvals). Each stage tag is then timed as

* **push**     `git push --no-verify origin refs/tags/mv/m3/<stage>/<seq>`: the whole push, hook included;
* **no hook**  the same push with the server's hooks switched off (core.hooksPath -> empty dir):
               what git itself costs at that many refs (ref advertisement, connectivity check);
* **hook**     the installed hooks/pre-receive shim (`python -I -m gitmv.hooks pre-receive`) run alone
               in the bare repo with the one stdin line `<zero> <tag id> <ref>`;
* **check**    (diagnostic) `gitmv.hooks.main(["pre-receive"])` called repeatedly inside one Python
               process with the same line: the hook's own work without start-up and imports.

Between pushes the new ref is deleted on the server with `git update-ref -d` (an admin's step,
outside the hook), so every push is the same push. The three measurements are interleaved; the
first round is a warm-up and is not counted.

Target (issue "Enforcement"): the same latency (±20%) with 100 and with 100,000 existing refs.

For `run.py` (issue "Performance": a push of many version tags is checked in time linear in the
tags pushed), `add_versions` registers new versions on the client and `measure_many` runs the hook
alone, and in-process, on a push of the first k of them.

Usage:  python benchmarks/hook_latency.py [--refs 100,100000] [--runs 9] [--quick]
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import (MV, OUT, Side, alternate, code_version, commit_new_artifact, env_for, fmt_s, git,
                    latest_j, loadavg, median, out_json, register_signed, run, scratch_copy)
import make_repo

ZERO = "0" * 40
MODEL = "m3"
TOLERANCE = 0.20


def prepare(versions: int, env: dict, out: Path = OUT, log=print) -> dict:
    """Server + client for a registry of `versions`, with one staging and one production stage tag
    made on the client and not yet on the server."""
    src, meta = make_repo.cached(versions, "mv", out)
    base = out / "scratch" / f"hook-{versions}"
    if base.exists():
        shutil.rmtree(base)
    client = scratch_copy(src, f"hook-{versions}/client", out)
    server = base / "server.git"
    git(["clone", "-q", "--mirror", str(client), str(server)], base, env)
    run(MV + ["hooks", "install", "--server", str(server)], client, env)
    git(["remote", "add", "origin", str(server)], client, env)
    empty = base / "no-hooks"
    empty.mkdir(exist_ok=True)

    j = latest_j(client, MODEL) + 1
    version = register_signed(client, env, MODEL, j)
    # the version, its commit and its eval note go to the server through the hook
    git(["push", "-q", "--no-verify", "origin", "main", f"refs/tags/mv/{MODEL}/{version}", "refs/notes/mv-promote"],
        client, env)
    tags = {}
    _, proc = run(MV + ["promote", MODEL, version, "--stage", "staging", "-m", "bench", "--json"], client, env)
    tags["staging"] = out_json(proc)
    # a reviewer whose signed merge is the approval (identity is a signature, never a trailer); bob is
    # an allowed signer from the registry's first commit, since a push that changes the allowed
    # signers on main must itself be a merge signed by another allowed signer (R7)
    bob = make_repo.reviewer_key(Path(env["HOME"]))
    _, proc = run(MV + ["request", MODEL, version, "--stage", "production", "-m", "bench", "--json"], client, env)
    branch = out_json(proc)["branch"]
    git(["-c", f"user.signingkey={bob}", "merge", "-q", "-S", "--no-ff", "-m",
         f"Merge pull request #1 from bench/{branch}", branch], client, env)
    git(["push", "-q", "--no-verify", "origin", "main"], client, env)
    _, proc = run(MV + ["promote", MODEL, version, "--stage", "production", "-m", "bench", "--json"], client, env)
    tags["production"] = out_json(proc)
    refs = git(["for-each-ref", "--format=x"], server, env).count("x")
    log(f"  prepared {server}: {refs} refs, new version {MODEL} {version}")
    return {"versions": versions, "refs": refs, "server": server, "client": client, "empty": empty,
            "version": version, "tags": {s: (t["ref"], t["tag"]) for s, t in tags.items()}}


def _push(setup: dict, ref: str, env: dict, hook: bool):
    server, client = setup["server"], setup["client"]
    if not hook:
        git(["config", "core.hooksPath", str(setup["empty"])], server, env)
    try:
        dt, proc = run(["git", "push", "-q", "--no-verify", "origin", ref], client, env, check=False)
    finally:
        if not hook:
            git(["config", "--unset", "core.hooksPath"], server, env)
    if proc.returncode != 0:
        raise RuntimeError(f"push of {ref} refused or failed ({'with' if hook else 'without'} hook): "
                           f"{proc.stderr.decode(errors='replace')}")
    git(["update-ref", "-d", ref], server, env)  # reset: the next push is the same push
    return dt, proc


def _hook_alone(setup: dict, ref: str, tag: str, env: dict):
    return _hook_on(setup, f"{ZERO} {tag} {ref}\n", env)


def _hook_on(setup: dict, lines: str, env: dict):
    """The installed pre-receive shim run alone in the bare repository with `lines` on stdin."""
    server = setup["server"]
    hook_env = dict(env, GIT_DIR=".")
    dt, proc = run([str(server / "hooks" / "pre-receive")], server, hook_env, input=lines.encode(), check=False)
    if proc.returncode != 0:
        raise RuntimeError(f"the hook refused {lines.split()[2]} (of {lines.count(chr(10))} refs): "
                           f"{proc.stderr.decode(errors='replace')}")
    return dt, proc


IN_PROCESS = """
import io, json, resource, statistics, sys, time
try:
    from gitmv.hooks.entry import main as hook_main
except ImportError:  # the flat layout before issue "Shape": gitmv/hooks.py
    from gitmv.hooks import main as hook_main
line, runs = sys.argv[1], int(sys.argv[2])
def cpu():
    a, b = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return a.ru_utime + a.ru_stime + b.ru_utime + b.ru_stime
walls, cpus = [], []
for i in range(runs + 2):
    sys.stdin = io.TextIOWrapper(io.BytesIO(line.encode()))  # the hook reads stdin.buffer (bytes)
    c0, t0 = cpu(), time.perf_counter()
    rc = hook_main(["pre-receive"])
    if rc != 0:
        sys.exit(f"refused: {rc}")
    if i >= 2:  # the first calls import and warm up
        walls.append(time.perf_counter() - t0)
        cpus.append(cpu() - c0)
print(json.dumps({"wall": walls, "cpu": cpus}))
"""


def _check_in_process(setup: dict, ref: str, tag: str, env: dict, runs: int) -> dict:
    """The hook's own work without interpreter start-up and imports: the hook's main called
    `runs` times in one process (diagnostic: it is far less noisy than whole processes)."""
    return _check_lines_in_process(setup, f"{ZERO} {tag} {ref}\n", env, runs)


def _check_lines_in_process(setup: dict, lines: str, env: dict, runs: int) -> dict:
    """{"wall": [...], "cpu": [...]} of the hook's main called `runs` times on `lines` in one process."""
    _, proc = run([sys.executable, "-c", IN_PROCESS, lines, str(runs)], setup["server"], dict(env, GIT_DIR="."))
    return json.loads(proc.stdout.decode())


def install_shims(setup: dict, sides: list[Side]) -> None:
    """Each side's own pre-receive shim, as its `hooks install --server` writes it, kept in
    server/hooks-<side>/ and copied into hooks/ before that side's runs (the interpreter it names,
    the side's own, picks the code: baseline.side_python)."""
    server = setup["server"]
    for s in sides:
        run(MV + ["hooks", "install", "--server", str(server)], setup["client"], s.env)
        keep = server / f"hooks-{s.name}"
        keep.mkdir(exist_ok=True)
        shutil.copy2(server / "hooks" / "pre-receive", keep / "pre-receive")


def measure(setup: dict, env: dict, runs: int, stages=("staging", "production"),
            sides: list[Side] | None = None) -> dict:
    """{side name: {stage: {measurement: {"wall": [...], "cpu": [...]}}}}; without `sides`, one
    side named "current" running with `env`. Git's own cost (the push with the hook off) does not
    depend on our code: only the current side measures it."""
    sides = sides or [Side("current", "current", Path(), env, "")]
    if len(sides) > 1:
        install_shims(setup, sides)
    hook = setup["server"] / "hooks" / "pre-receive"
    result: dict = {s.name: {} for s in sides}
    for stage in stages:
        ref, tag = setup["tags"][stage]

        def one(s: Side, ref=ref, tag=tag) -> dict:
            if len(sides) > 1:
                shutil.copy2(setup["server"] / f"hooks-{s.name}" / "pre-receive", hook)
            got = {"push": _push(setup, ref, s.env, hook=True)}
            if s.name == "current":
                got["push_nohook"] = _push(setup, ref, s.env, hook=False)
            got["hook"] = _hook_alone(setup, ref, tag, s.env)
            return got

        got = alternate(sides, runs, one)
        for s in sides:
            result[s.name][stage] = {k: {"wall": list(v[s.name]), "cpu": v[s.name].cpu} for k, v in got.items()
                                     if v[s.name]}
            result[s.name][stage]["check"] = _check_in_process(setup, ref, tag, s.env, runs)
    return result


PENDING = "refs/bench-pending/"  # outside the registry namespace: the hook's fast path lets it through


def add_versions(setup: dict, env: dict, count: int, log=print) -> list[tuple[str, str]]:
    """`count` new signed versions of m3 made on the client (untimed: a commit and a
    `git mv-promote register` each), the numbers after the prepared version's. Their commits reach
    the server on main (through the hook) and their tag objects under refs/bench-pending/, so the
    hook can be run on any first k of them as on a push of k new version tags, the same push every
    time (no registry ref is ever updated). Returns [(ref, tag id)] in number order."""
    client = setup["client"]
    j = latest_j(client, MODEL)
    made = []
    for _ in range(count):
        j += 1
        commit_new_artifact(client, env, MODEL, j)
        _, proc = run(MV + ["register", MODEL, "-m", f"bench build {j}", "--json"], client, env)
        made.append(out_json(proc)["version"])
    refs = [f"refs/tags/mv/{MODEL}/{v}" for v in made]
    git(["push", "-q", "--no-verify", "origin", "main", *(f"{r}:{PENDING}{v}" for r, v in zip(refs, made, strict=True))],
        client, env)
    ids = git(["rev-parse", *refs], client, env).split()
    log(f"  {count} new versions of {MODEL} ({made[0]} … {made[-1]}) registered; their tags on the server "
        f"under {PENDING}")
    return list(zip(refs, ids, strict=True))


def measure_many(setup: dict, env: dict, runs: int, pending: list[tuple[str, str]], counts=(10, 100),
                 sides: list[Side] | None = None) -> dict:
    """The hook on a push of the first k pending version tags, for each k in `counts`: the shim
    process alone ("hook") and, as a diagnostic, its check in-process ("check"), sizes interleaved.
    {side name: {k: {measurement: {"wall": [...], "cpu": [...]}}}}."""
    sides = sides or [Side("current", "current", Path(), env, "")]
    if len(sides) > 1:
        install_shims(setup, sides)
    hook = setup["server"] / "hooks" / "pre-receive"
    stdin = {k: "".join(f"{ZERO} {tag} {ref}\n" for ref, tag in pending[:k]) for k in counts}

    def one(s: Side) -> dict:
        if len(sides) > 1:
            shutil.copy2(setup["server"] / f"hooks-{s.name}" / "pre-receive", hook)
        return {k: _hook_on(setup, stdin[k], s.env) for k in counts}

    got = alternate(sides, runs, one)
    result: dict = {s.name: {} for s in sides}
    for s in sides:
        for k in counts:
            result[s.name][k] = {"hook": {"wall": list(got[k][s.name]), "cpu": got[k][s.name].cpu},
                                 "check": _check_lines_in_process(setup, stdin[k], s.env, runs)}
    return result


def run_size(versions: int, runs: int, env: dict | None = None, log=print, sides: list[Side] | None = None) -> dict:
    """`stages` holds the current side's measurements, `sides` every side's (see `measure`);
    the setup is made by `env` (the current code)."""
    env = env or env_for()
    setup = prepare(versions, env, log=log)
    load = loadavg()
    data = measure(setup, env, runs, sides=sides)
    return {"versions": versions, "refs": setup["refs"], "stages": data["current"], "sides": data,
            "load": f"{load} -> {loadavg()}", "setup": setup}


def compare(small: dict, large: dict, tolerance: float = TOLERANCE, two_sided: bool = True) -> list[dict]:
    """One row per (stage, measurement): medians at both sizes, ratio large/small, verdict
    ("the same ±20%" is two-sided; "within 1.3× of" is one-sided)."""
    rows = []
    for stage in small["stages"]:
        for what in ("hook", "check", "push", "push_nohook"):
            a = median(small["stages"][stage][what]["wall"])
            b = median(large["stages"][stage][what]["wall"])
            ac = median(small["stages"][stage][what]["cpu"])
            bc = median(large["stages"][stage][what]["cpu"])
            ratio = b / a
            if what == "push_nohook":
                target, ok = "(git's own cost, no target)", None
            elif what == "push":
                target, ok = "(hook + git's own cost: information)", None
            elif what == "check":
                target, ok = "(diagnostic)", None
            elif two_sided:
                target, ok = f"{1 - tolerance:.1f}–{1 + tolerance:.1f}×", (1 - tolerance) <= ratio <= 1 + tolerance
            else:
                target, ok = f"≤ {1 + tolerance:.1f}×", ratio <= 1 + tolerance
            rows.append({"stage": stage, "what": what, "small": a, "large": b, "ratio": ratio, "target": target,
                         "pass": ok, "small_refs": small["refs"], "large_refs": large["refs"],
                         "small_cpu": ac, "large_cpu": bc, "cpu_ratio": bc / ac})
    return rows


LABELS = {"hook": "hook process alone", "check": "the hook's check in-process (no start-up/imports)",
          "push": "git push (hook on)", "push_nohook": "git push (hook off)"}


def table(rows: list[dict]) -> str:
    if not rows:
        return ""
    a, b = rows[0]["small_refs"], rows[0]["large_refs"]
    lines = [f"| stage tag | measurement | {a:,} refs: wall (cpu) | {b:,} refs: wall (cpu) | ratio wall (cpu) "
             "| target | result |", "|---|---|---|---|---|---|---|"]
    for r in rows:
        verdict = "-" if r["pass"] is None else ("PASS" if r["pass"] else "FAIL")
        lines.append(f"| {r['stage']} | {LABELS[r['what']]} | {fmt_s(r['small'])} ({fmt_s(r['small_cpu'])}) | "
                     f"{fmt_s(r['large'])} ({fmt_s(r['large_cpu'])}) | {r['ratio']:.2f}× ({r['cpu_ratio']:.2f}×) "
                     f"| {r['target']} | {verdict} |")
    return "\n".join(lines)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--refs", default=None, help="comma-separated sizes in refs (default 100,100000)")
    ap.add_argument("--runs", type=int, default=None, help="timed rounds per measurement (default 9; --quick 3)")
    ap.add_argument("--quick", action="store_true", help="smoke run: 100 and 5,000 refs, 3 rounds")
    args = ap.parse_args()
    sizes = [int(x) for x in (args.refs or ("100,5000" if args.quick else "100,100000")).split(",")]
    runs = args.runs or (3 if args.quick else 9)
    env = env_for()
    started = time.monotonic()
    results = []
    for refs in sizes:
        versions = make_repo.versions_for_refs(refs)
        print(f"{refs:,} refs -> {versions:,} versions")
        results.append(run_size(versions, runs, env))
    rows = compare(results[0], results[-1])
    print(f"code: {code_version()}")
    print(table(rows))
    print(f"(medians of {runs} rounds after one warm-up; load average during the rounds: "
          f"{', '.join(r['load'] for r in results)}; total {time.monotonic() - started:.0f} s)")
    (OUT / "hook_latency.json").write_text(json.dumps({"runs": runs, "results": results, "rows": rows}, indent=1,
                                                       default=str))
    return 0 if all(r["pass"] is not False for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
