"""A fast, exact reader of the canonical TOML form of records (records.to_toml).

Every read of a record checks that its bytes are the canonical rendering of what they parse to
(a re-encoded note or tag must not hide a record: the Trust issue). Done with tomllib plus a full
tomli_w re-render, that costs about a millisecond per version, which is most of a cold `show` or
`history` of a large registry. This module does the same check much cheaper for the subset of TOML
that tomli_w writes for our records, and declines (returns None) for anything else, so the caller
falls back to tomllib and the full re-render, unchanged.

`loads(text)` returns a value only when `render(value) == text`, where `render` is a small
re-implementation of `records.to_toml` (tomli_w over sorted keys) that raises for any value it is
not sure to render exactly as tomli_w does. So what is returned never depends on this parser
being right, only on `render` agreeing with tomli_w where it answers at all; and since tomli_w's
output reads back through tomllib to the value written, `tomllib.loads(text) == loads(text)`.
tests/test_canonical.py checks both properties with hypothesis and mutated real records.
"""

from __future__ import annotations

import math
import re
from typing import Any

_BARE_KEY = re.compile(r"[A-Za-z0-9_-]+")
_BASIC = r'"(?:[^"\\]|\\.)*"'
_KEY_PART = re.compile(rf"[A-Za-z0-9_-]+|{_BASIC}")
_QUOTED_KEY = re.compile(_BASIC)
_INT = re.compile(r"-?(?:0|[1-9][0-9]*)")
_FLOAT = re.compile(r"-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:e[+-]?[0-9]+)?")
_ESCAPE = re.compile(r"\\(u[0-9a-fA-F]{4}|[bnfr\"\\])")
_UNESCAPE = {"b": "\b", "n": "\n", "f": "\f", "r": "\r", '"': '"', "\\": "\\"}
# what tomli_w escapes in a basic string, and how (format_string: compact escapes, else \uXXXX)
_NEEDS_ESCAPE = re.compile(r'[\x00-\x08\x0a-\x1f\x7f"\\]')
_ESCAPES = {chr(i): f"\\u{i:04x}" for i in [*range(0x00, 0x09), *range(0x0a, 0x20), 0x7f]}
_ESCAPES.update({"\b": "\\b", "\n": "\\n", "\f": "\\f", "\r": "\\r", '"': '\\"', "\\": "\\\\"})
_MAX_INLINE = 100  # tomli_w's MAX_LINE_LENGTH: a table of an array renders inline below it


class _Decline(Exception):
    """Not something this reader is sure of: the caller takes the general path."""


# ---------------------------------------------------------------- reading

def loads(text: str) -> dict[str, Any] | None:
    """The value of canonical TOML `text`, or None when this reader cannot prove `text` is the
    canonical rendering of it (then use tomllib and a full re-render)."""
    try:
        value = _parse(text)
        return value if render(value) == text else None
    except (_Decline, ValueError, IndexError, KeyError, TypeError, RecursionError):
        return None  # RecursionError: a table path nested past the stack (the general path refuses it)


def _parse(text: str) -> dict[str, Any]:
    root: dict[str, Any] = {}
    arrays: set[int] = set()  # ids of the lists made by [[...]] headers (never a literal array)
    current = root
    lines = text.split("\n")
    if lines.pop() != "":
        raise _Decline  # canonical text ends with a newline (or is empty)
    i, n = 0, len(lines)
    while i < n:
        line = lines[i]
        i += 1
        if not line:
            continue  # blank lines: their places are checked by the re-render
        first = line[0]
        if first == "[":
            current = _header(line, root, arrays)
            continue
        if first == '"':
            m = _QUOTED_KEY.match(line)
            if m is None or line[m.end():m.end() + 3] != " = ":
                raise _Decline
            key, value_text = _string(m.group()), line[m.end() + 3:]
        else:
            key, sep, value_text = line.partition(" = ")
            if not sep:
                raise _Decline
        if key in current:
            raise _Decline
        if value_text[-1:] == '"' and value_text[0] == '"' and len(value_text) > 1 and "\\" not in value_text:
            current[key] = value_text[1:-1]  # a string without escapes, the most common value
        elif value_text == "[":
            items = []
            while lines[i] != "]":
                item = lines[i]
                if not (item.startswith("    ") and item.endswith(",")):
                    raise _Decline
                items.append(_scalar(item[4:-1]))
                i += 1
            i += 1
            current[key] = items
        elif value_text == "[]":
            current[key] = []
        else:
            current[key] = _scalar(value_text)
    return root


def _header(line: str, root: dict[str, Any], arrays: set[int]) -> dict[str, Any]:
    """The table a `[a.b]` or `[[a]]` line opens (an array of tables only at the top)."""
    if line.startswith("[["):
        if not line.endswith("]]"):
            raise _Decline
        path = _key_path(line[2:-2])
        if len(path) != 1:
            raise _Decline
        tables = root.setdefault(path[0], [])
        if not isinstance(tables, list) or id(tables) not in arrays and tables:
            raise _Decline
        arrays.add(id(tables))
        table: dict[str, Any] = {}
        tables.append(table)
        return table
    if not line.endswith("]"):
        raise _Decline
    *parents, last = _key_path(line[1:-1])
    node = root
    for part in parents:
        node = node.setdefault(part, {})
        if isinstance(node, list) and id(node) in arrays:
            node = node[-1]
        if not isinstance(node, dict):
            raise _Decline
    if last in node:
        raise _Decline
    node[last] = {}
    return node[last]


