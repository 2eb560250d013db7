"""Reading a GTO registry: its tags (names, annotations) and its artifacts at a commit. Only reads."""

from __future__ import annotations

import posixpath
import re
from dataclasses import dataclass
from datetime import datetime, timezone

import yaml

from gitmv.dvc import pins as dvcpins
from gitmv.errors import MvError
from gitmv.git.repo import Repo
from gitmv.hashing import md5_file, sha256_bytes, sha256_file
from gitmv.dvc.cache import dvc_cache_candidates
from gitmv.rules import artifacts as artifact_rules

GTO_CONFIG = ".gto"
NOT_TRACKED = "not committed to Git and not tracked by DVC"
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
DEFAULT_MESSAGE_RE = re.compile(r"^(Registering artifact \S+ version \S+|Assigning stage .*)$")

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


def index_name(repo: Repo, head: str) -> str:
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
        if isinstance(entry.get("path"), str) and not artifact_rules.is_uri(entry["path"]):
            entry["path"] = posixpath.normpath(posixpath.join(folder, entry["path"])) if folder else entry["path"]
        return entry, dvc_yaml
    return None, None


def safe_relpath(path: str) -> bool:
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
    read = lambda p: repo.blob_at(commit, p)
    pin_file = f"{path}.dvc"
    try:
        pins = dvcpins.read_pins(read, [pin_file] if read(pin_file) is not None else [])
    except MvError:
        return None, "its DVC pin does not parse"
    pin = dvcpins.pins_by_path(pins).get(path)
    if pin is None or not pin.get("md5"):
        return None, NOT_TRACKED
    md5 = pin["md5"]
    if md5.endswith(".dir"):
        return None, f"a DVC-tracked folder ({md5}), not importable file by file"
    for candidate in dvc_cache_candidates(repo, md5):
        if candidate.is_file():
            if md5_file(candidate) != md5:
                return None, f"DVC cache object {md5} is corrupt"
            digest, size = sha256_file(candidate)
            return {"sha256": digest, "size": size}, "dvc cache"
    return None, f"tracked by DVC ({md5}) but not in the local DVC cache (dvc pull first)"


# ---------------------------------------------------------------- artifacts recorded by URI

HEX = {"md5": re.compile(r"^[0-9a-f]{32}$"), "sha256": re.compile(r"^[0-9a-f]{64}$")}


def _dvc_files(repo: Repo, commit: str) -> list[str]:
    proc = repo.git("ls-tree", "-r", "-z", "--name-only", commit, check=False)
    return sorted(p for p in proc.stdout.decode("utf-8", "replace").split("\0") if p.endswith(".dvc"))


def _digests_of(out: dict) -> dict:
    """md5 and size of a DVC out entry, when DVC recorded a file's md5 (never a folder's `.dir`)."""
    found: dict = {}
    md5 = out.get("md5")
    if isinstance(md5, str) and HEX["md5"].match(md5):
        found["md5"] = md5
        if isinstance(out.get("size"), int) and not isinstance(out.get("size"), bool):
            found["size"] = out["size"]
    return found


def dvc_digests_for_uri(repo: Repo, commit: str, uri: str) -> tuple[dict, str | None]:
    """What DVC recorded at `commit` about the content at `uri`, and where: the out of a `.dvc`
    file made by `dvc import-url URI` (its dep is the URI; the out is the downloaded file), or an
    external out (`path: URI`) in a `.dvc` file or in `dvc.lock`. ({}, None) when DVC knows nothing."""
    def outs_and_deps(doc) -> tuple[list, list]:
        outs = doc.get("outs") if isinstance(doc, dict) else None
        deps = doc.get("deps") if isinstance(doc, dict) else None
        return ([o for o in outs if isinstance(o, dict)] if isinstance(outs, list) else [],
                [d for d in deps if isinstance(d, dict)] if isinstance(deps, list) else [])

    for path in _dvc_files(repo, commit):
        outs, deps = outs_and_deps(_yaml_at(repo, commit, path))
        if any(d.get("path") == uri for d in deps) and len(outs) == 1 and _digests_of(outs[0]):
            return _digests_of(outs[0]), path
        for out in outs:
            if out.get("path") == uri and _digests_of(out):
                return _digests_of(out), path
    lock = _yaml_at(repo, commit, "dvc.lock")
    stages = lock.get("stages") if isinstance(lock, dict) else None
    for name, stage in sorted(stages.items()) if isinstance(stages, dict) else []:
        outs, deps = outs_and_deps(stage)
        for entry in outs + deps:
            if entry.get("path") == uri and _digests_of(entry):
                return _digests_of(entry), f"dvc.lock (stage {name})"
    return {}, None


def annotation_digests(entry: dict | None, remarks: list[str], where: str) -> dict:
    """Digests the annotation itself gives: `sha256`, `md5`, `size` under GTO's `custom` (artifacts.yaml)
    or DVC's `meta` (dvc.yaml). A malformed one is left out and said so, never recorded."""
    extra = None
    if isinstance(entry, dict):
        extra = entry.get("custom") if isinstance(entry.get("custom"), dict) else entry.get("meta")
    if not isinstance(extra, dict):
        return {}
    found: dict = {}
    for name, pattern in HEX.items():
        value = extra.get(name)
        if value is None:
            continue
        if isinstance(value, str) and pattern.match(value.lower()):
            found[name] = value.lower()
        else:
            remarks.append(f"{where}: the annotation's {name} {value!r} is not a valid {name} digest; not recorded")
    size = extra.get("size")
    if isinstance(size, int) and not isinstance(size, bool) and size >= 0:
        found["size"] = size
    return found


def uri_artifact(repo: Repo, commit: str, uri: str, entry: dict | None, remarks: list[str], where: str) -> dict:
    """The record entry of an artifact that lives at `uri`: the URI and what DVC or GTO's
    annotation knew of its digests (DVC's md5 and size win over the annotation's, said so)."""
    meta = {"uri": uri, **annotation_digests(entry, remarks, where)}
    dvc_known, source = dvc_digests_for_uri(repo, commit, uri)
    for key, value in dvc_known.items():
        if key in meta and meta[key] != value:
            remarks.append(f"{where}: the annotation's {key} {meta[key]} differs from DVC's {value} ({source}); "
                           "DVC's is recorded")
        meta[key] = value
    return meta


def artifact_digests(repo: Repo, commit: str, paths: list[str], entry: dict | None = None,
                     remarks: list[str] | None = None, where: str = "") -> tuple[dict | None, str]:
    """{path: {sha256, size}} of the artifacts at `commit` (a URI, or with GTO's `virtual: true` a path
    in neither Git nor DVC: {uri, digests known}), or (None, why not)."""
    digests: dict = {}
    remarks = [] if remarks is None else remarks
    virtual = isinstance(entry, dict) and entry.get("virtual") is True
    for rel in paths:
        if artifact_rules.is_uri(rel):
            digests[rel] = uri_artifact(repo, commit, rel, entry, remarks, where)
            continue
        if not safe_relpath(rel):
            return None, f"artifact path {rel!r} is not a path in the repository nor a URI"
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
        if meta is None and virtual and why == NOT_TRACKED:
            # GTO's virtual artifact: it was never meant to be in the repository; its path is its locator
            digests[rel] = uri_artifact(repo, commit, rel, entry, remarks, where)
            continue
        if meta is None:
            return None, f"artifact {rel} at {commit[:12]} is not retrievable: {why}"
        digests[rel] = meta
    if not digests:
        return None, f"no artifact files at {commit[:12]}"
    return digests, ""

