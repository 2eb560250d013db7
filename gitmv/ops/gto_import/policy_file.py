"""`import --gto --write-policy`: the policy a GTO registry implies, written instead of asked for.

What GTO knows becomes the policy: its artifacts (names mapped to our grammar) with the paths its
annotations give at HEAD (`artifacts.yaml`, or the `INDEX` `.gto` names, else `dvc.yaml`
`artifacts:`; an artifact annotated only in the past takes its latest version's annotation), their
type, labels and description as comments (the policy has no keys for them), and the stages of its
stage tags, ordered as `.gto`'s `stages` lists them or else as they were first assigned.

What GTO never had stays honest: every model is in the research tier (no gate, no evals, unsigned
allowed) and no stage is protected, so the imported history is accepted as it is; the comments say
what to add (eval, gate, protected stages) to raise a model to the production tier.

Only reads here; `write` puts the file (and the user's ssh signing key as the first allowed
signer) in the work tree and commits exactly those paths, so the import reads it as committed.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import tomli_w

from gitmv.errors import PolicyError
from gitmv.git.repo import Repo
from gitmv.ops.gto_import.reading import (GTO_CONFIG, GtoTag, _yaml_at, assignment_order, gto_artifact_meta, index_name,
                                          map_name, semver_key)
from gitmv.policy import POLICY_PATH, Policy, parse_policy

SIGNERS_PATH = ".mv-promote/allowed_signers"
COMMIT_MESSAGE = ("Add mv-promote policy written from the GTO registry\n\n"
                  "git mv-promote import --gto --write-policy: models, artifact paths and stages from GTO's\n"
                  "annotations and stage tags; research tier, no protected stage (GTO had no gate).\n")


@dataclass
class ModelEntry:
    gto: str
    model: str
    artifacts: list[str]
    source: str  # where the annotation was read, e.g. "artifacts.yaml at HEAD"
    type: str | None = None
    description: str | None = None
    labels: list[str] = field(default_factory=list)


def _str(value: object) -> str | None:
    return value.strip() if isinstance(value, str) and value.strip() else None


def _stages(repo: Repo, head: str, tags: list[GtoTag]) -> list[str]:
    """GTO's stages in order: `.gto`'s `stages` list when it has one; the others after it, ordered by
    how artifacts moved: each artifact votes that the stage it entered first (by its own counter)
    precedes the ones it entered later; ties by the time of the first assignment, then by name."""
    config = _yaml_at(repo, head, GTO_CONFIG)
    listed = (config.get("stages") or config.get("STAGES")) if isinstance(config, dict) else None
    order = [map_name(s) for s in listed if isinstance(s, str)] if isinstance(listed, list) else []
    firsts: dict[str, list[str]] = {}  # artifact -> its stages in the order it first entered them
    first_seen: dict[str, int] = {}
    for t in assignment_order([t for t in tags if t.stage and t.action == "assign"]):
        assert t.stage is not None  # filtered above
        stage = map_name(t.stage)
        seen = firsts.setdefault(t.artifact, [])
        if stage not in seen:
            seen.append(stage)
        first_seen[stage] = min(first_seen.get(stage, t.epoch), t.epoch)
    score = dict.fromkeys(first_seen, 0)
    for seen in firsts.values():
        for i, stage in enumerate(seen):
            score[stage] += len(seen) - 1 - 2 * i  # before the later ones, after the earlier ones
    rest = sorted((s for s in first_seen if s not in order), key=lambda s: (-score[s], first_seen[s], s))
    return list(dict.fromkeys(order + rest))


def _model_entry(repo: Repo, head: str, gto_name: str, model: str, regs: list[GtoTag], index: str) -> ModelEntry:
    """The artifact's annotation at HEAD, else at its latest registered version's commit."""
    tried = [("HEAD", head)] + [(t.name, t.commit) for t in sorted(regs, key=lambda t: semver_key(t.version or ""),
                                                                     reverse=True) if t.commit]
    for label, commit in tried:
        meta, source = gto_artifact_meta(repo, commit, gto_name, index)
        path = meta.get("path") if meta else None
        if meta is not None and isinstance(path, str) and path:
            labels = meta.get("labels")
            return ModelEntry(gto_name, model, [path], f"{source} at {label}", _str(meta.get("type")),
                              _str(meta.get("description")) or _str(meta.get("desc")),
                              sorted(str(x) for x in labels) if isinstance(labels, list) else [])
    raise PolicyError(f"GTO artifact '{gto_name}' has no path in {index} or dvc.yaml, at HEAD or at any of its versions",
                      f"annotate it (path: in {index}) and commit, or write {POLICY_PATH} by hand "
                      "and run 'git mv-promote import --gto' without --write-policy")


def build(repo: Repo, head: str, tags: list[GtoTag], names: dict[str, str]) -> tuple[str, Policy, list[ModelEntry], list[str]]:
    """(policy text, the parsed policy, its models, its stages) for the GTO registry at HEAD."""
    index = index_name(repo, head)
    entries = [_model_entry(repo, head, g, m, [t for t in tags if t.artifact == g and t.action == "register"], index)
               for g, m in sorted(names.items(), key=lambda kv: kv[1])]
    stages = _stages(repo, head, tags)
    text = render(entries, stages or ["production"], repo.head_branch() or "main", index)
    return text, parse_policy(text.encode()), entries, stages


def render(entries: list[ModelEntry], stages: list[str], branch: str, index: str) -> str:
    q = lambda value: tomli_w.dumps({"k": value})[4:].strip()  # (a TOML value, quoted as TOML does)
    lines = [
        "# git mv-promote policy, written by 'git mv-promote import --gto --write-policy' from the GTO",
        f"# registry: models and artifact paths from GTO's annotations ({index} / dvc.yaml), stages from its",
        "# stage tags. GTO had no gate, evals or approvals, so every model starts in the research tier and",
        "# no stage is protected: the imported history is accepted as it is. To gate a model, set",
        "# tier = \"production\", add [models.NAME.eval] suite/command and [models.NAME.gate] metrics, and list",
        "# the stages to guard in protected_stages (see docs/policy.md); commit the change through review.",
        "schema = 1",
        "",
        "[registry]",
        f"stages = [{', '.join(q(s) for s in stages)}]",
        "protected_stages = []",
        f"protected_branch = {q(branch)}",
        f"allowed_signers = {q(SIGNERS_PATH)}",
    ]
    for e in entries:
        lines += ["", f"# GTO artifact {e.gto!r}, from {e.source}"
                  + (f"; type {e.type}" if e.type else "") + (f"; labels {', '.join(e.labels)}" if e.labels else "")]
        if e.description:
            lines += [f"# {line}" for line in e.description.splitlines()]
        lines += [f"[models.{e.model}]", 'tier = "research"',
                  f"artifacts = [{', '.join(q(a) for a in e.artifacts)}]"]
    return "\n".join(lines) + "\n"


def refuse_existing(repo: Repo, head: str | None) -> None:
    """--write-policy never overwrites a policy (committed or in the work tree): a policy is reviewed."""
    committed = head is not None and repo.blob_at(head, POLICY_PATH) is not None
    on_disk = repo.workdir is not None and (repo.workdir / POLICY_PATH).exists()
    if committed or on_disk:
        where = "committed at HEAD" if committed else "in the work tree"
        raise PolicyError(f"{POLICY_PATH} already exists ({where}); --write-policy never overwrites a policy",
                          "run 'git mv-promote import --gto' without --write-policy to import under it, or remove it "
                          f"(git rm {POLICY_PATH} && git commit, or delete the file) and run again")
