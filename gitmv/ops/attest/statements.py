"""The in-toto statements `attest` signs, built from the registry's records (plain dicts in, plain
dicts out; no I/O). Formats:

- Statement v1: https://github.com/in-toto/attestation/blob/main/spec/v1/statement.md
- SLSA Provenance v1: https://slsa.dev/spec/v1.0/provenance
- Test Result v0.1: https://github.com/in-toto/attestation/blob/main/spec/predicates/test-result.md
- Verification Summary v1: https://slsa.dev/spec/v1.0/verification_summary
- OpenSSF Model Signing v1.0 (the payload `model_signing` signs and verifies)
"""

from __future__ import annotations

import hashlib
import posixpath
from typing import Any

STATEMENT_TYPE = "https://in-toto.io/Statement/v1"
PROVENANCE = "https://slsa.dev/provenance/v1"
TEST_RESULT = "https://in-toto.io/attestation/test-result/v0.1"
VSA = "https://slsa.dev/verification_summary/v1"
MODEL_SIGNING = "https://model_signing/signature/v1.0"
PREDICATES = (PROVENANCE, TEST_RESULT, VSA, MODEL_SIGNING)

# Our own type URIs (URNs: no web page is implied): what a registration is, who verifies a gate.
BUILD_TYPE = "urn:git-mv-promote:buildtype:registered-version:v1"
BUILDER_ID = "urn:git-mv-promote:builder"
VERIFIER_ID = "urn:git-mv-promote:gate"
RECORD_URI = "urn:git-mv-promote:record:"
# what a promotion's approval evidence says, carried into the VSA (the rest is in the approval record)
APPROVAL_FACTS = ("approvers", "requester", "pr", "request_file", "request_sha256", "request_commit")


def statement(subjects: list[dict], predicate_type: str, predicate: dict) -> dict[str, Any]:
    return {"_type": STATEMENT_TYPE, "subject": subjects, "predicateType": predicate_type, "predicate": predicate}


def subjects_of(artifacts: dict[str, dict]) -> list[dict]:
    """The version's artifacts, by path, with their sha256 digests."""
    return [{"name": path, "digest": {"sha256": meta["sha256"]}} for path, meta in sorted(artifacts.items())]


def _hex(digest: str) -> str:
    return digest.split(":", 1)[1] if ":" in digest else digest


def source_uri(url: str | None, commit: str) -> dict:
    return {"uri": f"git+{url}" if url else "git+file:.", "digest": {"gitCommit": commit}}


def pin_dependency(pin: dict, sha256: str | None) -> dict:
    """A DVC pin as a resource: DVC's md5 (of the file, or of DVC's listing for a directory, then
    marked `dvcObject = "dir"`), with the sha256 of the content where it was available."""
    md5 = str(pin.get("md5", ""))
    digest: dict[str, str] = {}
    annotations: dict[str, Any] = {"pinnedBy": pin.get("source")}
    if md5.endswith(".dir"):
        digest["md5"] = md5[:-4]
        annotations["dvcObject"] = "dir"
    elif md5:
        digest["md5"] = md5
    if sha256:
        digest["sha256"] = sha256
    for key in ("size", "nfiles", "remote", "stage"):
        if pin.get(key) is not None:
            annotations["dvcRemote" if key == "remote" else key] = pin[key]
    return {"name": pin.get("path"), "digest": digest, "annotations": annotations}


