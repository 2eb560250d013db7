"""`git mv-promote import --gto`: read a GTO registry and register the same versions and stage history.

GTO (iterative/gto) keeps its registry in annotated Git tags and, optionally, `artifacts.yaml`.
What each GTO tag becomes here:

- `name@vX.Y.Z` (register): a signed version tag `mv/<model>/v<N>` on the same commit, versions
  numbered in semver order, `parent` = the previous imported version.
- `name#stage#N`, old form `name#stage` (assign): a signed stage tag `mv/<model>/<stage>/<seq>`,
  kind promote, or rollback when the stage held that version before.
- `name#stage!#N` / `name#stage!` (unassign): a rollback to the version GTO falls back to.
- `name@vX.Y.Z!` (deregister): a deprecation record on the imported version, plus a rollback in
  every stage where GTO falls back to another version.
- `name@deprecated` (deprecate the artifact): a deprecation record on each imported version.
- `name@created`, lightweight tags (GTO ignores them) and events that leave a GTO stage empty (our
  stages are never emptied): skipped, each with its reason.

Stage history follows what `gto show` reports (its default `--sort timestamp`): a stage holds the
non-deregistered version whose still-active assignment is the latest; assignments are ordered by
their counter `N` (the counter-less old form by tag date).

`name` may carry a folder prefix (`dir:name`, written `dir=name` in tags): DVC's model-registry
name for an artifact declared in `dir/dvc.yaml` (also `dir/dvc.yaml:name`). Artifact paths come from
`artifacts.yaml` (or the `INDEX` named in `.gto`) as committed at the version's commit, else from the
`artifacts` section of `dvc.yaml` there, else from the policy's `artifacts` list; their bytes are the
Git blob (or every blob of a folder) at that commit, else the DVC cache object the commit's
`<path>.dvc` or `dvc.lock` names. A version whose artifact cannot be had is skipped, with the reason,
and so are the stage assignments that point at it.

Imported stage entries bypass the gate (GTO has no evals): the promotion record says so in its
`gate`. Versions carry `run_id = "gto:<tag>"` and stage entries `reason = "imported from GTO <tag>"`,
which is how a second run finds what is already imported (and imports nothing twice). GTO's own
tags are only read, never written.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import posixpath
import re
from dataclasses import dataclass, field
from datetime import datetime, timezone

import yaml

from gitmv import records
from gitmv.dvc import pins as dvcpins
from gitmv.errors import ConflictError, MvError, PolicyError, RefusedError
from gitmv.git import notes, record_signing
from gitmv.git.repo import Repo
from gitmv.git.signing import signing_key_fingerprint
from gitmv.hashing import sha256_bytes, sha256_file
from gitmv.dvc.cache import dvc_cache_candidates
from gitmv.ops.context import Context, now, open_context
from gitmv.policy import POLICY_PATH
from gitmv.records import PromotionRecord, VersionRecord
from gitmv.names import NAME_RE, stage_ref, stage_tag_name, version_ref, version_tag_name

RUN_ID_PREFIX = "gto:"
REASON_PREFIX = "imported from GTO "
NOT_GATED = {"passed": True, "criteria": ["imported from GTO: not gated"]}
GTO_CONFIG = ".gto"
GTO_INDEX = "artifacts.yaml"

# GTO's tag grammar (gto/constants.py), with GTO's `=` standing for `:` in folder-prefixed names.
_DIRNAME = r"[a-zA-Z0-9_./-]+"
_NAME = r"[a-zA-Z0-9]([a-zA-Z0-9/_-]*[a-zA-Z0-9])?"
_SEMVER = (r"(?P<major>0|[1-9]\d*)\.(?P<minor>0|[1-9]\d*)\.(?P<patch>0|[1-9]\d*)"
           r"(?:-(?P<prerelease>(?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*)(?:\.(?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*))*))?"
           r"(?:\+(?P<buildmetadata>[0-9a-zA-Z-]+(?:\.[0-9a-zA-Z-]+)*))?")
GTO_TAG_RE = re.compile(
    rf"^(?P<artifact>(?P<dirname>{_DIRNAME}=)?(?P<name>{_NAME}))"
    rf"(((#(?P<stage>{_NAME})|@(?P<version>v{_SEMVER}))(?P<cancel>!?))|@((?P<deprecated>deprecated)|(?P<created>created)))"
    rf"(#(?P<counter>[0-9]+))?$"
)
# the default messages GTO writes; anything else is the user's own words and is kept
_DEFAULT_MESSAGE_RE = re.compile(r"^(Registering artifact \S+ version \S+|Assigning stage .*)$")

_FIELDS = ["%(refname)", "%(objecttype)", "%(objectname)", "%(*objecttype)", "%(*objectname)",
           "%(taggername)", "%(taggeremail)", "%(taggerdate:unix)", "%(contents:subject)", "%(contents:body)"]
_FORMAT = "%00".join(_FIELDS) + "%01"


# ---------------------------------------------------------------- reading GTO

@dataclass
class GtoTag:
    name: str  # the tag name, e.g. churn@v1.0.0
    artifact: str  # GTO's artifact name, e.g. churn or models:churn
    action: str  # register | deregister | assign | unassign | deprecate | create
    commit: str | None  # the commit the tag points at (None: lightweight or not at a commit)
    annotated: bool
    epoch: int
    tagger: str | None  # "Name <email>"
    message: str
    version: str | None = None
    stage: str | None = None
    counter: int | None = None

    @property
    def at(self) -> str:
        return datetime.fromtimestamp(self.epoch, timezone.utc).isoformat().replace("+00:00", "Z")


def parse_gto_tag_name(name: str) -> dict | None:
    """GTO's reading of a tag name (gto.tag.parse_name), or None when it is not a GTO tag."""
    m = GTO_TAG_RE.match(name)
    if not m:
        return None
    out = {"artifact": m["artifact"].replace("=", ":"), "counter": int(m["counter"]) if m["counter"] else None,
           "version": None, "stage": None}
    if m["version"]:
        out.update(version=m["version"], action="deregister" if m["cancel"] == "!" else "register")
    elif m["stage"]:
        out.update(stage=m["stage"], action="unassign" if m["cancel"] == "!" else "assign")
    elif m["deprecated"]:
        out["action"] = "deprecate"
    else:
        out["action"] = "create"
    return out


