"""Installing the hook shims: client `pre-push`, server `pre-receive` (the authority).

A shim is a few lines of sh that exec the hook entry point (`python -I -m gitmv.hooks`) with the
interpreter that has gitmv installed. `-I` (isolated mode): no PYTHON* variable of the host or
the pusher, no user site-packages and not the repository directory decide which code checks the
push, and bytecode is written even where PYTHONDONTWRITEBYTECODE is set. Before a shim is
written, that interpreter is started once as the shim starts it (`check_interpreter`): a hook
that could not import gitmv is refused at install rather than failing every push, and gitmv's
bytecode is compiled then, so a hook user who cannot write `__pycache__` does not compile every
module on every push. An existing hook is never overwritten: it is moved aside to
`<hook>.mv-promote-chained`, run first by the shim, and restored by uninstall.

gitolite manages `hooks/` itself, so a gitolite repository (recognised by gitolite's `update`
hook) is handled differently: gitolite's hooks are never moved. When `pre-receive` is gitolite's
repo-specific hook driver, which runs every `hooks/pre-receive.*` and finds them through its own
name, our shim goes in as `pre-receive.mv-promote` beside the repository's other hooks (moving the
driver aside would make it run none of them). gitolite deletes that file when it next compiles
its config, so install also puts the shim where `option hook.pre-receive = mv-promote` finds it
and says so.
"""

from __future__ import annotations

import json
import os
import stat
import sys
from pathlib import Path

from gitmv.errors import MvError, UsageError
from gitmv.git.repo import Repo

MARKER = "# git-mv-promote hook shim"
CHAINED_SUFFIX = ".mv-promote-chained"
CLIENT_HOOKS = ("pre-push",)
SERVER_HOOKS = ("pre-receive",)
PY_FLAGS = "-I"  # isolated mode: what the environment and the working directory cannot steer (module docstring)
HOOK_DEPENDENCIES = ("pygit2", "tomli_w")  # what the check needs beyond gitmv (the fast path needs neither)


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
    printf '%s\\n' "$input" | "$PY" {PY_FLAGS} -m gitmv.hooks {hook} "$@"
    exit $?
