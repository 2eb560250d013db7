"""The local DVC cache: where an object with a given md5 lives, and the pin of a DVC-tracked artifact."""

from __future__ import annotations

from pathlib import Path

from gitmv.dvc import pins as dvcpins
from gitmv.git.repo import Repo


def dvc_cache_candidates(repo: Repo, md5: str) -> list[Path]:
    root = repo.workdir or repo.git_dir
    base = Path(root, ".dvc", "cache")
    return [base / "files" / "md5" / md5[:2] / md5[2:], base / md5[:2] / md5[2:]]


def dvc_pin_for(repo: Repo, commit: str, path: str) -> dict | None:
    """The DVC pin of an artifact tracked by DVC (`<path>.dvc` or an out in dvc.lock)."""
    read = lambda p: repo.blob_at(commit, p)
    files = [f"{path}.dvc"] if read(f"{path}.dvc") is not None else []
    try:
        pins = dvcpins.read_pins(read, files)
    except Exception:  # a broken pin file only means "not retrievable this way"
        return None
    return dvcpins.pins_by_path(pins).get(path)
