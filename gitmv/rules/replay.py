"""Replay: two versions' outputs on the same inputs, compared row by row, and the gate's replay bound.

Pure: the caller runs the replay command and hands the output files' bytes here; the promotion
rules hand the replay records of a version here. Nothing here runs anything or reads a repository.

Output files hold one prediction per row, in one of three formats (docs/policy.md, "Replay"):
- JSON lines: every line a JSON object with a `prediction` (a number or a label) and, optionally,
  an `id`;
- CSV with a header row naming a `prediction` column (and, optionally, an `id` column); a file
  whose first line is exactly `prediction` is a one-column CSV;
- anything else: one value per line.
A value that reads as a finite number is a number (`1` equals `1.0`), anything else a label. Both
outputs must have the same number of rows (and, when both carry ids, the same id on each row):
a replay compares row i with row i, and a shifted row would compare the wrong examples.
"""

from __future__ import annotations

import csv
import json
import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Sequence

from gitmv.errors import ReplayError
from gitmv.records import is_finite_number, record_is_intact
from gitmv.rules.gate import Criterion

if TYPE_CHECKING:
    from gitmv.policy import ReplayGate

TOP_N = 10  # rows a replay record keeps: the ones that differ most
MAX_OUTPUT_BYTES = 256 * 1024 * 1024
FORMAT_FIX = "write one prediction per row: JSON lines with a \"prediction\", CSV with a prediction column, or one value per line"

Scalar = int | float | str


@dataclass(frozen=True)
class Output:
    """One version's predictions: a value per row, the rows' ids when the file names them."""

    values: list[Scalar]
    ids: list[str] | None
    format: str  # "jsonl" | "csv" | "lines"


def _scalar(text: str) -> Scalar:
    """A number when the text is one (finite), else the label, stripped."""
    s = text.strip()
    try:
        number = int(s)
    except ValueError:
        try:
            value = float(s)
        except ValueError:
            return s
        return value if math.isfinite(value) else s
    return number


def _json_value(value: object, where: str) -> Scalar:
    if isinstance(value, bool):
        return "true" if value else "false"
    if is_finite_number(value) or isinstance(value, str):
        return value
    raise ReplayError(f"{where}: prediction must be a number or a label, got {json.dumps(value)[:40]}", FORMAT_FIX)


def parse_output(raw: bytes, what: str) -> Output:
    """The predictions in `raw` (the file a replay command wrote); `what` names it in errors."""
    if len(raw) > MAX_OUTPUT_BYTES:
        raise ReplayError(f"{what} is {len(raw)} bytes, over the {MAX_OUTPUT_BYTES} byte limit",
                          "replay on a sample of the production inputs")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ReplayError(f"{what} is not UTF-8 text", FORMAT_FIX) from exc
    lines = text.splitlines()
    while lines and not lines[-1].strip():
        lines.pop()
    if not lines:
        raise ReplayError(f"{what} is empty: no predictions", FORMAT_FIX)
    first = lines[0].strip()
    if first.startswith("{"):
        return _jsonl(lines, what)
    if first == "prediction" or "," in first:
        return _csv(lines, what)
    for n, line in enumerate(lines, 1):
        if not line.strip():
            raise ReplayError(f"{what}: row {n} is blank", FORMAT_FIX)
    return Output([_scalar(line) for line in lines], None, "lines")


def _jsonl(lines: list[str], what: str) -> Output:
    values: list[Scalar] = []
    ids: list[str] = []
    for n, line in enumerate(lines, 1):
        try:
            row = json.loads(line)
        except ValueError as exc:
            raise ReplayError(f"{what}: line {n} is not JSON ({exc})", FORMAT_FIX) from exc
        if not isinstance(row, dict) or "prediction" not in row:
            raise ReplayError(f"{what}: line {n} has no \"prediction\"", FORMAT_FIX)
        values.append(_json_value(row["prediction"], f"{what}: line {n}"))
        if "id" in row:
            ids.append(str(row["id"]))
    if ids and len(ids) != len(values):
        raise ReplayError(f"{what}: some lines have an \"id\" and some do not", "give every line an id, or none")
    return Output(values, ids or None, "jsonl")


def _csv(lines: list[str], what: str) -> Output:
    rows = list(csv.reader(lines))  # any iterable of lines: no file needed
    header = [h.strip() for h in rows[0]]
    if "prediction" not in header:
        raise ReplayError(f"{what}: the CSV header has no prediction column (it has: {', '.join(header)[:80]})",
                          FORMAT_FIX)
    col = header.index("prediction")
    id_col = header.index("id") if "id" in header else None
    values: list[Scalar] = []
    ids: list[str] = []
    for n, row in enumerate(rows[1:], 1):
        if len(row) != len(header):
            raise ReplayError(f"{what}: row {n} has {len(row)} columns, the header {len(header)}", FORMAT_FIX)
        values.append(_scalar(row[col]))
        if id_col is not None:
            ids.append(row[id_col].strip())
    if not values:
        raise ReplayError(f"{what} has a header and no rows", FORMAT_FIX)
    return Output(values, ids if id_col is not None else None, "csv")


def _is_number(value: Scalar) -> bool:
    return not isinstance(value, str)


def _same(a: Scalar, b: Scalar) -> bool:
    if _is_number(a) and _is_number(b):
        return a == b
    return _is_number(a) == _is_number(b) and a == b


