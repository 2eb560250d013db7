"""The one place that writes to the terminal, so `--json` is one switch."""

from __future__ import annotations

import json
import sys
from typing import Any, Iterable, Sequence


def emit_json(data: Any) -> None:
    sys.stdout.write(json.dumps(data, indent=2, sort_keys=True, default=str) + "\n")


def line(text: str = "") -> None:
    sys.stdout.write(text + "\n")


def lines(texts: Iterable[str]) -> None:
    for text in texts:
        line(text)


def error(text: str) -> None:
    sys.stderr.write(text + "\n")


def progress(text: str) -> None:
    """Transient status on stderr, only when stderr is a terminal."""
    if sys.stderr.isatty():
        sys.stderr.write("\r\x1b[K" + text)  # clear the line: a shorter status must not show the last one's tail
        sys.stderr.flush()


def progress_done() -> None:
    if sys.stderr.isatty():
        sys.stderr.write("\r\x1b[K")
        sys.stderr.flush()


def table(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
    cells = [[str(h) for h in headers]] + [["" if c is None else str(c) for c in r] for r in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(headers))]
    for n, row in enumerate(cells):
        line("  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip())
        if n == 0:
            line("  ".join("-" * w for w in widths))
