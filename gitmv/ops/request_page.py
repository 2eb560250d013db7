"""The promotion request: `promotions/<model>/<stage>.toml` (what is asked, machine-readable) and
`promotions/<model>/<stage>.md` (the reviewer's page), committed on branch
`mv-promote/<model>/<version>-<stage>` so that the pull request's diff *is* the proposal. The
request commit is signed: its signer is the requester; the file's `requester` is display text.
"""

from __future__ import annotations

from gitmv import records
from gitmv.approvals import REQUEST_TRAILER, page_path, request_path
from gitmv.rules import artifacts as artifact_rules
from gitmv.rules import gate
from gitmv.rules.promotion import Verdict

PASS, FAIL, NA = "✅", "❌", "—"


def branch_name(model: str, version: str, stage: str) -> str:
    return f"mv-promote/{model}/{version}-{stage}"


def request_record(verdict: Verdict, version_tag: str, requester: str, at: str, reason: str) -> dict:
    return records._clean({
        "schema": records.SCHEMA, "kind": "request", "model": verdict.model, "version": verdict.version,
        "version_tag": version_tag, "stage": verdict.stage, "baseline": verdict.baseline,
        "eval_record": verdict.eval_record["id"] if verdict.eval_record else None,
        "gate": verdict.gate_summary(), "requester": requester, "requested_at": at, "reason": reason,
    })


def commit_message(model: str, version: str, stage: str, reason: str) -> str:
    body = f"\n\n{reason}" if reason else ""
    return (f"Request promotion of {model} {version} to {stage}{body}\n\n"
            f"{REQUEST_TRAILER}: {model}/{version}-{stage}\n")


def _num(x) -> str:
    if isinstance(x, float):
        return f"{x:.6g}"
    return NA if x is None else str(x)


def _delta(a, b) -> str:
    if isinstance(a, (int, float)) and isinstance(b, (int, float)):
        d = round(b - a, 10)
        return f"{d:+.6g}"
    return NA


def _mark(gate_policy, metric: str, a, b) -> str:
    if metric not in gate_policy.metrics or a is None:
        return NA
    c = gate._compare(gate_policy, metric, metric, b, a)
    return PASS if c.passed else FAIL


def _code(rec: dict | None, key: str, width: int) -> str:
    """A field of the candidate's eval record; evals recorded before the field existed say so."""
    value = (rec or {}).get(key)
    return f"`{value[:width]}`" if value else "not recorded"


def replay_section(rec: dict, version: str) -> list[str]:
    """The replay the reviewer should see: how often the two versions agree on the pinned inputs,
    and the rows where they differ most."""
    against = rec.get("against") or {}
    base = str(against.get("version"))
    where = f" ({against['stage']})" if against.get("stage") else ""
    inputs = rec.get("inputs") or {}
    rows, agree = int(rec["rows"]), int(rec["agree"])
    lines = [f"## Replay against {base}{where}", "",
             f"Both versions ran `{rec.get('command')}` on `{inputs.get('path')}` (sha256 "
             f"`{str(inputs.get('sha256'))[:12]}`) at code `{str(rec.get('code_commit'))[:12]}`; "
             f"record `{str(rec.get('id'))[:19]}`.", "",
             "| | |", "|---|---|", f"| rows | {rows} ({rec.get('output')}) |",
             f"| agreement | {agree / rows:.4g} ({agree}/{rows} rows) |"]
    numbers = "max_abs_diff" in rec
    if numbers:
        lines += [f"| max abs diff | {_num(rec['max_abs_diff'])} |", f"| mean abs diff | {_num(rec.get('mean_abs_diff'))} |"]
    top = rec.get("top") or []
    lines += ["", "### Rows that differ most", ""]
    if not top:
        return lines + ["None: the outputs agree on every row.", ""]
    ids = any("id" in row for row in top)
    head = ["row"] + (["id"] if ids else []) + [version, base] + (["abs diff"] if numbers else [])
    lines += ["| " + " | ".join(head) + " |", "|" + "|".join("---:" if h in ("row", "abs diff") else "---" for h in head) + "|"]
    for row in top:
        cells = [str(row.get("row"))] + ([str(row.get("id", NA))] if ids else []) + \
            [_num(row.get("candidate")), _num(row.get("baseline"))] + ([_num(row.get("abs_diff"))] if numbers else [])
        lines.append("| " + " | ".join(cells) + " |")
    if rows - agree > len(top):
        lines.append(f"\n({len(top)} of the {rows - agree} rows that differ.)")
    return lines + [""]


