"""Real Git servers on 127.0.0.1 for tests.

Two context managers start real servers as child processes and stop them
(including every process they forked) on exit, also when the body raises:

* ``git_daemon(base_dir)`` -- ``git daemon`` serving every repository below
  *base_dir* over ``git://``, push (receive-pack) enabled.  Yields
  ``"git://127.0.0.1:<port>/"``.
* ``http_backend(base_dir, workdir)`` -- nginx in front of fcgiwrap running
  ``git-http-backend`` (smart HTTP) for every repository below *base_dir*.
  Yields ``"http://127.0.0.1:<port>/"``.

A bare repository ``base_dir / "x.git"`` is reachable at ``prefix + "x.git"``
for both.  ``make_bare(base_dir, "x.git")`` creates one that accepts pushes
on both transports.

Nothing here listens anywhere but 127.0.0.1, nothing sleeps: readiness is
polled (TCP connect / HTTP GET) against a deadline, waiting on the child
process between attempts so that an early exit is noticed at once.  Ports
are picked by binding port 0; a start that loses a port race is retried on
fresh ports.

Server-side environment
-----------------------
Both servers take ``env`` (default: ``os.environ`` when the context is
entered).  Variables that locate a repository (``GIT_DIR``, ``GIT_WORK_TREE``,
``GIT_INDEX_FILE`` ...) are dropped.  ``git daemon`` gets the rest as its
environment.  fcgiwrap gives a CGI only the FastCGI parameters (not its own
environment), so for HTTP the variables ``PATH``, ``HOME``, ``TZ``,
``LANG``, ``LC_*``, ``XDG_CONFIG_HOME`` and ``GIT_*`` of *env* are forwarded
to git-http-backend (and hence to receive-pack and its hooks) as
``fastcgi_param`` lines.  So a test that sets a hermetic HOME /
``GIT_CONFIG_NOSYSTEM`` before entering the context gets the same on the
server side.

Push over HTTP: ``http.receivepack=true``
-----------------------------------------
git-http-backend refuses receive-pack unless the repository has
``http.receivepack=true`` or the request is authenticated (``REMOTE_USER``).
We do NOT fake a ``REMOTE_USER`` (it would also change the server-side
committer identity in reflogs); instead ``make_bare`` sets
``http.receivepack=true`` in the repository.  A repository made some other
way must get ``git config http.receivepack true`` to accept HTTP pushes
(fetch works regardless: ``GIT_HTTP_EXPORT_ALL`` is set).  ``git daemon`` is
started with ``--enable=receive-pack`` and ``--export-all``, so any
repository below *base_dir* accepts pushes over ``git://``.

Permissions (nginx workers are unprivileged)
--------------------------------------------
When started as root, nginx runs its workers as an unprivileged user, and
pytest's tmp dirs live under ``/tmp/pytest-of-root`` (mode 0700), which that
user cannot traverse.  Rather than running workers as root or loosening the
permissions of the caller's directories, the configuration makes the workers
need no file-system access at all:

* the master (root) opens the pid file and the logs before dropping
  privileges; the workers inherit the descriptors;
* fcgiwrap listens on TCP ``127.0.0.1:<port>``, not on a unix socket in
  *workdir* (which a worker could not reach through a 0700 parent);
* ``fastcgi_request_buffering off`` and ``fastcgi_buffering off`` stream
  request and response bodies, so the temp paths (set inside *workdir*) are
  never written -- large and chunked pushes work;
* fcgiwrap and git-http-backend run as the calling user (root in CI), so
  repositories need no special permissions either.

Workers run as ``www-data`` (Debian) or else ``nobody`` when nginx is started
as root; otherwise nginx keeps the current user and no ``user`` directive is
written.

Debian packages needed: git, nginx, fcgiwrap (see SERVER_PACKAGES.txt).
"""

from __future__ import annotations

import contextlib
import grp
import hashlib
import http.client
import os
import pwd
import re
import secrets
import select
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path
from typing import IO, Iterator, Mapping

__all__ = ["git_daemon", "http_backend", "make_bare", "ServerStartError"]

HOST = "127.0.0.1"
START_DEADLINE = 10.0  # seconds to wait for a server to become ready
STOP_TIMEOUT = 10.0  # seconds to wait after SIGTERM before SIGKILL
START_ATTEMPTS = 5  # fresh ports tried when a port is taken

NGINX = "/usr/sbin/nginx"
FCGIWRAP = "/usr/sbin/fcgiwrap"
GIT_HTTP_BACKEND = "/usr/lib/git-core/git-http-backend"

