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
from typing import Any

from gitmv.errors import PolicyError
from gitmv import names
from gitmv.names import NAME_RE
from gitmv.records import traffic_problem
from gitmv.schema import BOOLEAN, INTEGER, NUMBER, STRING, Array, Errors, Field, Map, Problem, Table, Value, at_least, \
    non_empty, validate

POLICY_PATH = ".mv-promote.toml"
TIERS = ("research", "production", "regulated")
REGULATED_MIN_APPROVALS = 2
PLACEHOLDER_RE = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)\}")
EVAL_PLACEHOLDERS = {"artifact", "output", "model", "version", "suite"}
REPLAY_PLACEHOLDERS = {"artifact", "inputs", "output", "model", "version"}
REPLAY_REQUIRED = ("artifact", "inputs", "output")  # without them the command would not replay this version on the pin
DURATION_RE = re.compile(r"^([0-9]+)([smhdw])$")
DURATION_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
DURATION_FIX = 'write e.g. "30d", "12h" or "2w"'


@dataclass(frozen=True)
class ReplayGate:
    """`[models.X.gate] replay = { against = STAGE, min_agreement = x, max_abs_diff = y }`."""

    against: str
    min_agreement: float | None = None
    max_abs_diff: float | None = None


@dataclass(frozen=True)
class ReplayPolicy:
    """`[models.X.replay]`: the command that runs one version on the inputs, and the inputs (a Git
    path or a DVC pin, as committed at HEAD)."""

    command: str
    inputs: str


@dataclass(frozen=True)
class SoakPolicy:
    """`gate.soak`: before entering a stage after `stage`, a version must have held at least
    `traffic` percent of `stage` (a rollout stage) for `duration` seconds (rules/soak.py)."""

    stage: str
    traffic: int
    duration: int  # seconds
    duration_text: str  # as written ("24h"), for messages


@dataclass(frozen=True)
class GatePolicy:
    metrics: dict[str, str] = field(default_factory=dict)  # name -> "max" | "min"
    thresholds: dict[str, float] = field(default_factory=dict)
    max_regression: dict[str, float] = field(default_factory=dict)
    protected_slices: tuple[str, ...] = ()
    approvals: int = 0
    replay: ReplayGate | None = None
    soak: SoakPolicy | None = None


@dataclass(frozen=True)
class ModelPolicy:
    name: str
    tier: str
    artifacts: tuple[str, ...]
    model_card: str | None = None
    data: tuple[str, ...] = ()
    params: str | None = None
    lockfile: str | None = None
    eval_suite: str | None = None
    eval_command: str | None = None
    eval_data: str | None = None
    train_command: str | None = None
    gate: GatePolicy = GatePolicy()
    eval_signers: tuple[str, ...] = ()  # principals whose eval records count; empty: any allowed signer
    replay: ReplayPolicy | None = None

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
    stages: tuple[str, ...]
    protected_stages: tuple[str, ...]
    protected_branch: str
    allowed_signers: str
    require_previous_stage: bool
    rollback_requires_approval: bool
    experiment_retention: int  # seconds
    models: dict[str, ModelPolicy]
    digest: str
    host_signers: str | None = None  # allowed-signers file of hosts whose signed web merges vouch for their author
    policy_approvals: int = 1  # approvers for a change to the policy, the signers or promotions/**
    rollout_stages: tuple[str, ...] = ()  # stages whose stage records carry `traffic` (percent)

    def model(self, name: str) -> ModelPolicy:
        from gitmv.errors import NotFoundError

        if name not in self.models:
            known = ", ".join(sorted(self.models)) or "none"
            guess = names.closest(name, self.models)
            hint = f"did you mean '{guess}'? " if guess else ""
            raise NotFoundError(
                f"unknown model '{name}': {hint}(policy defines: {known})",
                (f"use '{guess}', or " if guess else "") + f"add [models.{name}] to {POLICY_PATH} and commit it"
                if NAME_RE.match(name) else None,
            )
        return self.models[name]

    def stage_index(self, stage: str) -> int:
        if stage not in self.stages:
            guess = names.closest(stage, self.stages)
            raise PolicyError(
                f"unknown stage '{stage}': " + (f"did you mean '{guess}'? " if guess else "")
                + f"(policy stages: {', '.join(self.stages)})",
                f"use one of them or add it to registry.stages in {POLICY_PATH}",
            )
        return self.stages.index(stage)

    def is_protected(self, stage: str) -> bool:
        return stage in self.protected_stages

    def is_rollout(self, stage: str) -> bool:
        return stage in self.rollout_stages