fi
exec "$PY" {PY_FLAGS} -m gitmv.hooks {hook} "$@"
"""


# Run by the hook's interpreter, started as the shim starts it: where it finds gitmv, which of the
# hook's dependencies it lacks, and whether gitmv's bytecode is on disk (compiled now if missing).
_PROBE = f"""\
import compileall, importlib.util, json, os
import gitmv.hooks.entry
from gitmv import output
package = os.path.dirname(os.path.dirname(gitmv.hooks.entry.__file__))
missing = [name for name in {HOOK_DEPENDENCIES!r} if importlib.util.find_spec(name) is None]
output.line(json.dumps({{"package": package, "missing": missing, "bytecode": compileall.compile_dir(package, quiet=2)}}))
"""


def check_interpreter(python: str | None = None) -> list[str]:
    """Start the hook's interpreter once as the shim will: raise MvError when the hook could not
    run there (gitmv or a dependency only reachable through PYTHONPATH, the user site-packages or
    the current directory, which `-I` ignores); return a warning when gitmv's bytecode cannot be
    written (every push would then compile it: ~50 ms on the benchmark machine, docs/hooks.md)."""
    from gitmv import proc  # the probe's one child

    py = python or sys.executable or "python3"
    fix = (f"install git-mv-promote into the site-packages of {py} (a virtualenv, not --user or PYTHONPATH: "
           "the hook runs it with -I), or run 'hooks install' with the Python that has it")
    done = proc.run([py, PY_FLAGS, "-c", _PROBE], env=None)
    if not done.ok:
        raise MvError(f"the hook's interpreter cannot start the hook: '{py} {PY_FLAGS}' says "
                      f"{done.last_line() or f'exit {done.returncode}'}", fix)
    found = json.loads(done.stdout.decode().strip().splitlines()[-1])
    if found["missing"]:
        raise MvError(f"the hook's interpreter '{py} {PY_FLAGS}' lacks {', '.join(found['missing'])}", fix)
    if not found["bytecode"]:
        return [f"gitmv's bytecode could not be written under {found['package']}: the hook will compile its "
                f"modules on every push; run '{py} -m compileall {found['package']}' as the owner of that directory"]
    return []


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
        if path.exists() or path.is_symlink():  # a dangling link too: never write through it
            current = _text(path)
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
            if chained.exists() or chained.is_symlink():
                chained.rename(path)
                done.append(f"restored your previous {name} hook")
    return done


def install_client(repo: Repo, python: str | None = None) -> list[str]:
    if repo.is_bare:
        raise UsageError("this is a bare repository", "use 'git mv-promote hooks install --server PATH'")
    return _install(_hooks_dir(repo), CLIENT_HOOKS, python)


def uninstall_client(repo: Repo) -> list[str]:
    return _uninstall(_hooks_dir(repo), CLIENT_HOOKS)


def status(hooks_dir: Path, names: tuple) -> list[dict]:
    """Which of our shims are in place (and whether each runs a hook that was there before)."""
    out = []
    for name in names:
        path = hooks_dir / name
        installed = path.is_file() and MARKER in path.read_text(errors="replace")
        out.append({"hook": name, "path": str(path), "installed": installed,
                    "chained": installed and (hooks_dir / (name + CHAINED_SUFFIX)).exists()})
    return out


def status_client(repo: Repo) -> list[dict]:
    return status(_hooks_dir(repo), CLIENT_HOOKS)


def status_server(path: str) -> list[dict]:
    hooks = _server_repo(path).git_dir / "hooks"
    if _is_gitolite(hooks):
        return [{"hook": GITOLITE_HOOK, "path": str(hooks / GITOLITE_HOOK), "installed": (hooks / GITOLITE_HOOK).is_file(),
                 "chained": False}]
    return status(hooks, SERVER_HOOKS)


def _server_repo(path: str) -> Repo:
    repo = Repo.discover(path)
    if not repo.is_bare:
        raise UsageError(f"{path} is not a bare repository", "point --server at the bare repository the host serves")
    return repo


def install_server(path: str, python: str | None = None) -> list[str]:
    hooks = _server_repo(path).git_dir / "hooks"
    if _is_gitolite(hooks):
        return _install_gitolite(hooks, python)
    return _install(hooks, SERVER_HOOKS, python)


def uninstall_server(path: str) -> list[str]:
    hooks = _server_repo(path).git_dir / "hooks"
    done = _uninstall_gitolite(hooks) if _is_gitolite(hooks) else []
    return done + _uninstall(hooks, SERVER_HOOKS)


# ---------------------------------------------------------------- gitolite

GITOLITE_UPDATE_MARK = "use Gitolite::Hooks::Update;"  # gitolite's own update hook (Gitolite/Hooks/Update.pm)
GITOLITE_DRIVER_MARK = "for h in $0.*; do"  # the repo-specific-hooks driver (triggers/repo-specific-hooks)
GITOLITE_HOOK = "pre-receive.mv-promote"  # a name the driver runs (hooks/pre-receive.*)
GITOLITE_CODE = "mv-promote"  # the name for `option hook.pre-receive` in gitolite.conf


def _text(path: Path) -> str:
    try:
        return path.read_text(errors="replace")
    except OSError:  # absent, dangling link, a directory
        return ""


def _is_gitolite(hooks: Path) -> bool:
    return GITOLITE_UPDATE_MARK in _text(hooks / "update")


def _is_driver(path: Path) -> bool:
    text = _text(path)
    return GITOLITE_DRIVER_MARK in text and MARKER not in text


def _write_hook(path: Path, text: str) -> bool:
    """Write our shim to *path* unless it is already there; refuse to replace a file not ours."""
    if path.exists() or path.is_symlink():
        current = _text(path)
        if MARKER not in current:
            raise MvError(f"{path} exists and is not git mv-promote's hook", "rename or remove it, then install again")
        if current == text:
            return False
        path.unlink()  # a link into LOCAL_CODE: replace the link, never the shared file behind it
    path.write_text(text)
    path.chmod(0o755)
    return True


def _install_gitolite(hooks: Path, python: str | None) -> list[str]:
    done = []
    pre = hooks / "pre-receive"
    moved = hooks / ("pre-receive" + CHAINED_SUFFIX)
    if MARKER in _text(pre) and not pre.is_symlink() and _is_driver(moved):
        # An earlier install moved the driver aside; under that name it finds no hooks at all.
        pre.unlink()
        moved.rename(pre)
        done.append("put gitolite's pre-receive driver back (moved aside, it ran none of this repository's hooks)")
    if not _is_driver(pre):
        done += _install(hooks, SERVER_HOOKS, python)
        done.append("gitolite: if this repository gets 'option hook.pre-receive' in gitolite.conf, gitolite "
                    f"replaces this hook; name '{GITOLITE_CODE}' in that option too (docs/hooks.md, gitolite)")
        return done
    text = shim("pre-receive", python)
    named = sorted(p.name for p in hooks.glob("pre-receive.*")
                   if p.name != GITOLITE_HOOK and MARKER in _text(p))
    if named:
        done.append(f"already installed through gitolite.conf ({', '.join(named)}); nothing to do")
        return done
    if _write_hook(hooks / GITOLITE_HOOK, text):
        done.append(f"installed the pre-receive hook as {hooks / GITOLITE_HOOK}; gitolite's driver runs it "
                    "after this repository's own pre-receive hooks")
    code_dir = Path(os.path.realpath(pre)).parent / "repo-specific"
    if code_dir.is_dir():
        code = code_dir / GITOLITE_CODE
        if _write_hook(code, text):
            done.append(f"wrote {code} for gitolite.conf")
        done.append(f"gitolite deletes {GITOLITE_HOOK} when it next compiles its config: add '{GITOLITE_CODE}' to "
                    "this repository's 'option hook.pre-receive' in gitolite.conf to keep the check")
    else:
        done.append(f"gitolite deletes {GITOLITE_HOOK} when it next compiles its config: put this shim in "
                    f"LOCAL_CODE/hooks/repo-specific/{GITOLITE_CODE} and add '{GITOLITE_CODE}' to this repository's "
                    "'option hook.pre-receive' in gitolite.conf (docs/hooks.md, gitolite)")
    return done


def _uninstall_gitolite(hooks: Path) -> list[str]:
    done = []
    ours = hooks / GITOLITE_HOOK
    if MARKER in _text(ours):
        ours.unlink()
        done.append(f"removed {GITOLITE_HOOK} (gitolite's own hooks stay as they are)")
    for path in sorted(hooks.glob("pre-receive.*")):
        if path.name != GITOLITE_HOOK and not path.name.endswith(CHAINED_SUFFIX) and MARKER in _text(path):
            done.append(f"{path.name} comes from gitolite.conf: remove '{GITOLITE_CODE}' from this repository's "
                        "'option hook.pre-receive' to stop the check there")
    return done