# Variables that point git at a particular repository: never forwarded.
_REPO_LOCATION_VARS = frozenset(
    {
        "GIT_DIR",
        "GIT_WORK_TREE",
        "GIT_INDEX_FILE",
        "GIT_OBJECT_DIRECTORY",
        "GIT_ALTERNATE_OBJECT_DIRECTORIES",
        "GIT_COMMON_DIR",
        "GIT_NAMESPACE",
        "GIT_CEILING_DIRECTORIES",
        "GIT_PREFIX",
        "GIT_QUARANTINE_PATH",
        "GIT_PROTOCOL",
        "GIT_PROJECT_ROOT",
        "GIT_HTTP_EXPORT_ALL",
    }
)
_HTTP_FORWARDED = re.compile(r"^(PATH|HOME|TZ|LANG|LC_[A-Z_]+|XDG_CONFIG_HOME|GIT_[A-Z0-9_]+)$")
_PORT_IN_USE = ("Address already in use", "address already in use", "EADDRINUSE")


class ServerStartError(RuntimeError):
    """A server did not become ready; the message carries its stderr/logs."""


# --------------------------------------------------------------------------
# helpers


def make_bare(base_dir: Path, name: str, *, initial_branch: str | None = None) -> Path:
    """``git init --bare base_dir/name`` with ``http.receivepack=true``.

    *name* is used verbatim (pass ``"x.git"`` to get ``base_dir/x.git``).
    Returns the repository path.
    """
    path = Path(base_dir) / name
    cmd = ["git", "init", "--bare", "--quiet"]
    if initial_branch is not None:
        cmd.append(f"--initial-branch={initial_branch}")
    subprocess.run([*cmd, str(path)], check=True, stdin=subprocess.DEVNULL)
    subprocess.run(
        ["git", "--git-dir", str(path), "config", "http.receivepack", "true"],
        check=True,
        stdin=subprocess.DEVNULL,
    )
    return path


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


def _server_env(env: Mapping[str, str] | None) -> dict[str, str]:
    src = os.environ if env is None else env
    return {k: v for k, v in src.items() if k not in _REPO_LOCATION_VARS}


def _spawn(argv: list[str], *, env: Mapping[str, str], log: IO[bytes]) -> subprocess.Popen:
    # Own session => own process group, so stopping can reach every process
    # the server forked (daemon children, nginx workers, fcgiwrap children).
    return subprocess.Popen(
        argv,
        stdin=subprocess.DEVNULL,
        stdout=log,
        stderr=log,
        env=dict(env),
        start_new_session=True,
        close_fds=True,
    )


def _stop(proc: subprocess.Popen | None) -> None:
    """Terminate *proc* and its whole process group; never raises."""
    if proc is None:
        return
    pgid = proc.pid  # session leader => pgid == pid
    if proc.returncode is None:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(pgid, signal.SIGTERM)
        # Wait for the leader to exit WITHOUT reaping it: while it is a
        # zombie its pid (== pgid) cannot be reused, so the SIGKILL to the
        # group below can only hit processes the server started.
        try:
            pidfd = os.pidfd_open(proc.pid)
        except (AttributeError, OSError):
            pidfd = None
        if pidfd is not None:
            try:  # poll, not select: select() refuses descriptors above FD_SETSIZE (1024)
                poller = select.poll()
                poller.register(pidfd, select.POLLIN)
                poller.poll(STOP_TIMEOUT * 1000)
            finally:
                os.close(pidfd)
        else:
            _wait_exit(proc, STOP_TIMEOUT)  # reaps: group id no longer guarded
        # Leftovers (or a leader ignoring SIGTERM) get SIGKILL, and we wait
        # until they have really terminated (signals are asynchronous).
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(pgid, signal.SIGKILL)
        _wait_group_gone(pgid, time.monotonic() + STOP_TIMEOUT)
    else:
        # Leader already exited and was reaped (crashed server): best effort
        # for anything it left behind in its group.
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(pgid, signal.SIGKILL)
    with contextlib.suppress(subprocess.TimeoutExpired):
        proc.wait(timeout=STOP_TIMEOUT)


def _group_members(pgid: int) -> list[int]:
    """Live (non-zombie) processes in process group *pgid*, from /proc."""
    members = []
    try:
        entries = os.listdir("/proc")
    except OSError:
        return members
    for entry in entries:
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                data = f.read()
        except OSError:
            continue  # exited meanwhile
        fields = data[data.rindex(")") + 2 :].split()
        if fields[0] not in ("Z", "X") and int(fields[2]) == pgid:
            members.append(int(entry))
    return members