def compare(candidate: Output, baseline: Output, *, candidate_name: str, baseline_name: str,
            top_n: int = TOP_N) -> dict[str, Any]:
    """Row-by-row comparison: how many rows agree, and for numbers the max and mean absolute
    difference; `top` holds the `top_n` rows that differ most (by absolute difference for
    numbers, else in row order), each with its 1-based `row`, both values and its `id` if any."""
    n, m = len(candidate.values), len(baseline.values)
    if n != m:
        raise ReplayError(f"{candidate_name} wrote {n} rows and {baseline_name} wrote {m}: a replay compares the "
                          "outputs row by row", "make the replay command write exactly one prediction per input row")
    ids = candidate.ids if candidate.ids is not None and baseline.ids is not None else None
    if ids is not None and baseline.ids is not None:
        for n_row, (a, b) in enumerate(zip(ids, baseline.ids, strict=True), 1):
            if a != b:
                raise ReplayError(f"row {n_row} has id {a!r} in {candidate_name}'s output and {b!r} in {baseline_name}'s",
                                  "write the predictions in the order of the input rows")
    numeric = all(_is_number(v) for v in candidate.values) and all(_is_number(v) for v in baseline.values)
    agree = sum(1 for a, b in zip(candidate.values, baseline.values, strict=True) if _same(a, b))
    result: dict[str, Any] = {"rows": n, "agree": agree, "agreement": agree / n,
                              "output": "numbers" if numeric else "labels", "format": candidate.format}
    differing: list[tuple[float, int]] = []
    if numeric:
        diffs = [abs(float(a) - float(b)) for a, b in zip(candidate.values, baseline.values, strict=True)]
        result["max_abs_diff"] = max(diffs)
        result["mean_abs_diff"] = sum(diffs) / n
        differing = sorted(((-d, i) for i, d in enumerate(diffs) if d > 0))
    else:
        differing = [(0.0, i) for i, (a, b) in enumerate(zip(candidate.values, baseline.values, strict=True)) if not _same(a, b)]
    top = []
    for neg, i in differing[:top_n]:
        entry: dict[str, Any] = {"row": i + 1, "candidate": candidate.values[i], "baseline": baseline.values[i]}
        if numeric:
            entry["abs_diff"] = -neg
        if ids is not None:
            entry["id"] = ids[i]
        top.append(entry)
    result["top"] = top
    return result


# ---------------------------------------------------------------- the gate's replay bound

def _count(value: object) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) and value >= 0 else None


def well_formed(rec: dict[str, Any]) -> bool:
    """A replay record the gate can read: intact, with row counts and (when numbers) finite diffs."""
    if rec.get("kind") != "replay" or not record_is_intact(rec):
        return False
    rows, agree = _count(rec.get("rows")), _count(rec.get("agree"))
    if rows is None or agree is None or rows == 0 or agree > rows:
        return False
    return all(is_finite_number(rec[k]) for k in ("max_abs_diff", "mean_abs_diff") if k in rec)


def bound_to(rec: dict[str, Any], *, model: str, version: str, digests: dict[str, str], against: str,
             against_tag: str, against_digests: dict[str, str], inputs: str) -> bool:
    """Is `rec` a replay of exactly this candidate (its digests) against exactly that version
    (its tag object and digests), on the policy's inputs?"""
    other = rec.get("against")
    given = rec.get("inputs")
    return (rec.get("model") == model and rec.get("version") == version and rec.get("artifacts") == digests
            and isinstance(other, dict) and other.get("version") == against and other.get("tag") == against_tag
            and other.get("artifacts") == against_digests
            and isinstance(given, dict) and given.get("path") == inputs)


def judge(bound: ReplayGate, rec: dict[str, Any], label: str) -> Criterion:
    """The replay criterion from one counted record; `label` names the version it was replayed against."""
    rid = f"record {str(rec.get('id'))[:19]}…"
    rows, agree = int(rec["rows"]), int(rec["agree"])
    parts, ok = [], True
    if bound.min_agreement is not None:
        good = agree / rows >= bound.min_agreement
        ok &= good
        parts.append(f"agreement {agree / rows:.4g} ({agree}/{rows} rows) {'≥' if good else '<'} "
                     f"{bound.min_agreement:g} required")
    if bound.max_abs_diff is not None:
        if "max_abs_diff" not in rec:
            ok = False
            parts.append(f"outputs are labels: max_abs_diff {bound.max_abs_diff:g} cannot be checked (use min_agreement)")
        else:
            good = float(rec["max_abs_diff"]) <= bound.max_abs_diff
            ok &= good
            parts.append(f"max abs diff {float(rec['max_abs_diff']):.6g} {'≤' if good else '>'} "
                         f"{bound.max_abs_diff:g} allowed")
    return Criterion("replay", ok, f"{'; '.join(parts)} vs {label} ({rid})")


def missing(model: str, version: str, label: str, against: str) -> Criterion:
    return Criterion("replay", False,
                     f"no signed replay of {version} against {label} bound to both versions' artifact digests — run "
                     f"'git mv-promote replay {model} {version} --against {against}' and push refs/notes/mv-promote")


def newest(candidates: Sequence[dict[str, Any]], positions: dict[str, int]) -> dict[str, Any] | None:
    """The record introduced last in the notes history (`positions`: id -> position, higher newer;
    a record the history does not show ranks lowest), ties broken canonically by (at, id)."""
    best, best_key = None, None
    for rec in candidates:
        key = (positions.get(str(rec.get("id")), -1), str(rec.get("at", "")), str(rec.get("id", "")))
        if best_key is None or key > best_key:
            best, best_key = rec, key
    return best
