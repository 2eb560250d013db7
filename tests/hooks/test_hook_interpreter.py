"""The hook's interpreter: the shims run it isolated (`python -I`), so nothing in the environment
of the host or the pusher chooses the code that checks a push; `hooks install` starts it once as
the shim will, refusing a hook that could not start and writing gitmv's bytecode for it."""

from __future__ import annotations

import importlib.util
import os
import shutil
import subprocess
import sys
from pathlib import Path

from conftest import ModelRepo, accepted, git, refused

ROOT = Path(__file__).resolve().parents[2]
# what `hooks install` and the hook import besides gitmv and the standard library
DEPENDENCIES = ("click", "pygit2", "tomli_w", "_cffi_backend")


def _python_without_gitmv(tmp_path: Path, gitmv_root: Path | None = None) -> Path:
    """A virtualenv's Python whose site-packages holds the dependencies (linked) and, when given,
    a .pth naming `gitmv_root`: gitmv is installed there only then."""
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True, capture_output=True)
    python = venv / "bin" / "python"
    site = Path(subprocess.run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                               check=True, capture_output=True, text=True).stdout.strip())
    for name in DEPENDENCIES:
        spec = importlib.util.find_spec(name)
        assert spec is not None and spec.origin is not None, name
        found = Path(spec.origin).parent if spec.submodule_search_locations else Path(spec.origin)
        (site / found.name).symlink_to(found)
        libs = found.parent / f"{name}.libs"  # a wheel's bundled shared libraries (pygit2.libs)
        if libs.is_dir():
            (site / libs.name).symlink_to(libs)
    if gitmv_root is not None:
        (site / "gitmv_here.pth").write_text(f"{gitmv_root}\n")
    return python


def _copy_of_gitmv(tmp_path: Path) -> Path:
    root = tmp_path / "src"
    shutil.copytree(ROOT / "gitmv", root / "gitmv", ignore=shutil.ignore_patterns("__pycache__"))
    return root


def _install(python: Path, bare: Path, cwd: Path, **env: str) -> subprocess.CompletedProcess:
    return subprocess.run([str(python), "-m", "gitmv", "hooks", "install", "--server", str(bare)], cwd=cwd,
                          capture_output=True, text=True, env={**os.environ, "PYTHONDONTWRITEBYTECODE": "1", **env})


def _bare(tmp_path: Path) -> Path:
    bare = tmp_path / "server.git"
    git("init", "-q", "--bare", "--initial-branch=main", str(bare), cwd=tmp_path)
    return bare


def test_a_pythonpath_in_the_pushers_environment_cannot_replace_the_checker(tmp_path, keys):
    """A push over a local path runs the hook with the pusher's environment; a `gitmv` first on
    PYTHONPATH that accepts everything must not be the code that judges the push."""
    bare = _bare(tmp_path)
    alice = ModelRepo(tmp_path / "alice", keys)
    alice.mv("hooks", "install", "--server", str(bare))
    alice.git("remote", "add", "origin", str(bare))
    accepted(subprocess.run(["git", "push", "-q", "origin", "main"], cwd=alice.path, capture_output=True, text=True))
    poison = tmp_path / "poison" / "gitmv" / "hooks"
    poison.mkdir(parents=True)
    for init in (poison.parent / "__init__.py", poison / "__init__.py"):
        init.write_text("")
    (poison / "__main__.py").write_text("raise SystemExit(0)  # accepts every push\n")
    alice.git("tag", "mv/churn/v1")  # lightweight: refused by R3 annotated-only
    proc = subprocess.run(["git", "push", "--porcelain", "origin", "refs/tags/mv/churn/v1"], cwd=alice.path,
                          capture_output=True, text=True, env={**os.environ, "PYTHONPATH": str(poison.parent.parent)})
    refused(proc, "R3 annotated-only")
    assert git("for-each-ref", "refs/tags", cwd=bare) == ""


def test_install_refuses_an_interpreter_that_finds_gitmv_only_through_pythonpath(tmp_path):
    python = _python_without_gitmv(tmp_path)
    bare = _bare(tmp_path)
    proc = _install(python, bare, tmp_path, PYTHONPATH=str(ROOT))
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "the hook's interpreter cannot start the hook" in proc.stderr and "-I" in proc.stderr, proc.stderr
    assert "fix: install git-mv-promote into the site-packages of" in proc.stderr, proc.stderr
    assert "Traceback" not in proc.stderr
    assert not (bare / "hooks" / "pre-receive").exists(), "nothing is installed that could not start"


def test_install_writes_gitmvs_bytecode_for_the_hook(tmp_path):
    """A hook user who cannot write __pycache__ would otherwise compile every module on every push."""
    src = _copy_of_gitmv(tmp_path)
    python = _python_without_gitmv(tmp_path, src)
    proc = _install(python, _bare(tmp_path), tmp_path)
    assert proc.returncode == 0, proc.stderr
    enforce = src / "gitmv" / "hooks" / "enforce.py"
    assert Path(importlib.util.cache_from_source(str(enforce))).is_file(), "the checker's bytecode was not written"


def test_install_warns_when_gitmvs_bytecode_cannot_be_written(tmp_path):
    """A file where gitmv/hooks/__pycache__ would go stands for a directory the hook user cannot write
    to (as root, permissions would not stop the write)."""
    src = _copy_of_gitmv(tmp_path)
    (src / "gitmv" / "hooks" / "__pycache__").write_text("not a directory\n")
    python = _python_without_gitmv(tmp_path, src)
    bare = _bare(tmp_path)
    proc = _install(python, bare, tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert "warning: gitmv's bytecode could not be written" in proc.stderr, proc.stderr
    assert "-m compileall" in proc.stderr, proc.stderr
    assert (bare / "hooks" / "pre-receive").is_file(), "the hook still works, only slower"
