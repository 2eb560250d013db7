"""`init` and `hooks install|uninstall`: setting up the registry and its hooks."""

from __future__ import annotations

from typing import Callable

import click

from gitmv import output
from gitmv.cli.commands import CONTEXT, api, json_option, respond
from gitmv.cli.params import MODEL


@click.command(context_settings=CONTEXT)
@click.option("--model", type=MODEL, help="Model name to put in the new policy.")
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
    result = api().init(model=model, artifacts=artifacts, add_signer=add_signer, install_hook=not no_hook)
    if as_json:
        return output.emit_json(result)
    output.lines(f"- {d}" for d in result["done"])
    output.lines(f"next: {n}" for n in result["next"])


@click.group(context_settings=CONTEXT, invoke_without_command=True)
@click.option("--server", metavar="BARE_REPO", help="Show the server-side hook of this bare repository instead.")
@json_option
@click.pass_context
def hooks(ctx, server, as_json):
    """Install or remove the pre-push hook (client) or the pre-receive hook (server).

    Without a subcommand: show which hooks are installed.
    """
    if ctx.invoked_subcommand is not None:
        return
    from gitmv.ops import setup

    respond(setup.hooks_status(server=server), as_json,
            lambda result: output.lines(f"{h['hook']}: {'installed' if h['installed'] else 'not installed'}"
                                        f"{' (runs the hook that was there before first)' if h['chained'] else ''} ({h['path']})"
                                        for h in result["hooks"]))


@hooks.command("install", context_settings=CONTEXT)
@click.option("--server", metavar="BARE_REPO", help="Install the server-side pre-receive hook into this bare repository.")
@json_option
def hooks_install_cmd(server, as_json):
    """Install the hook shim; an existing hook is kept and run first."""
    from gitmv.ops import setup

    _hooks(setup.install_hooks, server, as_json, "already installed")


@hooks.command("uninstall", context_settings=CONTEXT)
@click.option("--server", metavar="BARE_REPO", help="Remove the server-side hook from this bare repository.")
@json_option
def hooks_uninstall_cmd(server, as_json):
    """Remove the hook shim and restore the hook it replaced."""
    from gitmv.ops import setup

    _hooks(setup.uninstall_hooks, server, as_json, "nothing to remove")


def _hooks(operation: Callable[..., dict], server: str | None, as_json: bool, nothing: str) -> None:
    respond(operation(server=server), as_json,
            lambda result: output.lines(f"- {d}" for d in result["done"] or [nothing]))


COMMANDS = (init, hooks)