def _wait_group_gone(pgid: int, deadline: float) -> None:
    """Wait (pidfd, bounded) until every process of group *pgid* has terminated."""
    if not hasattr(os, "pidfd_open"):
        return
    for pid in _group_members(pgid):
        try:
            fd = os.pidfd_open(pid)
        except OSError:
            continue  # already gone
        try:
            select.select([fd], [], [], max(0.0, deadline - time.monotonic()))
        finally:
            os.close(fd)


def _read(log: IO[bytes] | Path | None) -> str:
    if log is None:
        return ""
    try:
        if isinstance(log, Path):
            return log.read_text(errors="replace")
        log.flush()
        log.seek(0)
        return log.read().decode(errors="replace")
    except OSError as e:
        return f"<unreadable: {e}>"


def _wait_exit(proc: subprocess.Popen, seconds: float) -> bool:
    """Wait up to *seconds* for *proc* to exit; True if it has exited."""
    try:
        proc.wait(timeout=seconds)
        return True
    except subprocess.TimeoutExpired:
        return False


def _tcp_ready(port: int) -> bool:
    try:
        with socket.create_connection((HOST, port), timeout=1.0):
            return True
    except OSError:
        return False


def _git_daemon_ready(port: int) -> bool:
    """True when a git daemon answers a git:// request on *port*.

    A bare TCP connect is not enough: if the port was grabbed by another
    process after we picked it, our daemon dies of EADDRINUSE while the
    squatter accepts.  Ask for a repository that cannot exist and expect a
    pkt-line back ("ERR no such repository" with --informative-errors).
    """
    path = f"/.gitservers-probe-{secrets.token_hex(8)}"
    msg = f"git-upload-pack {path}\0host={HOST}\0".encode()
    try:
        with socket.create_connection((HOST, port), timeout=1.0) as s:
            s.sendall(b"%04x" % (len(msg) + 4) + msg)
            head = s.recv(4)
    except OSError:
        return False
    return len(head) == 4 and all(c in b"0123456789abcdef" for c in head)


def _poll_until(check, procs: list[subprocess.Popen], deadline: float) -> str:
    """Poll *check()* until true.  Returns "ready", "exited" or "timeout"."""
    while True:
        if any(p.poll() is not None for p in procs):
            return "exited"
        if check():
            # A listener on our port could belong to someone else if the
            # server died of a port clash; make sure ours is still alive.
            if any(p.poll() is not None for p in procs):
                return "exited"
            return "ready"
        if time.monotonic() >= deadline:
            return "timeout"
        # Pace the loop by waiting on the child: returns early if it exits.
        _wait_exit(procs[0], 0.05)


# --------------------------------------------------------------------------
# git daemon


@contextlib.contextmanager
def git_daemon(base_dir: Path, *, env: Mapping[str, str] | None = None) -> Iterator[str]:
    """Serve *base_dir* with ``git daemon`` on 127.0.0.1; yield ``git://127.0.0.1:<port>/``.

    ``--export-all --enable=receive-pack``: every repository below
    *base_dir* can be fetched from and pushed to, without authentication.
    """
    base = Path(base_dir).resolve()
    server_env = _server_env(env)
    errors: list[str] = []
    for _attempt in range(START_ATTEMPTS):
        port = _free_port()
        argv = [
            "git",
            "daemon",
            "--reuseaddr",
            "--informative-errors",
            f"--base-path={base}",
            "--export-all",
            "--enable=receive-pack",
            f"--listen={HOST}",
            f"--port={port}",
            str(base),
        ]
        with tempfile.TemporaryFile() as log:
            proc = None
            try:
                proc = _spawn(argv, env=server_env, log=log)
                state = _poll_until(
                    lambda: _git_daemon_ready(port), [proc], time.monotonic() + START_DEADLINE
                )
                if state == "ready":
                    yield f"git://{HOST}:{port}/"
                    return
                _stop(proc)
                proc = None
                out = _read(log)
                if state == "exited" and any(s in out for s in _PORT_IN_USE):
                    errors.append(f"port {port}: {out.strip()}")
                    continue
                raise ServerStartError(
                    f"git daemon on port {port} not ready ({state}); stderr:\n{out}"
                )
            finally:
                _stop(proc)
    raise ServerStartError("git daemon: no free port after retries:\n" + "\n".join(errors))


