"""Prepare the churn example data set.

Loads the breast-cancer data set that ships inside scikit-learn (no download),
stands it in for a "churn" table (target 1/0), adds a deterministic `region`
column used for slice metrics, and splits it with a fixed seed into

    data/train.csv      (training rows)
    data/holdout.csv    (evaluation rows)

`region` is the tertile bucket of one feature (``prepare.region_feature`` in
params.yaml, "mean radius"): lowest third -> ``us``, middle third -> ``eu``,
top third -> ``apac``. The middle third is named ``eu`` on purpose: it is the
slice with the most even class mix, so its AUC is the most informative one
and the demo's slice regression (train.region_weight.eu) is visible there.
Cut points are computed on the full data set before splitting, so they do not
depend on the split. The split is stratified on (region, label) so every
holdout slice contains both classes.

The CSVs list rows in original data set order and write floats with repr(),
so the files are byte-identical run to run and round-trip exactly.

Usage:  python prepare.py        (run from anywhere; paths are relative to
                                  this file's directory)
"""
from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import yaml
from sklearn.datasets import load_breast_cancer
from sklearn.model_selection import train_test_split

HERE = Path(__file__).resolve().parent
# Region name of the low / middle / high tertile of the region feature.
TERTILE_REGIONS = ("us", "eu", "apac")
REGIONS = ("eu", "us", "apac")  # report order


def column_name(feature: str) -> str:
    return feature.replace(" ", "_")


def write_csv(path: Path, header: list[str], rows: list[list[str]]) -> None:
    with path.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh, lineterminator="\n")
        writer.writerow(header)
        writer.writerows(rows)


def main() -> None:
    params = yaml.safe_load((HERE / "params.yaml").read_text(encoding="utf-8"))["prepare"]
    data = load_breast_cancer()
    X, y = data.data, data.target
    features = [str(f) for f in data.feature_names]

    region_idx = features.index(params["region_feature"])
    cuts = np.quantile(X[:, region_idx], [1 / 3, 2 / 3])
    region = np.array(TERTILE_REGIONS)[np.digitize(X[:, region_idx], cuts)]

    # Stratify on (region, label) so every holdout slice keeps both classes.
    strata = np.char.add(region.astype(str), y.astype(str))
    idx_train, idx_holdout = train_test_split(
        np.arange(len(y)),
        test_size=float(params["holdout_fraction"]),
        random_state=int(params["seed"]),
        stratify=strata,
    )

    header = ["id", "region"] + [column_name(f) for f in features] + ["label"]
    out_dir = HERE / "data"
    out_dir.mkdir(exist_ok=True)
    for name, idx in (("train", idx_train), ("holdout", idx_holdout)):
        rows = [
            [str(i), str(region[i])] + [repr(float(v)) for v in X[i]] + [str(int(y[i]))]
            for i in sorted(int(j) for j in idx)
        ]
        write_csv(out_dir / f"{name}.csv", header, rows)
        counts = {r: sum(1 for row in rows if row[1] == r) for r in REGIONS}
        print(f"data/{name}.csv: {len(rows)} rows {counts}")


if __name__ == "__main__":
    main()