def read_gto_tags(repo: Repo) -> list[GtoTag]:
    """Every tag under refs/tags whose name follows GTO's grammar (one `git for-each-ref`)."""
    proc = repo.git("for-each-ref", f"--format={_FORMAT}", "refs/tags/")
    out = []
    for chunk in proc.stdout.decode("utf-8", "replace").split("\x01"):
        chunk = chunk.lstrip("\n")
        if not chunk:
            continue
        parts = chunk.split("\x00")
        if len(parts) < len(_FIELDS):
            continue
        ref, otype, oid, ptype, poid, tname, temail, tdate, subject, body = parts[:10]
        name = ref[len("refs/tags/"):]
        parsed = parse_gto_tag_name(name)
        if parsed is None:
            continue
        annotated = otype == "tag"
        commit = (poid if ptype == "commit" else None) if annotated else (oid if otype == "commit" else None)
        message = subject + (("\n\n" + body) if body else "")
        out.append(GtoTag(name=name, artifact=parsed["artifact"], action=parsed["action"], commit=commit,
                          annotated=annotated, epoch=int(tdate) if tdate.strip().isdigit() else 0,
                          tagger=f"{tname} {temail}".strip() if (tname or temail) else None,
                          message=message.strip(), version=parsed["version"], stage=parsed["stage"],
                          counter=parsed["counter"]))
    return out


def semver_key(version: str) -> tuple:
    """Semantic-version precedence (semver.org §11) of `vX.Y.Z[-pre][+build]`; build metadata ignored."""
    m = re.fullmatch(rf"v{_SEMVER}", version)
    if not m:
        return (float("inf"), version)
    pre = m["prerelease"]
    ids = tuple((0, int(p), "") if p.isdigit() else (1, 0, p) for p in pre.split(".")) if pre else ()
    return (int(m["major"]), int(m["minor"]), int(m["patch"]), 0 if pre else 1, ids)


def map_name(gto_name: str) -> str:
    """A GTO artifact or stage name in our grammar: lower case, anything else becomes '-'."""
    return re.sub(r"[^a-z0-9_-]", "-", gto_name.lower())


