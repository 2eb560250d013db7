"""The package map of docs/design.md ("Package map"), enforced: who may import whom, where I/O,
pygit2 and printing may happen. A new module belongs to a package of the map; a new edge is a
design decision, made here and in the doc together."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "gitmv"

BASE = {"errors", "names", "records", "schema", "policy", "hashing"}
# unit -> the units it may import (a unit is a top-level module or a subpackage of gitmv)
ALLOWED: dict[str, set[str]] = {
    "errors": set(),
    "output": set(),
    "proc": {"errors"},
    "ahead": {"proc"},
    "hashing": set(),
    "names": {"errors"},
    "canonical": set(),
    "records": {"errors", "names", "schema", "canonical"},
    "schema": {"errors", "names"},
    "policy": {"errors", "names", "records", "schema"},
    "rules": BASE,
    "git": BASE | {"rules", "proc"},
    "dvc": BASE | {"git", "proc"},
    "cache": BASE,
    "registry": BASE | {"rules", "git", "cache", "ahead"},
    "approvals": BASE | {"rules", "git", "registry"},
    "ops": BASE | {"rules", "git", "dvc", "cache", "registry", "approvals", "proc"},
    "hooks": BASE | {"rules", "git", "cache", "registry", "approvals", "output", "proc"},
    "api": {"ops"},
    "cli": BASE | {"api", "ops", "output"},
    "__main__": {"cli"},
    "__init__": set(),
}
# Single modules allowed across the map, each for a stated reason.
EXCEPTIONS = {
    ("ops", "gitmv.hooks.install"),  # `init` installs the client hook
    ("ops", "gitmv.hooks.enforce"),  # `sync` judges a refused push as pre-push does; `audit` re-judges stage tags
    ("hooks", "gitmv.dvc.pins"),  # R9: a version is retrievable when DVC pins it at its commit (blob reads only)
    ("errors", "gitmv.proc.Completed"),  # a type annotation only (under TYPE_CHECKING)
}
IO_MODULES = {"os", "subprocess", "sqlite3", "socket", "shutil", "tempfile", "pathlib", "io", "signal", "pygit2",
              "urllib", "http"}


def _modules() -> list[Path]:
    return sorted(p for p in PACKAGE.rglob("*.py") if "__pycache__" not in p.parts)


def _unit(path: Path) -> str:
    rel = path.relative_to(PACKAGE)
    return rel.parts[0] if len(rel.parts) > 1 else rel.stem


def _imports(path: Path) -> list[str]:
    """Every module name imported anywhere in the file (also inside functions and TYPE_CHECKING)."""
    tree = ast.parse(path.read_text(), str(path))
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found += [f"{node.module}.{a.name}" if node.module.split(".")[0] == "gitmv" else node.module
                      for a in node.names]
    return found


def _target_unit(module: str) -> str | None:
    parts = module.split(".")
    return parts[1] if parts[0] == "gitmv" and len(parts) > 1 else None


def _rel(path: Path) -> str:
    return path.relative_to(PACKAGE.parent).as_posix()


@pytest.mark.parametrize("path", _modules(), ids=_rel)
def test_module_imports_only_what_the_package_map_allows(path):
    unit = _unit(path)
    assert unit in ALLOWED, f"{_rel(path)} is in no package of the map (docs/design.md)"
    wrong = [m for m in _imports(path)
             if (t := _target_unit(m)) is not None and t != unit and t not in ALLOWED[unit]
             and not any(unit == u and (m == e or m.startswith(e + ".")) for u, e in EXCEPTIONS)]
    assert not wrong, f"{_rel(path)} ({unit}) imports {wrong}"


@pytest.mark.parametrize("path", sorted((PACKAGE / "rules").glob("*.py")), ids=_rel)
def test_rules_do_no_io(path):
    io = [m for m in _imports(path) if m.split(".")[0] in IO_MODULES]
    calls = [n.func.id for n in ast.walk(ast.parse(path.read_text()))
             if isinstance(n, ast.Call) and isinstance(n.func, ast.Name) and n.func.id in ("open", "print", "input")]
    assert not io and not calls, f"{_rel(path)} does I/O: imports {io}, calls {calls}"


def test_only_the_repository_module_imports_pygit2():
    importers = [_rel(p) for p in _modules() if any(m.split(".")[0] == "pygit2" for m in _imports(p))]
    assert importers == ["gitmv/git/repo.py"]


def _prints(path: Path) -> list[str]:
    found = []
    for n in ast.walk(ast.parse(path.read_text())):
        if isinstance(n, ast.Call):
            f = n.func
            if isinstance(f, ast.Name) and f.id == "print":
                found.append(f"print() line {n.lineno}")
            elif isinstance(f, ast.Attribute) and f.attr in ("echo", "secho") and getattr(f.value, "id", "") == "click":
                found.append(f"click.{f.attr}() line {n.lineno}")
            elif isinstance(f, ast.Attribute) and f.attr == "write" and isinstance(f.value, ast.Attribute) \
                    and f.value.attr in ("stdout", "stderr") and getattr(f.value.value, "id", "") == "sys":
                found.append(f"sys.{f.value.attr}.write() line {n.lineno}")
    return found


@pytest.mark.parametrize("path", [p for p in _modules() if _unit(p) not in ("output", "cli")], ids=_rel)
def test_only_output_and_cli_print(path):
    assert not _prints(path), f"{_rel(path)} prints: {_prints(path)}"


def test_the_map_catches_a_forbidden_import(tmp_path):
    """The checker itself: a rules module importing the Git layer is reported."""
    bad = tmp_path / "bad.py"
    bad.write_text("from gitmv.git.repo import Repo\nimport subprocess\n")
    assert [m for m in _imports(bad) if _target_unit(m) not in ALLOWED["rules"] | {None}] == ["gitmv.git.repo.Repo"]
    assert [m for m in _imports(bad) if m.split(".")[0] in IO_MODULES] == ["subprocess"]
