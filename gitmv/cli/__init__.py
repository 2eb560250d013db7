"""`git mv-promote` command line: parse, call `gitmv.api`, render through `gitmv.output`.

Exit codes are decided in `main` alone: 0 ok, 1 the user's or the repository's fault, 2 usage,
3 a bug. `gitmv.api` is imported inside each command so that `--help` stays fast.
"""

from __future__ import annotations

import os
import sys
import tempfile
import traceback

import click

from gitmv import output
from gitmv.errors import EXIT_BUG, EXIT_FAULT, EXIT_OK, EXIT_USAGE, MvError

CONTEXT = {"help_option_names": ["-h", "--help"], "max_content_width": 100}
json_option = click.option("--json", "as_json", is_flag=True, help="Print machine-readable JSON (stable, documented in docs/reference.md).")


def _api():
    from gitmv import api

    return api


def _warn(result: dict) -> None:
    for w in result.get("warnings") or []:
        output.error(f"warning: {w}")


@click.group(context_settings=CONTEXT)
@click.version_option(package_name="git-mv-promote", prog_name="git mv-promote")
def cli():
    """A Git-native model registry and promotion gate.

    \b
    A model version is a signed annotated tag refs/tags/mv/<model>/v<N> carrying its full record
    (code commit, data pins, dependency lock digest, params, seeds, artifact sha256s). Eval reports,
    approvals and deprecations are TOML notes in refs/notes/mv-promote. Promotion and rollback are
    signed stage tags refs/tags/mv/<model>/<stage>/<seq>. The gate and the stages come from
    .mv-promote.toml, committed at the repository root.

    \b
    Typical loop:
      git mv-promote init --model churn --artifact model.bin --add-signer
      git mv-promote register churn -m "retrained on November data"
      git mv-promote eval churn v1
      git mv-promote check churn v1 --stage production
      git mv-promote promote churn v1 --stage production -m "beats v0 on holdout"

    Exit codes: 0 ok, 1 refused or the repository's fault (one-line cause and fix), 2 usage, 3 bug.
    """


# ---------------------------------------------------------------- init / register / show / verify

@cli.command(context_settings=CONTEXT)
@click.option("--model", help="Model name to put in the new policy.")
@click.option("--artifact", "artifacts", multiple=True, metavar="PATH", help="Artifact file(s) of that model (repeatable).")
@click.option("--add-signer", is_flag=True, help="Add your ssh signing key (user.signingkey) to the allowed signers file.")
@click.option("--no-hook", is_flag=True, help="Do not install the client pre-push hook.")
@json_option
def init(model, artifacts, add_signer, no_hook, as_json):
    """Set up the registry in this repository (idempotent).

    Writes a commented .mv-promote.toml when none exists (never overwrites), adds the notes fetch
    refspec to each remote (no push refspec: a plain 'git push' keeps working as before), optionally
    adds your signing key to the allowed signers, and installs the pre-push hook.
    """
    result = _api().init(model=model, artifacts=artifacts, add_signer=add_signer, install_hook=not no_hook)
    if as_json:
        return output.emit_json(result)
    output.lines(f"- {d}" for d in result["done"])
    output.lines(f"next: {n}" for n in result["next"])


def _progress(path, done, total):
    if total >= 64 << 20:
        output.progress(f"hashing {path}: {done * 100 // max(total, 1)}% of {total >> 20} MiB")


@cli.command(context_settings=CONTEXT)
@click.argument("model")
@click.option("--artifact", "artifacts", multiple=True, metavar="PATH", help="Artifact file(s); default: the policy's list.")
@click.option("--run-id", help="Training run id (CI job, MLflow run, DVC experiment).")
@click.option("--parent", metavar="vN", help="Parent version (default: the latest version).")
@click.option("--seed", "seeds", multiple=True, type=int, help="Random seed(s) used in training (repeatable).")
@click.option("-m", "--message", default="", help="Why this version exists.")
@click.option("--no-sign", is_flag=True, help="Do not sign the tag (research tier only).")
@click.option("--allow-dirty", is_flag=True, help="Allow uncommitted changes (research tier only).")
@click.option("--experiment", "experiment", is_flag=False, flag_value="", default=None, metavar="[NAME]",
              help="Record an experiment under refs/mv-exp/<model>/ instead (unsigned, not pushed, gc'd).")