def assignment_order(tags: list[GtoTag]) -> list[GtoTag]:
    """GTO's counter tags (`name#stage#N`) in N order, with the old counter-less ones merged in by date."""
    counted = sorted((t for t in tags if t.counter is not None), key=lambda t: (t.counter, t.epoch, t.name))
    plain = sorted((t for t in tags if t.counter is None), key=lambda t: (t.epoch, t.name))
    out = []
    while counted or plain:
        if plain and (not counted or plain[0].epoch <= counted[0].epoch):
            out.append(plain.pop(0))
        else:
            out.append(counted.pop(0))
    return out


# ---------------------------------------------------------------- artifacts at a commit

def _yaml_at(repo: Repo, commit: str, path: str):
    raw = repo.blob_at(commit, path)
    if raw is None:
        return None
    try:
        return yaml.safe_load(raw.decode("utf-8"))
    except (yaml.YAMLError, UnicodeDecodeError):
        return None


def _index_name(repo: Repo, head: str) -> str:
    config = _yaml_at(repo, head, GTO_CONFIG)
    if isinstance(config, dict):
        for key in ("INDEX", "index"):
            if isinstance(config.get(key), str) and config[key]:
                return config[key]
    return GTO_INDEX


def gto_artifact_meta(repo: Repo, commit: str, gto_name: str, index: str) -> tuple[dict | None, str | None]:
    """(the artifact's entry, where it was found) from artifacts.yaml or dvc.yaml at `commit`."""
    folder, sep, short = gto_name.rpartition(":")
    if not sep:
        doc = _yaml_at(repo, commit, index)
        if isinstance(doc, dict) and isinstance(doc.get(gto_name), dict):
            return doc[gto_name], index
    if posixpath.basename(folder) == "dvc.yaml":  # path/to/dvc.yaml:name
        folder = posixpath.dirname(folder)
    dvc_yaml = posixpath.join(folder, "dvc.yaml") if folder else "dvc.yaml"
    doc = _yaml_at(repo, commit, dvc_yaml)
    arts = doc.get("artifacts") if isinstance(doc, dict) else None
    if isinstance(arts, dict) and isinstance(arts.get(short), dict):
        entry = dict(arts[short])
        if isinstance(entry.get("path"), str):
            entry["path"] = posixpath.normpath(posixpath.join(folder, entry["path"])) if folder else entry["path"]
        return entry, dvc_yaml
    return None, None


def _safe_relpath(path: str) -> bool:
    return bool(path) and "://" not in path and not path.startswith("/") and ".." not in path.split("/") \
        and "\\" not in path


def _blobs_under(repo: Repo, commit: str, path: str) -> list[str]:
    """The files of `path` at `commit`: itself when a file, every file below it when a folder."""
    proc = repo.git("--literal-pathspecs", "ls-tree", "-r", "-z", "--full-tree", commit, "--", path, check=False)
    out = []
    for entry in proc.stdout.decode("utf-8", "replace").split("\0"):
        meta, _, name = entry.partition("\t")
        if name and meta.split(" ")[1:2] == ["blob"]:
            out.append(name)
    return sorted(out)


def _from_dvc_cache(repo: Repo, commit: str, path: str) -> tuple[dict | None, str]:
    read = lambda p: repo.blob_at(commit, p)  # noqa: E731
    pin_file = f"{path}.dvc"
    try:
        pins = dvcpins.read_pins(read, [pin_file] if read(pin_file) is not None else [])
    except MvError:
        return None, "its DVC pin does not parse"
    pin = dvcpins.pins_by_path(pins).get(path)
    if pin is None or not pin.get("md5"):
        return None, "not committed to Git and not tracked by DVC"
    md5 = pin["md5"]
    if md5.endswith(".dir"):
        return None, f"a DVC-tracked folder ({md5}), not importable file by file"
    for candidate in dvc_cache_candidates(repo, md5):
        if candidate.is_file():
            h = hashlib.md5()
            with open(candidate, "rb") as fh:
                for block in iter(lambda: fh.read(1 << 20), b""):
                    h.update(block)
            if h.hexdigest() != md5:
                return None, f"DVC cache object {md5} is corrupt"
            digest, size = sha256_file(candidate)
            return {"sha256": digest, "size": size}, "dvc cache"
    return None, f"tracked by DVC ({md5}) but not in the local DVC cache (dvc pull first)"


