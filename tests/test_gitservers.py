"""Tests of the real Git server fixtures in tests/gitservers.py.

Each transport (git daemon, nginx + fcgiwrap + git-http-backend) is used the
way the product will use it: clone an empty bare repository, push, and have
a server-side pre-receive hook reject a push while it inspects the
quarantined objects.
"""

from __future__ import annotations

import os
import random
import socket
import stat
import subprocess
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
import gitservers
from gitservers import ServerStartError, git_daemon, http_backend, make_bare

FIXED_DATE = "2005-04-07T22:13:13 +0000"
PROXY_VARS = ("http_proxy", "https_proxy", "all_proxy", "HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY")


# --------------------------------------------------------------------------
# hermetic git environment


@pytest.fixture
def git_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A tmp HOME with only our global config; no system config, fixed dates."""
    home = tmp_path / "home-servers"
    home.mkdir()
    for var in list(os.environ):
        if var.startswith("GIT_") or var in PROXY_VARS:
            monkeypatch.delenv(var)
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(home / ".config"))
    monkeypatch.setenv("GIT_CONFIG_NOSYSTEM", "1")
    monkeypatch.setenv("GIT_AUTHOR_DATE", FIXED_DATE)
    monkeypatch.setenv("GIT_COMMITTER_DATE", FIXED_DATE)
    monkeypatch.setenv("GIT_TERMINAL_PROMPT", "0")
    monkeypatch.setenv("LC_ALL", "C")
    monkeypatch.setenv("LANG", "C")
    monkeypatch.setenv("no_proxy", "127.0.0.1,localhost")
    for key, value in {
        "user.name": "Test User",
        "user.email": "test@example.invalid",
        "init.defaultBranch": "main",
        "advice.detachedHead": "false",
    }.items():
        git("config", "--global", key, value)
    return home


def git(*args: str, cwd: Path | None = None, check: bool = True) -> subprocess.CompletedProcess:
    return subprocess.run(
        ["git", *args],
        cwd=cwd,
        check=check,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
    )


def rev(repo: Path, ref: str) -> str | None:
    r = git("--git-dir", str(repo), "rev-parse", "--verify", "--quiet", ref, check=False)
    return r.stdout.strip() if r.returncode == 0 else None


def commit_file(work: Path, name: str, content: bytes | str, message: str) -> str:
    path = work / name
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content)
    git("add", name, cwd=work)
    git("commit", "-q", "-m", message, cwd=work)
    return git("rev-parse", "HEAD", cwd=work).stdout.strip()


def write_hook(bare: Path, name: str, body: str) -> None:
    hook = bare / "hooks" / name
    hook.write_text("#!/bin/sh\n" + body)
    hook.chmod(0o755)


# --------------------------------------------------------------------------
# servers


@pytest.fixture(params=["daemon", "http"])
def server(request, git_env, tmp_path: Path):
    """(transport, url prefix, base dir) for a running server of each kind."""
    base = tmp_path / "srv"
    base.mkdir()
    if request.param == "daemon":
        cm = git_daemon(base)
    else:
        cm = http_backend(base, tmp_path / "nginx")
    with cm as prefix:
        yield request.param, prefix, base


def test_prefix_shape(server):
    kind, prefix, _base = server
    scheme = "git" if kind == "daemon" else "http"
    assert prefix.startswith(f"{scheme}://127.0.0.1:")
    assert prefix.endswith("/")
    assert int(prefix.rsplit(":", 1)[1].rstrip("/")) > 0


def test_clone_push_and_rejecting_pre_receive_hook(server, tmp_path: Path):
    kind, prefix, base = server
    bare = make_bare(base, "x.git")
    assert bare == base / "x.git"
    assert git("--git-dir", str(bare), "config", "http.receivepack").stdout.strip() == "true"
    url = prefix + "x.git"

    # Clone the empty repository.
    work = tmp_path / "work"
    cloned = git("clone", url, str(work))
    assert "empty repository" in cloned.stderr
    assert git("remote", "get-url", "origin", cwd=work).stdout.strip() == url

    # Commit and push: the server ref is the local commit.
    first = commit_file(work, "a.txt", "hello\n", "first")
    pushed = git("push", "origin", "HEAD:refs/heads/main", cwd=work, check=False)
    assert pushed.returncode == 0, pushed.stderr
    assert rev(bare, "refs/heads/main") == first
    # ... and the server advertises it back.
    listed = git("ls-remote", url, "refs/heads/main").stdout.split()
    assert listed == [first, "refs/heads/main"]
    # The fixed dates made the commit deterministic.
    assert git("log", "-1", "--format=%ad|%cd", "--date=raw", cwd=work).stdout.strip() == (
        "1112911993 +0000|1112911993 +0000"
    )

    # A pre-receive hook that records what it sees and says no.
    seen = tmp_path / "hook-seen"
    write_hook(
        bare,
        "pre-receive",
        f"""\
