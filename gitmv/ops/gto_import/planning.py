"""Planning a GTO import: what GTO's tags mean in our registry, decided before anything is written.

`plan` checks that the policy allows every model and stage, builds each new version's record with
the one builder `register` uses, and replays GTO's stage semantics into promotions and rollbacks.
Any refusal is raised here, so a refused import writes nothing.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from gitmv.errors import MvError, PolicyError, RefusedError
from gitmv.git.repo import Repo
from gitmv.names import NAME_RE, next_version
from gitmv.ops.context import Context, now, open_context
from gitmv.ops.gto_import.reading import (DEFAULT_MESSAGE_RE, GtoTag, artifact_digests, assignment_order, gto_artifact_meta,
                                          index_name, map_name, read_gto_tags, safe_relpath, semver_key)
from gitmv.ops.versions import build_version_record
from gitmv.policy import POLICY_PATH
from gitmv.records import VersionRecord, is_uri_artifact
from gitmv.rules import artifacts as artifact_rules

RUN_ID_PREFIX = "gto:"
REASON_PREFIX = "imported from GTO "
MODEL_RENAME_WHY = "model names are [a-z0-9][a-z0-9_-]{0,63}: lower case, anything else becomes '-'"
STAGE_RENAME_WHY = "stage names follow the model grammar: lower case, anything else becomes '-'"
VERSION_RENAME_WHY = "mv-promote numbers versions v1, v2, … in GTO's semver order"


@dataclass
class PlannedVersion:
    gto: GtoTag
    model: str
    version: str  # our v<N>
    parent: str | None
    record: VersionRecord | None = None
    source: str = ""
    tag_id: str | None = None  # set once written (or when already imported)
    existing: bool = False


@dataclass
class PlannedStage:
    gto: GtoTag
    model: str
    stage: str
    seq: int
    version: PlannedVersion
    kind: str
    previous: str | None


@dataclass
class Plan:
    versions: list = field(default_factory=list)
    stages: list = field(default_factory=list)
    deprecations: list = field(default_factory=list)  # (planned version, gto tag, reason)
    skipped: list = field(default_factory=list)
    already: list = field(default_factory=list)
    refused: list = field(default_factory=list)  # versions whose record register would refuse
    renamed: list = field(default_factory=list)  # {kind, gto, as, why}: GTO names our grammar or numbering changes


@dataclass
class _Imported:
    """What an earlier run imported for one model."""

    by_gto: dict  # GTO tag name -> our Version
    stage_done: set  # {(stage, GTO tag name)}
    history: dict  # stage -> the versions it held, oldest first


def plan(ctx: Context, tags: list[GtoTag], sign: bool) -> Plan:
    """Everything the import will write, or the refusal: nothing is written here."""
    out = Plan()
    usable = usable_tags(tags, out.skipped)
    names = name_map(usable)
    index = index_name(ctx.repo, ctx.head)
    stage_map = {t.stage: map_name(t.stage) for t in usable if t.stage}
    _check_policy(ctx, names, stage_map, index, sign)
    out.renamed += [{"kind": "model", "gto": g, "as": m, "why": MODEL_RENAME_WHY} for g, m in sorted(names.items()) if g != m]
    out.renamed += [{"kind": "stage", "gto": g, "as": m, "why": STAGE_RENAME_WHY} for g, m in sorted(stage_map.items())
                    if g != m]
    for gto_name, model in sorted(names.items()):
        _plan_model(ctx, out, gto_name, model, [t for t in usable if t.artifact == gto_name], stage_map, index)
    if out.refused:
        # the same record register makes: what the policy names must be there at the version's commit
        raise RefusedError("GTO import refused, nothing written: " + "; ".join(out.refused),
                           f"a version records what {POLICY_PATH} names for its model (data, params, lockfile, "
                           "model_card) at its commit; remove those keys for the import and add them back after, "
                           "or register those versions by hand")
    return out


def usable_tags(tags: list[GtoTag], skipped: list) -> list[GtoTag]:
    usable = []
    for t in sorted(tags, key=lambda t: t.name):
        if not t.annotated:
            skipped.append(f"{t.name}: lightweight tag (GTO itself ignores lightweight tags)")
        elif t.commit is None:
            skipped.append(f"{t.name}: does not point at a commit")
        elif t.action == "create":
            skipped.append(f"{t.name}: GTO '@created' tags carry no version or stage")
        else:
            usable.append(t)
    return usable


def _check_policy(ctx: Context, names: dict, stage_map: dict, index: str, sign: bool) -> None:
    """Everything the policy must allow, checked before anything is written."""
    repo, policy = ctx.repo, ctx.policy
    missing_models = {}
    for gto_name, model in sorted(names.items()):
        if model not in policy.models:
            meta, _ = gto_artifact_meta(repo, ctx.head, gto_name, index)
            path = meta.get("path") if meta else None
            ok = isinstance(path, str) and (safe_relpath(path) or artifact_rules.is_uri(path))
            missing_models[model] = [path] if ok else []
    bad_stages = sorted({s for s in stage_map.values() if s not in policy.stages})
    if missing_models or bad_stages:
        what = []
        if missing_models:
            what.append(f"model(s) not in {POLICY_PATH}: {', '.join(sorted(missing_models))}")
        if bad_stages:
            named = ", ".join(f"{s}" + (f" (GTO '{g}')" if g != s else "") for g, s in sorted(stage_map.items())
                              if s in bad_stages)
            what.append(f"stage(s) not in registry.stages ({', '.join(policy.stages)}): {named}")
        raise PolicyError("GTO import refused, nothing written: " + "; ".join(what),
                          f"add to {POLICY_PATH} and commit:\n{_policy_snippet(missing_models, policy.stages, bad_stages)}")
    if not sign:
        signed = sorted(m for m in names.values() if policy.models[m].signed)
        if signed:
            raise RefusedError(f"unsigned import refused: {', '.join(signed)} not in the research tier",
                               "drop --no-sign and set up signing, or set tier = \"research\" in the policy")


def _plan_model(ctx: Context, out: Plan, gto_name: str, model: str, mine: list[GtoTag], stage_map: dict,
                index: str) -> None:
    imported = _already_imported(ctx, model)
    regs = sorted((t for t in mine if t.action == "register"), key=lambda t: (semver_key(t.version or ""), t.epoch))
    planned = _plan_versions(ctx, out, gto_name, model, regs, index, imported)
    # which GTO version sits at a commit (GTO maps assignments to versions by commit)
    at_commit: dict[str, list[str]] = {}
    for t in regs:
        # register tags name a version (parse_gto_tag_name); usable tags point at a commit
        assert t.version is not None and t.commit is not None
        at_commit.setdefault(t.commit, []).append(t.version)
    replay = _StageReplay(ctx, out, gto_name, model, planned, stage_map, imported)
    replay.run(assignment_order([t for t in mine if t.action in ("assign", "unassign", "deregister")]), at_commit)
    _plan_deprecations(out, gto_name, mine, planned)


def _plan_versions(ctx: Context, out: Plan, gto_name: str, model: str, regs: list[GtoTag], index: str,
                   imported: _Imported) -> dict[str, PlannedVersion]:
    """GTO version -> ours, numbered in semver order after the model's latest, each the parent of the next."""
    planned: dict[str, PlannedVersion] = {}
    version = next_version(ctx.registry.latest(model))
    parent = None
    for t in regs:
        assert t.version is not None and t.commit is not None  # as in _plan_model
        v = imported.by_gto.get(t.name)
        if v is not None:
            planned[t.version] = PlannedVersion(t, model, v.name, v.record.parent, tag_id=v.tag.id, existing=True)
            parent = v.name
            out.already.append(t.name)
            if v.record.commit != t.commit:
                out.skipped.append(f"{t.name}: imported earlier as {model} {v.name} at {v.record.commit[:12]}, "
                                   f"but GTO's tag now points at {t.commit[:12]} (left as it is)")
            continue
        pv = _plan_version(ctx, out, t, gto_name, model, index, version, parent)
        if pv is None:
            continue
        planned[t.version] = pv
        out.versions.append(pv)
        out.renamed.append({"kind": "version", "gto": t.name, "as": f"{model} {version}", "why": VERSION_RENAME_WHY})
        parent = version
        version = next_version(version)
    return planned


