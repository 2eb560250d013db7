"""What the report shows, gathered from one registry view: one context per run, plain data out.

Every model is read through the same `Context` (repository, committed policy, `Registry`), with the
context-taking variants of the read-only operations, so the page shows one consistent state and a
run reads each record once. Nothing here knows about HTML or geometry (that is `html.py`).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field

from gitmv.errors import MvError
from gitmv.ops import experiments
from gitmv.ops.context import Context, now, open_context
from gitmv.ops.inspect import history_in, metric_deltas, show_in
from gitmv.policy import ModelPolicy


@dataclass
class ModelData:
    """One model as the registry holds it (rows as `show` and `history` report them)."""

    name: str
    overview: dict                    # the model's row of `show` without a model
    policy: ModelPolicy | None        # None: registered but not in the policy
    versions: list[dict]              # `show <model>` rows, oldest first
    current: dict[str, str | None]    # stage -> current version
    stages: list[str]                 # the stages shown for this model, in promotion order
    history: dict[str, list[dict]]    # stage -> `history` rows, oldest first
    evals: dict[str, dict | None]     # version -> latest eval on the policy's suite
    subject: str | None = None        # the version whose lineage is drawn …
    subject_why: str = ""             # … and why that one
    lineage: dict | None = None       # its lineage graph (nodes, edges)
    baseline: str | None = None       # the holder of the last stage that has one …
    baseline_stage: str | None = None  # … that stage
    deltas: dict | None = None        # `metric_deltas` of the baseline against the latest version

    @property
    def suite(self) -> str | None:
        return self.policy.eval_suite if self.policy else None


@dataclass
class ReportData:
    repo_name: str
    generated_at: str
    head: str
    policy_digest: str
    stages: list[str]                 # the policy's stages, then any other stage present in the registry
    protected_stages: list[str]
    models: list[ModelData] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


def collect(path: str | os.PathLike = ".") -> ReportData:
    """Everything the report shows, read through one context."""
    ctx = open_context(path)
    policy = ctx.policy
    overview = show_in(ctx)
    extra = sorted({s for m in overview["models"] for s in m["stages"] if s not in policy.stages})
    stage_order = list(policy.stages) + extra
    repo = ctx.repo
    name = repo.workdir.name if repo.workdir is not None else repo.git_dir.name
    return ReportData(
        repo_name=name, generated_at=now(), head=ctx.head, policy_digest=policy.digest, stages=stage_order,
        protected_stages=list(policy.protected_stages),
        models=[_model(ctx, row, stage_order) for row in overview["models"]],
        warnings=list(dict.fromkeys(ctx.warnings + overview["warnings"])),
    )


def _model(ctx: Context, row: dict, stage_order: list) -> ModelData:
    name = row["model"]
    mp = ctx.policy.models.get(name)
    detail = show_in(ctx, name)
    versions = detail["versions"]
    current = detail["stages"]
    stages = [s for s in stage_order if s in current or s in ctx.policy.stages]
    history = history_in(ctx, name)["stages"]
    evals = _latest_evals(ctx, name, versions, mp.eval_suite) if mp else {}
    data = ModelData(name=name, overview=row, policy=mp, versions=versions, current=current, stages=stages,
                     history=history, evals=evals)

    # the lineage drawn is that of the version in the last stage that has one, else the latest
    for stage in reversed(stages):
        if current.get(stage):
            data.subject, data.subject_why = current[stage], f"current in {stage}"
            break
    if data.subject is None and versions:
        data.subject, data.subject_why = versions[-1]["version"], "latest version"
    if data.subject is not None:
        data.lineage = experiments.lineage(ctx.registry, name, data.subject)

    baseline_stage = next((s for s in reversed(stages) if current.get(s)), None)
    baseline = current[baseline_stage] if baseline_stage else None
    latest = row["latest"]
    if baseline and latest and baseline != latest and evals.get(baseline) and evals.get(latest):
        data.baseline, data.baseline_stage = baseline, baseline_stage
        data.deltas = metric_deltas(evals[baseline], evals[latest])
    return data


def _latest_evals(ctx: Context, model: str, versions: list, suite: str | None) -> dict:
    """The latest eval on the policy suite bound to each version's artifacts (what the gate reads)."""
    reg = ctx.registry
    out = {}
    for v in versions:
        try:
            out[v["version"]] = reg.latest_eval(reg.version(model, v["version"]), suite)
        except MvError:
            out[v["version"]] = None
    return out
