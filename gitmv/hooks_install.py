"""Installing the hook shims: client `pre-push`, server `pre-receive` (the authority).

A shim is a few lines of sh that exec the hook entry point (`python -m gitmv.hooks`) with the
interpreter that has gitmv installed. An existing hook is never overwritten: it is moved aside
to `<hook>.mv-promote-chained`, run first by the shim, and restored by uninstall.
"""

from __future__ import annotations

import os
import stat
import sys
from pathlib import Path

from gitmv.errors import MvError, UsageError
from gitmv.repo import Repo

MARKER = "# git-mv-promote hook shim"
CHAINED_SUFFIX = ".mv-promote-chained"
CLIENT_HOOKS = ("pre-push",)
SERVER_HOOKS = ("pre-receive",)


def shim(hook: str, python: str | None = None) -> str:
    """The shim text. Hooks whose stdin the chained hook also needs get it replayed."""
    py = python or sys.executable or "python3"
    return f"""#!/bin/sh
{MARKER} ({hook}): runs any hook that was here before, then git mv-promote's check.
# Uninstall with 'git mv-promote hooks uninstall'{' --server <repo>' if hook in SERVER_HOOKS else ''}.
PY="${{MV_PROMOTE_PYTHON:-{py}}}"
chained="$0{CHAINED_SUFFIX}"
if [ -x "$chained" ]; then
    input=$(cat)
    printf '%s\\n' "$input" | "$chained" "$@" || exit $?
    # not exec: inside a pipeline it would only replace the subshell and fall through
    printf '%s\\n' "$input" | "$PY" -m gitmv.hooks {hook} "$@"
    exit $?
fi
exec "$PY" -m gitmv.hooks {hook} "$@"
"""


def _hooks_dir(repo: Repo) -> Path:
    configured = repo.config("core.hooksPath")
    if configured:
        base = repo.workdir if repo.workdir is not None else repo.git_dir
        return (Path(base) / os.path.expanduser(configured)).resolve()
    return repo.git_dir / "hooks"


def _install(hooks_dir: Path, names: tuple, python: str | None) -> list[str]:
    hooks_dir.mkdir(parents=True, exist_ok=True)
    done = []
    for name in names:
        path = hooks_dir / name
        text = shim(name, python)
        if path.exists():
            current = path.read_text(errors="replace")
            if MARKER in current:
                if current != text:
                    path.write_text(text)
                    done.append(f"updated the {name} hook in {hooks_dir}")
                continue
            chained = hooks_dir / (name + CHAINED_SUFFIX)
            if chained.exists():
                raise MvError(f"{chained} already exists", "remove or merge it by hand, then install again")
            path.rename(chained)
            done.append(f"kept your existing {name} hook as {chained.name} (it runs first)")
        path.write_text(text)
        path.chmod(path.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH | stat.S_IRUSR | stat.S_IRGRP | stat.S_IROTH)
        done.append(f"installed the {name} hook in {hooks_dir}")
    return done


def _uninstall(hooks_dir: Path, names: tuple) -> list[str]:
    done = []
    for name in names:
        path = hooks_dir / name
        chained = hooks_dir / (name + CHAINED_SUFFIX)
        if path.exists() and MARKER in path.read_text(errors="replace"):
            path.unlink()
            done.append(f"removed the {name} hook")
            if chained.exists():
                chained.rename(path)
                done.append(f"restored your previous {name} hook")
    return done


def install_client(repo: Repo, python: str | None = None) -> list[str]:
    if repo.is_bare:
        raise UsageError("this is a bare repository", "use 'git mv-promote hooks install --server PATH'")
    return _install(_hooks_dir(repo), CLIENT_HOOKS, python)


def uninstall_client(repo: Repo) -> list[str]:
    return _uninstall(_hooks_dir(repo), CLIENT_HOOKS)


def _server_repo(path: str) -> Repo:
    repo = Repo.discover(path)
    if not repo.is_bare:
        raise UsageError(f"{path} is not a bare repository", "point --server at the bare repository the host serves")
    return repo


def install_server(path: str, python: str | None = None) -> list[str]:
    repo = _server_repo(path)
    return _install(repo.git_dir / "hooks", SERVER_HOOKS, python)


def uninstall_server(path: str) -> list[str]:
    return _uninstall(_server_repo(path).git_dir / "hooks", SERVER_HOOKS)