# --------------------------------------------------------------------------
# nginx + fcgiwrap + git-http-backend


def _nginx_quote(value: str, *, variables: bool = False) -> str:
    """Double-quote *value* for an nginx config.

    With *variables* (directives that expand ``$var``, e.g. fastcgi_param) a
    literal ``$`` is written as ``${dollar}``; elsewhere it is refused, since
    a variable would change how e.g. ``access_log`` opens its file.
    """
    if any(c in value for c in "\r\n\0"):
        raise ValueError(f"cannot put {value!r} in an nginx config")
    if "$" in value and not variables:
        raise ValueError(f"cannot put {value!r} (contains '$') in an nginx config")
    escaped = value.replace("\\", "\\\\").replace('"', '\\"')
    if variables:
        escaped = escaped.replace("$", "${dollar}")
    return f'"{escaped}"'


def _worker_user_line() -> str:
    if os.geteuid() != 0:
        return ""  # nginx cannot switch users; workers run as we do
    for name in ("www-data", "nobody"):
        try:
            pw = pwd.getpwnam(name)
        except KeyError:
            continue
        try:
            group = grp.getgrgid(pw.pw_gid).gr_name
        except KeyError:
            continue
        return f"user {name} {group};\n"
    raise ServerStartError("no unprivileged user (www-data/nobody) for nginx workers")


def _nginx_conf(
    *, workdir: Path, base: Path, port: int, fcgi_port: int, token: str, env: Mapping[str, str]
) -> str:
    q = _nginx_quote

    def qv(value: str) -> str:
        return _nginx_quote(value, variables=True)

    w = workdir
    forwarded = "".join(
        f"            fastcgi_param {k} {qv(v)};\n"
        for k, v in sorted(env.items())
        if _HTTP_FORWARDED.match(k) and not any(c in v for c in "\r\n\0")
    )
    return f"""\
# generated by tests/gitservers.py
daemon off;
master_process on;
worker_processes 1;
{_worker_user_line()}pid {q(str(w / "nginx.pid"))};
error_log {q(str(w / "nginx-error.log"))} warn;

events {{
    worker_connections 64;
}}

http {{
    # "${{dollar}}" lets fastcgi_param values contain a literal '$'.
    geo $dollar {{ default "$"; }}

    access_log {q(str(w / "nginx-access.log"))};
    client_body_temp_path {q(str(w / "client_body_temp"))};
    fastcgi_temp_path {q(str(w / "fastcgi_temp"))};
    proxy_temp_path {q(str(w / "proxy_temp"))};
    uwsgi_temp_path {q(str(w / "uwsgi_temp"))};
    scgi_temp_path {q(str(w / "scgi_temp"))};

    client_max_body_size 0;
    server_tokens off;

    server {{
        listen {HOST}:{port};
        server_name localhost;

        location / {{
            add_header X-Gitservers-Instance {token} always;
            fastcgi_pass {HOST}:{fcgi_port};
            # Stream bodies both ways: workers never touch the temp paths.
            fastcgi_request_buffering off;
            fastcgi_buffering off;
            fastcgi_read_timeout 300s;
            fastcgi_send_timeout 300s;

            fastcgi_param SCRIPT_FILENAME {qv(GIT_HTTP_BACKEND)};
            fastcgi_param GIT_PROJECT_ROOT {qv(str(base))};
            fastcgi_param GIT_HTTP_EXPORT_ALL 1;
            fastcgi_param PATH_INFO $uri;
            fastcgi_param QUERY_STRING $query_string;
            fastcgi_param REQUEST_METHOD $request_method;
            fastcgi_param CONTENT_TYPE $content_type;
            fastcgi_param CONTENT_LENGTH $content_length;
            fastcgi_param HTTP_CONTENT_ENCODING $http_content_encoding;
            fastcgi_param GIT_PROTOCOL $http_git_protocol;
            fastcgi_param REQUEST_URI $request_uri;
            fastcgi_param SERVER_PROTOCOL $server_protocol;
            fastcgi_param SERVER_NAME $server_name;
            fastcgi_param SERVER_PORT $server_port;
            fastcgi_param SERVER_ADDR $server_addr;
            fastcgi_param REMOTE_ADDR $remote_addr;
            fastcgi_param REMOTE_PORT $remote_port;
            fastcgi_param GATEWAY_INTERFACE CGI/1.1;
{forwarded}        }}
    }}
}}
"""