@click.option("--from-experiment", metavar="ID", help="The experiment this version comes from (kept in its lineage).")
@json_option
def register(model, artifacts, run_id, parent, seeds, message, no_sign, allow_dirty, experiment, from_experiment, as_json):
    """Register a new version of MODEL as a signed annotated tag mv/<model>/v<N>.

    Hashes every artifact (sha256), reads DVC pins, the lockfile and params as committed at HEAD,
    and records the code commit, seeds, run id, parent, who, when and why.
    """
    result = _api().register(model, artifacts=artifacts, run_id=run_id, parent=parent, seeds=seeds, message=message,
                             sign=not no_sign, allow_dirty=allow_dirty, experiment=experiment,
                             from_experiment=from_experiment, on_progress=_progress)
    output.progress_done()
    _warn(result)
    if as_json:
        return output.emit_json(result)
    rec = result["record"]
    what = "experiment " if experiment is not None else ""
    output.line(f"registered {model} {what}{result['version']} ({result['ref']}, tag {result['tag'][:12]})")
    for path, meta in sorted(rec["artifacts"].items()):
        output.line(f"  {path}  sha256:{meta['sha256']}  {meta['size']} bytes")
    output.line(f"  commit {rec['commit'][:12]}  parent {rec.get('parent') or '-'}  signer {rec.get('signer') or 'unsigned'}")


@cli.command(context_settings=CONTEXT)
@click.argument("model", required=False)
@click.argument("version", required=False)
@click.option("--experiments", is_flag=True, help="List MODEL's experiments (refs/mv-exp/) instead.")
@json_option
def show(model, version, experiments, as_json):
    """Show the registry: all models, one model's versions, or one version's full record."""
    if experiments:
        if not model:
            raise click.UsageError("--experiments needs a MODEL")
        result = _api().experiments(model)
        _warn(result)
        if as_json:
            return output.emit_json(result)
        rows = [(e["id"], e["created_at"], e["commit"][:12], e["evals"], e["named_by"] or "-", e["message"])
                for e in result["experiments"]]
        return output.table(["experiment", "created", "commit", "evals", "became", "message"], rows)
    result = _api().show(model, version)
    _warn(result)
    if as_json:
        return output.emit_json(result)
    if model is None:
        if not result["models"]:
            return output.line("no models yet: add one to .mv-promote.toml and run 'git mv-promote register MODEL'")
        rows = [(m["model"], m["latest"] or "-", m["versions"],
                 ", ".join(f"{s}={v}" for s, v in m["stages"].items()) or "-") for m in result["models"]]
        return output.table(["model", "latest", "versions", "stages"], rows)
    if version is None:
        rows = [(v["version"], v["created_at"], v["created_by"], v["commit"][:12], ",".join(v["stages"]) or "-",
                 "DEPRECATED" if v["deprecated"] else "", v["message"]) for v in result["versions"]]
        return output.table(["version", "created", "by", "commit", "current in", "", "message"], rows)
    from gitmv.records import to_toml

    sig = result["signature"]
    output.line(f"{model} {version}  {result['ref']}  tag {result['tag']}")
    output.line(f"signature: {'good, ' + str(sig['principal']) + ' ' + str(sig['fingerprint']) if sig['ok'] else 'NOT VALID: ' + sig['reason']}")
    output.line(f"current in: {', '.join(result['current_in']) or '-'}{'  DEPRECATED' if result['deprecated'] else ''}")
    output.line("")
    output.line(to_toml(result["record"]).rstrip())
    for rec in result["evidence"]:
        output.line("")
        output.line(f"[{rec.get('kind')} {rec.get('id', '')[:19]}… {rec.get('at')} by {rec.get('by')}]")
        if rec.get("kind") == "eval":
            output.line(f"  suite {rec.get('suite')}: " + ", ".join(f"{k}={v}" for k, v in sorted(rec.get("metrics", {}).items())))