def provenance(record: dict, *, url: str | None, tag: str, ref: str, pins: list[dict], version: str) -> dict:
    """SLSA Provenance v1 of a registered version: code commit, params, seeds as external
    parameters; the code, the data pins, the lockfile and the params file as resolved
    dependencies; the training run id as the invocation id."""
    external: dict[str, Any] = {"source": source_uri(url, record["commit"]), "model": record["model"],
                                "version": record["version"]}
    if record.get("params"):
        external["params"] = record["params"].get("values", {})
    if record.get("seeds"):
        external["seeds"] = record["seeds"]
    deps = [{"name": "source", **source_uri(url, record["commit"])}]
    deps += pins
    for key in ("lockfile", "params", "model_card"):
        item = record.get(key)
        if item and item.get("sha256"):
            deps.append({"name": item.get("path", key), "digest": {"sha256": _hex(item["sha256"])},
                         "annotations": {"role": key}})
    metadata: dict[str, Any] = {"finishedOn": record["created_at"]}
    if record.get("run_id"):
        metadata["invocationId"] = record["run_id"]
    predicate = {
        "buildDefinition": {
            "buildType": BUILD_TYPE, "externalParameters": external,
            "internalParameters": {"tier": record["tier"], "policyDigest": record["policy_digest"]},
            "resolvedDependencies": deps,
        },
        "runDetails": {
            "builder": {"id": BUILDER_ID, "version": {"git-mv-promote": version}},
            "metadata": metadata,
            "byproducts": [{"name": ref, "digest": {"gitTag": tag}, "annotations": {"registeredBy": record["created_by"]}}],
        },
    }
    return statement(subjects_of(record["artifacts"]), PROVENANCE, predicate)


def criterion_name(line: str) -> str:
    """`pass: auc >= threshold: 0.85 >= 0.8` -> `auc >= threshold` (a stage record's gate line)."""
    parts = line.split(": ", 2)
    return parts[1] if len(parts) > 1 else line


def test_result(artifacts: dict[str, dict], entry: dict, *, url: str | None, stage_tag: str) -> dict:
    """One gate evaluation (the gate a stage record carries): each criterion a named test."""
    gate = entry.get("gate") or {}
    lines = gate.get("criteria") or []
    passed = [criterion_name(c) for c in lines if c.startswith("pass")]
    failed = [criterion_name(c) for c in lines if not c.startswith("pass")]
    config = [{"name": ".mv-promote.toml", "digest": {"sha256": _hex(entry["policy_digest"])}}]
    if entry.get("eval_record"):
        config.append({"uri": RECORD_URI + entry["eval_record"], "digest": {"sha256": _hex(entry["eval_record"])},
                       "annotations": {"role": "eval record"}})
    ref = f"refs/tags/mv/{entry['model']}/{entry['stage']}/{entry['seq']}"
    predicate = {"result": "PASSED" if gate.get("passed") and not failed else "FAILED", "configuration": config,
                 "url": f"{source_uri(url, stage_tag)['uri']}#{ref}",
                 "passedTests": passed, "warnedTests": [], "failedTests": failed}
    return statement(subjects_of(artifacts), TEST_RESULT, predicate)


def verification_summary(artifacts: dict[str, dict], entry: dict, *, url: str | None, stage_tag: str,
                         protected_branch: str, inputs: list[dict]) -> dict:
    """SLSA VSA v1 of a promotion: the gate's verdict under the policy named by digest, the
    evidence it used (eval record, approvals, the other statements) as input attestations."""
    model, stage = entry["model"], entry["stage"]
    base = f"git+{url}" if url else "git+file:."
    approval = entry.get("approval") or {}
    used = list(inputs)
    if entry.get("eval_record"):
        used.append({"uri": RECORD_URI + entry["eval_record"], "digest": {"sha256": _hex(entry["eval_record"])}})
    if approval.get("record"):
        used.append({"uri": RECORD_URI + approval["record"], "digest": {"sha256": _hex(approval["record"])},
                     "annotations": {"approvers": approval.get("approvers", [])}})
    if approval.get("merge_commit"):
        used.append({"uri": f"{base}@{approval['merge_commit']}", "digest": {"gitCommit": approval["merge_commit"]},
                     "annotations": {k: v for k, v in approval.items() if v is not None and k in APPROVAL_FACTS}})
    used.append({"uri": f"{base}#refs/tags/mv/{model}/{stage}/{entry['seq']}", "digest": {"gitTag": stage_tag}})
    passed = bool((entry.get("gate") or {}).get("passed", True))
    level = "MV_PROMOTE_" + "".join(c if c.isalnum() else "_" for c in stage.upper())
    predicate = {
        "verifier": {"id": VERIFIER_ID},
        "timeVerified": entry["at"],
        "resourceUri": f"{base}#refs/tags/mv/{model}/{entry['version']}",
        "policy": {"uri": f"{base}@refs/heads/{protected_branch}#.mv-promote.toml",
                   "digest": {"sha256": _hex(entry["policy_digest"])}},
        "inputAttestations": used,
        "verificationResult": "PASSED" if passed else "FAILED",
        "verifiedLevels": [level] if passed else ["FAILED"],
        "slsaVersion": "1.0",
    }
    return statement(subjects_of(artifacts), VSA, predicate)


