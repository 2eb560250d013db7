"""Evaluate a churn model artifact on the holdout set.

    python eval.py ARTIFACT OUTPUT

Loads the pickled model from ARTIFACT (e.g. model.bin), scores
data/holdout.csv (next to this file) and writes OUTPUT as JSON:

    {"metrics": {"auc": .., "accuracy": .., "latency_ms": ..},
     "slices": {"region=eu": {"auc": .., "accuracy": ..},
                "region=us": {...}, "region=apac": {...}}}

All numbers are rounded to 4 decimals, and the output is byte-for-byte
reproducible for a given artifact.

latency_ms is a MODELLED serving cost, not a wall-clock measurement (which
would make the output non-reproducible): a linear model's per-row cost is
dominated by the multiply-adds of its nonzero weights, so

    latency_ms = LATENCY_BASE_MS + LATENCY_PER_COEF_MS * nonzero_coefficients
               = 0.05 + 0.025 * nnz            (30 dense features -> 0.8 ms)

Sparser models (train.penalty: l1) therefore report a lower latency.
"""
from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import csv  # noqa: E402
import json  # noqa: E402
import pickle  # noqa: E402
import sys  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402
from sklearn.metrics import accuracy_score, roc_auc_score  # noqa: E402

HERE = Path(__file__).resolve().parent
REGIONS = ("eu", "us", "apac")
NON_FEATURES = ("id", "region", "label")
LATENCY_BASE_MS = 0.05
LATENCY_PER_COEF_MS = 0.025
DIGITS = 4


def load_table(path: Path) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Return (X, y, region) from a CSV written by prepare.py."""
    with path.open(newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    features = [c for c in rows[0] if c not in NON_FEATURES]
    X = np.array([[float(r[c]) for c in features] for r in rows], dtype=np.float64)
    y = np.array([int(r["label"]) for r in rows], dtype=np.int64)
    region = np.array([r["region"] for r in rows])
    return X, y, region


def nonzero_coefficients(model) -> int:
    est = model.steps[-1][1] if hasattr(model, "steps") else model
    coef = getattr(est, "coef_", None)
    if coef is None:  # not a linear model: assume every input feature is used
        return int(getattr(model, "n_features_in_"))
    return int(np.count_nonzero(coef))


def scores(y: np.ndarray, proba: np.ndarray) -> dict:
    return {
        "auc": round(float(roc_auc_score(y, proba)), DIGITS),
        "accuracy": round(float(accuracy_score(y, (proba >= 0.5).astype(int))), DIGITS),
    }


def main(argv: list[str]) -> None:
    if len(argv) != 3:
        raise SystemExit("usage: python eval.py ARTIFACT OUTPUT")
    artifact, output = Path(argv[1]), Path(argv[2])
    holdout = HERE / "data" / "holdout.csv"
    if not holdout.exists():
        raise SystemExit(f"{holdout} is missing: run `python prepare.py` first")

    with artifact.open("rb") as fh:
        model = pickle.load(fh)  # only load artifacts you trust
    X, y, region = load_table(holdout)
    proba = model.predict_proba(X)[:, 1]

    latency = LATENCY_BASE_MS + LATENCY_PER_COEF_MS * nonzero_coefficients(model)
    result = {
        "metrics": {**scores(y, proba), "latency_ms": round(latency, DIGITS)},
        "slices": {
            f"region={r}": scores(y[region == r], proba[region == r]) for r in REGIONS
        },
    }
    text = json.dumps(result, indent=2) + "\n"
    tmp = output.with_name(output.name + ".tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, output)
    print(text, end="")


if __name__ == "__main__":
    main(sys.argv)
