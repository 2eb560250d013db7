"""Declarative shapes for the documents git mv-promote reads: the policy, records, metrics reports
and request files.

A spec says what a parsed TOML or JSON value must look like (`Value`, `Array`, `Table`, `Map`);
`check` walks a value against it and raises `Invalid` naming the dotted key path of the first
problem (`models.fraud.gate.thresholds.auc must be a number, got 'high'`); `validate` turns that
into the caller's own error class (PolicyError, RecordError, EvalError) with the caller's words
around it, so that every reader reports a bad document the same way. Tables are closed unless
declared open: a key nobody reads could be a typo that silently switches a check off.

Pure: no I/O and no knowledge of any one document; the documents' specs live with their readers.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Literal, NoReturn

Kind = Literal["unknown", "required", "type", "value"]


@dataclass(frozen=True)
class Problem:
    """What a check found: the words that follow the key path ("must be ≥ 0, got -1"), the fix if
    there is one, and, for a check on a table, the key path under that table it is about."""

    text: str
    fix: str | None = None
    at: tuple[str, ...] = ()


# A check sees a value that already has its declared type (a table's: with its fields checked and
# defaults filled in) and returns None when it is fine, else the problem (a bare string: no fix).
Check = Callable[[Any], "str | Problem | None"]


class Invalid(Exception):
    """A value does not fit its spec. `path` is the dotted key path (the comma-separated paths of
    the unknown keys when kind is "unknown"; "" for the document itself)."""

    def __init__(self, path: str, text: str, fix: str | None = None, kind: Kind = "value") -> None:
        self.path, self.text, self.fix, self.kind = path, text, fix, kind
        super().__init__(self.describe())

    def describe(self, unknown: str = "unknown key {keys}") -> str:
        if self.kind == "unknown":
            return unknown.replace("{keys}", self.path)
        return f"{self.path} {self.text}" if self.path else self.text


def key_path(path: str, *keys: str) -> str:
    """`models` + `churn` -> `models.churn`: key paths as the policy documentation writes them."""
    for key in keys:
        path = f"{path}.{key}" if path else key
    return path


def _show(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "…"


def _run_checks(checks: tuple[Check, ...], value: Any, path: str) -> None:
    for check_one in checks:
        found = check_one(value)
        if found is None:
            continue
        problem = Problem(found) if isinstance(found, str) else found
        raise Invalid(key_path(path, *problem.at), problem.text, problem.fix)


class Spec:
    """The shape of one value. Subclasses say which Python values are of their type (`fits`) and
    how to check what is inside (`inner`); `checks` then run on the checked value."""

    checks: tuple[Check, ...] = ()

    def must_be(self) -> str:
        raise NotImplementedError

    def fits(self, value: object) -> bool:
        raise NotImplementedError

    def inner(self, value: Any, path: str) -> Any:
        return value

    def check(self, value: object, path: str = "") -> Any:
        if not self.fits(value):
            raise Invalid(path, f"{self.must_be()}, got {_show(value)}", kind="type")
        out = self.inner(value, path)
        _run_checks(self.checks, out, path)
        return out


def _is_number(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _is_finite(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) or isinstance(value, float) and math.isfinite(value)


# type name -> (what fits, the words for what does not)
_SCALARS: dict[str, tuple[Callable[[object], bool], str]] = {
    "string": (lambda v: isinstance(v, str), "must be a string"),
    "boolean": (lambda v: isinstance(v, bool), "must be true or false"),
    "integer": (lambda v: isinstance(v, int) and not isinstance(v, bool), "must be an integer"),
    "number": (_is_number, "must be a number"),
    # TOML and JSON readers accept inf and nan; neither can be compared by a gate
    "finite number": (_is_finite, "is not a finite number"),
    "anything": (lambda v: True, ""),
}


@dataclass(frozen=True)
class Value(Spec):
    """A scalar of one type (or "anything": a value whose shape is not this reader's business),
    optionally one of a fixed set."""

    type: Literal["string", "boolean", "integer", "number", "finite number", "anything"]
    one_of: tuple[object, ...] = ()
    checks: tuple[Check, ...] = ()

    def must_be(self) -> str:
        return _SCALARS[self.type][1]

    def fits(self, value: object) -> bool:
        return _SCALARS[self.type][0](value)

    def inner(self, value: Any, path: str) -> Any:
        if self.one_of and value not in self.one_of:
            allowed = ", ".join(str(v) for v in self.one_of)
            raise Invalid(path, f"must be one of {allowed}, got {_show(value)}")
        return value


@dataclass(frozen=True)
class Array(Spec):
    """An array whose every item fits `item`; `Array(Table(...))` is TOML's array of tables."""

    item: Spec
    non_empty: bool = False
    checks: tuple[Check, ...] = ()

    def must_be(self) -> str:
        return "must be an array of tables" if isinstance(self.item, (Table, Map)) else "must be an array"

    def fits(self, value: object) -> bool:
        return isinstance(value, list)

    def inner(self, value: Any, path: str) -> Any:
        if self.non_empty and not value:
            raise Invalid(path, "must not be empty")
        return [self.item.check(v, f"{path}[{i}]") for i, v in enumerate(value)]


@dataclass(frozen=True)
class Field:
    """A key of a table. An absent key that is not required takes `default` (checked like a given
    value, so a default table gets its own defaults); with no default it stays absent."""

    spec: Spec
    required: bool = False
    default: Any = None


@dataclass(frozen=True)
class Table(Spec):
    """A table with known keys. Closed by default; an `open` table keeps keys it does not declare,
    unchecked (records that may gain fields within a schema)."""

    fields: Mapping[str, Field]
    open: bool = False
    checks: tuple[Check, ...] = ()

    def must_be(self) -> str:
        return "must be a table"

    def fits(self, value: object) -> bool:
        return isinstance(value, dict)

    def inner(self, value: Any, path: str) -> Any:
        out: dict[str, Any] = {}
        for name, f in self.fields.items():
            where = key_path(path, name)
            if name in value:
                out[name] = f.spec.check(value[name], where)
            elif f.required:
                raise Invalid(where, "is required", kind="required")
            elif f.default is not None:
                out[name] = f.spec.check(copy.deepcopy(f.default), where)
        extra = [k for k in value if k not in self.fields]
        if extra and not self.open:
            raise Invalid(", ".join(key_path(path, k) for k in sorted(extra)), "", kind="unknown")
        out.update((k, value[k]) for k in extra)
        return out


@dataclass(frozen=True)
class Map(Spec):
    """A table whose keys are names the user chooses (`[models.<name>]`, `metrics = {auc = …}`),
    each value fitting `value`; `key` checks each name (its problem is reported at its path)."""

    value: Spec
    key: Check | None = None
    non_empty: bool = False
    checks: tuple[Check, ...] = ()

    def must_be(self) -> str:
        return "must be a table"

    def fits(self, value: object) -> bool:
        return isinstance(value, dict)

    def inner(self, value: Any, path: str) -> Any:
        if self.non_empty and not value:
            raise Invalid(path, "must not be empty")
        out: dict[str, Any] = {}
        for name, item in value.items():
            where = key_path(path, str(name))
            if self.key is not None:
                _run_checks((self.key,), name, where)
            out[name] = self.value.check(item, where)
        return out


STRING = Value("string")
BOOLEAN = Value("boolean")
INTEGER = Value("integer")
NUMBER = Value("number")
FINITE = Value("finite number")
ANYTHING = Value("anything")


def at_least(low: float) -> Check:
    """A check that a number is ≥ `low`."""
    return lambda v: None if v >= low else f"must be ≥ {low:g}, got {_show(v)}"


def non_empty(value: Any) -> str | None:
    return None if value else "must not be empty"


@dataclass(frozen=True)
class Errors:
    """How one reader reports a document that does not fit: its error class, the words naming the
    document (`where`: "note on …" gives "note on …: record[0].id is required"), the phrase for
    unknown keys, and fixes for problems that carry none of their own."""

    error: Callable[[str, str | None], Exception]
    where: str = ""
    unknown: str = "unknown key {keys}"
    unknown_fix: str | None = None
    required_fix: str | None = None
    fix: str | None = None

    def raise_for(self, problem: Invalid) -> NoReturn:
        text = problem.describe(self.unknown)
        if self.where:
            text = f"{self.where}: {text}" if problem.path else f"{self.where} {text}"
        fix = problem.fix or {"unknown": self.unknown_fix, "required": self.required_fix}.get(problem.kind) or self.fix
        raise self.error(text, fix) from None


def validate(spec: Spec, value: object, errors: Errors) -> Any:
    """`value` checked against `spec` (with defaults filled in), or the caller's error."""
    try:
        return spec.check(value)
    except Invalid as problem:
        errors.raise_for(problem)