@cli.command(context_settings=CONTEXT)
@click.argument("model", required=False)
@click.argument("version", required=False)
@click.option("--data", "data", is_flag=True, help="Check instead that every object of MODEL's DVC pins and artifacts is in the DVC remote (needs the [dvc] extra).")
@json_option
def verify(model, version, data, as_json):
    """Verify signatures, records, artifact digests and the append-only notes history.

    The work-tree artifact is checked for the version registered at HEAD's commit; every other
    version through its stored copy (Git blob at its commit, DVC cache). Exit 1 names every failure.
    """
    if data:
        if not model:
            raise click.UsageError("--data needs a MODEL")
        result = _api().verify_data(model, version)
        checked = f"{len(result['versions'])} version(s), {result['objects_checked']} DVC object(s)"
    else:
        result = _api().verify(model, version)
        checked = f"{len(result['checked'])} version(s)"
    _warn(result)
    if as_json:
        output.emit_json(result)
    else:
        for f in result["failures"]:
            output.error(f"FAIL {f}")
        output.line(f"verified {checked}: " + ("ok" if result["ok"] else f"{len(result['failures'])} failure(s)"))
    return EXIT_OK if result["ok"] else EXIT_FAULT


@cli.command(context_settings=CONTEXT)
@click.argument("model")
@click.argument("version")
@json_option
def reproduce(model, version, as_json):
    """Rebuild VERSION from its commit and pinned data and compare artifact digests.

    Checks the commit out into a temporary worktree (your work tree is never touched), pulls the
    pinned data from the DVC remote, runs the policy's train command (default 'dvc repro --force')
    and records a reproduction record: match, or mismatch with both digests. Exit 1 on mismatch.
    """
    result = _api().reproduce(model, version)
    _warn(result)
    if as_json:
        output.emit_json(result)
    else:
        for rel, want in sorted(result["recorded"].items()):
            got = result["produced"].get(rel)
            output.line(f"  {rel}: recorded {want[:16]}…, reproduced {(got or 'nothing')[:16]}{'…' if got else ''}"
                        f"  {'match' if got == want else 'MISMATCH'}")
        output.line(f"{model} {version}: {'reproduced, digests match' if result['match'] else 'NOT reproduced: digests differ'}"
                    f" (recorded {result['record']['id'][:19]}…)")
    return EXIT_OK if result["match"] else EXIT_FAULT


# ---------------------------------------------------------------- evidence and gate

@cli.command("eval", context_settings=CONTEXT)
@click.argument("model")
@click.argument("version")
@click.option("--suite", help="Eval suite name (default: the policy's).")
@click.option("--from-file", type=click.Path(dir_okay=False), help="Import a metrics JSON made elsewhere instead of running the command.")
@json_option
def eval_cmd(model, version, suite, from_file, as_json):
    """Evaluate VERSION and record the report as evidence bound to its artifact digests.

    Runs the policy's eval command with {artifact} and {output} substituted (after checking the
    artifact's sha256), reads {"metrics": {...}, "slices": {...}} from {output}, and appends an
    eval record to the version's note. A failing command or malformed report records nothing.
    """
    result = _api().evaluate(model, version, suite=suite, from_file=from_file)
    _warn(result)
    if as_json:
        return output.emit_json(result)
    rec = result["record"]
    output.line(f"recorded eval {rec['id'][:19]}… for {model} {version} on suite {rec['suite']}")
    output.line("  " + ", ".join(f"{k}={v}" for k, v in sorted(rec["metrics"].items())))
    for name, metrics in sorted(rec.get("slices", {}).items()):
        output.line(f"  {name}: " + ", ".join(f"{k}={v}" for k, v in sorted(metrics.items())))


