"""`.mv-promote.toml`: loading and strict validation.

Every key of the design page is known here; an unknown key, a wrong type or a reference to
something undefined is an error naming the key path, because a policy that parses "mostly" could
silently switch a check off.
"""

from __future__ import annotations

import hashlib
import re
import tomllib
from dataclasses import dataclass, field

from gitmv.errors import PolicyError
from gitmv.names import NAME_RE

POLICY_PATH = ".mv-promote.toml"
TIERS = ("research", "production", "regulated")
REGULATED_MIN_APPROVALS = 2
PLACEHOLDER_RE = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)\}")
EVAL_PLACEHOLDERS = {"artifact", "output", "model", "version", "suite"}
DURATION_RE = re.compile(r"^([0-9]+)([smhdw])$")
DURATION_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


@dataclass(frozen=True)
class GatePolicy:
    metrics: dict = field(default_factory=dict)  # name -> "max" | "min"
    thresholds: dict = field(default_factory=dict)
    max_regression: dict = field(default_factory=dict)
    protected_slices: tuple = ()
    approvals: int = 0


@dataclass(frozen=True)
class ModelPolicy:
    name: str
    tier: str
    artifacts: tuple
    model_card: str | None = None
    data: tuple = ()
    params: str | None = None
    lockfile: str | None = None
    eval_suite: str | None = None
    eval_command: str | None = None
    eval_data: str | None = None
    train_command: str | None = None
    gate: GatePolicy = GatePolicy()
    eval_signers: tuple = ()  # principals whose eval records count; empty: any allowed signer

    @property
    def signed(self) -> bool:
        return self.tier != "research"

    @property
    def gated(self) -> bool:
        return self.tier != "research"

    @property
    def required_approvals(self) -> int:
        if self.tier == "regulated":
            return max(self.gate.approvals, REGULATED_MIN_APPROVALS)
        return self.gate.approvals


@dataclass(frozen=True)
class Policy:
    stages: tuple
    protected_stages: tuple
    protected_branch: str
    allowed_signers: str
    require_previous_stage: bool
    rollback_requires_approval: bool
    experiment_retention: int  # seconds
    models: dict
    digest: str
    host_signers: str | None = None  # allowed-signers file of hosts whose signed web merges vouch for their author
    policy_approvals: int = 1  # approvers for a change to the policy, the signers or promotions/**

    def model(self, name: str) -> ModelPolicy:
        from gitmv.errors import NotFoundError

        if name not in self.models:
            known = ", ".join(sorted(self.models)) or "none"
            raise NotFoundError(
                f"unknown model '{name}' (policy defines: {known})",
                f"add [models.{name}] to {POLICY_PATH} and commit it" if NAME_RE.match(name) else None,
            )
        return self.models[name]

    def stage_index(self, stage: str) -> int:
        if stage not in self.stages:
            raise PolicyError(
                f"unknown stage '{stage}' (policy stages: {', '.join(self.stages)})",
                f"use one of them or add it to registry.stages in {POLICY_PATH}",
            )
        return self.stages.index(stage)

    def is_protected(self, stage: str) -> bool:
        return stage in self.protected_stages


def parse_duration(text: str, path: str) -> int:
    m = DURATION_RE.match(text.strip()) if isinstance(text, str) else None
    if not m:
        raise PolicyError(f"{path}: {text!r} is not a duration", "write e.g. \"30d\", \"12h\" or \"2w\"")
    return int(m.group(1)) * DURATION_UNITS[m.group(2)]


class _Reader:
    """Pops keys off a table so that whatever is left over is reported as unknown."""

    def __init__(self, table: dict, path: str):
        if not isinstance(table, dict):
            raise PolicyError(f"{path} must be a table")
        self.table = dict(table)
        self.path = path

    def key(self, name: str) -> str:
        return f"{self.path}.{name}" if self.path else name

    def take(self, name, typ, default=None, required=False):
        if name not in self.table:
            if required:
                raise PolicyError(f"{self.key(name)} is required", f"add it to {POLICY_PATH}")
            return default
        value = self.table.pop(name)
        if typ is float:
            ok = isinstance(value, (int, float)) and not isinstance(value, bool)
        elif typ is int:
            ok = isinstance(value, int) and not isinstance(value, bool)
        else:
            ok = isinstance(value, typ)
        if not ok:
            tname = {str: "a string", bool: "true or false", int: "an integer", float: "a number",
                     list: "an array", dict: "a table"}.get(typ, str(typ))
            raise PolicyError(f"{self.key(name)} must be {tname}, got {value!r}")
        return value

    def strings(self, name, required=False) -> tuple:
        value = self.take(name, list, [], required)
        for i, item in enumerate(value):
            if not isinstance(item, str) or not item:
                raise PolicyError(f"{self.key(name)}[{i}] must be a non-empty string")
        if required and not value:
            raise PolicyError(f"{self.key(name)} must not be empty")
        return tuple(value)

    def done(self) -> None:
        if self.table:
            names = ", ".join(self.key(k) for k in sorted(self.table))
            raise PolicyError(f"unknown key {names} in {POLICY_PATH}", "remove it or fix its spelling")


