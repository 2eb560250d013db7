"""Work done ahead by a forked helper process: tag signature verdicts and parsed records.

A cold read of a large model is CPU work in one process: a `log` of 500 versions checks 500
signatures (~80 µs each, mostly OpenSSL's Ed25519) and proves 1,000 tag messages and notes
canonical (~100 µs a version); a listing does the latter. A thread cannot take that work off the
main one (each check hands the GIL back and forth; measured, docs/design.md); a forked child can.
It inherits the open repository and registry and writes one line per result into a pipe: `key
TAB json`. The parent takes each result when it gets to it and treats it as what it would have
computed (a record-cache entry, a verdict). Work both can do (reading the versions of a list) is
shared without guessing what each costs: the parent works from the front and publishes how far it
has got (a shared word of memory), the helper works from the back and stops where they meet; the
parent takes what the helper has handed over by then and does the rest itself.

The child runs the same code on the same object bytes as the parent would, so a result means the
same wherever it was computed. Whatever goes wrong with the helper (no fork here, the child dies,
a line that does not parse) leaves the parent to do the work itself: `take` then answers None.
Only where `gitmv.proc.may_fork` allows it: the CLI program, single-threaded.
"""

from __future__ import annotations

import mmap
import os
import select
import struct
from collections.abc import Callable

from gitmv import proc

Emit = Callable[[str, str], None]  # (key, JSON text; "" for "could not")
ReaderAt = Callable[[], int]  # how far the parent has got in a list both work on (-1: not started)


class Ahead:
    """The results of one helper process, taken by key."""

    def __init__(self, pid: int, fd: int, wanted: set[str], shared: mmap.mmap) -> None:
        self._pid = pid
        self._fd: int | None = fd
        self._wanted = wanted
        self._got: dict[str, str] = {}
        self._partial = b""
        self._shared = shared
        self._position = -1
        os.set_blocking(fd, False)

    def take(self, key: str) -> str | None:
        """The helper's JSON text for `key`, waiting for it if need be; None when the helper was
        not asked for it or cannot give it (the caller then does the work itself). Every call
        drains what the helper has written so far: a full pipe would stop it."""
        if key not in self._wanted:
            self._pump(wait=False)
            return None
        while key not in self._got and self._fd is not None:
            self._pump(wait=True)
        self._wanted.discard(key)
        if not self._wanted:
            self.close()
        return self._got.pop(key, None) or None

    def ready(self, key: str) -> str | None:
        """The helper's JSON text for `key` if it has come (never waits): for work both may do."""
        self._pump(wait=False)
        return self._got.pop(key, None) or None

    def reach(self, position: int) -> None:
        """This process does item `position` of the list both work on itself: the helper, working
        from the other end, stops before it."""
        if position > self._position:
            self._position = position
            struct.pack_into("q", self._shared, 0, position)

    def _pump(self, wait: bool) -> None:
        """Read what is in the pipe (with `wait`, at least one chunk, or the end)."""
        while self._fd is not None:
            try:
                chunk = os.read(self._fd, 1 << 20)
            except BlockingIOError:
                if not wait:
                    return
                select.select([self._fd], [], [])
                continue
            if not chunk:  # the end: the child is done (or died; the rest is left to the caller)
                self.close()
                return
            *lines, self._partial = (self._partial + chunk).split(b"\n")
            for line in lines:
                key, tab, text = line.partition(b"\t")
                if tab:
                    self._got[key.decode("utf-8", "replace")] = text.decode("utf-8", "replace")
            if wait:
                return

    def close(self) -> None:
        """Stop reading; the child, if it still runs, ends on its next write (a closed pipe)."""
        if self._fd is None:
            return
        os.close(self._fd)
        self._fd = None
        try:
            os.waitpid(self._pid, 0)
        except ChildProcessError:  # already reaped (a SIGCHLD handler of the caller's)
            pass

    def __del__(self) -> None:
        self.close()


def start(work: Callable[[Emit, ReaderAt], None], wanted: set[str]) -> Ahead | None:
    """A helper running `work(emit, reader_at)`, which emits a result for each key of `wanted`
    (the caller may wait for these) and may emit others (taken if ready), or None where forking
    is not allowed or fails (then the caller does all the work, as always)."""
    if not proc.may_fork():
        return None
    shared = mmap.mmap(-1, 8)  # anonymous, shared with the child: the parent's position
    struct.pack_into("q", shared, 0, -1)
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
            devnull = os.open(os.devnull, os.O_RDWR)
            for fd in (0, 1, 2):  # the caller's pipes see their end when the parent exits, not the helper
                os.dup2(devnull, fd)
            with os.fdopen(write_end, "wb", buffering=0) as out:  # each result as soon as it is made
                def emit(key: str, text: str) -> None:
                    out.write(f"{key}\t{text}\n".encode())

                work(emit, lambda: struct.unpack_from("q", shared, 0)[0])
            code = 0
        except BaseException:  # noqa: BLE001 - the parent reads the end of the stream and does the rest itself
            pass
        finally:
            os._exit(code)
    os.close(write_end)
    return Ahead(pid, read_end, set(wanted), shared)
