#!/usr/bin/env python3
"""Convert the man page source `docs/git-mv-promote.1.md` into roff: `docs/git-mv-promote.1`.

Dependency-free on purpose (no pandoc at build or test time). It understands exactly the subset of
pandoc's man-page Markdown that the source uses, and refuses what it does not understand rather
than guessing:

    % NAME(SECTION) FOOTER | HEADER     title block: .TH "NAME" "SECTION" "DATE" "FOOTER" "HEADER"
    % AUTHORS                           (second line, unused in the output)
    % DATE                              (third line)
    # HEADING                           .SH HEADING (upper-cased)
    ## Subheading                       .SS Subheading
    paragraph lines                     .PP, lines kept as they are (roff fills them)
    | line block line                   one output line each, joined with .br (for SYNOPSIS)
    term                                definition list: .TP, the term, then the definition;
    :   definition                      continuation lines are indented; a blank line followed
        more definition                 by an indented paragraph continues it with .IP, and an
                                        indented fenced block is a code block inside it
    - bullet item                       .IP \\(bu 2
    ```                                 code block: .nf ... .fi (indented with .RS/.RE at top level)
    `code`, **bold**                    \\fB...\\fR
    *italic*                            \\fI...\\fR
    \\*  \\_  \\`  \\\\                       a literal character

Escaping: every '-' becomes '\\-' and every '\\' becomes '\\e'; a text line that would start with
'.' or "'" is prefixed with '\\&'; characters outside ASCII become named glyphs or \\[uXXXX].

Usage:
    python3 scripts/build_manpage.py             write docs/git-mv-promote.1
    python3 scripts/build_manpage.py --check     exit 1 if docs/git-mv-promote.1 is out of date
    python3 scripts/build_manpage.py --stdout    print the roff
    python3 scripts/build_manpage.py SRC [-o OUT]
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SOURCE = ROOT / "docs" / "git-mv-promote.1.md"
TARGET = ROOT / "docs" / "git-mv-promote.1"

GLYPHS = {
    "\u2014": r"\(em", "\u2013": r"\(en", "\u2026": "...", "\u2265": r"\(>=", "\u2264": r"\(<=",
    "\u2192": r"\(->", "\u2190": r"\(<-", "\u00d7": r"\(mu", "\u2018": r"\(oq", "\u2019": r"\(cq",
    "\u201c": r"\(lq", "\u201d": r"\(rq", "\u00a0": r"\~",
}

DEF_RE = re.compile(r"^:(?: {3}| ?\t| )(.*)$")
FENCE_RE = re.compile(r"^( *)```")
BULLET_RE = re.compile(r"^- (.*)$")
TITLE_RE = re.compile(r"^(?P<name>\S+)\((?P<section>[0-9][a-z]*)\)\s*(?P<rest>.*)$")


class ManpageError(ValueError):
    pass


# ---------------------------------------------------------------- escaping and inline markup

def escape(text: str) -> str:
    """Escape plain text for roff (no markup)."""
    out = []
    for ch in text:
        if ch == "\\":
            out.append(r"\e")
        elif ch == "-":
            out.append(r"\-")
        elif ord(ch) < 128:
            out.append(ch)
        elif ch in GLYPHS:
            out.append(GLYPHS[ch])
        else:
            out.append(f"\\[u{ord(ch):04X}]")
    return "".join(out)


INLINE_RE = re.compile(
    r"(?P<code>`+)(?P<code_text>.+?)(?P=code)"           # `code`
    r"|\*\*(?P<bold>\S(?:.*?\S)?)\*\*"                   # **bold**
    r"|(?<![\w*])\*(?P<italic>[^\s*](?:[^*]*?[^\s*])?)\*(?![\w*])"  # *italic*
    r"|\\(?P<literal>[\\`*_{}\[\]()#+\-.!|%])"           # backslash escapes
)


def inline(text: str) -> str:
    """Markdown inline markup -> roff, escaping everything else."""
    out = []
    pos = 0
    for m in INLINE_RE.finditer(text):
        out.append(escape(text[pos:m.start()]))
        if m.group("code") is not None:
            out.append(r"\fB" + escape(m.group("code_text")) + r"\fR")
        elif m.group("bold") is not None:
            out.append(r"\fB" + inline_nested(m.group("bold"), r"\fB") + r"\fR")
        elif m.group("italic") is not None:
            out.append(r"\fI" + inline_nested(m.group("italic"), r"\fI") + r"\fR")
        else:
            out.append(escape(m.group("literal")))
        pos = m.end()
    out.append(escape(text[pos:]))
    return "".join(out)


def inline_nested(text: str, outer: str) -> str:
    """Markup inside bold or italic: after a nested span, return to the outer font, not roman."""
    return inline(text).replace(r"\fR", outer)


def text_line(text: str) -> str:
    """One line of running text: leading blanks dropped (they break lines in roff), and a line
    that would start with a control character made safe."""
    line = inline(text.strip())
    if line.startswith((".", "'")):
        line = r"\&" + line
    return line


def code_line(text: str) -> str:
    line = escape(text)
    if line.startswith((".", "'")):
        line = r"\&" + line
    return line


def quoted(text: str) -> str:
    return '"' + escape(text).replace('"', r"\(dq") + '"'


# ---------------------------------------------------------------- block structure

def _title(lines: list[str]) -> tuple[list[str], list[str]]:
    block = []
    while lines and lines[0].startswith("%"):
        block.append(lines.pop(0)[1:].strip())
    if not block:
        raise ManpageError("the source must start with a pandoc title block: % NAME(SECTION) FOOTER | HEADER")
    m = TITLE_RE.match(block[0])
    if not m:
        raise ManpageError(f"title line {block[0]!r} is not 'NAME(SECTION) FOOTER | HEADER'")
    footer, _, header = m.group("rest").partition("|")
    date = block[2] if len(block) > 2 else ""
    th = f".TH {quoted(m.group('name'))} {quoted(m.group('section'))} {quoted(date)} {quoted(footer.strip())} {quoted(header.strip())}"
    # no hyphenation and ragged right: ref names, paths and options stay whole and unstretched
    return [th, ".nh", ".ad l"], lines


def _is_definition(lines: list[str], i: int) -> bool:
    return (i + 1 < len(lines) and lines[i].strip() != "" and not lines[i].startswith((" ", "#", "```", "- ", "|"))
            and DEF_RE.match(lines[i + 1]) is not None)


def _code_block(lines: list[str], i: int, indent: int) -> tuple[list[str], int]:
    """Lines of a fenced block starting at lines[i] (the opening fence); returns (body, next index)."""
    body = []
    i += 1
    while i < len(lines):
        m = FENCE_RE.match(lines[i])
        if m and len(m.group(1)) == indent and lines[i].strip() == "```":
            return body, i + 1
        line = lines[i]
        if line.strip() and not line.startswith(" " * indent):
            raise ManpageError(f"line {i + 1}: code block line is indented less than its fence: {line!r}")
        body.append(line[indent:])
        i += 1
    raise ManpageError("unterminated code block")


def convert(markdown: str) -> str:
    lines = markdown.expandtabs(4).splitlines()
    out, lines = _title(lines)
    out.insert(0, r'.\" Generated by scripts/build_manpage.py from docs/git-mv-promote.1.md: edit that file, not this one.')
    i = 0
    in_definition = False  # a blank line inside a definition list item may be followed by more of it
    while i < len(lines):
        line = lines[i]
        if not line.strip():
            i += 1
            continue
        if line.startswith("### "):
            raise ManpageError(f"line {i + 1}: only # and ## headings are supported")
        if line.startswith("# "):
            out.append(".SH " + escape(line[2:].strip().upper()))
            in_definition = False
            i += 1
            continue
        if line.startswith("## "):
            out.append(".SS " + escape(line[3:].strip()))
            in_definition = False
            i += 1
            continue
        if in_definition and line.startswith("    "):
            fence = FENCE_RE.match(line)
            if fence and len(fence.group(1)) == 4:
                body, i = _code_block(lines, i, 4)
                out += [".IP", ".nf"] + [code_line(b) for b in body] + [".fi"]
                continue
            out.append(".IP")
            while i < len(lines) and lines[i].strip() and lines[i].startswith("    "):
                out.append(text_line(lines[i]))
                i += 1
            continue
        in_definition = False
        fence = FENCE_RE.match(line)
        if fence:
            if fence.group(1):
                raise ManpageError(f"line {i + 1}: an indented code block must belong to a definition")
            body, i = _code_block(lines, i, 0)
            out += [".PP", ".RS 4", ".nf"] + [code_line(b) for b in body] + [".fi", ".RE"]
            continue
        if line.startswith("| ") or line == "|":
            out.append(".PP")
            first = True
            while i < len(lines) and (lines[i].startswith("| ") or lines[i] == "|"):
                if not first:
                    out.append(".br")
                out.append(text_line(lines[i][2:]) or r"\&")
                first = False
                i += 1
            continue
        bullet = BULLET_RE.match(line)
        if bullet:
            out += [r".IP \(bu 2", text_line(bullet.group(1))]
            i += 1
            while i < len(lines) and lines[i].startswith("  ") and lines[i].strip():
                out.append(text_line(lines[i]))
                i += 1
            continue
        if _is_definition(lines, i):
            out += [".TP", text_line(line)]
            i += 1
            out.append(text_line(DEF_RE.match(lines[i]).group(1)))
            i += 1
            while i < len(lines) and lines[i].strip() and lines[i].startswith(" "):
                out.append(text_line(lines[i]))
                i += 1
            in_definition = True
            continue
        if DEF_RE.match(line):
            raise ManpageError(f"line {i + 1}: a definition needs a term on the line before it")
        out.append(".PP")
        while i < len(lines) and lines[i].strip() and not lines[i].startswith(("#", "```", "| ")) \
                and not BULLET_RE.match(lines[i]) and not _is_definition(lines, i):
            out.append(text_line(lines[i]))
            i += 1
    return "\n".join(out) + "\n"


# ---------------------------------------------------------------- command line

def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Build the git-mv-promote man page (roff) from its Markdown source.")
    parser.add_argument("source", nargs="?", type=Path, default=SOURCE, help=f"Markdown source (default: {SOURCE.relative_to(ROOT)})")
    parser.add_argument("-o", "--output", type=Path, default=TARGET, help=f"roff output (default: {TARGET.relative_to(ROOT)})")
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--check", action="store_true", help="Exit 1 when the output file is not up to date.")
    mode.add_argument("--stdout", action="store_true", help="Print the roff instead of writing it.")
    args = parser.parse_args(argv)
    try:
        roff = convert(args.source.read_text(encoding="utf-8"))
    except ManpageError as exc:
        print(f"build_manpage: {args.source}: {exc}", file=sys.stderr)
        return 1
    if args.stdout:
        sys.stdout.write(roff)
        return 0
    if args.check:
        current = args.output.read_text(encoding="utf-8") if args.output.exists() else None
        if current != roff:
            print(f"build_manpage: {args.output} is out of date; run: python3 scripts/build_manpage.py", file=sys.stderr)
            return 1
        return 0
    args.output.write_text(roff, encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