def _http_ready(port: int, token: str) -> bool:
    conn = http.client.HTTPConnection(HOST, port, timeout=2.0)  # no proxies
    try:
        conn.request("GET", "/")
        resp = conn.getresponse()
        resp.read()
        # Our nginx (token) and a live fcgiwrap behind it (not 502/504).
        return resp.getheader("X-Gitservers-Instance") == token and resp.status < 500
    except (OSError, http.client.HTTPException):
        return False
    finally:
        conn.close()


@contextlib.contextmanager
def http_backend(
    base_dir: Path, workdir: Path, *, env: Mapping[str, str] | None = None
) -> Iterator[str]:
    """Serve *base_dir* over smart HTTP on 127.0.0.1; yield ``http://127.0.0.1:<port>/``.

    nginx (``daemon off``, child process, config/pid/logs/temp paths in
    *workdir*) forwards every request over TCP to an fcgiwrap child that
    runs ``git-http-backend`` with ``GIT_PROJECT_ROOT=base_dir`` and
    ``GIT_HTTP_EXPORT_ALL=1``.  No authentication; pushes need
    ``http.receivepack=true`` in the repository (``make_bare`` sets it).
    Logs for debugging: ``workdir/nginx-error.log``, ``nginx-access.log``,
    ``fcgiwrap.log`` (git-http-backend's own stderr).
    """
    base = Path(base_dir).resolve()
    work = Path(workdir).resolve()
    work.mkdir(parents=True, exist_ok=True)
    for exe in (NGINX, FCGIWRAP, GIT_HTTP_BACKEND):
        if not os.access(exe, os.X_OK):
            raise ServerStartError(f"{exe} not found (Debian packages: nginx fcgiwrap git)")
    server_env = _server_env(env)
    errors: list[str] = []
    for attempt in range(START_ATTEMPTS):
        fcgi_port = _free_port()
        port = _free_port()
        if port == fcgi_port:
            continue
        token = secrets.token_hex(8)
        conf = work / "nginx.conf"
        conf.write_text(
            _nginx_conf(
                workdir=work, base=base, port=port, fcgi_port=fcgi_port, token=token,
                env=server_env,
            )
        )
        fcgi_log_path = work / "fcgiwrap.log"
        nginx_log_path = work / "nginx-stderr.log"
        fcgi = nginx = None
        # Fresh logs per attempt, so a failure is judged by its own messages.
        (work / "nginx-error.log").unlink(missing_ok=True)
        with open(fcgi_log_path, "wb") as fcgi_log, open(nginx_log_path, "wb") as nginx_log:
            try:
                fcgi = _spawn(
                    [FCGIWRAP, "-c", "4", "-s", f"tcp:{HOST}:{fcgi_port}"],
                    env=server_env,
                    log=fcgi_log,
                )
                state = _poll_until(
                    lambda: _tcp_ready(fcgi_port), [fcgi], time.monotonic() + START_DEADLINE
                )
                if state == "ready":
                    nginx = _spawn(
                        [NGINX, "-p", str(work), "-c", str(conf),
                         "-e", str(work / "nginx-error.log")],
                        env=server_env,
                        log=nginx_log,
                    )
                    state = _poll_until(
                        lambda: _http_ready(port, token),
                        [nginx, fcgi],
                        time.monotonic() + START_DEADLINE,
                    )
                if state == "ready":
                    yield f"http://{HOST}:{port}/"
                    return
                _stop(nginx)
                _stop(fcgi)
                nginx = fcgi = None
                out = "\n".join(
                    f"--- {p.name}:\n{_read(p)}"
                    for p in (fcgi_log_path, nginx_log_path, work / "nginx-error.log")
                    if p.exists()
                )
                if state == "exited" and any(s in out for s in _PORT_IN_USE):
                    errors.append(f"attempt {attempt}, ports {port}/{fcgi_port}:\n{out}")
                    continue
                raise ServerStartError(
                    f"nginx/fcgiwrap on ports {port}/{fcgi_port} not ready ({state}):\n{out}"
                )
            finally:
                _stop(nginx)
                _stop(fcgi)
    raise ServerStartError("http_backend: no free ports after retries:\n" + "\n".join(errors))


# --------------------------------------------------------------------------
# gitolite behind its own sshd

SSHD = "/usr/sbin/sshd"
GITOLITE = "/usr/bin/gitolite"