def _plan_version(ctx: Context, out: Plan, t: GtoTag, gto_name: str, model: str, index: str, version: str,
                  parent: str | None) -> PlannedVersion | None:
    assert t.commit is not None  # usable tags point at a commit
    repo = ctx.repo
    mp = ctx.policy.model(model)
    paths, source, entry = _artifact_paths(repo, t.commit, gto_name, index, mp.artifacts)
    digests, why = artifact_digests(repo, t.commit, paths, entry, ctx.warnings, t.name) if paths else (None, "no artifact path")
    if digests is None:
        out.skipped.append(f"{t.name}: {why}; version not imported")
        return None
    refusal = artifact_rules.tier_refusal(mp.tier, sorted(p for p, m in digests.items() if is_uri_artifact(m)))
    if refusal:  # the server would refuse the version tag (R1 version-artifacts): refuse it here first
        out.refused.append(f"{t.name} at {t.commit[:12]}: {refusal}")
        return None
    custom = t.message and not DEFAULT_MESSAGE_RE.match(t.message.splitlines()[0])
    message = f"{REASON_PREFIX}{t.name}" + (f": {t.message.splitlines()[0]}" if custom else "")
    try:
        record = build_version_record(repo, ctx.policy, model, version, t.commit,
                                      created_at=t.at if t.epoch else now(), created_by=t.tagger or repo.identity(),
                                      artifacts=digests, message=message, parent=parent,
                                      run_id=f"{RUN_ID_PREFIX}{t.name}")
    except MvError as exc:
        out.refused.append(f"{t.name} at {t.commit[:12]}: {exc.cause}")
        return None
    return PlannedVersion(t, model, version, parent, record=record, source=source)


