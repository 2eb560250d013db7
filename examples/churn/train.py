"""Train the churn example model.

Reads params.yaml (section ``train``) and data/train.csv, fits
StandardScaler -> LogisticRegression and writes ``model.bin`` (a pickle of the
fitted sklearn Pipeline).

The output is byte-deterministic: the same params and data give the same
model.bin bytes (same Python / numpy / scikit-learn versions). To get there we
pin BLAS/OpenMP to one thread, use fixed seeds and a fixed pickle protocol.

Params (params.yaml, ``train:``):
  seed           random_state of the solver
  C              inverse regularisation strength
  penalty        "l2" (lbfgs) or "l1" (liblinear; zeroes out coefficients,
                 which lowers the modelled latency_ms reported by eval.py)
  max_iter       solver iteration cap
  region_weight  {eu, us, apac} sample weight of each region's training rows;
                 0.0 drops that region, 1.0 everywhere is plain training.

Usage:  python train.py [OUTPUT]     (OUTPUT defaults to model.bin next to this file)
"""
from __future__ import annotations

import os

# Single-threaded numerics => bit-identical floating point results run to run.
for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import csv  # noqa: E402
import inspect  # noqa: E402
import pickle  # noqa: E402
import sys  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402
import yaml  # noqa: E402
from sklearn.linear_model import LogisticRegression  # noqa: E402
from sklearn.pipeline import Pipeline  # noqa: E402
from sklearn.preprocessing import StandardScaler  # noqa: E402

HERE = Path(__file__).resolve().parent
PICKLE_PROTOCOL = 4
NON_FEATURES = ("id", "region", "label")


def load_table(path: Path) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Return (X, y, region) from a CSV written by prepare.py."""
    with path.open(newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    features = [c for c in rows[0] if c not in NON_FEATURES]
    X = np.array([[float(r[c]) for c in features] for r in rows], dtype=np.float64)
    y = np.array([int(r["label"]) for r in rows], dtype=np.int64)
    region = np.array([r["region"] for r in rows])
    return X, y, region


def make_classifier(p: dict) -> LogisticRegression:
    penalty = str(p.get("penalty", "l2")).lower()
    if penalty not in ("l1", "l2"):
        raise SystemExit(f"train.penalty must be l1 or l2, got {penalty!r}")
    kwargs = dict(
        C=float(p.get("C", 1.0)),
        max_iter=int(p.get("max_iter", 5000)),
        random_state=int(p.get("seed", 0)),
        solver="liblinear" if penalty == "l1" else "lbfgs",
    )
    # scikit-learn >= 1.8 deprecates `penalty` in favour of `l1_ratio`.
    if inspect.signature(LogisticRegression).parameters["penalty"].default == "deprecated":
        kwargs["l1_ratio"] = 1.0 if penalty == "l1" else 0.0
    else:
        kwargs["penalty"] = penalty
    return LogisticRegression(**kwargs)


def main(argv: list[str]) -> None:
    out = Path(argv[1]) if len(argv) > 1 else HERE / "model.bin"
    p = yaml.safe_load((HERE / "params.yaml").read_text(encoding="utf-8"))["train"]
    X, y, region = load_table(HERE / "data" / "train.csv")

    weights = {"eu": 1.0, "us": 1.0, "apac": 1.0}
    for name, value in (p.get("region_weight") or {}).items():
        if name not in weights or float(value) < 0:
            raise SystemExit(f"train.region_weight: bad entry {name}: {value} "
                             f"(regions: {', '.join(weights)}; weight >= 0)")
        weights[name] = float(value)
    w = np.array([float(weights[r]) for r in region])
    keep = w > 0  # weight 0 => drop the rows entirely
    model = Pipeline([("scale", StandardScaler()), ("clf", make_classifier(p))])
    model.fit(X[keep], y[keep], clf__sample_weight=w[keep])

    blob = pickle.dumps(model, protocol=PICKLE_PROTOCOL)
    tmp = out.with_name(out.name + ".tmp")
    tmp.write_bytes(blob)
    os.replace(tmp, out)
    nnz = int(np.count_nonzero(model.named_steps["clf"].coef_))
    print(f"wrote {out.name}: {len(blob)} bytes, {int(keep.sum())} training rows, "
          f"{nnz} nonzero coefficients")


if __name__ == "__main__":
    main(sys.argv)