class Gitolite:
    """A running gitolite instance: its HOME, its sshd port, and how a client reaches it.

    gitolite runs as the calling user (root in CI) with its own HOME (``home``);
    ``sshd`` reads gitolite's ``authorized_keys`` from that HOME and sets
    ``HOME`` for the session (``SetEnv``), so the real ``~`` of the user is
    never read or written.  ``LOCAL_CODE`` is ``home/local`` (managed on the
    server) and ``repo-specific-hooks`` is enabled.
    """

    def __init__(self, *, home: Path, port: int, user: str, admin_key: Path, admin_clone: Path,
                 env: Mapping[str, str]):
        self.home = home
        self.port = port
        self.user = user
        self.admin_key = admin_key
        self.admin_clone = admin_clone
        self.env = dict(env)
        self.repo_base = home / "repositories"
        # unix socket paths are short (108 bytes): not below pytest's deep tmp dirs
        self.control_dir = tempfile.mkdtemp(prefix="glcm")
        self.local_code = home / "local"

    def ssh_command(self, key: Path) -> str:
        """A ``GIT_SSH_COMMAND`` that logs in with *key* only, no host-key prompt, no user config.

        A connection costs about half a second here (key exchange, sshd re-exec), so
        connections are multiplexed: one master per key (its own ``ControlPath``, since the
        master's key decides who gitolite sees), kept for the instance's lifetime and closed
        when it stops.  Each git command is still its own ssh session running gitolite-shell.
        """
        tag = hashlib.sha256(str(Path(key).resolve()).encode()).hexdigest()[:12]
        return (
            f"ssh -F /dev/null -i {key} -p {self.port} -o IdentitiesOnly=yes -o BatchMode=yes"
            " -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null -o LogLevel=ERROR"
            f" -o ControlMaster=auto -o ControlPath={self.control_dir}/{tag} -o ControlPersist=yes"
        )

    def close_masters(self) -> None:
        """Ask every multiplexing master to exit (they are the client's, not sshd's, processes)."""
        for sock in sorted(Path(self.control_dir).glob("*")):
            subprocess.run(["ssh", "-F", "/dev/null", "-o", f"ControlPath={sock}", "-O", "exit", "x"],
                           stdin=subprocess.DEVNULL, capture_output=True, timeout=STOP_TIMEOUT)

    def url(self, repo: str) -> str:
        return f"ssh://{self.user}@{HOST}:{self.port}/{repo}"

    def repo_path(self, repo: str) -> Path:
        return self.repo_base / f"{repo}.git"

    def hook_code(self, name: str, text: str) -> Path:
        """Write an executable repo-specific hook ``LOCAL_CODE/hooks/repo-specific/<name>``."""
        path = self.local_code / "hooks" / "repo-specific" / name
        path.write_text(text)
        path.chmod(0o755)
        return path

    def _admin_git(self, *args: str) -> subprocess.CompletedProcess:
        env = {k: v for k, v in os.environ.items() if k not in _REPO_LOCATION_VARS}
        env["GIT_SSH_COMMAND"] = self.ssh_command(self.admin_key)
        return subprocess.run(
            ["git", "-c", "user.name=gitolite admin", "-c", "user.email=admin@example.invalid",
             "-C", str(self.admin_clone), *args],
            env=env, stdin=subprocess.DEVNULL, capture_output=True, text=True,
        )

    def admin_push(self, files: Mapping[str, str], message: str) -> str:
        """Commit *files* (paths relative to the admin repo) and push ``gitolite-admin``.

        Returns gitolite's output (the ``remote:`` lines); raises if the push fails.
        """
        for rel, text in files.items():
            path = self.admin_clone / rel
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text)
        for args in (("add", "-A"), ("commit", "-q", "-m", message), ("push", "-q", "origin", "HEAD:master")):
            proc = self._admin_git(*args)
            if proc.returncode != 0:
                raise RuntimeError(f"gitolite-admin: git {' '.join(args)} failed:\n{proc.stdout}{proc.stderr}")
        return proc.stderr

    def create(self, name: str) -> Path:
        """Create the wild repository *name* (a ``C = admin`` pattern must match it) by reading it."""
        env = {k: v for k, v in os.environ.items() if k not in _REPO_LOCATION_VARS}
        env["GIT_SSH_COMMAND"] = self.ssh_command(self.admin_key)
        proc = subprocess.run(["git", "ls-remote", self.url(name)], env=env, stdin=subprocess.DEVNULL,
                              capture_output=True, text=True)
        if proc.returncode != 0 or not self.repo_path(name).is_dir():
            raise RuntimeError(f"gitolite did not create {name}:\n{proc.stderr}")
        return self.repo_path(name)

    def add_repo(self, name: str, rules: str, *, users: Mapping[str, str] = {}) -> Path:
        """Declare ``repo <name>`` with *rules* (indented gitolite lines) and push the admin repo.

        *users* maps user names to public key lines written to ``keydir/<user>.pub``.
        Each repository gets its own ``conf/repos/<name with / as ~>.conf``, included after the start-up
        *conf*, so its options override a wild pattern's.  Returns the bare repository.
        """
        files = {f"keydir/{user}.pub": key.strip() + "\n" for user, key in users.items()}
        files[f"conf/repos/{name.replace('/', '~')}.conf"] = f"repo {name}\n{rules}"  # one level: the include glob
        self.admin_push(files, f"add {name}")
        return self.repo_path(name)