def parse_duration(text: str, path: str) -> int:
    m = DURATION_RE.match(text.strip()) if isinstance(text, str) else None
    if not m:
        raise PolicyError(f"{path}: {text!r} is not a duration", DURATION_FIX)
    return int(m.group(1)) * DURATION_UNITS[m.group(2)]


# ---------------------------------------------------------------- the shape of the file
# Each check below returns the words that follow the key path; gitmv.schema names the path.

def _duration(value: str) -> Problem | None:
    return None if DURATION_RE.match(value.strip()) else Problem(f"must be a duration, got {value!r}", DURATION_FIX)


def _relpath(value: str) -> str | None:
    """Paths are read from the repository: one that is absolute or climbs out reads elsewhere."""
    if value.startswith("/") or ".." in value.split("/") or "\\" in value:
        return f"must be a path relative to the repository root, got {value!r}"
    return None


def _stage_name(value: str) -> Problem | None:
    if NAME_RE.match(value) and not re.fullmatch(r"v[0-9]+", value):
        return None
    return Problem(f"must be a valid stage name, got {value!r}",
                   "use [a-z0-9][a-z0-9_-]* and nothing that looks like a version (v<digits>)")


def _model_name(name: str) -> Problem | None:
    if NAME_RE.match(name):
        return None
    return Problem("is not a valid model name", "use [a-z0-9][a-z0-9_-]{0,63}: lower case, digits, '-' and '_'")


def _placeholders(command: str) -> Problem | None:
    unknown = sorted(set(PLACEHOLDER_RE.findall(command)) - EVAL_PLACEHOLDERS)
    if not unknown:
        return None
    return Problem(f"uses unknown placeholder(s) {', '.join('{' + u + '}' for u in unknown)}",
                   "use {artifact}, {output}, {model}, {version} or {suite}")


def _replay_placeholders(command: str) -> Problem | None:
    used = set(PLACEHOLDER_RE.findall(command))
    unknown = sorted(used - REPLAY_PLACEHOLDERS)
    if unknown:
        return Problem(f"uses unknown placeholder(s) {', '.join('{' + u + '}' for u in unknown)}",
                       "use {artifact}, {inputs}, {output}, {model} or {version}")
    lacking = [name for name in REPLAY_REQUIRED if name not in used]
    if lacking:
        return Problem(f"must use {', '.join('{' + n + '}' for n in lacking)}",
                       "the command runs one version's {artifact} on the {inputs} file and writes {output}")
    return None


def _replay_bound(replay: dict[str, Any]) -> Problem | None:
    if "min_agreement" not in replay and "max_abs_diff" not in replay:
        return Problem("needs min_agreement or max_abs_diff", "e.g. replay = { against = \"production\", min_agreement = 0.98 }")
    return None


def _replay_against_stages(policy: dict[str, Any]) -> Problem | None:
    """A replay bound against a stage the registry does not have could never be met."""
    for name, model in policy["models"].items():
        replay = model["gate"].get("replay")
        if replay is not None and replay["against"] not in policy["registry"]["stages"]:
            return Problem(f"names '{replay['against']}', which is not in registry.stages",
                           at=("models", name, "gate", "replay", "against"))
    return None


def _no_duplicates(stages: list[str]) -> str | None:
    return None if len(set(stages)) == len(stages) else "lists a stage twice"


def _protected_are_stages(registry: dict[str, Any]) -> Problem | None:
    for stage in registry["protected_stages"]:
        if stage not in registry["stages"]:
            return Problem(f"names '{stage}', which is not in registry.stages", at=("protected_stages",))
    return None


def _rollout_are_stages(registry: dict[str, Any]) -> Problem | None:
    for stage in registry["rollout_stages"]:
        if stage not in registry["stages"]:
            return Problem(f"names '{stage}', which is not in registry.stages", at=("rollout_stages",))
    return None


