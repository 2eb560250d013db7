"""DVC pins read as Git blobs at a commit: no dvc import, so core works without DVC installed.

A pin is what DVC itself records for an output: its path, content hash (md5; `.dir` for a
directory), size, file count and the remote it goes to. `.dvc` files named in policy and every
out in `dvc.lock` are read.
"""

from __future__ import annotations

import configparser
import posixpath
from typing import Callable

from gitmv.errors import MvError

DVC_LOCK = "dvc.lock"
DVC_CONFIG = ".dvc/config"


def _yaml(raw: bytes, where: str):
    import yaml  # only when a DVC file is read: keeps start-up fast

    try:
        return yaml.safe_load(raw.decode("utf-8")) or {}
    except (yaml.YAMLError, UnicodeDecodeError) as exc:
        raise MvError(f"{where} is not valid YAML: {exc}".splitlines()[0], f"fix {where} and commit it") from exc


def default_remote(read_blob: Callable[[str], bytes | None]) -> str | None:
    raw = read_blob(DVC_CONFIG)
    if raw is None:
        return None
    parser = configparser.ConfigParser()
    try:
        parser.read_string(raw.decode("utf-8", "replace"))
    except configparser.Error:
        return None
    return parser.get("core", "remote", fallback=None)


def _pin(out: dict, source: str, remote: str | None, stage: str | None = None) -> dict:
    """A pin with its path relative to the repository root (DVC writes it relative to the file)."""
    md5 = out.get("md5") or out.get("etag") or out.get("checksum")
    base = posixpath.dirname(source)
    pin = {
        "source": source,
        "path": posixpath.normpath(posixpath.join(base, str(out.get("path", "")))),
        "md5": str(md5) if md5 else None,
        "hash": out.get("hash"),
        "size": out.get("size"),
        "nfiles": out.get("nfiles"),
        "remote": out.get("remote") or remote,
        "stage": stage,
    }
    return {k: v for k, v in pin.items() if v is not None}


def read_pins(read_blob: Callable[[str], bytes | None], dvc_files: tuple | list) -> list[dict]:
    """Pins from the named `.dvc` files (missing one is an error) and from `dvc.lock` when present."""
    remote = default_remote(read_blob)
    pins: list[dict] = []
    for path in dvc_files:
        raw = read_blob(path)
        if raw is None:
            raise MvError(f"DVC pin file {path} is not committed at this commit",
                          f"run 'dvc add' and 'git add {path}', then commit")
        doc = _yaml(raw, path)
        outs = doc.get("outs") or []
        if not isinstance(outs, list) or not outs:
            raise MvError(f"{path} has no outs", "is it a .dvc file written by 'dvc add'?")
        for out in outs:
            if isinstance(out, dict):
                pins.append(_pin(out, path, remote))
    lock = read_blob(DVC_LOCK)
    if lock is not None:
        doc = _yaml(lock, DVC_LOCK)
        stages = doc.get("stages") or {}
        for stage_name, stage in sorted(stages.items()):
            for out in (stage or {}).get("outs") or []:
                if isinstance(out, dict):
                    pins.append(_pin(out, DVC_LOCK, remote, stage=str(stage_name)))
    return pins


def pins_by_path(pins: list[dict]) -> dict[str, dict]:
    return {p["path"]: p for p in pins}