def _artifact_paths(repo: Repo, commit: str, gto_name: str, index: str,
                    policy_paths: tuple) -> tuple[list[str], str, dict | None]:
    meta, source = gto_artifact_meta(repo, commit, gto_name, index)
    path = meta.get("path") if meta else None
    if isinstance(path, str) and path and source is not None:  # a found entry always says where
        return [path], source, meta
    return list(policy_paths), "policy", meta


class _StageReplay:
    """GTO's stage semantics (gto show, default --sort timestamp) replayed for one artifact: a stage
    holds the non-deregistered version whose still-active assignment is the most recent. An
    assignment becomes our promotion; an unassignment or a deregistration that changes what GTO
    shows becomes a rollback to the version GTO falls back to."""

    def __init__(self, ctx: Context, out: Plan, gto_name: str, model: str, planned: dict, stage_map: dict,
                 imported: _Imported):
        reg = ctx.registry
        self.out, self.gto_name, self.model, self.planned, self.stage_map = out, gto_name, model, planned, stage_map
        self.stage_done, self.history = imported.stage_done, imported.history
        self.seqs = {s: (reg.stage_seqs(model, s)[-1][0] if reg.stage_seqs(model, s) else 0) for s in ctx.policy.stages}
        self.active: dict[tuple[str, str], int] = {}  # (GTO stage, GTO version) -> position of its assignment
        self.deregistered: set[str] = set()

    def run(self, events: list[GtoTag], at_commit: dict[str, list[str]]) -> None:
        for pos, t in enumerate(events):
            if t.action == "deregister":
                assert t.version is not None  # deregister tags name a version
                stages = sorted({s for s, _ in self.active})
                before = {s: self.current(s) for s in stages}
                self.deregistered.add(t.version)
            else:
                assert t.stage is not None  # (un)assign tags name a stage
                version = self._version_at(t, at_commit)
                if version is None:
                    continue
                stages, before = [t.stage], {t.stage: self.current(t.stage)}
                if t.action == "assign":
                    self.active[(t.stage, version)] = pos
                    self.emit(t, t.stage, version)
                    continue
                self.active.pop((t.stage, version), None)
            self._follow(t, stages, before)

    def current(self, gto_stage: str) -> str | None:
        held = [(pos, v) for (s, v), pos in self.active.items() if s == gto_stage and v not in self.deregistered]
        return max(held)[1] if held else None

    def _version_at(self, t: GtoTag, at_commit: dict[str, list[str]]) -> str | None:
        assert t.commit is not None  # usable tags point at a commit
        found = at_commit.get(t.commit, [])
        if not found:
            self.out.skipped.append(f"{t.name}: no GTO version is registered at {t.commit[:12]}")
            return None
        if len(found) > 1:
            self.out.skipped.append(f"{t.name}: several GTO versions at {t.commit[:12]} ({', '.join(found)}): ambiguous")
            return None
        return found[0]

    def _follow(self, t: GtoTag, stages: list[str], before: dict) -> None:
        """After an unassignment or a deregistration: a rollback wherever what GTO shows changed."""
        for gto_stage in stages:
            after = self.current(gto_stage)
            if after == before[gto_stage]:
                if t.action == "unassign":
                    self.out.skipped.append(f"{t.name}: changes nothing GTO shows ({gto_stage} stays "
                                            f"{before[gto_stage] or 'empty'})")
            elif after is None:
                self.out.skipped.append(f"{t.name}: empties {gto_stage} in GTO; an mv-promote stage is never "
                                        "emptied, so it keeps its current version")
            else:
                self.emit(t, gto_stage, after)

    def emit(self, t: GtoTag, gto_stage: str, gto_version: str) -> None:
        stage = self.stage_map[gto_stage]
        if (stage, t.name) in self.stage_done:
            self.out.already.append(t.name)
            return
        pv = self.planned.get(gto_version)
        if pv is None:
            self.out.skipped.append(f"{t.name}: {self.gto_name}@{gto_version} was not imported, so {stage} cannot follow it")
            return
        entries = self.history.setdefault(stage, [])
        previous = entries[-1] if entries else None
        kind = "rollback" if pv.version in entries and previous != pv.version else "promote"
        self.seqs[stage] += 1
        self.out.stages.append(PlannedStage(t, self.model, stage, self.seqs[stage], pv, kind, previous))
        entries.append(pv.version)


