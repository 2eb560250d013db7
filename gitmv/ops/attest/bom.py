"""A CycloneDX 1.6 ML-BOM for a version: the model as a `machine-learning-model` component with
its artifacts' hashes and a model card whose quantitative analysis holds the newest eval's
metrics, overall and per slice. Format: https://cyclonedx.org/docs/1.6/json/ (plain dicts, no I/O)."""

from __future__ import annotations

import uuid
from typing import Any

from gitmv.ops.attest.statements import RECORD_URI, _hex

# a fixed namespace: the same version tag always gets the same serial number
_SERIAL_NS = uuid.UUID("6f1d0d3e-4a57-5d5e-9b1c-6d76c2a7e0a1")


def _metric(name: str, value: float, slice_name: str | None = None) -> dict:
    out = {"type": name, "value": repr(float(value)) if isinstance(value, float) else str(value)}
    if slice_name:
        out["slice"] = slice_name
    return out


def ml_bom(record: dict, *, tag: str, url: str | None, eval_record: dict | None, tool_version: str,
           stages: list[str]) -> dict[str, Any]:
    model, version = record["model"], record["version"]
    ref = f"pkg:generic/{model}@{version}"
    files = [{"type": "file", "bom-ref": f"{ref}#{path}", "name": path,
              "hashes": [{"alg": "SHA-256", "content": meta["sha256"]}]}
             for path, meta in sorted(record["artifacts"].items())]
    metrics: list[dict] = []
    card: dict[str, Any] = {}
    if eval_record is not None:
        metrics += [_metric(k, v) for k, v in sorted(eval_record["metrics"].items())]
        for slice_name, values in sorted((eval_record.get("slices") or {}).items()):
            metrics += [_metric(k, v, slice_name) for k, v in sorted(values.items())]
        card["quantitativeAnalysis"] = {"performanceMetrics": metrics}
        card["properties"] = [{"name": "mv-promote:eval-record", "value": eval_record["id"]},
                              {"name": "mv-promote:eval-suite", "value": str(eval_record.get("suite", ""))}]
    external = [{"type": "vcs", "url": f"git+{url}" if url else "git+file:.",
                 "comment": f"code commit {record['commit']}, version tag {tag}"}]
    component: dict[str, Any] = {
        "type": "machine-learning-model", "bom-ref": ref, "name": model, "version": version,
        "description": record.get("message") or f"{model} {version}",
        "hashes": [{"alg": "SHA-256", "content": meta["sha256"]} for _, meta in sorted(record["artifacts"].items())],
        "externalReferences": external,
        "properties": [{"name": "mv-promote:commit", "value": record["commit"]},
                       {"name": "mv-promote:version-tag", "value": tag},
                       {"name": "mv-promote:tier", "value": record["tier"]},
                       {"name": "mv-promote:policy-digest", "value": _hex(record["policy_digest"])}]
                      + [{"name": "mv-promote:stage", "value": s} for s in stages]
                      + ([{"name": "mv-promote:run-id", "value": record["run_id"]}] if record.get("run_id") else []),
    }
    if card:
        component["modelCard"] = card
    return {
        "bomFormat": "CycloneDX", "specVersion": "1.6",
        "serialNumber": f"urn:uuid:{uuid.uuid5(_SERIAL_NS, tag)}", "version": 1,
        "metadata": {"timestamp": record["created_at"],
                     "tools": {"components": [{"type": "application", "name": "git-mv-promote",
                                               "version": tool_version}]},
                     "component": component},
        "components": files,
        "externalReferences": [{"type": "other", "url": RECORD_URI + tag, "comment": "the version tag object"}],
    }
