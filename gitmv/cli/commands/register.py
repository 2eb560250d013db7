"""`register`: a new version (or experiment) of a model."""

from __future__ import annotations

import click

from gitmv import output
from gitmv.cli.commands import CONTEXT, api, json_option, warn
from gitmv.cli.params import MODEL, VERSION


def _progress(path, done, total):
    if total >= 64 << 20:
        output.progress(f"hashing {path}: {done * 100 // max(total, 1)}% of {total >> 20} MiB")


@click.command(context_settings=CONTEXT)
@click.argument("model", type=MODEL)
@click.option("--artifact", "artifacts", multiple=True, metavar="PATH", help="Artifact file(s); default: the policy's list.")
@click.option("--run-id", help="Training run id (CI job, MLflow run, DVC experiment).")
@click.option("--parent", type=VERSION, metavar="vN", help="Parent version (default: the latest version).")
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
    result = api().register(model, artifacts=artifacts, run_id=run_id, parent=parent, seeds=seeds, message=message,
                            sign=not no_sign, allow_dirty=allow_dirty, experiment=experiment,
                            from_experiment=from_experiment, on_progress=_progress)
    output.progress_done()
    warn(result)
    if as_json:
        return output.emit_json(result)
    rec = result["record"]
    what = "experiment " if experiment is not None else ""
    output.line(f"registered {model} {what}{result['version']} ({result['ref']}, tag {result['tag'][:12]})")
    for path, meta in sorted(rec["artifacts"].items()):
        output.line(f"  {path}  sha256:{meta['sha256']}  {meta['size']} bytes")
    output.line(f"  commit {rec['commit'][:12]}  parent {rec.get('parent') or '-'}  signer {rec.get('signer') or 'unsigned'}")


COMMANDS = (register,)