def artifact_digests(repo: Repo, commit: str, paths: list[str]) -> tuple[dict | None, str]:
    """{path: {sha256, size}} of the artifacts at `commit`, or (None, why not)."""
    digests: dict = {}
    for rel in paths:
        if not _safe_relpath(rel):
            return None, f"artifact path {rel!r} is not a path in the repository (virtual artifact?)"
        blob = repo.blob_at(commit, rel)
        if blob is not None:
            digests[rel] = {"sha256": sha256_bytes(blob), "size": len(blob)}
            continue
        files = _blobs_under(repo, commit, rel.rstrip("/"))
        if files:
            for f in files:
                data = repo.blob_at(commit, f) or b""
                digests[f] = {"sha256": sha256_bytes(data), "size": len(data)}
            continue
        meta, why = _from_dvc_cache(repo, commit, rel)
        if meta is None:
            return None, f"artifact {rel} at {commit[:12]} is not retrievable: {why}"
        digests[rel] = meta
    if not digests:
        return None, f"no artifact files at {commit[:12]}"
    return digests, ""


# ---------------------------------------------------------------- version record extras (as register fills them)

def _file_digest(read, path: str | None) -> dict | None:
    if not path:
        return None
    data = read(path)
    return None if data is None else {"path": path, "sha256": sha256_bytes(data)}


def _params(read, path: str | None) -> dict | None:
    found = _file_digest(read, path)
    if found is None:
        return None
    try:
        data = read(path)
        values = yaml.safe_load(data.decode("utf-8")) if path.endswith((".yaml", ".yml")) else json.loads(data)
    except (yaml.YAMLError, ValueError, UnicodeDecodeError):
        return found
    if isinstance(values, dict):
        found["values"] = json.loads(json.dumps(values, default=str))
    return found


def _pins(read, mp) -> list:
    files = [f for f in mp.data if read(f) is not None]
    if not files and read(dvcpins.DVC_LOCK) is None:
        return []
    try:
        return dvcpins.read_pins(read, files)
    except MvError:
        return []


# ---------------------------------------------------------------- planning

@dataclass
class _PlannedVersion:
    gto: GtoTag
    model: str
    version: str  # our v<N>
    parent: str | None
    record: VersionRecord | None = None
    source: str = ""
    tag_id: str | None = None  # set once written (or when already imported)
    existing: bool = False


@dataclass
class _PlannedStage:
    gto: GtoTag
    model: str
    stage: str
    seq: int
    version: _PlannedVersion
    kind: str
    previous: str | None


@dataclass
class _Plan:
    versions: list = field(default_factory=list)
    stages: list = field(default_factory=list)
    deprecations: list = field(default_factory=list)  # (planned version, gto tag, reason)
    skipped: list = field(default_factory=list)
    already: list = field(default_factory=list)


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


def _open(path) -> Context:
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
                          f"run 'git mv-promote init', make {POLICY_PATH} hold:\n{snippet}\nand commit it") from exc


def _name_map(tags: list[GtoTag]) -> dict[str, str]:
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


def _already_imported(ctx: Context, model: str) -> tuple[dict, dict, set, dict]:
    """(gto tag -> existing Version, version name -> Version, {(stage, GTO tag)} imported, stage -> versions)."""
    reg = ctx.registry
    by_gto, by_name = {}, {}
    for name in reg.versions(model):
        try:
            v = reg.version(model, name)
        except MvError:
            continue
        by_name[name] = v
        if v.record.run_id and v.record.run_id.startswith(RUN_ID_PREFIX):
            by_gto[v.record.run_id[len(RUN_ID_PREFIX):]] = v
    stage_tags, history = set(), {}
    for stage in reg.stages_present(model):
        entries = []
        for e in reg.stage_history(model, stage):
            entries.append(e.record.version)
            if e.record.reason.startswith(REASON_PREFIX):
                stage_tags.add((stage, e.record.reason[len(REASON_PREFIX):]))
        history[stage] = entries
    return by_gto, by_name, stage_tags, history


