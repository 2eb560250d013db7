"""Data pins compared between versions, file by file for directory pins when the `.dir`
manifests are in the local DVC cache; otherwise the change is reported at pin level and says the
manifest is not available locally, instead of guessing."""

from __future__ import annotations

import json
from pathlib import Path

from gitmv.git.repo import Repo
from gitmv.dvc.cache import dvc_cache_candidates


def _key(pin: dict) -> str:
    return f"{pin.get('source')}:{pin.get('path')}" if pin.get("stage") else pin.get("path", "")


def load_manifest(repo: Repo, md5: str) -> list[dict] | None:
    """Entries ({relpath, md5}) of a `.dir` object from the local DVC cache, or None."""
    for candidate in dvc_cache_candidates(repo, md5):
        if candidate.is_file():
            try:
                entries = json.loads(Path(candidate).read_bytes())
            except ValueError:
                return None
            return entries if isinstance(entries, list) else None
    return None


def pin_changes(repo: Repo, pins_a: list, pins_b: list, manifest=None) -> list[dict]:
    """Pin changes between two versions; `manifest(oid)` loads a `.dir` manifest (default: the
    local DVC cache only)."""
    manifest = manifest or (lambda oid: load_manifest(repo, oid))
    a = {_key(p): p for p in pins_a}
    b = {_key(p): p for p in pins_b}
    out = []
    for key in sorted(set(a) | set(b)):
        pa, pb = a.get(key), b.get(key)
        if pa and pb and pa.get("md5") == pb.get("md5"):
            continue
        status = "added" if pa is None else "removed" if pb is None else "changed"
        either = pa or pb or {}
        change = {"path": either.get("path"), "source": either.get("source"), "status": status,
                  "a": (pa or {}).get("md5"), "b": (pb or {}).get("md5")}
        if pa is not None and pb is not None and status == "changed" and str(pa.get("md5", "")).endswith(".dir"):
            change.update(_dir_changes(manifest, pa["md5"], pb["md5"]))
        out.append(change)
    return out


def _dir_changes(manifest, md5_a: str, md5_b: str) -> dict:
    ma, mb = manifest(md5_a), manifest(md5_b)
    if ma is None or mb is None:
        missing = [m for m, got in ((md5_a, ma), (md5_b, mb)) if got is None]
        return {"files": None, "note": f"directory manifest {', '.join(missing)} is not available locally or in the DVC remote "
                                     "(dvc fetch it to see file changes)"}
    fa = {e.get("relpath"): e.get("md5") for e in ma}
    fb = {e.get("relpath"): e.get("md5") for e in mb}
    files = []
    for rel in sorted(set(fa) | set(fb)):
        if fa.get(rel) != fb.get(rel):
            files.append({"path": rel, "status": "added" if rel not in fa else "removed" if rel not in fb else "modified"})
    return {"files": files}