def render_page(*, model_policy, policy, verdict: Verdict, req: dict, diff: dict | None, candidate_sizes: dict,
                replay: dict | None = None) -> str:
    m, v, stage = verdict.model, verdict.version, verdict.stage
    base = verdict.baseline
    lines = [f"# Promote {m} {v} to {stage}", ""]
    lines.append(f"Requested by {req['requester']} at {req['requested_at']}.")
    if req.get("reason"):
        lines.append(f"Reason: {req['reason']}")
    lines += ["", "| | |", "|---|---|",
              f"| candidate | {v} (tag `{req['version_tag'][:12]}`) |",
              f"| compared with | {base + ' (' + str(verdict.baseline_stage) + ')' if base else 'nothing yet: thresholds alone decide'} |",
              f"| eval record | `{(req.get('eval_record') or NA)[:19]}` |",
              f"| eval ran at code | {_code(verdict.eval_record, 'code_commit', 12)} |",
              f"| eval command digest | {_code(verdict.eval_record, 'command_digest', 19)} |",
              f"| gate (before approval) | {'PASS' if verdict.passed else 'FAIL'} |",
              f"| approvals required | {model_policy.required_approvals if policy.is_protected(stage) else 0} |", ""]
    gp = model_policy.gate
    metrics = (diff or {}).get("metrics") or {}
    cand_eval = verdict.eval_record or {}
    lines += [f"## Metrics (suite {model_policy.eval_suite})", ""]
    lines += [f"| metric | {base or 'baseline'} | {v} | delta | gate |", "|---|---:|---:|---:|:---:|"]
    if metrics.get("available"):
        for row in metrics["overall"]:
            lines.append(f"| {row['metric']} | {_num(row['a'])} | {_num(row['b'])} | {_delta(row['a'], row['b'])} | "
                         f"{_mark(gp, row['metric'], row['a'], row['b'])} |")
    else:
        for name, value in sorted((cand_eval.get("metrics") or {}).items()):
            lines.append(f"| {name} | {NA} | {_num(value)} | {NA} | {NA} |")
    lines += ["", "### Slices", "", f"| slice | metric | {base or 'baseline'} | {v} | delta | gate |",
              "|---|---|---:|---:|---:|:---:|"]
    if metrics.get("available"):
        for slice_name, rows in metrics["slices"].items():
            protected = slice_name in gp.protected_slices
            for row in rows:
                mark = _mark(gp, row["metric"], row["a"], row["b"]) if protected else NA
                label = f"**{slice_name}** (protected)" if protected else slice_name
                lines.append(f"| {label} | {row['metric']} | {_num(row['a'])} | {_num(row['b'])} | "
                             f"{_delta(row['a'], row['b'])} | {mark} |")
    else:
        for slice_name, values in sorted((cand_eval.get("slices") or {}).items()):
            for name, value in sorted(values.items()):
                lines.append(f"| {slice_name} | {name} | {NA} | {_num(value)} | {NA} | {NA} |")
    lines += ["", "## Gate", ""]
    lines += [f"- {PASS if c.passed else FAIL} **{c.name}**: {c.detail}" for c in verdict.criteria]
    if replay is not None:
        lines += [""] + replay_section(replay, v)[:-1]
    lines += ["", "## What changed" + (f" since {base}" if base else ""), ""]
    if diff is None:
        lines.append("Nothing to compare with: this is the first version to enter the registry's stages.")
    else:
        code = diff["code"]
        lines.append(f"- **Code**: {len(code['commits'])} commit(s), {len(code['files'])} file(s) changed "
                     f"(`{code['a'][:12]}..{code['b'][:12]}`)")
        for c in code["commits"][:15]:
            lines.append(f"  - `{c['id'][:12]}` {c['subject']}")
        lines.append(f"- **Data pins**: {'unchanged' if not diff['data'] else str(len(diff['data'])) + ' changed'}")
        for ch in diff["data"]:
            lines.append(f"  - {ch['status']} `{ch['path']}`: `{ch['a'] or NA}` → `{ch['b'] or NA}`")
        lines.append(f"- **Params**: {'unchanged' if not diff['params'] else str(len(diff['params'])) + ' changed'}")
        for ch in diff["params"]:
            lines.append(f"  - `{ch['key']}`: {_num(ch['a'])} → {_num(ch['b'])}")
        lock = diff["lockfile"]
        lines.append(f"- **Dependency lock**: {'changed' if lock['changed'] else 'unchanged'}")
    lines += ["", "## Artifacts", "", "| path | size (bytes) | sha256 |", "|---|---:|---|"]
    for path, meta in sorted(candidate_sizes.items()):
        digest = f"`{meta['sha256']}`" if "sha256" in meta else "not recorded"
        if "uri" in meta:  # recorded by URI (imported from GTO): say so, never imply we hold the bytes
            digest += f" (recorded by URI, {artifact_rules.digests_text(meta)}; not fetchable offline)"
        lines.append(f"| `{path}` | {meta.get('size', 'unknown')} | {digest} |")
    lines += ["", "## Policy that applies", "",
              f"- tier: {model_policy.tier}; stage {stage} is {'protected' if policy.is_protected(stage) else 'not protected'}",
              f"- metrics: {', '.join(f'{k} ({d})' for k, d in sorted(gp.metrics.items())) or NA}",
              f"- thresholds: {', '.join(f'{k} {_num(x)}' for k, x in sorted(gp.thresholds.items())) or NA}",
              f"- max regression: {', '.join(f'{k} {_num(x)}' for k, x in sorted(gp.max_regression.items())) or '0 for every metric'}",
              f"- protected slices: {', '.join(gp.protected_slices) or NA}",
              f"- policy digest: `{policy.digest}`", "",
              "## How to approve", "",
              f"Review, then approve with a signature: `git mv-promote approve {m} {v} --stage {stage} --push` "
              "(a signed commit naming this request's sha256; an edit of the request voids it), or merge with a signed "
              f"merge commit (`git merge -S --no-ff`). Merge into `{policy.protected_branch}` with a merge commit "
              "(not squash or rebase). Approvers are principals in the allowed signers: signers of approve commits, "
              "the signer of the merge, or the author of a host's signed web merge; the requester (who signed the "
              "request commit) never counts, and `Approved-by:` / `Reviewed-by:` trailers are display only. "
              f"Then: `git mv-promote promote {m} {v} --stage {stage}`.", ""]
    return "\n".join(lines)


def files_for(model: str, stage: str, req: dict, page: str) -> dict[str, bytes]:
    return {request_path(model, stage): records.to_toml(req).encode(), page_path(model, stage): page.encode()}