def _render_verdict(v: dict) -> None:
    rows = [("pass" if c["passed"] else "FAIL", c["name"], c["detail"]) for c in v["criteria"]]
    output.table(["", "criterion", "detail"], rows)
    output.line("")
    verb = "may enter" if v["passed"] else "may NOT enter"
    output.line(f"{v['model']} {v['version']} {verb} {v['stage']}")


@cli.command(context_settings=CONTEXT)
@click.argument("model")
@click.argument("version")
@click.option("--stage", required=True, help="Target stage.")
@json_option
def check(model, version, stage, as_json):
    """Dry-run the gate for VERSION entering STAGE: one row per criterion. Exit 0 pass, 1 fail."""
    result = _api().check(model, version, stage)
    _warn(result)
    if as_json:
        output.emit_json(result)
    else:
        _render_verdict(result)
    return EXIT_OK if result["passed"] else EXIT_FAULT


@cli.command(context_settings=CONTEXT)
@click.argument("model")
@click.argument("version")
@click.option("--stage", required=True, help="Target stage.")
@click.option("-m", "--message", "reason", default="", help="Why.")
@json_option
def promote(model, version, stage, reason, as_json):
    """Promote VERSION into STAGE with a signed stage tag, if the gate passes."""
    result = _api().promote(model, version, stage, reason=reason)
    _warn(result)
    if as_json:
        return output.emit_json(result)
    output.line(f"promoted {model} {version} to {stage} ({result['ref']})")
    output.line(f"push it: git push origin {result['ref']} refs/notes/mv-promote   (or: git mv-promote sync)")


@cli.command(context_settings=CONTEXT)
@click.argument("model")
@click.option("--stage", required=True, help="Stage to roll back.")
@click.option("--to", "to", metavar="VERSION", help="Target version (default: the one before the current).")
@click.option("--dry-run", is_flag=True, help="Rehearse: check everything, write nothing.")
@click.option("--force", is_flag=True, help="Roll back even if artifacts are not retrievable (recorded).")
@click.option("-m", "--message", "reason", default="", help="Why.")
@json_option
def rollback(model, stage, to, dry_run, force, reason, as_json):
    """Return STAGE to an earlier version with a new signed stage tag (kind = rollback)."""
    result = _api().rollback(model, stage, to=to, dry_run=dry_run, reason=reason, force=force)
    _warn(result)
    if as_json:
        output.emit_json(result)
        return EXIT_OK if (not dry_run or result["verdict"]["passed"]) else EXIT_FAULT
    if dry_run:
        _render_verdict(result["verdict"])
        output.line(f"dry run: {stage} would go from {result['from']} to {result['to']}; nothing written")
        return EXIT_OK if result["verdict"]["passed"] else EXIT_FAULT
    output.line(f"rolled back {model} {stage} from {result['from']} to {result['to']} ({result['ref']})")


@cli.command(context_settings=CONTEXT)
@click.argument("model")
@click.option("--stage", help="Only this stage.")
@click.option("--at", "at", metavar="TIME", help="What each stage held at TIME (RFC 3339, e.g. 2026-11-02T10:00Z).")
@json_option
def history(model, stage, at, as_json):
    """The stage timeline of MODEL, or the state at a point in time."""
    result = _api().history(model, stage=stage, at=at)
    _warn(result)
    if as_json:
        return output.emit_json(result)
    if at:
        rows = [(s, v["version"] or "-", v["since"] or "") for s, v in result["stages"].items()]
        return output.table(["stage", f"version at {at}", "since"], rows)
    rows = [(s, r["seq"], r["version"], r["kind"], r["at"], r["by"], r["reason"])
            for s, entries in result["stages"].items() for r in entries]
    output.table(["stage", "seq", "version", "kind", "at", "by", "reason"], rows)


