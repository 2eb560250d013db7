"""A cache of parsed tag records, one small JSON file per tag object id.

Derivable and self-validating: an object id names immutable content, so an entry can never go
stale, and deleting the directory only costs a re-parse. It is never a source of truth: `verify`
and the server hook do not use it. One file per object keeps a lookup's cost independent of the
registry's size (a single file would have to be loaded whole for every command), and writers
never contend: each entry is written once, atomically.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path

CACHE_DIR = "mv-promote/records-v1"


class RecordCache:
    def __init__(self, git_dir: Path):
        self.root = Path(git_dir) / CACHE_DIR

    def _path(self, oid: str) -> Path:
        return self.root / oid[:2] / f"{oid[2:]}.json"

    def get(self, oid: str) -> dict | None:
        try:
            entry = json.loads(self._path(oid).read_bytes())
        except (OSError, ValueError):
            return None
        return entry if isinstance(entry, dict) else None

    def put(self, oid: str, record: dict) -> None:
        path = self._path(oid)
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")
            with os.fdopen(fd, "w") as fh:
                json.dump(record, fh, separators=(",", ":"))
            os.replace(tmp, path)
        except OSError:
            pass  # a cache that cannot be written is only slower