def _check_stage_name(name: str, path: str) -> None:
    if not NAME_RE.match(name) or re.fullmatch(r"v[0-9]+", name):
        raise PolicyError(f"{path}: '{name}' is not a valid stage name",
                          "use [a-z0-9][a-z0-9_-]* and nothing that looks like a version (v<digits>)")


def _check_relpath(value: str, path: str) -> None:
    if value.startswith("/") or ".." in value.split("/") or "\\" in value:
        raise PolicyError(f"{path}: '{value}' must be a path relative to the repository root")


def _gate(table: dict, path: str) -> tuple[GatePolicy, tuple]:
    r = _Reader(table, path)
    metrics = r.take("metrics", dict, {})
    for name, direction in metrics.items():
        if direction not in ("max", "min"):
            raise PolicyError(f"{path}.metrics.{name} must be \"max\" or \"min\", got {direction!r}")
    numbers = {}
    for key in ("thresholds", "max_regression"):
        values = r.take(key, dict, {})
        for name, value in values.items():
            if name not in metrics:
                raise PolicyError(f"{path}.{key}.{name} names a metric not in {path}.metrics",
                                  f"add {name} = \"max\" or \"min\" to {path}.metrics")
            if not isinstance(value, (int, float)) or isinstance(value, bool):
                raise PolicyError(f"{path}.{key}.{name} must be a number, got {value!r}")
            if key == "max_regression" and value < 0:
                raise PolicyError(f"{path}.{key}.{name} must be ≥ 0, got {value!r}")
        numbers[key] = values
    slices = r.strings("protected_slices")
    approvals = r.take("approvals", int, 0)
    if approvals < 0:
        raise PolicyError(f"{path}.approvals must be ≥ 0")
    eval_signers = r.strings("eval_signers")
    r.done()
    return GatePolicy(metrics=metrics, thresholds=numbers["thresholds"],
                      max_regression=numbers["max_regression"], protected_slices=slices,
                      approvals=approvals), eval_signers


def _model(name: str, table: dict) -> ModelPolicy:
    path = f"models.{name}"
    if not NAME_RE.match(name):
        raise PolicyError(f"{path}: '{name}' is not a valid model name",
                          "use [a-z0-9][a-z0-9_-]{0,63}: lower case, digits, '-' and '_'")
    r = _Reader(table, path)
    tier = r.take("tier", str, "production")
    if tier not in TIERS:
        raise PolicyError(f"{path}.tier must be one of {', '.join(TIERS)}, got {tier!r}")
    artifacts = r.strings("artifacts", required=True)
    model_card = r.take("model_card", str)
    data = r.strings("data")
    params = r.take("params", str)
    lockfile = r.take("lockfile", str)
    for key, value in [("model_card", model_card), ("params", params), ("lockfile", lockfile)]:
        if value:
            _check_relpath(value, f"{path}.{key}")
    for i, value in enumerate(artifacts + data):
        _check_relpath(value, f"{path}.artifacts" if i < len(artifacts) else f"{path}.data")
    ev = _Reader(r.take("eval", dict, {}), f"{path}.eval")
    suite = ev.take("suite", str)
    command = ev.take("command", str)
    if command:
        unknown = sorted(set(PLACEHOLDER_RE.findall(command)) - EVAL_PLACEHOLDERS)
        if unknown:
            raise PolicyError(f"{path}.eval.command uses unknown placeholder(s) {', '.join('{' + u + '}' for u in unknown)}",
                              "use {artifact}, {output}, {model}, {version} or {suite}")
    eval_data = ev.take("data", str)
    if eval_data:
        _check_relpath(eval_data, f"{path}.eval.data")
    ev.done()
    tr = _Reader(r.take("train", dict, {}), f"{path}.train")
    train_command = tr.take("command", str)
    tr.done()
    gate, eval_signers = _gate(r.take("gate", dict, {}), f"{path}.gate")
    r.done()
    if tier != "research":
        if not suite:
            raise PolicyError(f"{path}.eval.suite is required for the {tier} tier",
                              "name the eval suite the gate reads, or set tier = \"research\"")
        if not gate.metrics:
            raise PolicyError(f"{path}.gate.metrics is required for the {tier} tier",
                              "declare at least one metric as \"max\" or \"min\"")
    if tier == "regulated" and not model_card:
        raise PolicyError(f"{path}.model_card is required for the regulated tier")
    if tier == "regulated" and not eval_signers:
        raise PolicyError(f"{path}.gate.eval_signers is required for the regulated tier",
                          "name the principals (from allowed_signers) whose eval records count")
    return ModelPolicy(name=name, tier=tier, artifacts=artifacts, model_card=model_card, data=data,
                       params=params, lockfile=lockfile, eval_suite=suite, eval_command=command,
                       eval_data=eval_data, train_command=train_command, gate=gate,
                       eval_signers=eval_signers)