def _plan(ctx: Context, tags: list[GtoTag], sign: bool) -> _Plan:  # noqa: C901  (the GTO replay in one place; split it with the Shape issue)
    repo, policy, reg = ctx.repo, ctx.policy, ctx.registry
    plan = _Plan()
    usable = []
    for t in sorted(tags, key=lambda t: t.name):
        if not t.annotated:
            plan.skipped.append(f"{t.name}: lightweight tag (GTO itself ignores lightweight tags)")
        elif t.commit is None:
            plan.skipped.append(f"{t.name}: does not point at a commit")
        elif t.action == "create":
            plan.skipped.append(f"{t.name}: GTO '@created' tags carry no version or stage")
        else:
            usable.append(t)
    names = _name_map(usable)
    # everything the policy must allow, checked before anything is written
    missing_models = {}
    index = _index_name(repo, ctx.head)
    for gto_name, model in sorted(names.items()):
        if model not in policy.models:
            meta, _ = gto_artifact_meta(repo, ctx.head, gto_name, index)
            path = meta.get("path") if meta else None
            missing_models[model] = [path] if isinstance(path, str) and _safe_relpath(path) else []
    stage_map = {t.stage: map_name(t.stage) for t in usable if t.stage}
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

    for gto_name, model in sorted(names.items()):
        mp = policy.model(model)
        mine = [t for t in usable if t.artifact == gto_name]
        by_gto, by_name, stage_done, history = _already_imported(ctx, model)
        latest = reg.latest(model)
        next_number = records.version_number(latest) + 1 if latest else 1
        planned: dict[str, _PlannedVersion] = {}  # GTO version -> ours
        parent = None
        regs = sorted((t for t in mine if t.action == "register"), key=lambda t: (semver_key(t.version), t.epoch))
        for t in regs:
            if t.name in by_gto:
                v = by_gto[t.name]
                pv = _PlannedVersion(t, model, v.name, v.record.parent, tag_id=v.tag.id, existing=True)
                planned[t.version] = pv
                parent = v.name
                plan.already.append(t.name)
                if v.record.commit != t.commit:
                    plan.skipped.append(f"{t.name}: imported earlier as {model} {v.name} at {v.record.commit[:12]}, "
                                        f"but GTO's tag now points at {t.commit[:12]} (left as it is)")
                continue
            paths, source = _artifact_paths(repo, t.commit, gto_name, index, mp)
            digests, why = artifact_digests(repo, t.commit, paths) if paths else (None, "no artifact path")
            if digests is None:
                plan.skipped.append(f"{t.name}: {why}; version not imported")
                continue
            read = lambda p, c=t.commit: repo.blob_at(c, p)  # noqa: E731
            custom = t.message and not _DEFAULT_MESSAGE_RE.match(t.message.splitlines()[0])
            message = f"{REASON_PREFIX}{t.name}" + (f": {t.message.splitlines()[0]}" if custom else "")
            version = f"v{next_number}"
            record = VersionRecord(
                model=model, version=version, commit=t.commit, created_at=t.at if t.epoch else now(),
                created_by=t.tagger or repo.identity(), artifacts=digests, tier=mp.tier,
                policy_digest=policy.digest, message=message, parent=parent, run_id=f"{RUN_ID_PREFIX}{t.name}",
                data=_pins(read, mp), params=_params(read, mp.params), lockfile=_file_digest(read, mp.lockfile),
                model_card=_file_digest(read, mp.model_card), signer=None)
            pv = _PlannedVersion(t, model, version, parent, record=record, source=source)
            planned[t.version] = pv
            plan.versions.append(pv)
            parent = version
            next_number += 1

        # which GTO version sits at a commit (GTO maps assignments to versions by commit)
        at_commit: dict[str, list[str]] = {}
        for t in regs:
            at_commit.setdefault(t.commit, []).append(t.version)

        seqs = {s: (reg.stage_seqs(model, s)[-1][0] if reg.stage_seqs(model, s) else 0) for s in policy.stages}

        def emit(t: GtoTag, gto_stage: str, gto_version: str) -> None:
            stage = stage_map[gto_stage]
            if (stage, t.name) in stage_done:
                plan.already.append(t.name)
                return
            pv = planned.get(gto_version)
            if pv is None:
                plan.skipped.append(f"{t.name}: {gto_name}@{gto_version} was not imported, so {stage} cannot follow it")
                return
            entries = history.setdefault(stage, [])
            previous = entries[-1] if entries else None
            kind = "rollback" if pv.version in entries and previous != pv.version else "promote"
            seqs[stage] += 1
            plan.stages.append(_PlannedStage(t, model, stage, seqs[stage], pv, kind, previous))
            entries.append(pv.version)

        # Replay GTO's stage semantics (gto show, default --sort timestamp): a stage holds the
        # non-deregistered version whose still-active assignment is the most recent. An assignment
        # becomes our promotion; an unassignment or a deregistration that changes what GTO shows
        # becomes a rollback to the version GTO falls back to.
        active: dict[tuple[str, str], int] = {}  # (GTO stage, GTO version) -> position of its assignment
        deregistered: set[str] = set()

        def gto_current(gto_stage: str) -> str | None:
            held = [(pos, v) for (s, v), pos in active.items() if s == gto_stage and v not in deregistered]
            return max(held)[1] if held else None

        events = assignment_order([t for t in mine if t.action in ("assign", "unassign", "deregister")])
        for pos, t in enumerate(events):
            if t.action == "deregister":
                stages = sorted({s for s, _ in active})
                before = {s: gto_current(s) for s in stages}
                deregistered.add(t.version)
            else:
                found = at_commit.get(t.commit, [])
                if not found:
                    plan.skipped.append(f"{t.name}: no GTO version is registered at {t.commit[:12]}")
                    continue
                if len(found) > 1:
                    plan.skipped.append(f"{t.name}: several GTO versions at {t.commit[:12]} ({', '.join(found)}): ambiguous")
                    continue
                stages = [t.stage]
                before = {t.stage: gto_current(t.stage)}
                if t.action == "assign":
                    active[(t.stage, found[0])] = pos
                    emit(t, t.stage, found[0])
                    continue
                active.pop((t.stage, found[0]), None)
            for gto_stage in stages:
                after = gto_current(gto_stage)
                if after == before[gto_stage]:
                    if t.action == "unassign":
                        plan.skipped.append(f"{t.name}: changes nothing GTO shows ({gto_stage} stays "
                                            f"{before[gto_stage] or 'empty'})")
                elif after is None:
                    plan.skipped.append(f"{t.name}: empties {gto_stage} in GTO; an mv-promote stage is never "
                                        "emptied, so it keeps its current version")
                else:
                    emit(t, gto_stage, after)

        # deregistrations and artifact deprecations become deprecation records
        direct = sorted((t for t in mine if t.action in ("register", "deregister")), key=lambda t: (t.epoch, t.name))
        last_direct = {}
        for t in direct:
            last_direct[t.version] = t
        for gto_version, t in sorted(last_direct.items()):
            if t.action == "deregister" and gto_version in planned:
                plan.deprecations.append((planned[gto_version], t, f"deregistered in GTO ({t.name})"))
        deprecations = sorted((t for t in mine if t.action == "deprecate"), key=lambda t: (t.epoch, t.name))
        if deprecations:
            t = deprecations[-1]
            for pv in planned.values():
                plan.deprecations.append((pv, t, f"artifact {gto_name} deprecated in GTO ({t.name})"))
            plan.skipped.append(f"{t.name}: GTO hides the whole artifact; here its versions are marked deprecated "
                                "and its stages keep their versions (an mv-promote stage is never emptied)")
    return plan


