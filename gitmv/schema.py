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
    """A value does not fit its spec. `keys` lead from the checked value to the problem (names of
    table keys, indexes of array items); they are collected on the way out of the walk, so a value
    that fits costs no path building. For kind "unknown", `unknown` holds the keys nobody declared."""

    def __init__(self, text: str, fix: str | None = None, kind: Kind = "value",
                 keys: tuple[str | int, ...] = (), unknown: tuple[str, ...] = ()) -> None:
        super().__init__(text)
        self.text, self.fix, self.kind = text, fix, kind
        self.keys: list[str | int] = list(keys)
        self.unknown = unknown

    def under(self, key: str | int) -> Invalid:
        self.keys.insert(0, key)
        return self

    @property
    def path(self) -> str:
        """The dotted key path (`models.churn.artifacts[0]`); for unknown keys, each one's path."""
        if self.kind == "unknown":
            return ", ".join(key_path(*self.keys, name) for name in self.unknown)
        return key_path(*self.keys)

    def describe(self, unknown: str = "unknown key {keys}") -> str:
        if self.kind == "unknown":
            return unknown.replace("{keys}", self.path)
        return f"{self.path} {self.text}" if self.keys else self.text

    def __str__(self) -> str:
        return self.describe()


def key_path(*keys: str | int) -> str:
    """`models`, `churn`, `artifacts`, 0 -> `models.churn.artifacts[0]`: key paths as the policy
    documentation writes them (a key holding a dot is written as it is, as before)."""
    out = ""
    for key in keys:
        if isinstance(key, int):
            out += f"[{key}]"
        elif key:
            out = f"{out}.{key}" if out else key
    return out