def _gitolite_rc(default_rc: str) -> str:
    """gitolite's default rc with LOCAL_CODE on the server and repo-specific hooks enabled."""
    rc = default_rc.replace('# LOCAL_CODE                =>  "$ENV{HOME}/local",',
                            'LOCAL_CODE                =>  "$ENV{HOME}/local",', 1)
    rc = rc.replace("# 'repo-specific-hooks',", "'repo-specific-hooks',", 1)
    # no git-daemon-export-ok / projects.list bookkeeping: each is one more program per compile
    rc = rc.replace("\n            'daemon',", "\n            # 'daemon',", 1).replace(
        "\n            'gitweb',", "\n            # 'gitweb',", 1)
    if "'repo-specific-hooks'," not in rc.replace("# 'repo-specific-hooks',", "") or \
            'LOCAL_CODE                =>  "$ENV{HOME}/local",' not in rc.replace("# LOCAL_CODE", ""):
        raise ServerStartError("gitolite's default rc changed: cannot enable LOCAL_CODE/repo-specific-hooks")
    return rc


def _sshd_config(*, workdir: Path, port: int, home: Path, env: Mapping[str, str]) -> str:
    if any(c.isspace() or c in '"\\' for v in env.values() for c in v):
        raise ServerStartError(f"cannot pass {env!r} through sshd's SetEnv (whitespace or quotes)")
    setenv = " ".join(f"{k}={v}" for k, v in sorted(env.items()))
    root = "PermitRootLogin prohibit-password\n" if os.geteuid() == 0 else ""
    return f"""\
# generated by tests/gitservers.py
ListenAddress {HOST}
Port {port}
HostKey {workdir / "ssh_host_ed25519_key"}
PidFile none
AuthorizedKeysFile {home / ".ssh" / "authorized_keys"}
StrictModes no
UsePAM no
PasswordAuthentication no
KbdInteractiveAuthentication no
PubkeyAuthentication yes
{root}AllowTcpForwarding no
X11Forwarding no
PermitTTY no
UseDNS no
PrintMotd no
MaxStartups 50
SetEnv {setenv}
LogLevel VERBOSE
"""


def _ssh_banner_ready(port: int) -> bool:
    try:
        with socket.create_connection((HOST, port), timeout=1.0) as s:
            return s.recv(8).startswith(b"SSH-2.0-")
    except OSError:
        return False