@cli.command(context_settings=CONTEXT)
@click.argument("model", required=False)
@json_option
def log(model, as_json):
    """The audit trail, newest first: registrations, evals, approvals, promotions, rollbacks, deprecations."""
    result = _api().log(model)
    _warn(result)
    if as_json:
        return output.emit_json(result)
    rows = [(e["at"], e["model"], e["version"], e["event"] + (f" {e['stage']}" if e.get("stage") else ""),
             e.get("by") or "", e.get("why") or "", (e.get("evidence") or "")[:19]) for e in result["events"]]
    output.table(["at", "model", "version", "event", "by", "why", "evidence"], rows)


@cli.command(context_settings=CONTEXT)
@click.argument("model")
@click.argument("version_a")
@click.argument("version_b")
@json_option
def diff(model, version_a, version_b, as_json):
    """What changed between two versions: code, data pins, params, lockfile, artifacts, metrics."""
    result = _api().diff(model, version_a, version_b)
    _warn(result)
    if as_json:
        return output.emit_json(result)
    code = result["code"]
    output.line(f"code: {code['a'][:12]}..{code['b'][:12]}, {len(code['commits'])} commit(s), {len(code['files'])} file(s) changed")
    for c in code["commits"][:20]:
        output.line(f"  {c['id'][:12]} {c['subject']}")
    for title, key in (("artifacts", "artifacts"), ("params", "params")):
        output.line(f"{title}: " + ("unchanged" if not result[key] else ""))
        for ch in result[key]:
            output.line(f"  {ch['status']} {ch['key']}: {ch['a']} -> {ch['b']}")
    output.line("data: " + ("unchanged" if not result["data"] else ""))
    for ch in result["data"]:
        output.line(f"  {ch['status']} {ch['path']} ({ch['source']}): {ch['a']} -> {ch['b']}")
        for f in ch.get("files") or []:
            output.line(f"    {f['status']} {f['path']}")
        if ch.get("note"):
            output.line(f"    {ch['note']}")
    lock = result["lockfile"]
    output.line(f"lockfile: {'changed' if lock['changed'] else 'unchanged'}")
    m = result["metrics"]
    if not m["available"]:
        output.line("metrics: not comparable (an eval on the policy suite is missing for one side)")
        return
    output.line(f"metrics (suite {m.get('suite')}):")
    for r in m["overall"]:
        output.line(f"  {r['metric']}: {r['a']} -> {r['b']} ({r['delta']:+g})" if r["delta"] is not None else f"  {r['metric']}: {r['a']} -> {r['b']}")
    for s, rows in m["slices"].items():
        for r in rows:
            output.line(f"  {s} {r['metric']}: {r['a']} -> {r['b']}" + (f" ({r['delta']:+g})" if r["delta"] is not None else ""))


@cli.command(context_settings=CONTEXT)
@click.argument("model")
@click.argument("version")
@click.option("-m", "--message", "reason", required=True, help="Why it is deprecated.")
@click.option("--sunset", metavar="DATE", help="When it must be out of every stage.")
@json_option
def deprecate(model, version, reason, sunset, as_json):
    """Mark VERSION deprecated: 'show' flags it and the gate refuses promoting it."""
    result = _api().deprecate(model, version, reason=reason, sunset=sunset)
    _warn(result)
    if as_json:
        return output.emit_json(result)
    output.line(f"deprecated {model} {version} ({result['record']['id'][:19]}…)")


# ---------------------------------------------------------------- approval and sync