def _soak_stages(policy: dict[str, Any]) -> Problem | None:
    """A soak is measured in a rollout stage (only those record a share), and guards the stages
    after it: naming the last stage would guard nothing."""
    reg = policy["registry"]
    for name, model in policy["models"].items():
        soak = model["gate"].get("soak")
        if soak is None:
            continue
        at = ("models", name, "gate", "soak", "stage")
        if soak["stage"] not in reg["stages"]:
            return Problem(f"names '{soak['stage']}', which is not in registry.stages", at=at)
        if soak["stage"] not in reg["rollout_stages"]:
            return Problem(f"names '{soak['stage']}', which is not in registry.rollout_stages",
                           "add it to registry.rollout_stages (its stage records then carry traffic)", at=at)
        if soak["stage"] == reg["stages"][-1]:
            return Problem(f"names '{soak['stage']}', the last stage: no stage comes after it to guard",
                           "name a rollout stage before the stages the soak should guard", at=at)
    return None


def _gate_refs(gate: dict[str, Any]) -> Problem | None:
    """Thresholds and regression tolerances name declared metrics: one on an undeclared metric
    has no direction and would never be compared."""
    for key in ("thresholds", "max_regression"):
        for name in gate[key]:
            if name not in gate["metrics"]:
                return Problem("names a metric not declared in the gate's metrics",
                               f"add {name} = \"max\" or \"min\" to the gate's metrics", at=(key, name))
    return None


def _tier_needs(model: dict[str, Any]) -> Problem | None:
    tier = model["tier"]
    if tier != "research":
        if not model["eval"].get("suite"):
            return Problem(f"is required for the {tier} tier",
                           "name the eval suite the gate reads, or set tier = \"research\"", at=("eval", "suite"))
        if not model["gate"]["metrics"]:
            return Problem(f"is required for the {tier} tier",
                           "declare at least one metric as \"max\" or \"min\"", at=("gate", "metrics"))
    if "replay" in model["gate"] and "replay" not in model:
        return Problem("needs [models.<name>.replay] (the command and the inputs to replay on)",
                       "add a replay table with command and inputs", at=("gate", "replay"))
    if tier == "regulated" and not model.get("model_card"):
        return Problem("is required for the regulated tier", at=("model_card",))
    if tier == "regulated" and not model["gate"]["eval_signers"]:
        return Problem("is required for the regulated tier",
                       "name the principals (from allowed_signers) whose eval records count",
                       at=("gate", "eval_signers"))
    return None


PATH = Value("string", checks=(_relpath,))
NAMES = Array(Value("string", checks=(non_empty,)))  # an array of non-empty strings
PATHS = Array(Value("string", checks=(non_empty, _relpath)))

GATE = Table({
    "metrics": Field(Map(Value("string", one_of=("max", "min"))), default={}),
    "thresholds": Field(Map(NUMBER), default={}),
    "max_regression": Field(Map(Value("number", checks=(at_least(0),))), default={}),
    "protected_slices": Field(NAMES, default=[]),
    "approvals": Field(Value("integer", checks=(at_least(0),)), default=0),
    "eval_signers": Field(NAMES, default=[]),
    "replay": Field(Table({
        "against": Field(Value("string", checks=(non_empty, _stage_name)), required=True),
        "min_agreement": Field(Value("number", checks=(at_least(0), lambda v: None if v <= 1 else
                                                         f"must be ≤ 1 (a fraction of rows), got {v!r}"))),
        "max_abs_diff": Field(Value("number", checks=(at_least(0),))),
    }, checks=(_replay_bound,))),
    "soak": Field(Table({
        "stage": Field(STRING, required=True),
        "traffic": Field(Value("integer", checks=(traffic_problem,)), required=True),
        "duration": Field(Value("string", checks=(_duration,)), required=True),
    })),
}, checks=(_gate_refs,))

MODEL = Table({
    "tier": Field(Value("string", one_of=TIERS), default="production"),
    "artifacts": Field(Array(PATHS.item, non_empty=True), required=True),
    "model_card": Field(PATH),
    "data": Field(PATHS, default=[]),
    "params": Field(PATH),
    "lockfile": Field(PATH),
    "eval": Field(Table({
        "suite": Field(STRING),
        "command": Field(Value("string", checks=(_placeholders,))),
        "data": Field(PATH),
    }), default={}),
    "train": Field(Table({"command": Field(STRING)}), default={}),
    "replay": Field(Table({
        "command": Field(Value("string", checks=(non_empty, _replay_placeholders)), required=True),
        "inputs": Field(Value("string", checks=(non_empty, _relpath)), required=True),
    })),
    "gate": Field(GATE, default={}),
}, checks=(_tier_needs,))

