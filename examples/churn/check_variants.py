"""Re-run the demo variants and check every claim made about them.

For each variants/vN.params.yaml this script, in a scratch copy of the example
(the files next to it are never modified):

  1. runs prepare.py, then train.py twice and eval.py twice,
  2. checks model.bin has the same sha256 both times and that the eval output
     is byte-identical both times,
  3. compares the eval output with variants/vN.metrics.json,

and finally checks the relations the demo relies on:

  v1  baseline: overall auc >= 0.90
  v2  overall auc >= v1, region=eu auc < v1, other slices' auc >= v1
      (and overall accuracy >= v1, latency_ms <= v1: only the eu slice's
      auc regresses, so only a per-slice gate can reject v2)
  v3  overall auc > v1, every slice's auc >= v1, latency_ms <= v1
      (and accuracy >= v1 overall and on every slice)

Usage:  python check_variants.py            # verify (exit 1 on any failure)
        python check_variants.py --update   # rewrite variants/vN.metrics.json
"""
from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
SCRIPTS = ("prepare.py", "train.py", "eval.py")
VARIANTS = ("v1", "v2", "v3")


def run(workdir: Path, *args: str) -> None:
    subprocess.run([sys.executable, *args], cwd=workdir, check=True,
                   stdout=subprocess.DEVNULL)


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def run_variant(name: str, scratch: Path) -> tuple[str, str, float]:
    """Return (model sha256, eval output text, seconds for prepare+train+eval)."""
    work = scratch / name
    work.mkdir()
    for script in SCRIPTS:
        shutil.copy2(HERE / script, work / script)
    shutil.copy2(HERE / "variants" / f"{name}.params.yaml", work / "params.yaml")

    start = time.perf_counter()
    run(work, "prepare.py")
    run(work, "train.py")
    run(work, "eval.py", "model.bin", "metrics.json")
    seconds = time.perf_counter() - start

    first_model, first_eval = sha256(work / "model.bin"), (work / "metrics.json").read_text()
    run(work, "train.py")
    run(work, "eval.py", "model.bin", "metrics2.json")
    if sha256(work / "model.bin") != first_model:
        raise SystemExit(f"{name}: model.bin differs between two training runs")
    if (work / "metrics2.json").read_text() != first_eval:
        raise SystemExit(f"{name}: eval output differs between two runs")
    return first_model, first_eval, seconds


def check_relations(m: dict[str, dict]) -> list[str]:
    def get(v: str, metric: str, where: str = "overall") -> float:
        return m[v]["metrics"][metric] if where == "overall" else m[v]["slices"][where][metric]

    slices = list(m["v1"]["slices"])
    others = [s for s in slices if s != "region=eu"]
    everywhere = ["overall", *slices]
    claims = {
        "v1 overall auc >= 0.90": get("v1", "auc") >= 0.90,
        "v2 overall auc >= v1": get("v2", "auc") >= get("v1", "auc"),
        "v2 region=eu auc < v1": get("v2", "auc", "region=eu") < get("v1", "auc", "region=eu"),
        "v2 other slices auc >= v1": all(get("v2", "auc", s) >= get("v1", "auc", s) for s in others),
        "v2 overall accuracy >= v1": get("v2", "accuracy") >= get("v1", "accuracy"),
        "v2 latency_ms <= v1": get("v2", "latency_ms") <= get("v1", "latency_ms"),
        "v3 overall auc > v1": get("v3", "auc") > get("v1", "auc"),
        "v3 every slice auc >= v1": all(get("v3", "auc", s) >= get("v1", "auc", s) for s in slices),
        "v3 latency_ms <= v1": get("v3", "latency_ms") <= get("v1", "latency_ms"),
        "v3 accuracy >= v1 overall and on every slice":
            all(get("v3", "accuracy", w) >= get("v1", "accuracy", w) for w in everywhere),
    }
    for claim, ok in claims.items():
        print(f"  [{'ok' if ok else 'FAIL'}] {claim}")
    return [c for c, ok in claims.items() if not ok]


def main(argv: list[str]) -> int:
    update = "--update" in argv[1:]
    failures: list[str] = []
    results: dict[str, dict] = {}
    with tempfile.TemporaryDirectory(prefix="churn-variants-") as tmp:
        for name in VARIANTS:
            model_sha, text, seconds = run_variant(name, Path(tmp))
            results[name] = json.loads(text)
            expected_path = HERE / "variants" / f"{name}.metrics.json"
            if update:
                expected_path.write_text(text, encoding="utf-8")
                status = "written"
            elif expected_path.exists() and expected_path.read_text(encoding="utf-8") == text:
                status = "matches"
            else:
                status = "DIFFERS"
                failures.append(f"{name}: eval output differs from {expected_path.name}")
            print(f"{name}: model sha256 {model_sha[:16]}… (stable), eval output stable, "
                  f"{status} variants/{name}.metrics.json, prepare+train+eval {seconds:.1f}s")
            print("   ", json.dumps(results[name], separators=(",", ":")))
    print("relations:")
    failures += check_relations(results)
    if failures:
        print("FAILED:", *failures, sep="\n  ")
        return 1
    print("all checks passed")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