def _show(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "…"


def _run_checks(checks: tuple[Check, ...], value: Any) -> None:
    for check_one in checks:
        found = check_one(value)
        if found is None:
            continue
        problem = Problem(found) if isinstance(found, str) else found
        raise Invalid(problem.text, problem.fix, keys=problem.at)


class Spec:
    """The shape of one value. Subclasses say which Python values are of their type (`fits`) and
    how to check what is inside (`inner`); `checks` then run on the checked value."""

    checks: tuple[Check, ...] = ()

    def must_be(self) -> str:
        raise NotImplementedError

    def fits(self, value: object) -> bool:
        raise NotImplementedError

    def inner(self, value: Any) -> Any:
        return value

    def walk(self, value: object) -> Any:
        if not self.fits(value):
            raise Invalid(f"{self.must_be()}, got {_show(value)}", kind="type")
        out = self.inner(value)
        if self.checks:
            _run_checks(self.checks, out)
        return out

    def check(self, value: object, path: str = "") -> Any:
        """`value` checked (with defaults filled in), or Invalid; `path` names where it sits."""
        try:
            return self.walk(value)
        except Invalid as problem:
            raise (problem.under(path) if path else problem) from None


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

    def __post_init__(self) -> None:
        # Scalars are most of a walk (every record read from the cache is walked again), so each
        # Value gets its walk as one closure with nothing left to look up.
        fits, must_be = _SCALARS[self.type]
        one_of, checks = self.one_of, self.checks

        def walk(value: object) -> Any:
            if not fits(value):
                raise Invalid(f"{must_be}, got {_show(value)}", kind="type")
            if one_of and value not in one_of:
                raise Invalid(f"must be one of {', '.join(str(v) for v in one_of)}, got {_show(value)}")
            if checks:
                _run_checks(checks, value)
            return value

        object.__setattr__(self, "walk", walk)
        # the exact Python types a parser gives this scalar, for the fast path of a table (only a
        # scalar with nothing more to check has them; anything else takes its walk)
        exact = {"string": (str,), "boolean": (bool,), "integer": (int,), "number": (int, float)}.get(self.type)
        object.__setattr__(self, "exact", frozenset(exact) if exact and not one_of and not checks else None)

    def must_be(self) -> str:
        return _SCALARS[self.type][1]

    def fits(self, value: object) -> bool:
        return _SCALARS[self.type][0](value)


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

    def inner(self, value: Any) -> Any:
        if self.non_empty and not value:
            raise Invalid("must not be empty")
        if self.item is ANYTHING:
            return list(value)
        out = []
        for i, item in enumerate(value):
            try:
                out.append(self.item.walk(item))
            except Invalid as problem:
                raise problem.under(i) from None
        return out


@dataclass(frozen=True)
class Field:
    """A key of a table. An absent key that is not required takes `default` (checked like a given
    value, so a default table gets its own defaults); with no default it stays absent."""

    spec: Spec
    required: bool = False
    default: Any = None


class _Tabular(Spec):
    """What Table and Map share: the value is a TOML table (a dict)."""

    def must_be(self) -> str:
        return "must be a table"

    def fits(self, value: object) -> bool:
        return isinstance(value, dict)


@dataclass(frozen=True)
class Table(_Tabular):
    """A table with known keys. Closed by default; an `open` table keeps keys it does not declare,
    unchecked (records that may gain fields within a schema)."""

    fields: Mapping[str, Field]
    open: bool = False
    checks: tuple[Check, ...] = ()

    def __post_init__(self) -> None:
        fields = self.fields.items()
        exact = {name: getattr(f.spec, "exact", None) for name, f in fields}
        object.__setattr__(self, "_exact", {name: types for name, types in exact.items() if types})
        object.__setattr__(self, "_walks", {name: f.spec.walk for name, f in fields if not exact[name]})
        object.__setattr__(self, "_required", frozenset(name for name, f in fields if f.required))
        object.__setattr__(self, "_defaults", tuple((name, f.spec.walk, f.default) for name, f in fields
                                                    if not f.required and f.default is not None))

    def inner(self, value: Any) -> Any:
        # The common case first, a table that fits, in one pass: plain scalars by their exact
        # type, the rest by their walk (every record read from the record cache is walked again,
        # so this is on the path of every listing). Anything else takes the walk in declared
        # order, which reports the first problem independently of the order of the document's keys.
        exact: dict[str, frozenset[type]] = self._exact  # type: ignore[attr-defined]
        walks: dict[str, Callable[[object], Any]] = self._walks  # type: ignore[attr-defined]
        keys = value.keys()
        if self._required <= keys and (self.open or keys <= self.fields.keys()):  # type: ignore[attr-defined]
            try:
                out = dict(value)
                for k, v in value.items():
                    types = exact.get(k)
                    if types is not None:
                        if type(v) not in types:
                            raise Invalid("")
                    elif k in walks:
                        out[k] = walks[k](v)
            except Invalid:
                pass
            else:
                for name, walk, default in self._defaults:  # type: ignore[attr-defined]
                    if name not in out:
                        out[name] = walk(copy.deepcopy(default))
                return out
        return self._in_order(value)

    def _in_order(self, value: dict[str, Any]) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for name, f in self.fields.items():
            try:
                if name in value:
                    out[name] = f.spec.walk(value[name])
                elif f.required:
                    raise Invalid("is required", kind="required")
                elif f.default is not None:
                    out[name] = f.spec.walk(copy.deepcopy(f.default))
            except Invalid as problem:
                raise problem.under(name) from None
        extra = [k for k in value if k not in self.fields]
        if extra and not self.open:
            raise Invalid("", kind="unknown", unknown=tuple(sorted(extra)))
        out.update((k, value[k]) for k in extra)
        return out


@dataclass(frozen=True)
class Map(_Tabular):
    """A table whose keys are names the user chooses (`[models.<name>]`, `metrics = {auc = …}`),
    each value fitting `value`; `key` checks each name (its problem is reported at its path)."""

    value: Spec
    key: Check | None = None
    non_empty: bool = False
    checks: tuple[Check, ...] = ()

    def inner(self, value: Any) -> Any:
        if self.non_empty and not value:
            raise Invalid("must not be empty")
        out: dict[str, Any] = {}
        for name, item in value.items():
            try:
                if self.key is not None:
                    _run_checks((self.key,), name)
                out[name] = self.value.walk(item)
            except Invalid as problem:
                raise problem.under(str(name)) from None
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
            text = f"{self.where}: {text}" if problem.keys or problem.unknown else f"{self.where} {text}"
        fix = problem.fix or {"unknown": self.unknown_fix, "required": self.required_fix}.get(problem.kind) or self.fix
        raise self.error(text, fix) from None


def validate(spec: Spec, value: object, errors: Errors) -> Any:
    """`value` checked against `spec` (with defaults filled in), or the caller's error."""
    try:
        return spec.check(value)
    except Invalid as problem:
        errors.raise_for(problem)

