#!/usr/bin/env python3
"""A training pipeline's last step, through the Python API (`gitmv.api`):
register the model you just trained, evaluate it, and request its promotion.

Run it in the model repository after training and committing the artifacts:

    python3 examples/pipeline.py --model churn --stage production --push \\
        -m "nightly retrain" --run-id "$CI_PIPELINE_ID"

What it does, in order (each step is one API call; see docs/api.md):

1. `api.register`  a signed version tag mv/<model>/v<N> for the artifacts at HEAD
                   (or, with --version vN, reuse a version registered earlier);
2. `api.evaluate`  run the policy's eval command and attach the report as evidence;
3. `api.request`   run the gate (every criterion but approvals) and open the review
                   branch mv-promote/<model>/<vN>-<stage>; with --push, push it together
                   with the registry tags and notes. A reviewer merging it is the approval.

Exit status: 0 when the request branch was created; otherwise the `exit_code` of the
`gitmv.errors.MvError` that stopped it (1: refused by the gate or the repository's fault,
2: usage), after printing its cause and fix. Any other exception is a bug and propagates.
"""

from __future__ import annotations

import argparse
import sys

from gitmv import api
from gitmv.errors import MvError


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description="Register, evaluate and request promotion of a model version.")
    p.add_argument("--model", required=True, help="model name from .mv-promote.toml, e.g. churn")
    p.add_argument("--stage", required=True, help="stage to request, e.g. production")
    p.add_argument("--push", action="store_true", help="push the request branch, registry tags and notes")
    p.add_argument("--remote", default="origin", help="remote to push to (default: origin)")
    p.add_argument("--version", metavar="vN", help="use this registered version instead of registering HEAD")
    p.add_argument("-m", "--message", default="", help="why this version exists / why promote it")
    p.add_argument("--run-id", help="training run id to record (CI job, MLflow run, ...)")
    p.add_argument("--repo", default=".", help="path inside the model repository (default: .)")
    return p.parse_args(argv)


def warn(result: dict) -> None:
    for w in result.get("warnings") or []:
        print(f"warning: {w}", file=sys.stderr)


def run(args: argparse.Namespace) -> None:
    model, stage, repo = args.model, args.stage, args.repo

    if args.version:
        version = args.version
        shown = api.show(model, version, path=repo)
        print(f"using {model} {version} ({shown['ref']}, tag {shown['tag'][:12]})")
    else:
        reg = api.register(model, message=args.message, run_id=args.run_id, path=repo)
        warn(reg)
        version = reg["version"]
        print(f"registered {model} {version} ({reg['ref']}, tag {reg['tag'][:12]}, commit {reg['record']['commit'][:12]})")
        for path, meta in sorted(reg["record"]["artifacts"].items()):
            print(f"  {path}  sha256:{meta['sha256']}")

    ev = api.evaluate(model, version, path=repo)
    warn(ev)
    rec = ev["record"]
    print(f"evaluated {model} {version} on suite {rec['suite']}: "
          + ", ".join(f"{k}={v}" for k, v in sorted(rec["metrics"].items())) + f" (record {rec['id'][:19]}…)")

    req = api.request(model, version, stage, reason=args.message, push=args.push, remote=args.remote, path=repo)
    warn(req)
    for c in req["verdict"]["criteria"]:
        print(f"  {'pass' if c['passed'] else 'FAIL'}  {c['name']}: {c['detail']}")
    print(f"requested {model} {version} -> {stage} on branch {req['branch']} (commit {req['commit'][:12]})")
    if req["pushed"] is not None:
        pushed = req["pushed"]["pushed"] or ["nothing new"]
        print(f"pushed {req['branch']} to {args.remote}, and synced: {', '.join(pushed)}")
    print("next:")
    for step in req["next"]:
        print(f"  {step}")


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        run(args)
    except MvError as exc:
        print(f"error: {exc.cause}", file=sys.stderr)
        if exc.fix:
            print(f"  fix: {exc.fix}", file=sys.stderr)
        return exc.exit_code
    return 0


if __name__ == "__main__":
    sys.exit(main())
