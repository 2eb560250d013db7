"""Object-by-object access to a DVC remote (local directory, S3, …) through DVC's own object
database, imported lazily: only commands that need a remote need the `[dvc]` extra.

Existence is checked per object (`odb.exists(oid)`), never through `dvc status -c` or DVC's
exit codes, which report success when remote objects are gone.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from gitmv.errors import MvError

EXTRA_HINT = "pip install 'git-mv-promote[dvc]'"


def dvc_available() -> bool:
    try:
        import dvc.repo  # noqa: F401
    except ImportError:
        return False
    return True


class Remote:
    """One DVC remote of the repository at `root` (a work tree with `.dvc/`)."""

    def __init__(self, root: str | os.PathLike, name: str | None = None):
        try:
            from dvc.repo import Repo as DvcRepo
        except ImportError as exc:
            raise MvError("checking DVC remotes needs DVC installed", EXTRA_HINT) from exc
        if not Path(root, ".dvc").is_dir():
            raise MvError(f"{root} is not a DVC repository (no .dvc directory)", "run 'dvc init' and configure a remote")
        try:
            self._repo = DvcRepo(str(root))
            self.odb = self._repo.cloud.get_remote_odb(name, hash_name="md5")
        except Exception as exc:  # DVC raises its own error types for missing/invalid remotes
            raise MvError(f"DVC remote {name or '(default)'} is not usable: {str(exc).splitlines()[0]}",
                          "configure one: dvc remote add -d NAME URL") from exc
        self.name = name or self._repo.config["core"].get("remote", "default")

    def exists(self, oid: str) -> bool:
        return self.odb.exists(oid)

    def read(self, oid: str) -> bytes:
        return self.odb.fs.cat_file(self.odb.oid_to_path(oid))

    def download(self, oid: str, dest: str | os.PathLike) -> None:
        self.odb.fs.get_file(self.odb.oid_to_path(oid), str(dest))

    def open(self, oid: str):
        """The object as a binary file to read from (streamed: `get` hashes while it copies)."""
        return self.odb.fs.open(self.odb.oid_to_path(oid), "rb")

    def manifest(self, oid: str) -> list[dict] | None:
        try:
            entries = json.loads(self.read(oid))
        except Exception:  # missing or unreadable: the caller reports it as missing
            return None
        return entries if isinstance(entries, list) else None

    def close(self) -> None:
        try:
            self._repo.close()
        except Exception:  # closing is best effort
            pass


def pin_objects(pin: dict, manifest) -> list[tuple[str, str | None]]:
    """(oid, relpath) of every object a pin needs: the file, or the `.dir` manifest and its files.

    `manifest(oid)` returns the entries of a `.dir` object or None when it cannot be read.
    """
    md5 = pin.get("md5")
    if not md5:
        return []
    if not md5.endswith(".dir"):
        return [(md5, None)]
    out: list[tuple[str, str | None]] = [(md5, None)]
    entries = manifest(md5)
    for entry in entries or []:
        if isinstance(entry, dict) and entry.get("md5"):
            out.append((entry["md5"], entry.get("relpath")))
    return out
