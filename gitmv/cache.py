"""A cache of parsed tag records, keyed by tag object id.

Derivable and self-validating: an object id names immutable content, so an entry can never go
stale, and deleting the file only costs a re-parse. It is never a source of truth: `verify` and
the server hook do not use it. Concurrent writers each rewrite the file atomically; losing another
writer's entries only means parsing them again later.
"""

from __future__ import annotations

import atexit
import json
import os
import tempfile
from pathlib import Path

CACHE_NAME = "records-v1.json"


class RecordCache:
    def __init__(self, git_dir: Path):
        self.path = Path(git_dir) / "mv-promote" / CACHE_NAME
        self._data: dict[str, dict] | None = None
        self._dirty = False

    def _load(self) -> dict[str, dict]:
        if self._data is None:
            try:
                data = json.loads(self.path.read_bytes())
                self._data = data if isinstance(data, dict) else {}
            except (OSError, ValueError):
                self._data = {}
        return self._data

    def get(self, oid: str) -> dict | None:
        entry = self._load().get(oid)
        return entry if isinstance(entry, dict) else None

    def put(self, oid: str, record: dict) -> None:
        data = self._load()
        if oid in data:
            return
        data[oid] = record
        if not self._dirty:
            self._dirty = True
            atexit.register(self.flush)

    def flush(self) -> None:
        if not self._dirty or self._data is None:
            return
        self._dirty = False
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=self.path.parent, prefix=".records-")
            with os.fdopen(fd, "w") as fh:
                json.dump(self._data, fh, separators=(",", ":"))
            os.replace(tmp, self.path)
        except OSError:
            pass  # a cache that cannot be written is only slower
