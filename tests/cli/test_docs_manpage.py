"""The man page and the reference stay true to the CLI.

- the committed roff `docs/git-mv-promote.1` is exactly what `scripts/build_manpage.py` makes of
  `docs/git-mv-promote.1.md` (no drift: edit the Markdown, then run the script);
- every click command (walked recursively, so `hooks install` / `hooks uninstall` too), every
  option and every argument is documented in the man page source, in that command's own section,
  and no section documents an option the command does not have; `docs/reference.md` names them too;
- `man -l` renders the page (when man is installed);
- `docs/storage.md` embeds the golden files of `tests/golden/` byte for byte.
"""

from __future__ import annotations

import importlib.util
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import click
import pytest

import gitmv
from gitmv.cli import cli

ROOT = Path(__file__).resolve().parents[2]
SOURCE = ROOT / "docs" / "git-mv-promote.1.md"
ROFF = ROOT / "docs" / "git-mv-promote.1"
REFERENCE = ROOT / "docs" / "reference.md"
STORAGE = ROOT / "docs" / "storage.md"
GOLDEN = ROOT / "tests" / "golden"
PROG = "git mv-promote"


def _builder():
    spec = importlib.util.spec_from_file_location("build_manpage", ROOT / "scripts" / "build_manpage.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _commands(group: click.Group = cli, path: tuple = ()):
    """(path, command) for every leaf command, depth first: ('hooks', 'install') and so on."""
    for name, command in sorted(group.commands.items()):
        if isinstance(command, click.Group):
            yield from _commands(command, path + (name,))
        else:
            yield path + (name,), command


def _option_names(command: click.Command) -> set[str]:
    return {name for p in command.params if isinstance(p, click.Option) for name in p.opts + p.secondary_opts}


def _arguments(command: click.Command) -> list[str]:
    return [p.human_readable_name for p in command.params if isinstance(p, click.Argument)]


def _sections(markdown: str) -> dict[str, str]:
    """'## git mv-promote <command path> [ARGS]' heading -> the text up to the next heading."""
    out = {}
    parts = re.split(r"^(#{1,2} .*)$", markdown, flags=re.M)
    for heading, body in zip(parts[1::2], parts[2::2], strict=False):
        m = re.match(rf"^## {PROG} ((?:[a-z][a-z-]* ?)+?)(?: +[^a-z].*)?$", heading)
        if m:
            out[m.group(1).strip()] = heading + "\n" + body
    return out


def _mentions(text: str, word: str) -> bool:
    return re.search(rf"(?<![\w-]){re.escape(word)}(?![\w-])", text) is not None


COMMANDS = list(_commands())
COMMAND_IDS = [" ".join(path) for path, _ in COMMANDS]


def test_the_walk_finds_nested_commands():
    assert ("hooks", "install") in [path for path, _ in COMMANDS]
    assert ("hooks", "uninstall") in [path for path, _ in COMMANDS]
    assert len(COMMANDS) >= 20


# ---------------------------------------------------------------- (a) no drift

def test_committed_roff_is_what_the_builder_makes_of_the_markdown():
    built = _builder().convert(SOURCE.read_text(encoding="utf-8"))
    committed = ROFF.read_text(encoding="utf-8")
    assert committed == built, "docs/git-mv-promote.1 is out of date: run python3 scripts/build_manpage.py"


def test_builder_check_mode_agrees():
    proc = subprocess.run([sys.executable, str(ROOT / "scripts" / "build_manpage.py"), "--check"],
                          capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr


def test_title_block_names_the_package_version():
    title = SOURCE.read_text(encoding="utf-8").splitlines()[0]
    assert title.startswith("% GIT-MV-PROMOTE(1) ")
    assert f"git-mv-promote {gitmv.__version__} " in title, "bump the version in the man page title block"


def test_builder_escapes_roff_specials():
    b = _builder()
    roff = b.convert("% X(1) x 1 | X\n%\n% May 2026\n\n# NAME\n\n.starts with a dot, a-b and a \\\\ backslash\n'quote\n")
    lines = roff.splitlines()
    assert r"\&.starts with a dot, a\-b and a \e backslash" in lines
    assert r"\&'quote" in lines
    assert not [line for line in lines if line.startswith((".", "'")) and not re.match(r"^\.(\\\"|[A-Za-z]{1,2}\b)", line)]


# ---------------------------------------------------------------- (b) every command and option documented

@pytest.mark.parametrize("path,command", COMMANDS, ids=COMMAND_IDS)
def test_every_command_has_its_own_section_with_every_option_and_argument(path, command):
    markdown = SOURCE.read_text(encoding="utf-8")
    sections = _sections(markdown)
    name = " ".join(path)
    assert name in sections, f"docs/git-mv-promote.1.md has no '## {PROG} {name}' section"
    text = sections[name]
    missing = sorted(o for o in _option_names(command) if not _mentions(text, o))
    assert not missing, f"'{PROG} {name}' options not documented in its man page section: {missing}"
    args = [a for a in _arguments(command) if not _mentions(text, a)]
    assert not args, f"'{PROG} {name}' arguments not named in its man page section: {args}"
    synopsis = markdown.split("# SYNOPSIS", 1)[1].split("\n# ", 1)[0]
    assert f"**{PROG} {name}**" in synopsis, f"'{PROG} {name}' is missing from SYNOPSIS"


@pytest.mark.parametrize("path,command", COMMANDS, ids=COMMAND_IDS)
def test_no_section_documents_an_option_the_command_does_not_have(path, command):
    text = _sections(SOURCE.read_text(encoding="utf-8"))[" ".join(path)]
    terms = [line for line in text.splitlines() if line.startswith("**-")]
    documented = {opt for line in terms for opt in re.findall(r"\*\*(-{1,2}[\w-]+)\*\*", line)}
    stale = sorted(documented - _option_names(command))
    assert not stale, f"'{PROG} {' '.join(path)}' section documents options it does not have: {stale}"


def test_top_level_options_are_documented():
    markdown = SOURCE.read_text(encoding="utf-8")
    for option in _option_names(cli) | {"-h", "--help"}:
        assert _mentions(markdown, option), option


def test_no_section_for_a_command_that_does_not_exist():
    sections = _sections(SOURCE.read_text(encoding="utf-8"))
    assert set(sections) <= set(COMMAND_IDS), set(sections) - set(COMMAND_IDS)


@pytest.mark.parametrize("path,command", COMMANDS, ids=COMMAND_IDS)
def test_reference_documents_every_command_and_option(path, command):
    text = REFERENCE.read_text(encoding="utf-8")
    name = " ".join(path)
    assert f"`{PROG} {name}" in text, f"docs/reference.md lacks a usage line for '{PROG} {name}'"
    missing = sorted(o for o in _option_names(command) if f"`{o}" not in text)
    assert not missing, f"docs/reference.md does not mention {missing} of '{name}'"


# ---------------------------------------------------------------- (c) it renders

@pytest.mark.skipif(shutil.which("man") is None, reason="man is not installed")
def test_man_renders_the_page():
    env = {**os.environ, "MANPAGER": "cat", "PAGER": "cat", "MANWIDTH": "80", "LC_ALL": "C.UTF-8"}
    env.pop("MANOPT", None)
    man_db = shutil.which("mandb") is not None  # man-db's man can also report roff warnings
    command = ["man", "--warnings", "-l", str(ROFF)] if man_db else ["man", "-l", str(ROFF)]
    proc = subprocess.run(command, capture_output=True, text=True, env=env, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert "NAME" in proc.stdout and "git-mv-promote" in proc.stdout
    assert "SYNOPSIS" in proc.stdout and "EXIT STATUS" in proc.stdout
    if man_db:
        assert "warning" not in proc.stderr.lower(), proc.stderr


# ---------------------------------------------------------------- storage.md carries the golden files

@pytest.mark.parametrize("name", ["version_record.toml", "version_record_uri.toml", "promotion_record.toml",
                                  "rollout_record.toml", "note.toml", "replay_note.toml"])
def test_storage_page_embeds_the_golden_files_unchanged(name):
    golden = (GOLDEN / name).read_text(encoding="utf-8")
    page = STORAGE.read_text(encoding="utf-8")
    assert f"### `tests/golden/{name}`\n\n```toml\n{golden}```" in page, \
        f"docs/storage.md does not embed tests/golden/{name} as it is now"


# ---------------------------------------------------------------- completion, as docs/reference.md describes it

def test_completion_variable_prints_a_bash_script():
    env = {**os.environ, "_GIT_MV_PROMOTE_COMPLETE": "bash_source"}
    proc = subprocess.run([sys.executable, "-c", "from gitmv.cli import main; main()"], capture_output=True,
                          text=True, env=env, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert "_GIT_MV_PROMOTE_COMPLETE=bash_complete" in proc.stdout
    assert re.search(r"^\s*complete .* git-mv-promote$", proc.stdout, re.M), proc.stdout