printf '%s\\n' "${{GIT_QUARANTINE_PATH-UNSET}}" > '{seen}.quarantine'
if [ -n "$GIT_QUARANTINE_PATH" ] && [ -d "$GIT_QUARANTINE_PATH" ]; then
    echo present > '{seen}.quarantine-dir'
fi
while read old new ref; do
    printf '%s %s %s\\n' "$old" "$new" "$ref" >> '{seen}.updates'
    git cat-file -t "$new" >> '{seen}.objtype' 2>&1
done
echo "policy says no" >&2
exit 1
""",
    )
    second = commit_file(work, "b.txt", "world\n", "second")
    rejected = git("push", "origin", "HEAD:refs/heads/main", cwd=work, check=False)
    assert rejected.returncode != 0
    assert "remote: policy says no" in rejected.stderr
    assert "pre-receive hook declined" in rejected.stderr
    assert rev(bare, "refs/heads/main") == first  # the server ref did not move

    # The hook saw the update it was asked to judge ...
    assert (Path(f"{seen}.updates").read_text().split()) == [first, second, "refs/heads/main"]
    # ... with the pushed objects in quarantine, readable from the hook ...
    quarantine = Path(f"{seen}.quarantine").read_text().strip()
    assert quarantine != "UNSET" and quarantine, "GIT_QUARANTINE_PATH not set in hook"
    q = Path(quarantine)
    assert q.parent.resolve() == (bare / "objects").resolve()
    assert q.name.startswith("tmp_objdir-incoming-")
    assert Path(f"{seen}.quarantine-dir").read_text().strip() == "present"
    assert Path(f"{seen}.objtype").read_text().strip() == "commit"
    # ... and a rejected push leaves neither quarantine nor objects behind.
    assert not q.exists()
    assert git("--git-dir", str(bare), "cat-file", "-e", second, check=False).returncode != 0


def test_fetch_from_second_clone(server, tmp_path: Path):
    _kind, prefix, base = server
    make_bare(base, "y.git")
    a = tmp_path / "a"
    git("clone", "-q", prefix + "y.git", str(a))
    tip = commit_file(a, "f.txt", "content\n", "one")
    git("push", "-q", "origin", "HEAD:refs/heads/main", cwd=a)
    b = tmp_path / "b"
    git("clone", "-q", prefix + "y.git", str(b))
    assert git("rev-parse", "HEAD", cwd=b).stdout.strip() == tip
    assert (b / "f.txt").read_text() == "content\n"


def test_http_large_push_with_unprivileged_workers(git_env, tmp_path: Path):
    """A multi-MB (chunked) push through nginx whose workdir sits below a
    0700 directory: the workers must not need to touch the file system."""
    private = tmp_path / "private"
    private.mkdir(mode=0o700)
    private.chmod(0o700)
    base = private / "srv"
    base.mkdir()
    workdir = private / "nginx"
    bare = make_bare(base, "big.git")
    with http_backend(base, workdir) as prefix:
        if os.geteuid() == 0:
            master = int((workdir / "nginx.pid").read_text())
            workers = [p for p in _processes() if p["ppid"] == master]
            assert workers, "no nginx worker processes found"
            assert all(p["uid"] != 0 for p in workers), workers
        work = tmp_path / "work"
        git("clone", "-q", prefix + "big.git", str(work))
        blob = random.Random(1234).randbytes(3 * 1024 * 1024)  # > http.postBuffer
        tip = commit_file(work, "blob.bin", blob, "big")
        pushed = git("push", "origin", "HEAD:refs/heads/main", cwd=work, check=False)
        assert pushed.returncode == 0, pushed.stderr + _logs(workdir)
        assert rev(bare, "refs/heads/main") == tip
        # And the big object comes back out (streamed response).
        again = tmp_path / "again"
        git("clone", "-q", prefix + "big.git", str(again))
        assert (again / "blob.bin").read_bytes() == blob
    assert stat.S_IMODE(private.stat().st_mode) == 0o700  # nothing was loosened


def test_http_server_side_env_is_forwarded(git_env, tmp_path: Path):
    """Hooks under git-http-backend see the caller's hermetic HOME and PATH."""
    base = tmp_path / "srv"
    base.mkdir()
    bare = make_bare(base, "e.git")
    out = tmp_path / "env.txt"
    write_hook(bare, "pre-receive", f"env > '{out}'\nexit 1\n")
    with http_backend(base, tmp_path / "nginx") as prefix:
        work = tmp_path / "work"
        git("clone", "-q", prefix + "e.git", str(work))
        commit_file(work, "f", "x", "m")
        git("push", "origin", "HEAD:refs/heads/main", cwd=work, check=False)
    env = dict(line.split("=", 1) for line in out.read_text().splitlines() if "=" in line)
    assert env["HOME"] == str(git_env)
    assert env["GIT_CONFIG_NOSYSTEM"] == "1"
    # git prepends its exec-path; the rest is the caller's PATH.
    assert env["PATH"].endswith(":" + os.environ["PATH"])