POLICY = Table({
    "schema": Field(INTEGER, required=True),
    "registry": Field(Table({
        "stages": Field(Array(Value("string", checks=(non_empty, _stage_name)), non_empty=True,
                              checks=(_no_duplicates,)), required=True),
        "protected_stages": Field(NAMES, default=[]),
        "protected_branch": Field(STRING, default="main"),
        "allowed_signers": Field(PATH, default=".mv-promote/allowed_signers"),
        "require_previous_stage": Field(BOOLEAN, default=False),
        "rollback_requires_approval": Field(BOOLEAN, default=False),
        "experiment_retention": Field(Value("string", checks=(_duration,)), default="30d"),
        "host_signers": Field(PATH),
        "policy_approvals": Field(Value("integer", checks=(at_least(0),)), default=1),
        "rollout_stages": Field(NAMES, default=[]),
    }, checks=(_protected_are_stages, _rollout_are_stages)), required=True),
    "models": Field(Map(MODEL, key=_model_name), default={}),
}, checks=(_replay_against_stages, _soak_stages))


def _model(name: str, t: dict[str, Any]) -> ModelPolicy:
    gate = t["gate"]
    return ModelPolicy(
        name=name, tier=t["tier"], artifacts=tuple(t["artifacts"]), model_card=t.get("model_card"),
        data=tuple(t["data"]), params=t.get("params"), lockfile=t.get("lockfile"),
        eval_suite=t["eval"].get("suite"), eval_command=t["eval"].get("command"), eval_data=t["eval"].get("data"),
        train_command=t["train"].get("command"),
        gate=GatePolicy(metrics=gate["metrics"], thresholds=gate["thresholds"], max_regression=gate["max_regression"],
                        protected_slices=tuple(gate["protected_slices"]), approvals=gate["approvals"],
                        replay=ReplayGate(**gate["replay"]) if "replay" in gate else None,
                        soak=_soak(name, gate.get("soak"))),
        eval_signers=tuple(gate["eval_signers"]),
        replay=ReplayPolicy(**t["replay"]) if "replay" in t else None)


def _soak(name: str, soak: dict[str, Any] | None) -> SoakPolicy | None:
    if soak is None:
        return None
    return SoakPolicy(stage=soak["stage"], traffic=soak["traffic"], duration_text=soak["duration"],
                      duration=parse_duration(soak["duration"], f"models.{name}.gate.soak.duration"))


def policy_digest(raw: bytes) -> str:
    """What stage and version records name a policy by: the sha256 of its committed bytes."""
    return "sha256:" + hashlib.sha256(raw).hexdigest()


def parse_policy(raw: bytes, source: str = POLICY_PATH) -> Policy:
    try:
        data = tomllib.loads(raw.decode("utf-8"))
    except UnicodeDecodeError as exc:
        raise PolicyError(f"{source} is not UTF-8") from exc
    except tomllib.TOMLDecodeError as exc:
        raise PolicyError(f"{source} is not valid TOML: {exc}", "fix the syntax and commit") from exc
    version = data.get("schema")
    if isinstance(version, int) and not isinstance(version, bool) and version != 1:
        # before the shape: a newer schema's keys are unknown here, and "unknown key" would mislead
        raise PolicyError(f"schema = {version} in {source} is not supported (this version reads schema 1)")
    p = validate(POLICY, data, Errors(PolicyError, unknown=f"unknown key {{keys}} in {source}",
                                      unknown_fix="remove it or fix its spelling", required_fix=f"add it to {source}"))
    reg = p["registry"]
    return Policy(stages=tuple(reg["stages"]), protected_stages=tuple(reg["protected_stages"]),
                  protected_branch=reg["protected_branch"], allowed_signers=reg["allowed_signers"],
                  require_previous_stage=reg["require_previous_stage"],
                  rollback_requires_approval=reg["rollback_requires_approval"],
                  experiment_retention=parse_duration(reg["experiment_retention"], "registry.experiment_retention"),
                  models={name: _model(name, table) for name, table in p["models"].items()},
                  digest=policy_digest(raw),
                  host_signers=reg.get("host_signers"), policy_approvals=reg["policy_approvals"],
                  rollout_stages=tuple(reg["rollout_stages"]))


def template(model: str | None = None, artifacts: tuple[str, ...] = ()) -> str:
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