@cli.command(context_settings=CONTEXT)
@click.argument("model")
@click.argument("version")
@click.option("--stage", required=True, help="Target stage.")
@click.option("-m", "--message", "reason", default="", help="Why (goes into the request and the page).")
@click.option("--push", is_flag=True, help="Push the branch, the registry tags and the notes.")
@click.option("--remote", default="origin", show_default=True, help="Remote to push to.")
@json_option
def request(model, version, stage, reason, push, remote, as_json):
    """Open a promotion request for review: branch mv-promote/<model>/<version>-<stage>.

    Its one commit writes promotions/<model>/<stage>.toml (the request) and .md (the reviewer's
    comparison with the stage's current version). The reviewed merge into the protected branch is
    the approval; then 'promote' records it.
    """
    result = _api().request(model, version, stage, reason=reason, push=push, remote=remote)
    _warn(result)
    if as_json:
        return output.emit_json(result)
    output.line(f"requested {model} {version} -> {stage} on branch {result['branch']} ({result['commit'][:12]})")
    if result["pushed"] is not None:
        output.line(f"pushed the branch and {len(result['pushed']['pushed'])} registry ref(s) (tags, notes) to {remote}")
    output.line("next:")
    output.lines(f"  {n}" for n in result["next"])


@cli.command(context_settings=CONTEXT)
@click.argument("model")
@click.argument("version")
@click.option("--stage", required=True, help="Stage the request asks for.")
@click.option("-m", "--message", "reason", default="", help="Why (goes into the approve commit).")
@click.option("--push", is_flag=True, help="Push the request branch (never forced).")
@click.option("--remote", default="origin", show_default=True, help="Remote to push to.")
@json_option
def approve(model, version, stage, reason, push, remote, as_json):
    """Approve a promotion request with a signed commit on its branch mv-promote/<model>/<version>-<stage>.

    The empty commit names the request file's sha256 (an edit of the request afterwards voids the
    approval); its signer counts as an approver once the branch is merged. The requester cannot
    approve their own request. Index and work tree are not touched.
    """
    result = _api().approve(model, version, stage, reason=reason, push=push, remote=remote)
    _warn(result)
    if as_json:
        return output.emit_json(result)
    output.line(f"approved {model} {version} -> {stage} as {result['approver']} on branch {result['branch']} "
                f"({result['commit'][:12]}, request sha256:{result['request_sha256'][:12]})")
    if result["pushed"]:
        output.line(f"pushed {result['branch']} to {remote}")
    else:
        output.line(f"push it: git push {remote} {result['branch']}")


@cli.command(context_settings=CONTEXT)
@click.argument("model")
@click.argument("version")
@click.option("--stage", help="Only this stage (default: every protected stage).")
@json_option
def approvals(model, version, stage, as_json):
    """List the approval evidence recorded for VERSION and what is still missing."""
    result = _api().approvals_status(model, version, stage)
    _warn(result)
    code = EXIT_OK if all(s["missing"] == 0 for s in result["stages"]) else EXIT_FAULT  # the same with --json
    if as_json:
        output.emit_json(result)
        return code
    for s in result["stages"]:
        state = "complete" if s["missing"] == 0 else f"missing {s['missing']}"
        output.line(f"{s['stage']}: {len(s['approvers'])}/{s['required']} approver(s), {state}")
        if s["merge_commit"]:
            output.line(f"  merge {s['merge_commit'][:12]}" + (f" (PR #{s['pr']})" if s["pr"] else "") + ": " + ", ".join(s["approvers"]))
        for n in s.get("not_counted", []):
            output.line(f"  not counted: {n['kind']} {n['commit'][:12]}: {n['reason']}")
        if s.get("trailers"):
            output.line(f"  trailers (display only, never counted): {', '.join(s['trailers'])}")
        if s["why"]:
            output.line(f"  {s['why']}")
    for rec in result["recorded"]:
        output.line(f"recorded {rec['id'][:19]}… {rec.get('stage')}: {', '.join(rec.get('approvers', []))} at {rec.get('at')}")
    return code