# --------------------------------------------------------------------------
# lifecycle: cleanup and port clashes


def _processes() -> list[dict]:
    procs = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                data = f.read()
            uid = os.stat(f"/proc/{entry}").st_uid
        except OSError:
            continue
        fields = data[data.rindex(")") + 2 :].split()
        procs.append(
            {"pid": int(entry), "state": fields[0], "ppid": int(fields[1]),
             "pgid": int(fields[2]), "uid": uid}
        )
    return procs


def _logs(workdir: Path) -> str:
    return "".join(
        f"\n--- {p.name}\n{p.read_text(errors='replace')}"
        for p in sorted(workdir.glob("*.log"))
    )


def _start(kind: str, base: Path, tmp_path: Path):
    return git_daemon(base) if kind == "daemon" else http_backend(base, tmp_path / "nginx")


@pytest.mark.parametrize("kind", ["daemon", "http"])
def test_stops_all_processes_when_body_raises(kind, git_env, tmp_path: Path):
    base = tmp_path / "srv"
    base.mkdir()
    make_bare(base, "x.git")
    me = os.getpid()
    before = {p["pid"] for p in _processes() if p["ppid"] == me}

    class Boom(Exception):
        pass

    with pytest.raises(Boom):
        with _start(kind, base, tmp_path) as prefix:
            port = int(prefix.rsplit(":", 1)[1].rstrip("/"))
            git("ls-remote", prefix + "x.git")  # the server really serves
            leaders = {p["pid"] for p in _processes() if p["ppid"] == me} - before
            groups = {p["pgid"] for p in _processes() if p["pgid"] in leaders}
            assert groups == leaders and leaders  # each server in its own group
            expected = 1 if kind == "daemon" else 2  # nginx + fcgiwrap
            assert len(leaders) == expected
            raise Boom

    alive = [p for p in _processes() if p["pgid"] in leaders and p["state"] != "Z"]
    assert alive == []
    with pytest.raises(OSError):
        socket.create_connection(("127.0.0.1", port), timeout=2).close()


@pytest.mark.parametrize("kind", ["daemon", "http"])
def test_retries_on_port_clash(kind, git_env, tmp_path: Path, monkeypatch):
    base = tmp_path / "srv"
    base.mkdir()
    make_bare(base, "x.git")
    squatter = socket.socket()
    squatter.bind(("127.0.0.1", 0))
    squatter.listen()
    busy = squatter.getsockname()[1]
    real = gitservers._free_port
    # http asks for the fcgiwrap port, then the nginx port: clash on both.
    ports = [busy] if kind == "daemon" else [busy, real(), real(), busy]
    handed: list[int] = []

    def fake_free_port() -> int:
        port = ports.pop(0) if ports else real()
        handed.append(port)
        return port

    monkeypatch.setattr(gitservers, "_free_port", fake_free_port)
    try:
        with _start(kind, base, tmp_path) as prefix:
            port = int(prefix.rsplit(":", 1)[1].rstrip("/"))
            assert port != busy
            assert git("ls-remote", prefix + "x.git").returncode == 0
    finally:
        squatter.close()
    assert handed.count(busy) == (1 if kind == "daemon" else 2)


def test_daemon_start_failure_reports_stderr(git_env, tmp_path: Path):
    missing = tmp_path / "does-not-exist"
    with pytest.raises(ServerStartError) as info:
        with git_daemon(missing):
            pass  # pragma: no cover
    message = str(info.value)
    assert "git daemon" in message
    assert "does not exist or is not a directory" in message  # daemon's stderr


def test_make_bare_initial_branch(git_env, tmp_path: Path):
    bare = make_bare(tmp_path, "z.git", initial_branch="trunk")
    assert git("--git-dir", str(bare), "symbolic-ref", "HEAD").stdout.strip() == "refs/heads/trunk"
    assert git("--git-dir", str(bare), "rev-parse", "--is-bare-repository").stdout.strip() == "true"