def _key_path(text: str) -> list[str]:
    if '"' not in text:
        return text.split(".")  # bare keys only (a part that is not one fails the re-render)
    parts = []
    pos = 0
    while True:
        m = _KEY_PART.match(text, pos)
        if m is None:
            raise _Decline
        part = m.group()
        parts.append(_string(part) if part[0] == '"' else part)
        pos = m.end()
        if pos == len(text):
            return parts
        if text[pos] != ".":
            raise _Decline
        pos += 1


def _string(token: str) -> str:
    if len(token) < 2 or token[0] != '"' or token[-1] != '"':
        raise _Decline
    inner = token[1:-1]
    if "\\" not in inner:
        return inner
    return _ESCAPE.sub(_unescape, inner)


def _unescape(m: re.Match[str]) -> str:
    code = m.group(1)
    return chr(int(code[1:], 16)) if code[0] == "u" else _UNESCAPE[code]


def _scalar(text: str) -> Any:
    first = text[:1]
    if first == '"':
        return _string(text)
    if text == "true":
        return True
    if text == "false":
        return False
    if _INT.fullmatch(text):
        return int(text)
    if _FLOAT.fullmatch(text):
        return float(text)
    raise _Decline  # inline tables, nested arrays, dates, inf/nan, anything else


def same(a: Any, b: Any) -> bool:
    """Equal and of the same types all the way down (== alone takes 1, 1.0 and True for one
    another, which TOML writes differently)."""
    if a is b:
        return True
    if type(a) is not type(b):
        return False
    if type(a) is dict:
        return a.keys() == b.keys() and all(same(v, b[k]) for k, v in a.items())
    if type(a) is list:
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b, strict=True))
    return bool(a == b)


# ---------------------------------------------------------------- rendering

def render(value: dict[str, Any]) -> str:
    """`records.to_toml(value)` for the values this module reads; raises for any other value
    (rather than guess how tomli_w would write it)."""
    out: list[str] = []
    _table(value, "", False, out)
    return "".join(out)


def _table(table: dict[str, Any], name: str, inside_array: bool, out: list[str]) -> bool:
    """tomli_w's gen_table_chunks over keys sorted and None dropped (records._clean). Returns
    True when tomli_w would surely not write this table inline in an array (is_suitable_inline_table):
    its inline form would hold a newline (any non-empty array does) or be longer than a line,
    which it is when its own `key = value` pairs alone are (they appear in it verbatim)."""
    literals: list[str] = []
    tables: list[tuple[str, Any, bool]] = []
    size = 0
    for k, v in sorted(table.items()):
        if type(k) is not str:
            raise _Decline
        kind = type(v)  # exact types: a subclass of dict or list is declined by _literal
        if kind is dict:
            tables.append((k, v, False))
        elif kind is list and v and type(v[0]) is dict:
            if not all(type(t) is dict for t in v):
                raise _Decline
            tables.append((k, v, True))
            size += _MAX_INLINE + 1
        elif v is not None:
            line = f"{_key(k)} = {_literal(v)}\n"
            size += len(line) - 1 + (_MAX_INLINE + 1 if kind is list and v else 0)
            literals.append(line)
    yielded = False
    if inside_array or name and (literals or not tables):
        yielded = True
        out.append(f"[[{name}]]\n" if inside_array else f"[{name}]\n")
    if literals:
        yielded = True
        out.extend(literals)
    for k, v, in_array in tables:
        part = _key(k)
        full = f"{name}.{part}" if name else part
        if not in_array:
            if yielded:
                out.append("\n")
            yielded = True
            _table(v, full, False, out)
            continue
        # tomli_w writes an array of tables as [[k]] tables unless each would fit inline
        chunks: list[str] = []
        wide = False
        for t in v:
            if yielded:
                chunks.append("\n")
            yielded = True
            wide = _table(t, full, True, chunks) or wide
        if not wide:
            raise _Decline
        out.extend(chunks)
    return size > _MAX_INLINE


def _key(key: str) -> str:
    found = _KEYS.get(key)
    if found is None:
        found = key if _BARE_KEY.fullmatch(key) else _basic(key)
        if len(_KEYS) < 4096:  # record keys are few; paths and slice names must not grow it without end
            _KEYS[key] = found
    return found


_KEYS: dict[str, str] = {}


def _basic(text: str) -> str:
    if _NEEDS_ESCAPE.search(text) is None:
        return f'"{text}"'
    return '"' + _NEEDS_ESCAPE.sub(_escape, text) + '"'


def _escape(m: re.Match[str]) -> str:
    return _ESCAPES[m.group()]


def _literal(value: Any) -> str:
    kind = type(value)
    if kind is str:
        return _basic(value)
    if kind is bool:
        return "true" if value else "false"
    if kind is int:
        return str(value)
    if kind is float:
        if not math.isfinite(value):
            raise _Decline  # nan does not equal itself: leave it to the general path
        return str(value)
    if kind is list:
        if not value:
            return "[]"
        if any(type(item) in (list, dict) for item in value):
            raise _Decline
        return "[\n" + ",\n".join("    " + _literal(item) for item in value) + ",\n]"
    raise _Decline
