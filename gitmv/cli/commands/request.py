"""Review of a promotion: `request`, `approve`, `approvals`."""

from __future__ import annotations

import click

from gitmv import output
from gitmv.cli.commands import CONTEXT, api, json_option, stack, warn
from gitmv.cli.params import MODEL, STAGE, VERSION
from gitmv.errors import EXIT_FAULT, EXIT_OK


def _review_options(stage_help: str, reason_help: str, push_help: str):
    """The options `request` and `approve` share; only their help differs."""
    return stack(click.command(context_settings=CONTEXT), click.argument("model", type=MODEL),
                 click.argument("version", type=VERSION),
                 click.option("--stage", type=STAGE, required=True, help=stage_help),
                 click.option("-m", "--message", "reason", default="", help=reason_help),
                 click.option("--push", is_flag=True, help=push_help),
                 click.option("--remote", default="origin", show_default=True, help="Remote to push to."), json_option)


@click.option("--offline", is_flag=True,
              help="Skip the comparison of the model's registry tags with the remote's (decide on this clone's state).")
@_review_options("Target stage.", "Why (goes into the request and the page).",
                 "Push the branch, the registry tags and the notes.")
def request(model, version, stage, reason, push, remote, as_json, offline):
    """Open a promotion request for review: branch mv-promote/<model>/<version>-<stage>.

    Its one commit writes promotions/<model>/<stage>.toml (the request) and .md (the reviewer's
    comparison with the stage's current version). The reviewed merge into the protected branch is
    the approval; then 'promote' records it.
    """
    result = api().request(model, version, stage, reason=reason, push=push, remote=remote, offline=offline)
    warn(result)
    if as_json:
        return output.emit_json(result)
    output.line(f"requested {model} {version} -> {stage} on branch {result['branch']} ({result['commit'][:12]})")
    if result["pushed"] is not None:
        output.line(f"pushed the branch and {len(result['pushed']['pushed'])} registry ref(s) (tags, notes) to {remote}")
    output.line("next:")
    output.lines(f"  {n}" for n in result["next"])


@_review_options("Stage the request asks for.", "Why (goes into the approve commit).",
                 "Push the request branch (never forced).")
def approve(model, version, stage, reason, push, remote, as_json):
    """Approve a promotion request with a signed commit on its branch mv-promote/<model>/<version>-<stage>.

    The empty commit names the request file's sha256 (an edit of the request afterwards voids the
    approval); its signer counts as an approver once the branch is merged. The requester cannot
    approve their own request. Index and work tree are not touched.
    """
    result = api().approve(model, version, stage, reason=reason, push=push, remote=remote)
    warn(result)
    if as_json:
        return output.emit_json(result)
    output.line(f"approved {model} {version} -> {stage} as {result['approver']} on branch {result['branch']} "
                f"({result['commit'][:12]}, request sha256:{result['request_sha256'][:12]})")
    if result["pushed"]:
        output.line(f"pushed {result['branch']} to {remote}")
    output.lines(f"push it: {n}" for n in result["next"])


@click.command(context_settings=CONTEXT)
@click.argument("model", type=MODEL)
@click.argument("version", type=VERSION)
@click.option("--stage", type=STAGE, help="Only this stage (default: every protected stage).")
@json_option
def approvals(model, version, stage, as_json):
    """List the approval evidence recorded for VERSION and what is still missing."""
    result = api().approvals_status(model, version, stage)
    warn(result)
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


COMMANDS = (request, approve, approvals)
