"""`run.py --baseline REV`: another revision's code measured beside the current code.

REV is checked out (detached) into a throw-away git worktree under benchmarks/out/baseline/, never
touching the user's tree, and removed when the run ends. Each side runs its own tree's code: a bin
directory first on PATH holds an entry script like the one pip writes (`from gitmv.cli import
main`; the old gitmv/cli.py and the new gitmv/cli/ package both expose it), so `git mv-promote`
finds it, and PYTHONPATH names the tree, so that script and `import gitmv` load that tree's gitmv
before any installed copy. The entry script's interpreter is the side's own small virtualenv
(no pip, no packages: a .pth naming the tree first, then this interpreter's site-packages for the
dependencies), because the server hook's shim runs it isolated (`python -I`, which ignores
PYTHONPATH) since the Performance issue: only the interpreter the shim names can pick the code
there. The current side is set up the same way, so neither side pays for a different start-up.
"""

from __future__ import annotations

import os
import shutil
import site
import subprocess
import sys
from pathlib import Path

from common import OUT, Side, run

ROOT = Path(__file__).resolve().parent.parent


def _git(args: list[str], cwd: Path = ROOT, check: bool = True) -> str:
    env = {k: v for k, v in os.environ.items() if not k.startswith("GIT_")}
    proc = subprocess.run(["git", *args], cwd=str(cwd), env=env, capture_output=True, text=True)
    if check and proc.returncode != 0:
        raise SystemExit(f"git {' '.join(args)} failed: {proc.stderr.strip()}")
    return proc.stdout.strip()


def resolve(rev: str) -> tuple[str, str]:
    """(full commit id, subject) of REV in the project's repository."""
    sha = _git(["rev-parse", "--verify", "--quiet", f"{rev}^{{commit}}"], check=False)
    if not sha:
        raise SystemExit(f"--baseline {rev}: no such commit in {ROOT} (give a commit, tag or branch)")
    return sha, _git(["log", "-1", "--format=%s", sha])


def checkout(sha: str, out: Path = OUT) -> Path:
    """A detached worktree of `sha` under out/baseline/ (a stale one from a killed run is replaced)."""
    path = out / "baseline" / sha[:12]
    if path.exists():
        remove(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    _git(["worktree", "add", "--detach", "--quiet", str(path), sha])
    return path


def remove(path: Path) -> None:
    _git(["worktree", "remove", "--force", str(path)], check=False)
    shutil.rmtree(path, ignore_errors=True)
    _git(["worktree", "prune"], check=False)


ENTRY = """#!{python}
import sys
from gitmv.cli import main
sys.exit(main())
"""


def side_python(name: str, root: Path, out: Path = OUT) -> Path:
    """The side's interpreter: a virtualenv without pip whose site-packages holds a .pth naming
    `root`, then this interpreter's site-packages (the dependencies; their own .pth files are
    not read from there, so no other gitmv comes first)."""
    venv = out / "sides" / name / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--clear", "--without-pip", str(venv)], check=True,
                   capture_output=True)
    python = venv / "bin" / "python"
    purelib = subprocess.run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                             check=True, capture_output=True, text=True).stdout.strip()
    deps = [p for p in (*site.getsitepackages(), site.getusersitepackages()) if os.path.isdir(p)]
    Path(purelib, "aaa_side.pth").write_text("".join(f"{p}\n" for p in (root, *deps)))
    return python


def make_side(name: str, label: str, root: Path, env: dict, out: Path = OUT) -> Side:
    """A side whose processes run the gitmv of `root` (see the module's docstring)."""
    bin_dir = out / "sides" / name / "bin"
    bin_dir.mkdir(parents=True, exist_ok=True)
    python = side_python(name, root, out)
    entry = bin_dir / "git-mv-promote"
    entry.write_text(ENTRY.format(python=python))
    entry.chmod(0o755)
    side_env = dict(env, PATH=os.pathsep.join([str(bin_dir), env["PATH"]]), PYTHONPATH=str(root))
    return Side(name, label, root, side_env, str(entry), str(python))


def check(side: Side, cwd: Path) -> str:
    """Where the side's `git mv-promote` and hook interpreter load gitmv from (the latter as the
    shim starts it, isolated); refuses a side that would measure another tree's code."""
    _, proc = run([side.python, "-I", "-c", "import gitmv.hooks; print(gitmv.hooks.__file__)"], cwd, side.env)
    hook_where = Path(proc.stdout.decode().strip()).resolve()
    if side.root.resolve() not in hook_where.parents:
        raise SystemExit(f"the {side.name} side's hook interpreter loads gitmv from {hook_where}, not from {side.root}")
    _, proc = run([sys.executable, "-c", "import gitmv.cli, gitmv.hooks; print(gitmv.cli.__file__)"], cwd, side.env)
    where = Path(proc.stdout.decode().strip()).resolve()
    if side.root.resolve() not in where.parents:
        raise SystemExit(f"the {side.name} side loads gitmv from {where}, not from {side.root}")
    found = shutil.which("git-mv-promote", path=side.env["PATH"])
    if found != side.entry:
        raise SystemExit(f"the {side.name} side's `git mv-promote` would run {found}, not {side.entry}")
    return str(where)