@cli.command(context_settings=CONTEXT)
@click.argument("remote", default="origin")
@json_option
def sync(remote, as_json):
    """Fetch, merge and push registry tags and evidence notes with REMOTE (default origin).

    Notes merge as a union of records; pushes are compare-and-swap and retried on a race. A
    version number taken on the remote meanwhile is re-registered as the next free one.
    """
    try:
        result = _api().sync(remote, on_progress=output.progress)
    finally:
        output.progress_done()
    if as_json:
        return output.emit_json(result)
    for r in result["renumbered"]:
        output.line(f"renumbered {r['from']} -> {r['to']} (the remote already had that number)")
    for d in result["dropped"]:
        output.line(f"dropped {d['ref']}: {d['why']}")
    tags = [r for r in result["fetched"] if r.startswith("refs/tags/")]
    output.line(f"synced with {remote}: fetched {len(tags)} tag(s) and {result['fetched_records']} evidence record(s), "
                f"pushed {len(result['pushed'])} ref(s)")


# ---------------------------------------------------------------- lifecycle

@cli.command(context_settings=CONTEXT)
@click.option("--older-than", metavar="AGE", help="Retention window, e.g. 30d (default: registry.experiment_retention).")
@click.option("--dry-run", is_flag=True, help="Say what would be removed; remove nothing.")
@json_option
def gc(older_than, dry_run, as_json):
    """Delete experiment refs older than the retention window (never one a version came from)."""
    result = _api().gc(older_than, dry_run)
    _warn(result)
    if as_json:
        return output.emit_json(result)
    verb = "would remove" if dry_run else "removed"
    for r in result["removed"]:
        output.line(f"{verb} {r['ref']} ({r['age_days']} days old)")
    for k in result["kept"]:
        output.line(f"kept {k['ref']}: {k['why']}")
    output.line(f"{verb} {len(result['removed'])} experiment(s), kept {len(result['kept'])}")


@cli.command(context_settings=CONTEXT)
@click.argument("model")
@click.argument("version")
@click.option("--dot", "as_dot", is_flag=True, help="Print Graphviz DOT (render with: dot -Tsvg).")
@json_option
def lineage(model, version, as_dot, as_json):
    """The lineage of VERSION: parents, experiment, code commit, data pins, evals, stage history."""
    result = _api().lineage(model, version)
    _warn(result)
    if as_json:
        return output.emit_json({k: v for k, v in result.items() if k != "dot"})
    if as_dot:
        return output.line(result["dot"].rstrip("\n"))
    labels = {n["id"]: n["label"] for n in result["nodes"]}
    for e in result["edges"]:
        output.line(f"{labels[e['from']]}  --{e['label']}-->  {labels[e['to']]}")


# ---------------------------------------------------------------- ecosystem

@cli.command(context_settings=CONTEXT)
@click.option("--html", "html_dir", required=True, metavar="DIR", help="Write a self-contained HTML page to DIR/index.html.")
@json_option
def report(html_dir, as_json):
    """Write the registry as a static, self-contained HTML page: models, versions, stage timelines,
    lineage graphs and per-slice metric charts (no network needed to view it)."""
    from gitmv.ops import report as report_mod

    result = report_mod.build(html_dir)
    if as_json:
        return output.emit_json(result)
    output.line(f"wrote {result['path']} ({result['models']} model(s), {result['versions']} version(s))")