def _plan_deprecations(out: Plan, gto_name: str, mine: list[GtoTag], planned: dict) -> None:
    """Deregistrations and artifact deprecations become deprecation records."""
    direct = sorted((t for t in mine if t.action in ("register", "deregister")), key=lambda t: (t.epoch, t.name))
    last_direct = {}
    for t in direct:
        last_direct[t.version] = t
    for gto_version, t in sorted(last_direct.items()):
        if t.action == "deregister" and gto_version in planned:
            out.deprecations.append((planned[gto_version], t, f"deregistered in GTO ({t.name})"))
    deprecations = sorted((t for t in mine if t.action == "deprecate"), key=lambda t: (t.epoch, t.name))
    if deprecations:
        t = deprecations[-1]
        for pv in planned.values():
            out.deprecations.append((pv, t, f"artifact {gto_name} deprecated in GTO ({t.name})"))
        out.skipped.append(f"{t.name}: GTO hides the whole artifact; here its versions are marked deprecated "
                           "and its stages keep their versions (an mv-promote stage is never emptied)")


def _already_imported(ctx: Context, model: str) -> _Imported:
    reg = ctx.registry
    by_gto = {}
    for name in reg.versions(model):
        try:
            v = reg.version(model, name)
        except MvError:
            continue
        if v.record.run_id and v.record.run_id.startswith(RUN_ID_PREFIX):
            by_gto[v.record.run_id[len(RUN_ID_PREFIX):]] = v
    stage_done, history = set(), {}
    for stage in reg.stages_present(model):
        entries = []
        for e in reg.stage_history(model, stage):
            entries.append(e.record.version)
            if e.record.reason.startswith(REASON_PREFIX):
                stage_done.add((stage, e.record.reason[len(REASON_PREFIX):]))
        history[stage] = entries
    return _Imported(by_gto, stage_done, history)


def _policy_snippet(missing_models: dict, policy_stages: tuple, missing_stages: list) -> str:
    lines = []
    if missing_stages:
        stages = list(policy_stages) + [s for s in missing_stages if s not in policy_stages]
        lines += ["[registry]", "stages = [" + ", ".join(f'"{s}"' for s in stages) + "]", ""]
    for model, paths in sorted(missing_models.items()):
        arts = ", ".join(f'"{p}"' for p in (paths or ["model.bin"]))
        lines += [f"[models.{model}]", 'tier = "production"', f"artifacts = [{arts}]", "",
                  f"[models.{model}.eval]", 'suite = "holdout"', "",
                  f"[models.{model}.gate]", 'metrics = { auc = "max" }   # your real metrics', ""]
    return "\n".join(lines).rstrip()


def open_for_import(path) -> Context:
    """The context, or without a committed policy the error that shows the policy the import needs."""
    try:
        return open_context(path)
    except PolicyError as exc:
        repo = Repo.discover(path)
        if repo.blob_at(repo.head_commit(), POLICY_PATH) is not None:
            raise
        tags = read_gto_tags(repo)
        names = sorted({map_name(t.artifact) for t in tags})
        stages = sorted({map_name(t.stage) for t in tags if t.stage})
        snippet = "schema = 1\n\n" + _policy_snippet({n: [] for n in names}, (), stages)
        raise PolicyError(f"{exc.cause}; GTO models to import: {', '.join(names) or 'none'}",
                          "run 'git mv-promote import --gto --write-policy' to write and commit it from GTO's "
                          f"annotations, or run 'git mv-promote init', make {POLICY_PATH} hold:\n{snippet}\n"
                          "and commit it") from exc


def name_map(tags: list[GtoTag]) -> dict[str, str]:
    mapping: dict[str, str] = {}
    back: dict[str, str] = {}
    for gto_name in sorted({t.artifact for t in tags}):
        ours = map_name(gto_name)
        if not NAME_RE.match(ours):
            raise MvError(f"GTO artifact '{gto_name}' maps to '{ours}', which is not a valid model name",
                          "model names are [a-z0-9][a-z0-9_-]{0,63}; rename the GTO artifact or import it by hand")
        if ours in back:
            raise MvError(f"GTO artifacts '{back[ours]}' and '{gto_name}' both map to the model name '{ours}'",
                          "rename one of them in GTO before importing")
        back[ours] = gto_name
        mapping[gto_name] = ours
    return mapping
