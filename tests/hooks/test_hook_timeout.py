"""The server hook's time limit fails closed: a check that does not finish within
MV_PROMOTE_HOOK_TIMEOUT seconds refuses the push, says so, and leaves the server's refs as they were.

The hang is real: `ssh-keygen` is, for this push only, a program that blocks opening a FIFO nobody
writes. The hook checks signatures in process only when it understands the whole allowed-signers
file; this one also lists a legacy DSA key, which sends every check to `ssh-keygen`, as it would on
a server whose signers file has lines outside that subset. The push goes to a bare repository by
path, so `git receive-pack` and its hook run with this test's environment."""

from __future__ import annotations

import errno
import os
import stat
import subprocess

from conftest import Server, accepted, push, published_repo, run_mv
from gitservers import make_bare


def test_a_check_that_does_not_finish_in_time_refuses_the_push(tmp_path, keys, monkeypatch):
    bare = make_bare(tmp_path, "models.git")
    run_mv("hooks", "install", "--server", str(bare), cwd=tmp_path)
    server = Server(bare, str(bare))
    alice = published_repo(server, tmp_path, keys, stages=("staging",), extra_signers=_legacy_dsa_line(tmp_path))
    v2 = alice.version(0.90, 0.85)
    before = server.refs()

    fifo = tmp_path / "never-written"
    os.mkfifo(fifo)
    hang = tmp_path / "hang"
    hang.mkdir()
    tool = hang / "ssh-keygen"
    tool.write_text(f"#!/bin/sh\nexec cat '{fifo}' >/dev/null\n")
    tool.chmod(tool.stat().st_mode | stat.S_IXUSR)
    monkeypatch.setenv("PATH", f"{hang}{os.pathsep}{os.environ['PATH']}")
    monkeypatch.setenv("MV_PROMOTE_HOOK_TIMEOUT", "1")
    try:
        proc = push(alice, f"refs/tags/mv/churn/{v2}")
    finally:
        _release(fifo)

    assert proc.returncode != 0
    assert "did not finish within 1 s (fail closed)" in proc.stderr
    assert "MV_PROMOTE_HOOK_TIMEOUT" in proc.stderr
    assert server.refs() == before
    monkeypatch.delenv("MV_PROMOTE_HOOK_TIMEOUT")
    monkeypatch.setenv("PATH", os.environ["PATH"].split(os.pathsep, 1)[1])
    accepted(push(alice, f"refs/tags/mv/churn/{v2}"))  # the same push, without the hang, is accepted


def _legacy_dsa_line(tmp_path) -> str:
    key = tmp_path / "legacy-dsa"
    subprocess.run(["ssh-keygen", "-q", "-t", "dsa", "-N", "", "-f", str(key)], check=True)
    public = " ".join(key.with_suffix(".pub").read_text().split()[:2])
    return f'legacy@example.com namespaces="git" {public}\n'


def _release(fifo) -> None:
    """Let a reader still blocked on the FIFO go (EOF); ENXIO: none is left."""
    try:
        os.close(os.open(fifo, os.O_WRONLY | os.O_NONBLOCK))
    except OSError as exc:
        if exc.errno != errno.ENXIO:
            raise
