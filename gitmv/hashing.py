"""Streaming sha256 of artifacts: OpenSSL through hashlib, one reused buffer, no whole-file reads."""

from __future__ import annotations

import hashlib
import os
from typing import Callable

CHUNK = 1 << 20  # 1 MiB: large enough that Python overhead vanishes next to hashing


def sha256_file(path: str | os.PathLike, on_progress: Callable[[int, int], None] | None = None) -> tuple[str, int]:
    """(hex digest, size) of a file, read in chunks into one buffer."""
    return _digest_file(hashlib.sha256(), path, on_progress)


def md5_file(path: str | os.PathLike) -> str:
    """DVC's content address of a file (md5 of its bytes): to confirm bytes are the pinned ones."""
    return _digest_file(hashlib.md5(usedforsecurity=False), path, None)[0]


def _digest_file(h: "hashlib._Hash", path: str | os.PathLike, on_progress: Callable[[int, int], None] | None) -> tuple[str, int]:
    buf = bytearray(CHUNK)
    view = memoryview(buf)
    done = 0
    with open(path, "rb", buffering=0) as fh:
        total = os.fstat(fh.fileno()).st_size
        while True:
            n = fh.readinto(buf)
            if not n:
                break
            h.update(view[:n])
            done += n
            if on_progress is not None:
                on_progress(done, total)
    return h.hexdigest(), done


def sha256_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()
