"""Tag signature verdicts computed ahead by a forked helper process.

A cold `log` checks one signature per version tag: ~77 µs each, 62 µs of it OpenSSL's Ed25519
verification, ~430 ms at 5,000 versions of one model, all while the same process also reads and
parses every tag and note. A thread cannot take that work off the main one (each check hands the
GIL back and forth; measured, docs/design.md); a forked child can. It inherits the open
repository, checks the tags' signatures in the order the parent will ask for them, and writes one
line per tag into a pipe; the parent takes each verdict when it gets to that tag.

The child runs the same code on the same object bytes as the parent would (`verify_signature`),
so a verdict means the same wherever it was computed. Whatever goes wrong with the helper (no
fork here, the child dies, a line that does not parse) leaves the parent to check the signature
itself: `take` then answers None. Only where `gitmv.proc.may_fork` allows it: the CLI program,
single-threaded.
"""

from __future__ import annotations

import json
import os

from gitmv import proc
from gitmv.git.repo import Repo
from gitmv.git.signing import SignatureCheck, verify_signature

# Below this many signatures the fork (a few ms) is not worth it: at 500 versions it saves ~35 ms.
MIN_TAGS = 64


class Ahead:
    """The verdicts of one helper process, taken by object id."""

    def __init__(self, pid: int, stream, wanted: set[str]) -> None:
        self._pid = pid
        self._stream = stream
        self._wanted = wanted
        self._got: dict[str, SignatureCheck] = {}

    def take(self, oid: str) -> SignatureCheck | None:
        """The helper's verdict on tag `oid`, waiting for it if need be; None when the helper was
        not asked for it or cannot give it (the caller then checks the signature itself)."""
        if oid not in self._wanted:
            return None
        while oid not in self._got and self._stream is not None:
            line = self._stream.readline()
            try:
                got, fields = json.loads(line)
                check = SignatureCheck(**fields)
            except (ValueError, TypeError):  # end of the stream (the child is done or died) or a broken line
                self.close()
                break
            if got in self._wanted:
                self._got[got] = check
        self._wanted.discard(oid)
        if not self._wanted:
            self.close()
        return self._got.pop(oid, None)

    def close(self) -> None:
        """Stop reading; the child, if it still runs, ends on its next write (a closed pipe)."""
        if self._stream is None:
            return
        self._stream.close()
        self._stream = None
        try:
            os.waitpid(self._pid, 0)
        except ChildProcessError:  # already reaped (a SIGCHLD handler of the caller's)
            pass


def start(repo: Repo, allowed_signers: bytes | None, oids: list[str]) -> Ahead | None:
    """A helper checking the signatures of tags `oids` in that order, or None where it would not
    pay or is not allowed (then every signature is checked in this process, as always)."""
    if allowed_signers is None or len(oids) < MIN_TAGS or not proc.may_fork():
        return None
    read_end, write_end = os.pipe()
    try:
        pid = os.fork()
    except OSError:
        os.close(read_end)
        os.close(write_end)
        return None
    if pid == 0:  # the helper: never returns, never runs the parent's exit handlers or flushes its buffers
        code = 1
        try:
            os.close(read_end)
            with os.fdopen(write_end, "w", encoding="utf-8") as out:
                for oid in oids:
                    check = verify_signature(repo.read_raw(oid), allowed_signers)
                    out.write(json.dumps([oid, check.to_dict()]) + "\n")
            code = 0
        except BaseException:  # noqa: BLE001 - the parent reads the end of the stream and checks the rest itself
            pass
        finally:
            os._exit(code)
    os.close(write_end)
    return Ahead(pid, os.fdopen(read_end, "r", encoding="utf-8"), set(oids))