@contextlib.contextmanager
def gitolite(workdir: Path, *, env: Mapping[str, str] | None = None,
             users: Mapping[str, str] = {}, conf: str = "") -> Iterator[Gitolite]:
    """A gitolite 3 instance behind its own ``sshd -D`` on 127.0.0.1; yields a :class:`Gitolite`.

    Everything lives in *workdir*: gitolite's HOME (``workdir/home``), the
    admin key, a host key made for this run, the sshd config and log, and a
    clone of ``gitolite-admin`` used to declare repositories.  gitolite runs as
    the calling user, so server-side hooks can read whatever the tests can (the
    venv, pytest's 0700 tmp dirs) -- the same arrangement as ``git_daemon``.
    As root, sshd needs its privilege-separation directory ``/run/sshd``
    (created if missing) and ``PermitRootLogin prohibit-password``.

    The server side gets only ``PATH``, ``LC_ALL``, ``GIT_CONFIG_NOSYSTEM``
    (from *env* when given) and ``HOME`` = gitolite's HOME.  *users* (name ->
    public key line) are added to ``keydir`` and *conf* to ``conf/gitolite.conf``
    at start, in one push of ``gitolite-admin``.  ``Gitolite.create(name)``
    makes a wild repository (auto-created on first access by the admin), which
    costs no admin push.

    Not as root, sshd runs unprivileged and can log in only the calling user; OpenSSH then
    refuses an account whose password is locked (``!``/``*`` in /etc/shadow, with
    ``UsePAM no``) -- the start fails with sshd's log, naming that cause.

    Debian packages needed: gitolite3, openssh-server (see SERVER_PACKAGES.txt).
    """
    for exe in (SSHD, GITOLITE):
        if not os.access(exe, os.X_OK):
            raise ServerStartError(f"{exe} not found (Debian packages: gitolite3 openssh-server)")
    work = Path(workdir).resolve()
    home = work / "home"
    home.mkdir(parents=True)
    src = os.environ if env is None else env
    server_env = {
        "PATH": src.get("PATH", "/usr/local/bin:/usr/bin:/bin"),
        "LC_ALL": src.get("LC_ALL", "C"),
        "GIT_CONFIG_NOSYSTEM": "1",
        "HOME": str(home),
    }
    (home / ".gitconfig").write_text("[user]\n\tname = gitolite\n\temail = gitolite@example.invalid\n"
                                     "[init]\n\tdefaultBranch = main\n")

    def run(argv: list[str], **kw) -> str:
        proc = subprocess.run(argv, env=server_env, stdin=subprocess.DEVNULL, capture_output=True,
                              text=True, **kw)
        if proc.returncode != 0:
            raise ServerStartError(f"{' '.join(argv)} failed:\n{proc.stdout}{proc.stderr}")
        return proc.stdout

    admin_key = work / "admin"
    run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "admin", "-f", str(admin_key)])
    run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "host", "-f", str(work / "ssh_host_ed25519_key")])
    # The first setup writes the default rc; edit it, then set up again so the edits apply.
    run([GITOLITE, "setup", "-pk", str(admin_key) + ".pub"], cwd=home)
    rc = home / ".gitolite.rc"
    rc.write_text(_gitolite_rc(rc.read_text()))
    (home / "local" / "hooks" / "repo-specific").mkdir(parents=True)
    run([GITOLITE, "setup"], cwd=home)
    if os.geteuid() == 0:
        os.makedirs("/run/sshd", mode=0o755, exist_ok=True)
    user = pwd.getpwuid(os.geteuid()).pw_name
    errors: list[str] = []
    for attempt in range(START_ATTEMPTS):
        port = _free_port()
        sshd_conf = work / "sshd_config"
        sshd_conf.write_text(_sshd_config(workdir=work, port=port, home=home, env=server_env))
        log_path = work / "sshd.log"
        proc = None
        with open(log_path, "wb") as log:
            try:
                # -D: stay in the foreground (our child), -e: log to stderr (our log file).
                proc = _spawn([SSHD, "-D", "-e", "-f", str(sshd_conf)], env=server_env, log=log)
                state = _poll_until(lambda: _ssh_banner_ready(port), [proc],
                                    time.monotonic() + START_DEADLINE)
                if state == "ready":
                    g = Gitolite(home=home, port=port, user=user, admin_key=admin_key,
                                 admin_clone=work / "gitolite-admin", env=server_env)
                    try:
                        clone_env = {k: v for k, v in os.environ.items() if k not in _REPO_LOCATION_VARS}
                        clone_env["GIT_SSH_COMMAND"] = g.ssh_command(admin_key)
                        cloned = subprocess.run(
                            ["git", "clone", "-q", g.url("gitolite-admin"), str(g.admin_clone)],
                            env=clone_env, stdin=subprocess.DEVNULL, capture_output=True, text=True)
                        if cloned.returncode != 0:
                            raise ServerStartError(f"cloning gitolite-admin failed:\n{cloned.stderr}\n"
                                                   f"--- sshd.log:\n{_read(log_path)}")
                        conf_file = g.admin_clone / "conf" / "gitolite.conf"
                        g.admin_push(
                            {"conf/gitolite.conf": conf_file.read_text() + conf + '\ninclude "repos/*.conf"\n',
                             **{f"keydir/{u}.pub": k.strip() + "\n" for u, k in users.items()}},
                            "include repos/*.conf")
                        yield g
                    finally:
                        g.close_masters()
                        shutil.rmtree(g.control_dir, ignore_errors=True)
                    return
                _stop(proc)
                proc = None
                out = _read(log_path)
                if state == "exited" and any(s in out for s in _PORT_IN_USE):
                    errors.append(f"attempt {attempt}, port {port}:\n{out}")
                    continue
                raise ServerStartError(f"sshd on port {port} not ready ({state}):\n{out}")
            finally:
                _stop(proc)
    raise ServerStartError("gitolite: no free port for sshd after retries:\n" + "\n".join(errors))