@cli.command("import", context_settings=CONTEXT)
@click.option("--gto", "gto", is_flag=True, required=True, help="Import a GTO registry (name@vX.Y.Z and name#stage#N tags).")
@click.option("--dry-run", is_flag=True, help="Say what would be imported; write nothing.")
@click.option("--no-sign", is_flag=True, help="Do not sign the imported tags (research tier only).")
@json_option
def import_cmd(gto, dry_run, no_sign, as_json):
    """Import GTO's versions and stage history as signed mv-promote tags; GTO's tags stay untouched."""
    from gitmv.ops import gto_import

    result = gto_import.import_gto(".", dry_run=dry_run, sign=not no_sign)
    if as_json:
        return output.emit_json(result)
    verb = "would import" if dry_run else "imported"
    for v in result["versions"]:
        output.line(f"{verb} {v['gto']} as {v['model']} {v['version']}")
    for s in result["stages"]:
        output.line(f"{verb} {s.get('gto', '')} as {s.get('ref', s)}")
    for d in result.get("deprecations", []):
        output.line(f"{verb} deprecation {d.get('gto', '')} of {d.get('model', '')} {d.get('version', '')}".rstrip())
    for s in result.get("skipped", []):
        output.line(f"skipped {s}")


# ---------------------------------------------------------------- hooks

@cli.group(context_settings=CONTEXT)
def hooks():
    """Install or remove the pre-push hook (client) or the pre-receive hook (server)."""


@hooks.command("install", context_settings=CONTEXT)
@click.option("--server", metavar="BARE_REPO", help="Install the server-side pre-receive hook into this bare repository.")
@json_option
def hooks_install_cmd(server, as_json):
    """Install the hook shim; an existing hook is kept and run first."""
    from gitmv.git.repo import Repo
    from gitmv.hooks import install as hooks_install

    done = hooks_install.install_server(server) if server else hooks_install.install_client(Repo.discover("."))
    if as_json:
        return output.emit_json({"done": done})
    output.lines(f"- {d}" for d in done or ["already installed"])


@hooks.command("uninstall", context_settings=CONTEXT)
@click.option("--server", metavar="BARE_REPO", help="Remove the server-side hook from this bare repository.")
@json_option
def hooks_uninstall_cmd(server, as_json):
    """Remove the hook shim and restore the hook it replaced."""
    from gitmv.git.repo import Repo
    from gitmv.hooks import install as hooks_install

    done = hooks_install.uninstall_server(server) if server else hooks_install.uninstall_client(Repo.discover("."))
    if as_json:
        return output.emit_json({"done": done})
    output.lines(f"- {d}" for d in done or ["nothing to remove"])


# ---------------------------------------------------------------- entry point

def main(argv: list[str] | None = None) -> None:
    for stream in (sys.stdout, sys.stderr):
        try:  # a terminal that cannot show "≥" or "✅" gets "?" rather than a crash
            stream.reconfigure(errors="replace")
        except (AttributeError, ValueError):
            pass
    try:
        completing = "_GIT_MV_PROMOTE_COMPLETE" in os.environ
        code = cli.main(args=argv, prog_name="git-mv-promote" if completing else "git mv-promote",
                        complete_var="_GIT_MV_PROMOTE_COMPLETE", standalone_mode=False)
    except click.exceptions.Exit as exc:
        code = exc.exit_code
    except click.exceptions.Abort:
        output.error("aborted")
        code = 130
    except click.UsageError as exc:
        exc.show()
        code = EXIT_USAGE
    except click.ClickException as exc:
        exc.show()
        code = EXIT_FAULT
    except MvError as exc:
        output.error(f"error: {exc.cause}")
        if exc.fix:
            output.error(f"  fix: {exc.fix}")
        code = exc.exit_code
    except KeyboardInterrupt:
        output.error("interrupted")
        code = 130
    except BrokenPipeError:
        code = EXIT_OK
    except Exception:  # a bug: keep the traceback, tell where it is
        fd, log_path = tempfile.mkstemp(prefix="git-mv-promote-crash-", suffix=".log")
        with os.fdopen(fd, "w") as fh:
            traceback.print_exc(file=fh)
        output.error(f"bug: git mv-promote crashed ({sys.exc_info()[1]!r}); traceback in {log_path} — please report it")
        code = EXIT_BUG
    sys.exit(code if isinstance(code, int) else EXIT_OK)


if __name__ == "__main__":
    main()
