#!/usr/bin/env python3
"""The performance targets of issue "Performance at registry scale", measured process against process.

Sections (each prints rows: operation, ours, peer, ratio, target, PASS/FAIL):
  gto        reads and writes at 5,000 versions vs GTO on a twin repository (GTO N=1 by default)
  git        reads at 5,000 versions vs `git for-each-ref --format='%(refname) %(contents:subject)' refs/tags`
  scale      `show MODEL VERSION` and the server hook (one-stage-tag push) at 50,000 vs 100 versions
  hash       register of a 1 GiB artifact vs `sha256sum`
  startup    `git-mv-promote --help`, `git mv-promote -h`, every command's `-h`, reads on a tiny repo

Repositories are built by benchmarks/make_repo.py and cached under benchmarks/out/repos/; every
run works on throw-away copies under benchmarks/out/scratch/. Subprocesses get a hermetic
environment (private HOME with an ssh signing key, GIT_CONFIG_NOSYSTEM=1, no GIT_* variables).
GTO runs from its own virtualenv, benchmarks/.venv-gto (created on first use with pip).

Usage:  python benchmarks/run.py [--quick] [--runs N] [--only gto,git,scale,hash,startup] [--skip-gto]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import hook_latency  # noqa: E402
import make_repo  # noqa: E402
from common import (GTO, GTO_VENV, MV, OUT, Failed, Times, cache_size, code_version, commit_new_artifact,  # noqa: E402
                    drop_record_cache, env_for, fill_record_cache, fmt_s, git, latest_j, loadavg, machine, median,
                    out_json, run, scratch_copy, timed_runs, wait_idle)

FOR_EACH_REF = ["git", "for-each-ref", "--format=%(refname) %(contents:subject)", "refs/tags"]
MODEL = "m3"


def _cpu(x):
    return median(x.cpu) if isinstance(x, Times) and x.cpu else None


def _wall(x):
    return median(x) if isinstance(x, list) else x


class Report:
    """Rows of the result table. `ours`/`peer` are Times (wall + cpu of each run) or plain seconds;
    the verdict is decided on wall-clock medians, the CPU medians are shown beside them."""

    def __init__(self):
        self.rows: list[dict] = []

    def add(self, section, operation, ours, peer_label, peer, target, check, note="", ratio_of=None):
        ow, pw, oc, pc = _wall(ours), _wall(peer), _cpu(ours), _cpu(peer)
        ratio = cpu_ratio = None
        if ow is not None and pw is not None:
            ratio = ratio_of(ow, pw) if ratio_of else pw / ow
            if oc and pc:
                cpu_ratio = ratio_of(oc, pc) if ratio_of else pc / oc
        ok = None if check is None or ratio is None else bool(check(ratio))
        if check is not None and ratio is None:
            ok = False
        row = {"section": section, "operation": operation, "ours": ow, "ours_cpu": oc, "peer_label": peer_label,
               "peer": pw, "peer_cpu": pc, "ratio": ratio, "cpu_ratio": cpu_ratio, "target": target, "pass": ok,
               "note": note, "n_ours": len(ours) if isinstance(ours, list) else None,
               "n_peer": len(peer) if isinstance(peer, list) else None,
               "ours_runs": list(ours) if isinstance(ours, list) else None,
               "peer_runs": list(peer) if isinstance(peer, list) else None}
        self.rows.append(row)
        verdict = "-" if ok is None else ("PASS" if ok else "FAIL")
        rtxt = f"{ratio:.2f}×" if ratio is not None else "-"
        print(f"  {operation:<60} ours {fmt_s(ow):>8} ({fmt_s(oc):>7} cpu)  {peer_label:<30} {fmt_s(pw):>8}  "
              f"{rtxt:>9}  {target:<12} {verdict} {note}", flush=True)

    def markdown(self, section: str | None = None) -> str:
        lines = ["| operation | ours: wall (cpu) | peer | peer: wall (cpu) | ratio: wall (cpu) | target | result |",
                 "|---|---|---|---|---|---|---|"]
        for r in self.rows:
            if section and r["section"] != section:
                continue
            verdict = "-" if r["pass"] is None else ("**PASS**" if r["pass"] else "**FAIL**")
            rtxt = f"{r['ratio']:.2f}×" if r["ratio"] is not None else "-"
            if r["cpu_ratio"] is not None:
                rtxt += f" ({r['cpu_ratio']:.2f}×)"
            ours = fmt_s(r["ours"]) + (f" ({fmt_s(r['ours_cpu'])})" if r["ours_cpu"] is not None else "")
            peer = fmt_s(r["peer"]) + (f" ({fmt_s(r['peer_cpu'])})" if r["peer_cpu"] is not None else "")
            note = f" {r['note']}" if r["note"] else ""
            lines.append(f"| {r['operation']} | {ours} | {r['peer_label']} | {peer} | {rtxt} | {r['target']} "
                         f"| {verdict}{note} |")
        return "\n".join(lines)


# ---------------------------------------------------------------- GTO

def ensure_gto(log=print) -> None:
    if GTO.exists():
        return
    log(f"creating {GTO_VENV} and installing gto with pip (PyPI) ...")
    subprocess.run([sys.executable, "-m", "venv", str(GTO_VENV)], check=True)
    subprocess.run([str(GTO_VENV / "bin" / "pip"), "install", "-q", "gto"], check=True)


def gto_section(rep: Report, env: dict, versions: int, runs: int, gto_runs: int, gto_timeout: float,
                skip_gto: bool) -> None:
    print(f"\n== reads and writes at {versions:,} versions: ours vs GTO (GTO N={gto_runs}) and vs git for-each-ref")
    mv_src, mv_meta = make_repo.cached(versions, "mv")
    mv = scratch_copy(mv_src, f"mv-{versions}")
    if not skip_gto:
        ensure_gto()
        gto_src, _ = make_repo.cached(versions, "gto")
        gto = scratch_copy(gto_src, f"gto-{versions}")
    per_model = versions // len(mv_meta["models"])
    mid = max(1, per_model // 2)
    reads = [("show", ["show"], ["show"]),
             ("show MODEL", ["show", MODEL], ["show", MODEL]),
             ("show MODEL VERSION", ["show", MODEL, f"v{mid}"], ["show", f"{MODEL}@v0.0.{mid}"]),
             ("history MODEL", ["history", MODEL], ["history", MODEL])]
    fer = timed_runs(FOR_EACH_REF, mv, env, runs)
    fer_med = median(fer)
    print(f"  git for-each-ref (peer of every read): median {fmt_s(fer_med)} over {runs} runs, "
          f"{mv_meta['refs']:,} refs")
    # two states of our derived record cache (.git/mv-promote, gitmv.cache): "cold" = deleted before
    # every run (a fresh clone, or the first read after fetching many versions); "warm" = the
    # steady state of a used clone, every model listed once before measuring
    cold = {}
    for label, ours_args, gto_args in reads:
        cold[label] = timed_runs(MV + ours_args, mv, env, runs, before=lambda: drop_record_cache(mv))
        if not skip_gto:
            try:
                peer, note = timed_runs([str(GTO)] + gto_args, gto, env, gto_runs, warmup=0, timeout=gto_timeout), ""
            except Failed as exc:
                peer, note = None, str(exc)[:200]
            rep.add("gto", f"{label} (`{' '.join(ours_args)}`), ours with a cold record cache", cold[label],
                    f"`gto {' '.join(gto_args)}`", peer, "≥ 100×", lambda r: r >= 100, note)
    fill_s = fill_record_cache(mv, env, mv_meta["models"])
    files, size = cache_size(mv)
    print(f"  record cache filled (every model listed) in {fill_s:.1f} s: {files:,} files, {size / 1e6:.1f} MB")
    warm = {label: timed_runs(MV + ours_args, mv, env, runs) for label, ours_args, _ in reads}
    for label, ours_args, _ in reads:
        for state, times in (("warm", warm[label]), ("cold", cold[label])):
            rep.add("git", f"{label} (`{' '.join(ours_args)}`), {state} record cache", times, "git for-each-ref", fer,
                    "≤ 5×", lambda r: r <= 5, ratio_of=lambda o, p: o / p)

    # writes (record cache warm, as a used clone has it): each round registers a new signed version
    # of m3 (after committing a new artifact), evaluates it (untimed) and promotes it to staging
    # (gated against the current staging version)
    reg_t, pro_t = Times(), Times()
    j = latest_j(mv, MODEL)
    for r in range(runs + 1):
        j += 1
        commit_new_artifact(mv, env, MODEL, j)
        t1, proc1 = run(MV + ["register", MODEL, "-m", f"bench build {j}", "--json"], mv, env)
        version = out_json(proc1)["version"]
        run(MV + ["eval", MODEL, version], mv, env)
        t2, proc2 = run(MV + ["promote", MODEL, version, "--stage", "staging", "-m", "bench", "--json"], mv, env)
        if r:  # round 0 warms up
            reg_t.add(t1, proc1)
            pro_t.add(t2, proc2)
    reg_g = pro_g = None
    note = ""
    if not skip_gto:
        reg_g, pro_g = Times(), Times()
        try:
            gj = latest_j(gto, MODEL)
            for _ in range(gto_runs):
                gj += 1
                commit_new_artifact(gto, env, MODEL, gj)
                t1, proc1 = run([str(GTO), "register", MODEL], gto, env, timeout=gto_timeout)
                m = re.search(rf"{MODEL}@(v[0-9.]+)", proc1.stdout.decode() + proc1.stderr.decode())
                reg_g.add(t1, proc1)
                t2, proc2 = run([str(GTO), "assign", MODEL, "--version", m.group(1), "--stage", "staging"], gto, env,
                                timeout=gto_timeout)
                pro_g.add(t2, proc2)
        except Failed as exc:
            note = str(exc)[:200]
        reg_g, pro_g = reg_g or None, pro_g or None
    rep.add("gto", "register (signed; after committing a new artifact; warm record cache)", reg_t,
            "`gto register m3`" if not skip_gto else "(GTO skipped)", reg_g, "≥ 100×",
            None if skip_gto else (lambda r: r >= 100), note)
    rep.add("gto", "promote to staging (signed, gated; after eval; warm record cache)", pro_t,
            "`gto assign m3 --version … --stage staging`" if not skip_gto else "(GTO skipped)", pro_g, "≥ 100×",
            None if skip_gto else (lambda r: r >= 100), note)


# ---------------------------------------------------------------- scaling

def scale_section(rep: Report, env: dict, small: int, large: int, runs: int) -> dict:
    print(f"\n== cost grows with what is asked: {large:,} versions vs {small:,}")
    repos = {}
    for n in (small, large):
        src, meta = make_repo.cached(n, "mv")
        repos[n] = (scratch_copy(src, f"scale-{n}"), meta)
    def compare(label, args, target, before=None):
        times = {small: Times(), large: Times()}
        for n in (small, large):
            if before:
                before(repos[n][0])
            run(MV + args, repos[n][0], env)  # warm-up
        for _ in range(runs):  # interleaved, so drift hits both sizes alike
            for n in (small, large):
                if before:
                    before(repos[n][0])
                times[n].add(*run(MV + args, repos[n][0], env))
        rep.add("scale", f"{label} at {large:,} vs {small:,} versions", times[large],
                f"same at {small:,} versions", times[small], f"≤ {target}×" if target else "(info)",
                (lambda r, t=target: r <= t) if target else None, ratio_of=lambda o, p: o / p)

    show_v = ["show", MODEL, "v10"]
    compare(f"`{' '.join(show_v)}`, cold record cache", show_v, 1.3, before=drop_record_cache)
    for n in (small, large):
        drop_record_cache(repos[n][0])
        fill_s = fill_record_cache(repos[n][0], env, repos[n][1]["models"])
        files, size = cache_size(repos[n][0])
        print(f"  record cache at {n:,} versions filled (every model listed) in {fill_s:.1f} s: "
              f"{files:,} files, {size / 1e6:.1f} MB")
    compare(f"`{' '.join(show_v)}`, warm record cache (every model listed before)", show_v, 1.3)
    compare("`show` (all models), warm record cache", ["show"], None)
    compare(f"`history {MODEL} --stage production`, warm record cache", ["history", MODEL, "--stage", "production"], None)

    def new_artifact(repo: Path) -> None:
        commit_new_artifact(repo, env, MODEL, latest_j(repo, MODEL) + 1)

    compare(f"`register {MODEL}` (signed; after a new commit), warm record cache", ["register", MODEL, "-m", "bench"],
            None, before=new_artifact)
    out = {}
    for n in (small, large):
        print(f"  server hook setup at {n:,} versions ...", flush=True)
        out[n] = hook_latency.run_size(n, runs, env, log=lambda s: print(s, flush=True))
    for stage in ("staging", "production"):
        for what, label in (("hook", "server hook process alone"),
                            ("check", "hook's check in-process, no start-up (diagnostic)"),
                            ("push", "git push (hook on)"), ("push_nohook", "git push, hook OFF (git's own cost)")):
            a = Times(out[small]["stages"][stage][what]["wall"], out[small]["stages"][stage][what]["cpu"])
            b = Times(out[large]["stages"][stage][what]["wall"], out[large]["stages"][stage][what]["cpu"])
            # The target is the server hook's latency; the whole push also pays git's own cost of
            # advertising and connectivity-checking every ref (shown by the hook-OFF row), so the
            # push rows are information, the hook row is the target.
            info = what in ("push_nohook", "check", "push")
            rep.add("scale", f"{label}, one {stage} tag, {large:,} vs {small:,} versions", b, f"same at {small:,} versions",
                    a, "(info)" if info else "≤ 1.3×", None if info else (lambda r: r <= 1.3), ratio_of=lambda o, p: o / p)
        share = {}
        for n in (small, large):
            st = out[n]["stages"][stage]
            share[n] = median(st["push"]["wall"]) - median(st["push_nohook"]["wall"])
        rep.add("scale", f"hook's share of the push (median on − median off), one {stage} tag, {large:,} vs {small:,}",
                share[large], f"same at {small:,} versions", share[small], "(info)", None, ratio_of=lambda o, p: o / p)
    print(f"  load average during the hook rounds: {out[small]['load']} (small), {out[large]['load']} (large)")
    return out


# ---------------------------------------------------------------- hashing

def hash_section(rep: Report, env: dict, mib: int, runs: int) -> None:
    print(f"\n== register of a {mib} MiB artifact vs sha256sum")
    src, _ = make_repo.cached(100, "mv")
    repo = scratch_copy(src, "hash-100")
    big = repo / "big.bin"
    tiny = repo / "tiny.bin"
    # A version is defined by exactly its policy's artifacts (R1 version-artifacts), so the big and
    # the tiny artifact each belong to a model of their own, in m3's tier (signed register). Both
    # files stay untracked, as large artifacts do (DVC, LFS): register hashes the work tree file.
    with open(repo / ".mv-promote.toml", "a") as fh:
        for m in ("big", "tiny"):  # m3's tables (policy_text), with the model's own artifact
            tables = make_repo.policy_text([m]).split(f"[models.{m}]", 1)[1]
            fh.write(f"\n[models.{m}]" + tables.replace(f"models/{m}/model.bin", f"{m}.bin"))
    git(["commit", "-q", "-am", "Register the hashing benchmark's models"], repo, env)
    with open(big, "wb") as fh:
        chunk = os.urandom(64 << 20)
        for _ in range(max(1, mib // 64)):
            fh.write(chunk)
    size = big.stat().st_size

    def touch(path: Path, k: int, tiny_file: bool = False) -> None:
        if tiny_file:
            path.write_bytes(f"tiny artifact {k}\n".encode())
        else:
            with open(path, "r+b") as fh:  # a new digest, the page cache stays warm
                fh.write(k.to_bytes(8, "little"))

    hash_py = ("import time; from gitmv.hashing import sha256_file; t = time.perf_counter(); "
               "sha256_file('big.bin'); print(time.perf_counter() - t)")
    sums, inproc, reg_big, reg_tiny = Times(), Times(), Times(), Times()
    for r in range(runs + 1):
        touch(big, 1000 + r)
        touch(tiny, r, tiny_file=True)
        t_sum, p_sum = run(["sha256sum", "big.bin"], repo, env)
        _, proc = run([sys.executable, "-c", hash_py], repo, env)
        t_in = float(proc.stdout.decode().strip())
        t_big, p_big = run(MV + ["register", "big", "-m", f"big {r}"], repo, env)
        t_tiny, p_tiny = run(MV + ["register", "tiny", "-m", f"tiny {r}"], repo, env)
        if r:
            sums.add(t_sum, p_sum)
            inproc.append(t_in)
            reg_big.add(t_big, p_big)
            reg_tiny.add(t_tiny, p_tiny)
    s, i, b, t = median(sums), median(inproc), median(reg_big), median(reg_tiny)
    gib = size / (1 << 30)
    print(f"  throughput: sha256sum {gib / s:.2f} GiB/s, sha256_file {gib / i:.2f} GiB/s, "
          f"register (minus tiny register) {gib / (b - t):.2f} GiB/s; register big {fmt_s(b)}, tiny {fmt_s(t)}")
    rep.add("hash", f"gitmv.hashing.sha256_file, {mib} MiB (in-process)", i, "`sha256sum FILE`", sums,
            "≥ 0.8× throughput", lambda r: r >= 0.8, f"({gib / i:.2f} vs {gib / s:.2f} GiB/s)")
    rep.add("hash", f"`register` {mib} MiB minus `register` of a tiny artifact", b - t, "`sha256sum FILE`", sums,
            "≥ 0.8× throughput", lambda r: r >= 0.8, f"(register big {fmt_s(b)}, tiny {fmt_s(t)}; {gib / (b - t):.2f} GiB/s)")
    big.unlink()


# ---------------------------------------------------------------- start-up

def commands(env: dict, cwd: Path) -> list[str]:
    _, proc = run(MV + ["-h"], cwd, env)
    text = proc.stdout.decode()
    body = text.split("Commands:", 1)[1] if "Commands:" in text else ""
    return [line.split()[0] for line in body.splitlines() if line.startswith("  ") and line.split()]


def startup_section(rep: Report, env: dict, runs: int) -> None:
    print("\n== start-up")
    src, _ = make_repo.cached(100, "mv")
    tiny = scratch_copy(src, "startup-100")
    direct = str(Path(sys.executable).parent / "git-mv-promote")
    for label, cmd, target in (("`git-mv-promote --help` (entry point)", [direct, "--help"], 0.15),
                               ("`git mv-promote -h` (through git)", MV + ["-h"], 0.15)):
        rep.add("startup", label, timed_runs(cmd, tiny, env, runs), "limit", target, f"< {target} s",
                lambda r: r < 1, ratio_of=lambda o, p: o / p)
    cmds = commands(env, tiny)
    for name in cmds:
        args = [name, "install", "-h"] if name == "hooks" else [name, "-h"]
        rep.add("startup", f"`git mv-promote {' '.join(args)}`", timed_runs(MV + args, tiny, env, runs), "limit", 0.4,
                "< 0.4 s", lambda r: r < 1, ratio_of=lambda o, p: o / p)
    for args in (["show"], ["show", MODEL], ["show", MODEL, "v5"], ["history", MODEL], ["log", MODEL],
                 ["diff", MODEL, "v4", "v5"]):
        rep.add("startup", f"`git mv-promote {' '.join(args)}` on a 100-version repo",
                timed_runs(MV + args, tiny, env, runs), "limit", 0.4, "< 0.4 s", lambda r: r < 1,
                ratio_of=lambda o, p: o / p)


# ---------------------------------------------------------------- main

def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="smoke run: 500 versions, scale 100 vs 2,000, 64 MiB, 3 runs")
    ap.add_argument("--runs", type=int, help="timed runs of our commands (median reported; default 7, quick 3)")
    ap.add_argument("--gto-runs", type=int, default=1, help="timed runs of each GTO command (default 1)")
    ap.add_argument("--gto-timeout", type=float, default=600, help="seconds before a GTO command is given up")
    ap.add_argument("--skip-gto", action="store_true", help="do not run GTO")
    ap.add_argument("--versions", type=int, help="size of the GTO comparison (default 5,000; quick 500)")
    ap.add_argument("--scale", default=None, help="small,large versions for the scaling checks (default 100,50000)")
    ap.add_argument("--mib", type=int, help="artifact size for the hashing check (default 1024; quick 64)")
    ap.add_argument("--only", default="gto,scale,hash,startup", help="sections to run (gto includes the git section)")
    args = ap.parse_args()
    runs = args.runs or (3 if args.quick else 7)
    versions = args.versions or (500 if args.quick else 5000)
    small, large = (int(x) for x in (args.scale or ("100,2000" if args.quick else "100,50000")).split(","))
    mib = args.mib or (64 if args.quick else 1024)
    only = set(args.only.split(","))

    started = time.monotonic()
    env = env_for()
    info = machine()
    print("machine:", json.dumps(info))
    rep = Report()
    sections: dict[str, dict] = {}
    stamp = time.strftime("%Y%m%d-%H%M%S")
    titles = {"gto": f"vs GTO at {versions:,} versions", "git": f"vs git for-each-ref at {versions:,} versions",
              "scale": f"scaling {small:,} -> {large:,} versions", "hash": f"hashing {mib} MiB", "startup": "start-up"}

    def save() -> str:
        total = time.monotonic() - started
        md = [f"benchmark run ({'quick' if args.quick else 'full'}), {time.strftime('%Y-%m-%d %H:%M:%S')}: "
              f"{runs} timed runs of each of our commands (median, after a warm-up), GTO N={args.gto_runs}; "
              f"total {total:.0f} s", "", "```", json.dumps(info), "```", ""]
        for section, meta in sections.items():
            code = meta["code_before"] if meta["code_before"] == meta["code_after"] else \
                f"{meta['code_before']} -> {meta['code_after']} (CHANGED during the section)"
            md.append(f"- {section}: {meta['seconds']} s, load average {meta['load_before']} -> {meta['load_after']}, "
                      f"code {code}" + (f"; ERROR: {meta['error']}" if meta.get("error") else ""))
        md.append("")
        for section, title in titles.items():
            if any(r["section"] == section for r in rep.rows):
                md += [f"### {title}", "", rep.markdown(section), ""]
        text = "\n".join(md)
        (OUT / f"results-{stamp}.md").write_text(text)
        (OUT / f"results-{stamp}.json").write_text(json.dumps(
            {"machine": info, "rows": rep.rows, "total_s": total, "sections": sections, "runs": runs,
             "gto_runs": args.gto_runs, "versions": versions, "scale": [small, large], "mib": mib}, indent=1,
            default=str))
        return text

    for name, fn in (("gto", lambda: gto_section(rep, env, versions, runs, args.gto_runs, args.gto_timeout, args.skip_gto)),
                     ("scale", lambda: scale_section(rep, env, small, large, runs)),
                     ("hash", lambda: hash_section(rep, env, mib, runs)),
                     ("startup", lambda: startup_section(rep, env, runs))):
        if name not in only:
            continue
        meta = sections[name] = {"load_before": wait_idle(log=print), "code_before": code_version()}
        t0 = time.monotonic()
        try:
            fn()
        except Exception as exc:  # keep what was measured; say what broke
            import traceback

            traceback.print_exc()
            meta["error"] = f"{type(exc).__name__}: {str(exc)[:300]}"
        meta["seconds"] = round(time.monotonic() - t0, 1)
        meta["load_after"] = loadavg()
        meta["code_after"] = code_version()
        save()
    text = save()
    total = time.monotonic() - started
    print("\n" + text)
    failed = [r for r in rep.rows if r["pass"] is False]
    errors = [n for n, m in sections.items() if m.get("error")]
    print(f"\n{len(rep.rows) - len(failed)} rows pass or are informational, {len(failed)} fail"
          f"{', sections with errors: ' + ', '.join(errors) if errors else ''}; results in {OUT}/results-{stamp}.md "
          f"({total:.0f} s)")
    return 1 if failed or errors else 0


if __name__ == "__main__":
    sys.exit(main())