def parse_policy(raw: bytes, source: str = POLICY_PATH) -> Policy:
    try:
        data = tomllib.loads(raw.decode("utf-8"))
    except UnicodeDecodeError as exc:
        raise PolicyError(f"{source} is not UTF-8") from exc
    except tomllib.TOMLDecodeError as exc:
        raise PolicyError(f"{source} is not valid TOML: {exc}", "fix the syntax and commit") from exc
    r = _Reader(data, "")
    schema = r.take("schema", int, required=True)
    if schema != 1:
        raise PolicyError(f"schema = {schema} in {source} is not supported (this version reads schema 1)")
    reg = _Reader(r.take("registry", dict, required=True), "registry")
    stages = reg.strings("stages", required=True)
    for i, stage in enumerate(stages):
        _check_stage_name(stage, f"registry.stages[{i}]")
    if len(set(stages)) != len(stages):
        raise PolicyError("registry.stages lists a stage twice")
    protected = reg.strings("protected_stages")
    for stage in protected:
        if stage not in stages:
            raise PolicyError(f"registry.protected_stages names '{stage}', which is not in registry.stages")
    branch = reg.take("protected_branch", str, "main")
    signers = reg.take("allowed_signers", str, ".mv-promote/allowed_signers")
    _check_relpath(signers, "registry.allowed_signers")
    require_prev = reg.take("require_previous_stage", bool, False)
    rollback_approval = reg.take("rollback_requires_approval", bool, False)
    retention = parse_duration(reg.take("experiment_retention", str, "30d"), "registry.experiment_retention")
    host_signers = reg.take("host_signers", str)
    if host_signers:
        _check_relpath(host_signers, "registry.host_signers")
    policy_approvals = reg.take("policy_approvals", int, 1)
    if policy_approvals < 0:
        raise PolicyError("registry.policy_approvals must be ≥ 0")
    reg.done()
    models_table = r.take("models", dict, {})
    models = {name: _model(name, table) for name, table in models_table.items()}
    r.done()
    return Policy(stages=stages, protected_stages=protected, protected_branch=branch,
                  allowed_signers=signers, require_previous_stage=require_prev,
                  rollback_requires_approval=rollback_approval, experiment_retention=retention,
                  models=models, digest="sha256:" + hashlib.sha256(raw).hexdigest(),
                  host_signers=host_signers, policy_approvals=policy_approvals)


def template(model: str | None = None, artifacts: tuple = ()) -> str:
    """The commented policy `init` writes."""
    name = model or "churn"
    arts = ", ".join(f'"{a}"' for a in (artifacts or ("model.bin",)))
    return f'''# git mv-promote policy: committed, reviewed, read from the protected branch by the server hook.
schema = 1

[registry]
stages = ["staging", "production"]          # ordered, least to most protected
protected_stages = ["production"]           # the stages the hooks guard
protected_branch = "main"                   # where the server reads policy and approvals
allowed_signers = ".mv-promote/allowed_signers"   # ssh-keygen allowed_signers format
# require_previous_stage = false            # true: staging before production
# rollback_requires_approval = false
# experiment_retention = "30d"

[models.{name}]
tier = "production"                         # research | production | regulated
artifacts = [{arts}]                   # files whose sha256 define the version
# model_card = "MODEL_CARD.md"              # required in the regulated tier
# data = ["data/train.dvc"]                 # DVC pins (dvc.lock is read too when present)
# params = "params.yaml"
# lockfile = "requirements.lock"

[models.{name}.eval]
suite = "holdout"
command = "python3 eval.py {{artifact}} {{output}}"   # writes {{"metrics": {{...}}, "slices": {{...}}}} JSON

[models.{name}.gate]
metrics = {{ auc = "max" }}                   # higher ("max") or lower ("min") is better
thresholds = {{ auc = 0.80 }}                 # absolute floor (max) / ceiling (min)
max_regression = {{ auc = 0.0 }}              # vs the stage's current version, overall and per protected slice
protected_slices = []
approvals = 0                               # distinct reviewers for protected stages
'''