def model_signing_payload(artifacts: dict[str, dict]) -> tuple[str, dict]:
    """(model directory, statement) in the OpenSSF model signing v1.0 format, `files` method: the
    artifacts named relative to their common directory, which is what `model_signing verify`
    is pointed at. The subject digest is sha256 over the artifacts' raw digests in name order."""
    paths = sorted(artifacts)
    root = posixpath.commonpath([posixpath.dirname(p) for p in paths]) if paths else ""
    resources = sorted(({"name": posixpath.relpath(p, root or "."), "algorithm": "sha256",
                         "digest": artifacts[p]["sha256"]} for p in paths), key=lambda r: r["name"])
    root_digest = hashlib.sha256(b"".join(bytes.fromhex(r["digest"]) for r in resources)).hexdigest()
    predicate = {"serialization": {"method": "files", "hash_type": "sha256", "allow_symlinks": False,
                                   "ignore_paths": [".gitattributes", ".git", ".gitignore", ".github"]},
                 "resources": resources}
    name = posixpath.basename(root) if root else "."
    return root or ".", statement([{"name": name, "digest": {"sha256": root_digest}}], MODEL_SIGNING, predicate)


def statement_problems(st: Any) -> list[str]:
    """What makes a statement ill-formed (in-toto Statement v1's required fields and types)."""
    if not isinstance(st, dict):
        return ["the payload is not a JSON object"]
    out = []
    if st.get("_type") != STATEMENT_TYPE:
        out.append(f"_type is {st.get('_type')!r}, not {STATEMENT_TYPE}")
    subjects = st.get("subject")
    if not isinstance(subjects, list) or not subjects:
        out.append("subject is not a non-empty list")
    else:
        for s in subjects:
            digest = s.get("digest") if isinstance(s, dict) else None
            if not isinstance(digest, dict) or not digest or not all(isinstance(v, str) for v in digest.values()):
                out.append(f"subject {s!r} has no digest set")
    if not isinstance(st.get("predicateType"), str):
        out.append("predicateType is not a string")
    if not isinstance(st.get("predicate"), dict):
        out.append("predicate is not an object")
    return out


def subject_problems(st: dict, artifacts: dict[str, dict]) -> list[str]:
    """Do the statement's subjects name exactly the version's artifacts and digests?"""
    if st.get("predicateType") == MODEL_SIGNING:
        _, want = model_signing_payload(artifacts)
        got = sorted((r.get("name"), r.get("digest")) for r in st.get("predicate", {}).get("resources", []))
        expected = sorted((r["name"], r["digest"]) for r in want["predicate"]["resources"])
        if got != expected or st.get("subject") != want["subject"]:
            return ["its signed files are not the version's artifacts and digests"]
        return []
    subjects = sorted((s.get("name"), (s.get("digest") or {}).get("sha256")) for s in st.get("subject", []))
    expected = sorted((p, m["sha256"]) for p, m in artifacts.items())
    return [] if subjects == expected else [f"its subjects {subjects} are not the version's artifacts {expected}"]
