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
a line that does not parse, it is slow) leaves the parent to do the work itself: `ready` then
answers None.
Only where `gitmv.proc.may_fork` allows it: the CLI program, single-threaded.
"""

from __future__ import annotations

import mmap
import os
import select
import signal
import struct
from collections.abc import Callable

from gitmv import proc

Emit = Callable[[str, str], None]  # (key, JSON text; "" for "could not")
ReaderAt = Callable[[], int]  # how far the parent has got in a list both work on (-1: not started)


class Ahead:
    """The results of one helper process, taken by key. The reader never waits for one: what has
    not come when it is needed, the reader computes itself (a helper held up by costly or
    useless work, say signatures of tags that turn out not to be records, costs no time)."""

    def __init__(self, pid: int, fd: int, shared: mmap.mmap) -> None:
        self._pid = pid
        self._fd: int | None = fd
        self._got: dict[str, str] = {}
        self._partial: list[bytes] = []  # the pieces of a line not ended yet
        self._shared = shared
        self._position = -1
        os.set_blocking(fd, False)

    def ready(self, key: str) -> str | None:
        """The helper's JSON text for `key` if it has come (never waits); None otherwise."""
        self._pump(wait=False)
        return self._got.pop(key, None) or None

    def reach(self, position: int) -> None:
        """This process does item `position` of the list both work on itself: the helper, working
        from the other end, stops before it."""
        if position > self._position:
            self._position = position
            struct.pack_into("q", self._shared, 0, position)

    def finish(self) -> None:
        """Read everything the helper will hand over (waiting for its end)."""
        while self._fd is not None:
            self._pump(wait=True)

    def _pump(self, wait: bool) -> None:
        """Read what is in the pipe (with `wait`, at least one chunk, or the end). A line is
        joined once, when its end comes: a line of many chunks costs its length, not its square."""
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
            end = chunk.rfind(b"\n")
            if end < 0:
                self._partial.append(chunk)
            else:
                lines = b"".join([*self._partial, chunk[:end]]).split(b"\n")
                self._partial = [chunk[end + 1:]]
                for line in lines:
                    key, tab, text = line.partition(b"\t")
                    if tab:
                        self._got[key.decode("utf-8", "replace")] = text.decode("utf-8", "replace")
            if wait:
                return

    def close(self) -> None:
        """Stop reading and stop the helper: what it has not handed over is not needed (a helper
        still at work is never waited for)."""
        if self._fd is None:
            return
        os.close(self._fd)
        self._fd = None
        try:
            os.kill(self._pid, signal.SIGKILL)
        except ProcessLookupError:  # it has ended (and was reaped by someone)
            pass
        try:
            os.waitpid(self._pid, 0)
        except ChildProcessError:  # already reaped (a SIGCHLD handler of the caller's)
            pass

    def __del__(self) -> None:
        self.close()


def start(work: Callable[[Emit, ReaderAt], None]) -> Ahead | None:
    """A helper running `work(emit, reader_at)`, or None where forking is not allowed or fails
    (then the caller does all the work, as always)."""
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
            for fd in proc.caller_fds():  # and so do any others it passed the program
                try:
                    os.close(fd)
                except OSError:
                    pass
            with os.fdopen(write_end, "wb", buffering=0) as out:  # each result as soon as it is made
                def emit(key: str, text: str) -> None:
                    out.write(f"{key}\t{text}\n".encode())

                work(emit, lambda: struct.unpack_from("q", shared, 0)[0])
            code = 0
        except BaseException:  # the parent reads the end of the stream and does the rest itself
            pass
        finally:
            os._exit(code)
    os.close(write_end)
    return Ahead(pid, read_end, shared)