def _artifact_paths(repo: Repo, commit: str, gto_name: str, index: str, mp) -> tuple[list[str], str]:
    meta, source = gto_artifact_meta(repo, commit, gto_name, index)
    path = meta.get("path") if meta else None
    if isinstance(path, str) and path:
        return [path], source
    return list(mp.artifacts), "policy"


# ---------------------------------------------------------------- writing

def _deprecation_exists(ctx: Context, tag_id: str, reason: str) -> bool:
    try:
        return any(r.get("reason") == reason for r in ctx.registry.records_of(tag_id, "deprecation"))
    except MvError:
        return False


def import_gto(path: str = ".", *, dry_run: bool = False, sign: bool = True) -> dict:
    """Import a GTO registry's versions and stage history; see the module docstring."""
    ctx = _open(path)
    repo = ctx.repo
    tags = read_gto_tags(repo)
    plan = _plan(ctx, tags, sign)
    signer = signing_key_fingerprint(repo.config("user.signingkey"), repo.config("gpg.format")) if sign and not dry_run else None
    versions_out, stages_out, deprecations_out = [], [], []

    for pv in plan.versions:
        number = records.version_number(pv.version)
        if not dry_run:
            for _ in range(20):
                record = dataclasses.replace(pv.record, version=f"v{number}", signer=signer)
                try:
                    pv.tag_id = repo.create_tag(version_tag_name(pv.model, f"v{number}"), pv.gto.commit, record.to_message(), sign)
                    break
                except ConflictError:
                    number += 1
            else:
                raise ConflictError(f"could not find a free version number for {pv.model}", "run the import again")
            if record.version != pv.version:  # another writer took a number: later parents follow
                _renumber(plan, pv, record.version)
            pv.record = record
        versions_out.append({"gto": pv.gto.name, "model": pv.model, "version": pv.version, "commit": pv.gto.commit,
                             "parent": pv.record.parent, "artifacts": pv.record.artifacts, "artifacts_from": pv.source,
                             "ref": version_ref(pv.model, pv.version), "tag": pv.tag_id})

    importer = repo.identity()
    if sign and not dry_run and plan.stages:
        importer = record_signing.signer_principal(repo, ctx.registry.allowed_signers) or importer
    for ps in plan.stages:
        ref = stage_ref(ps.model, ps.stage, ps.seq)
        row = {"gto": ps.gto.name, "model": ps.model, "stage": ps.stage, "seq": ps.seq, "version": ps.version.version,
               "kind": ps.kind, "previous": ps.previous, "at": ps.gto.at, "ref": ref, "tag": None}
        if not dry_run:
            record = PromotionRecord(
                kind=ps.kind, model=ps.model, version=ps.version.version, version_tag=ps.version.tag_id,
                stage=ps.stage, seq=ps.seq, at=ps.gto.at if ps.gto.epoch else now(),
                by=importer, policy_digest=ctx.policy.digest, previous=ps.previous,
                gate=dict(NOT_GATED), reason=f"{REASON_PREFIX}{ps.gto.name}", signer=signer)
            # the tag takes GTO's time, so `at` stays a checkable fact; `by` is whoever signs the import
            row["tag"] = repo.create_tag(stage_tag_name(ps.model, ps.stage, ps.seq), ps.version.tag_id,
                                         record.to_message(), sign, date=record.at)
        stages_out.append(row)

    for pv, t, reason in plan.deprecations:
        if pv.tag_id is not None and _deprecation_exists(ctx, pv.tag_id, reason):
            if t.name not in plan.already:
                plan.already.append(t.name)
            continue
        deprecations_out.append({"gto": t.name, "model": pv.model, "version": pv.version, "reason": reason})
        if dry_run:
            continue
        rec = record_signing.new_record(repo, "deprecation", {"model": pv.model, "version": pv.version, "reason": reason},
                                  at=t.at if t.epoch else now(), allowed_signers=ctx.registry.allowed_signers,
                                  signed=sign, warnings=ctx.warnings)
        notes.append(repo, pv.tag_id, [rec], f"mv-promote: deprecate {pv.model} {pv.version} (imported from GTO)")

    return {"versions": versions_out, "stages": stages_out, "deprecations": deprecations_out,
            "skipped": plan.skipped, "already_imported": sorted(set(plan.already)), "dry_run": dry_run,
            "warnings": ctx.warnings}


def _renumber(plan: _Plan, moved: _PlannedVersion, new_name: str) -> None:
    """A version took another number than planned: shift the later planned versions of that model."""
    old = records.version_number(moved.version)
    shift = records.version_number(new_name) - old
    renamed = {moved.version: new_name}
    moved.version = new_name
    for pv in plan.versions:
        if pv.model == moved.model and not pv.existing and pv.tag_id is None and pv is not moved:
            n = records.version_number(pv.version)
            if n > old:
                renamed[pv.version] = f"v{n + shift}"
                pv.version = renamed[pv.version]
    for pv in plan.versions:
        if pv.model == moved.model and pv.tag_id is None and pv.record.parent in renamed:
            pv.record = dataclasses.replace(pv.record, parent=renamed[pv.record.parent], version=pv.version)
    for ps in plan.stages:
        if ps.model == moved.model and ps.previous in renamed:
            ps.previous = renamed[ps.previous]
