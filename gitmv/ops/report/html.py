"""The report page: chart geometry computed here, one self-contained page rendered with Jinja2.

Inline CSS, inline SVG drawn server-side, no JavaScript, no fonts, scripts or images from anywhere
else. Input is the plain data `collect.py` gathered; nothing here reads the repository.

Stable hooks for tests and scripts: `<section id="model-<m>" data-model>`, version rows
`<tr data-version>`, stage history `<li data-stage data-version data-kind data-seq>`,
`<svg id="timeline-<m>">`, `<svg id="lineage-<m>">` with `<g class="node" data-node-kind data-node-id>`,
and `<svg class="metric-chart" data-model data-metric>` whose bars are `<rect data-version data-group data-value>`.
"""

from __future__ import annotations

import math
from datetime import datetime, timezone

from jinja2 import Environment, PackageLoader, StrictUndefined

from gitmv.errors import MvError
from gitmv.ops.report.collect import ModelData, ReportData
from gitmv.records import parse_time

# Tableau 10: distinguishable, colour-blind aware; a version keeps its colour across every chart.
PALETTE = ["#4e79a7", "#f28e2b", "#e15759", "#76b7b2", "#59a14f",
           "#edc948", "#b07aa1", "#ff9da7", "#9c755f", "#6b6ecf"]
OTHER_COLOR = "#c9d1d9"      # versions no chart or timeline bar shows
MAX_CHART_VERSIONS = 8      # newest evaluated versions shown per chart (stage holders always are)
MAX_ANCESTORS = 3           # parent versions drawn in a lineage graph; older ones fold into one node
OUTPUT_KINDS = {"eval", "stage"}   # lineage nodes that sit right of the version they describe
SPINE_KINDS = {"version", "more"}  # the parent chain, drawn as one straight row
KIND_RANK = {"version": 0, "more": 0, "experiment": 1, "commit": 2, "data": 3, "eval": 4, "stage": 5}


def render(data: ReportData) -> str:
    env = Environment(loader=PackageLoader("gitmv", "templates"), autoescape=True, undefined=StrictUndefined,
                      trim_blocks=True, lstrip_blocks=True, keep_trailing_newline=True)
    env.filters["when"] = _when
    env.filters["num"] = _num
    env.filters["signed"] = _signed
    return env.get_template("report.html.j2").render(**page(data))


def page(data: ReportData) -> dict:
    """The template's context: the gathered data laid out for drawing."""
    models = [_model(m, data.protected_stages) for m in data.models]
    registry = [{**m.overview, "tier": view["tier"], "deprecated": sum(1 for v in view["versions"] if v["deprecated"]),
                 "deprecated_versions": view["deprecated_versions"]}
                for m, view in zip(data.models, models, strict=True)]
    return {
        "title": f"Model registry — {data.repo_name}",
        "repo_name": data.repo_name,
        "generated_at": data.generated_at,
        "head": data.head,
        "policy_digest": data.policy_digest,
        "stages": data.stages,
        "protected_stages": data.protected_stages,
        "registry": registry,
        "models": models,
        "warnings": data.warnings,
    }


def _model(m: ModelData, protected: list) -> dict:
    mp, versions, current, stages, history, evals = m.policy, m.versions, m.current, m.stages, m.history, m.evals
    holders = {v for v in current.values() if v}
    shown = _chart_versions(versions, evals, holders)
    colors = _colors(versions, shown, history)
    lineage = None
    if m.lineage is not None and m.subject is not None:
        lineage = {"version": m.subject, "why": m.subject_why, **_lineage_layout(m.lineage, m.subject, colors)}
    charts = _metric_charts(mp, shown, evals, colors) if mp else []
    evaluated = sum(1 for v in evals.values() if v)
    deltas = None
    if m.deltas is not None:
        deltas = {"a": m.baseline, "b": m.overview["latest"], "available": m.deltas["available"],
                  "a_stage": m.baseline_stage, "rows": _delta_rows(m.deltas, mp)}
    legend = [{"version": v["version"], "color": colors[v["version"]], "stages": v["stages"],
               "deprecated": v["deprecated"]} for v in versions if v["version"] in shown]
    return {
        "name": m.name,
        # one mark wherever a version's name is shown (report.html.j2's `deprecated_mark`)
        "deprecated_versions": sorted(v["version"] for v in versions if v["deprecated"]),
        "tier": mp.tier if mp else None,
        "in_policy": mp is not None,
        "suite": m.suite,
        "latest": m.overview["latest"],
        "current": current,
        "stages": stages,
        "versions": [{**v, "color": colors[v["version"]]} for v in reversed(versions)],
        "history": [{"stage": s, "entries": list(reversed(history.get(s) or []))} for s in stages],
        "timeline": _timeline(versions, history, stages, colors, tuple(protected)),
        "lineage": lineage,
        "charts": charts,
        "chart_note": f"showing {len(shown)} of {evaluated} evaluated versions" if evaluated > len(shown) else "",
        "legend": legend,
        "unevaluated": [v["version"] for v in versions if mp and not evals.get(v["version"])],
        "deltas": deltas,
    }


def _delta_rows(found: dict, mp) -> list:
    rows = []
    scopes = [("overall", found.get("overall") or [])] + sorted((found.get("slices") or {}).items())
    for scope, items in scopes:
        for r in items:
            direction = mp.gate.metrics.get(r["metric"])
            d = r.get("delta")
            verdict = ""
            if isinstance(d, (int, float)) and direction in ("max", "min"):
                verdict = "same" if d == 0 else "better" if (d > 0) == (direction == "max") else "worse"
            rows.append({"scope": scope, "metric": r["metric"], "a": r.get("a"), "b": r.get("b"), "delta": d,
                         "verdict": verdict, "protected": scope in mp.gate.protected_slices})
    return rows


# ---------------------------------------------------------------- stage timeline

TL_WIDTH, TL_LABEL_W, TL_RIGHT, TL_TOP, TL_LANE = 1180, 110, 24, 34, 40
TICK_STEPS = [3600 * h for h in (1, 2, 3, 6, 12)] + [86400 * d for d in (1, 2, 7, 14, 30, 91, 182, 365)]


def _timeline(versions: list, history: dict, stages: list, colors: dict, protected: tuple) -> dict:
    created = [(v["version"], _epoch(v["created_at"])) for v in versions if v.get("created_at")]
    entries = {s: [r for r in (history.get(s) or []) if r.get("at")] for s in stages}
    times = [t for _, t in created] + [_epoch(r["at"]) for rows in entries.values() for r in rows]
    if not times:
        return {"empty": True}
    t0, t1 = min(times), max(times)
    span = max(t1 - t0, 3600)
    start, end = t0 - span * 0.04, t1 + span * 0.16
    x0, x1 = TL_LABEL_W + 10, TL_WIDTH - TL_RIGHT

    def x(t: float) -> float:
        return round(x0 + (t - start) / (end - start) * (x1 - x0), 1)

    lanes = []
    y = TL_TOP
    dots, last_x, flip = [], -1e9, False
    for name, t in created:
        px = x(t)
        flip = (not flip) if px - last_x < 34 else False
        last_x = px
        dots.append({"x": px, "version": name, "color": colors.get(name, "#888"), "up": not flip,
                     "at": _iso(t)})
    lanes.append({"name": "registered", "y": y, "kind": "registered", "protected": False, "dots": dots, "segments": []})
    y += TL_LANE + 6
    for stage in stages:
        rows = sorted(entries[stage], key=lambda r: r["seq"])
        segments = []
        for i, r in enumerate(rows):
            sx = x(_epoch(r["at"]))
            ex = x(_epoch(rows[i + 1]["at"])) if i + 1 < len(rows) else x1
            width = max(ex - sx, 0)
            color = colors.get(r["version"], "#888")
            label = r["version"] + (" ↺ rollback" if r["kind"] == "rollback" else "")
            if _text_w(label, 6.6) + 12 > width:
                label = r["version"] if _text_w(r["version"], 6.6) + 10 <= width else ""
            segments.append({"x": sx, "w": round(width, 1), "version": r["version"], "kind": r["kind"],
                             "seq": r["seq"], "at": r["at"], "by": r.get("by") or "", "reason": r.get("reason") or "",
                             "color": color, "ink": _ink(color), "label": label, "current": i + 1 == len(rows),
                             "diamond": _diamond(sx, y + TL_LANE / 2, 6)})
        lanes.append({"name": stage, "y": y, "kind": "stage", "protected": stage in protected,
                      "segments": segments, "dots": []})
        y += TL_LANE + 6
    height = y + 4
    ticks = _time_ticks(start, end, x)
    return {"empty": False, "width": TL_WIDTH, "height": height, "x0": x0, "x1": x1, "lane_h": TL_LANE,
            "lanes": lanes, "ticks": ticks, "top": TL_TOP}


def _time_ticks(start: float, end: float, x) -> list:
    step = next((s for s in TICK_STEPS if (end - start) / s <= 8), TICK_STEPS[-1])
    fmt = "%Y-%m-%d" if step >= 86400 else "%m-%d %H:%M"
    out = []
    t = math.ceil(start / step) * step
    while t <= end:
        out.append({"x": x(t), "label": datetime.fromtimestamp(t, timezone.utc).strftime(fmt)})
        t += step
    return out


def _diamond(cx: float, cy: float, r: float) -> str:
    return " ".join(f"{round(a, 1)},{round(b, 1)}" for a, b in ((cx, cy - r), (cx + r, cy), (cx, cy + r), (cx - r, cy)))


# ---------------------------------------------------------------- lineage graph

NODE_CHARS, NODE_LINES, CHAR_W, LINE_H = 28, 4, 6.7, 14
COL_GAP, ROW_GAP, MARGIN = 90, 16, 16


def _lineage_layout(graph: dict, subject: str, colors: dict) -> dict:
    """A left-to-right layered layout: inputs (parents, code, data, experiments) left of the version
    they made, evidence (evals, stage tags) right of it."""
    nodes, raw_edges = _cap_ancestors(graph, subject)
    flow = []
    for e in raw_edges:
        a, b = e["from"], e["to"]
        if a not in nodes or b not in nodes:
            continue
        if nodes[a]["kind"] in OUTPUT_KINDS:
            src, dst = b, a
        elif nodes[b]["kind"] in OUTPUT_KINDS:
            src, dst = a, b
        else:                               # a is made from b: parent version, commit, data, experiment
            src, dst = b, a
        flow.append((src, dst, e.get("label", "")))
    preds: dict[str, list[str]] = {n: [] for n in nodes}
    succs: dict[str, list[str]] = {n: [] for n in nodes}
    for s, d, _ in flow:
        preds[d].append(s)
        succs[s].append(d)

    order = _topo(list(nodes), preds, succs)
    layer: dict[str, int] = {}
    for n in order:
        layer[n] = max((layer[p] + 1 for p in preds[n] if p in layer), default=0)
    for n in reversed(order):               # sources sit just left of what they feed
        if not preds[n] and succs[n]:
            layer[n] = max(min(layer[s] for s in succs[n]) - 1, 0)

    columns: dict[int, list] = {}
    for n in sorted(nodes, key=lambda n: (KIND_RANK.get(nodes[n]["kind"], 9), list(nodes).index(n))):
        columns.setdefault(layer[n], []).append(n)

    boxes = {}
    for n, node in nodes.items():
        kind = node["kind"]
        label = str(node["label"])
        if label.lower().startswith(kind + " "):
            label = label[len(kind) + 1:]
        lines = _wrap(label, NODE_CHARS, NODE_LINES)
        is_subject = kind == "version" and n == f"{graph['model']}/{subject}"
        caption = "this version" if is_subject else "earlier" if kind == "more" else kind
        w = max(_text_w(max(lines, key=len), CHAR_W), _text_w(caption, 7.0)) + 22
        h = 22 + LINE_H * len(lines)
        version = n.split("/", 1)[-1] if kind == "version" else None
        boxes[n] = {"id": n, "kind": kind, "caption": caption, "title": str(node["label"]), "lines": lines,
                    "w": round(w, 1), "h": h, "subject": is_subject,
                    "fill": _tint(colors[version]) if version in colors else None,
                    "stroke": colors.get(version) if version else None}

    # The version chain is a straight spine (y = 0); each column's other nodes stack below and above
    # its spine node, alternately, or centre on the spine when the column has none (the evidence).
    centre: dict[str, float] = {}
    for ns in columns.values():
        spine = next((n for n in ns if nodes[n]["kind"] in SPINE_KINDS), None)
        others = [n for n in ns if n != spine]
        if spine is None:
            y = -(sum(boxes[n]["h"] for n in ns) + ROW_GAP * (len(ns) - 1)) / 2
            for n in ns:
                centre[n] = y + boxes[n]["h"] / 2
                y += boxes[n]["h"] + ROW_GAP
            continue
        centre[spine] = 0.0
        below = above = boxes[spine]["h"] / 2 + ROW_GAP
        for i, n in enumerate(others):
            h = boxes[n]["h"]
            if i % 2 == 0:
                centre[n] = below + h / 2
                below += h + ROW_GAP
            else:
                centre[n] = -(above + h / 2)
                above += h + ROW_GAP
    top = min(centre[n] - boxes[n]["h"] / 2 for n in nodes)
    bottom = max(centre[n] + boxes[n]["h"] / 2 for n in nodes)
    height = bottom - top + 2 * MARGIN
    x = MARGIN
    for c in sorted(columns):
        col_w = max(boxes[n]["w"] for n in columns[c])
        for n in columns[c]:
            b = boxes[n]
            b["x"] = round(x + (col_w - b["w"]) / 2, 1)
            b["y"] = round(centre[n] - b["h"] / 2 - top + MARGIN, 1)
            b["text"] = [{"x": round(b["x"] + 10, 1), "y": round(b["y"] + 30 + i * LINE_H, 1), "line": line}
                         for i, line in enumerate(b["lines"])]
        x += col_w + COL_GAP
    width = x - COL_GAP + MARGIN

    edges = []
    for s, d, label in flow:
        a, b = boxes[s], boxes[d]
        x1, y1 = a["x"] + a["w"], a["y"] + a["h"] / 2
        x2, y2 = b["x"], b["y"] + b["h"] / 2
        dx = max((x2 - x1) / 2, 30)
        path = f"M{x1:.1f},{y1:.1f} C{x1 + dx:.1f},{y1:.1f} {x2 - dx:.1f},{y2:.1f} {x2 - 2:.1f},{y2:.1f}"
        # the label sits in the gap next to the end that the edge does not share with others
        lx = x1 + COL_GAP / 2 if len(preds[d]) > 1 else x2 - COL_GAP / 2
        t = _bezier_t_for_x(x1, x1 + dx, x2 - dx, x2, lx)
        ly = _bezier(y1, y1, y2, y2, t)
        edges.append({"from": s, "to": d, "label": label, "path": path, "lx": round(lx, 1), "ly": round(ly - 3, 1)})
    kinds = sorted({b["kind"] for b in boxes.values()}, key=lambda k: KIND_RANK.get(k, 9))
    return {"width": round(width, 1), "height": round(height, 1), "nodes": list(boxes.values()), "edges": edges,
            "kinds": kinds}


def _cap_ancestors(graph: dict, subject: str) -> tuple[dict, list]:
    """Keep the subject and its MAX_ANCESTORS nearest parent versions; older ones fold into one node."""
    nodes = {n["id"]: n for n in graph["nodes"]}
    edges = list(graph["edges"])
    is_version = {n for n, node in nodes.items() if node["kind"] == "version"}
    parent_of = {e["from"]: e["to"] for e in edges if e["from"] in is_version and e["to"] in is_version}
    top = f"{graph['model']}/{subject}" if f"{graph['model']}/{subject}" in is_version else None
    chain, n = [], top
    while n is not None and n not in chain:
        chain.append(n)
        n = parent_of.get(n)
    if len(chain) <= MAX_ANCESTORS + 1:
        return nodes, edges
    keep, dropped = set(chain[:MAX_ANCESTORS + 1]), set(chain[MAX_ANCESTORS + 1:])
    edges = [e for e in edges if e["from"] not in dropped and e["to"] not in dropped]
    linked = {x for e in edges for x in (e["from"], e["to"])}
    nodes = {k: v for k, v in nodes.items() if k not in dropped and (k in linked or k in keep)}
    more = f"{chain[-1]}/more"
    oldest, newest = (x.rsplit("/", 1)[-1] for x in (chain[-1], chain[MAX_ANCESTORS + 1]))
    span = oldest if oldest == newest else f"{newest} … {oldest}"
    nodes[more] = {"id": more, "kind": "more", "label": f"{len(dropped)} version{'s' if len(dropped) > 1 else ''}: {span}"}
    edges.append({"from": chain[MAX_ANCESTORS], "to": more, "label": "parent"})
    return nodes, edges


def _topo(names: list, preds: dict, succs: dict) -> list:
    indeg = {n: len(preds[n]) for n in names}
    ready = [n for n in names if indeg[n] == 0]
    out = []
    while ready:
        n = ready.pop(0)
        out.append(n)
        for s in succs[n]:
            indeg[s] -= 1
            if indeg[s] == 0:
                ready.append(s)
    out += [n for n in names if n not in out]       # a cycle (never expected) still gets drawn
    return out


def _bezier(p0: float, p1: float, p2: float, p3: float, t: float) -> float:
    u = 1 - t
    return u ** 3 * p0 + 3 * u * u * t * p1 + 3 * u * t * t * p2 + t ** 3 * p3


def _bezier_t_for_x(x0: float, x1: float, x2: float, x3: float, x: float) -> float:
    lo, hi = 0.0, 1.0
    for _ in range(30):
        mid = (lo + hi) / 2
        if _bezier(x0, x1, x2, x3, mid) < x:
            lo = mid
        else:
            hi = mid
    return (lo + hi) / 2


# ---------------------------------------------------------------- metric charts

CH_LEFT, CH_RIGHT, CH_TOP, CH_BOTTOM, CH_PLOT_H = 52, 14, 22, 44, 190
BAR_W, BAR_GAP, GROUP_GAP = 34, 4, 30


def _chart_versions(versions: list, evals: dict, holders: set) -> list:
    """The newest evaluated versions, plus every current stage holder that has an eval."""
    evaluated = [v["version"] for v in versions if evals.get(v["version"])]
    keep = set(evaluated[-MAX_CHART_VERSIONS:]) | (holders & set(evaluated))
    return [v for v in evaluated if v in keep]


def _colors(versions: list, shown: list, history: dict) -> dict:
    """Distinct colours for the versions a chart or the stage timeline shows; grey for the rest."""
    staged = {r["version"] for rows in history.values() for r in (rows or [])}
    important = [v["version"] for v in versions if v["version"] in staged or v["version"] in shown]
    colors = {name: PALETTE[i % len(PALETTE)] for i, name in enumerate(important)}
    return {v["version"]: colors.get(v["version"], OTHER_COLOR) for v in versions}


def _metric_charts(mp, shown: list, evals: dict, colors: dict) -> list:
    gate = mp.gate
    names = set()
    slices = set()
    for v in shown:
        e = evals[v]
        names |= set(e.get("metrics") or {})
        for s, vals in (e.get("slices") or {}).items():
            slices.add(s)
            names |= set(vals or {})
    ordered = [m for m in gate.metrics if m in names] + sorted(names - set(gate.metrics))
    charts = []
    for metric in ordered:
        groups = []
        for g in ["overall"] + sorted(slices):
            bars = []
            for v in shown:
                e = evals[v]
                vals = (e.get("metrics") or {}) if g == "overall" else ((e.get("slices") or {}).get(g) or {})
                value = vals.get(metric)
                if isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value):
                    bars.append({"version": v, "value": float(value)})
            if bars:
                groups.append({"name": g, "bars": bars, "protected": g in gate.protected_slices})
        if groups:
            charts.append(_chart(metric, groups, colors, gate.metrics.get(metric), gate.thresholds.get(metric), len(shown)))
    return charts


def _chart(metric: str, groups: list, colors: dict, direction: str | None, threshold, n_versions: int) -> dict:
    values = [b["value"] for g in groups for b in g["bars"]]
    if isinstance(threshold, (int, float)):
        values.append(float(threshold))
    vmin, vmax = min(values), max(values)
    truncated = vmin > 0 and vmax > vmin and (vmax - vmin) < 0.5 * vmax
    lo_raw = vmin - 0.6 * (vmax - vmin) if truncated else min(vmin, 0.0)
    hi_raw = max(vmax, 0.0)
    hi_raw += 0.1 * (hi_raw - lo_raw or abs(hi_raw) or 1.0)
    step = _nice_step(hi_raw - lo_raw)
    lo, hi = math.floor(lo_raw / step) * step, math.ceil(hi_raw / step) * step
    if vmin >= 0 and lo < 0:
        lo = 0.0
    truncated = lo > 0
    decimals = max(0, -math.floor(math.log10(step) + 1e-9)) + (1 if round(step / 10 ** math.floor(math.log10(step)), 3) == 2.5 else 0)

    def y(v: float) -> float:
        return round(CH_TOP + (hi - v) / (hi - lo) * CH_PLOT_H, 1)

    base = y(0.0) if lo <= 0 <= hi else y(lo)
    per = n_versions * BAR_W + (n_versions - 1) * BAR_GAP
    width = CH_LEFT + len(groups) * (per + GROUP_GAP) + CH_RIGHT
    x = CH_LEFT + GROUP_GAP / 2
    out_groups = []
    for g in groups:
        bars = []
        bx = x + (per - (len(g["bars"]) * BAR_W + (len(g["bars"]) - 1) * BAR_GAP)) / 2
        for b in g["bars"]:
            top = y(b["value"])
            bars.append({**b, "x": round(bx, 1), "y": min(top, base), "h": round(abs(base - top), 1), "w": BAR_W,
                         "color": colors.get(b["version"], "#888"), "text": _num(b["value"]),
                         "ty": round(min(top, base) - 4, 1)})
            bx += BAR_W + BAR_GAP
        out_groups.append({"name": g["name"], "protected": g["protected"], "bars": bars,
                           "cx": round(x + per / 2, 1), "x0": round(x - GROUP_GAP / 2 + 4, 1), "x1": round(x + per + GROUP_GAP / 2 - 4, 1)})
        x += per + GROUP_GAP
    ticks = []
    t = lo
    while t <= hi + step / 2:
        ticks.append({"y": y(t), "label": f"{t:.{decimals}f}"})
        t += step
    thr = None
    if isinstance(threshold, (int, float)) and out_groups:
        overall = out_groups[0] if out_groups[0]["name"] == "overall" else None
        if overall:
            thr = {"y": y(float(threshold)), "x0": overall["x0"], "x1": overall["x1"], "text": _num(threshold)}
    return {"metric": metric, "direction": {"max": "higher is better", "min": "lower is better"}.get(direction or "", ""),
            "width": round(width, 1), "height": CH_TOP + CH_PLOT_H + CH_BOTTOM, "plot_top": CH_TOP,
            "plot_bottom": CH_TOP + CH_PLOT_H, "left": CH_LEFT, "right": round(width - CH_RIGHT, 1), "base": base,
            "groups": out_groups, "ticks": ticks, "threshold": thr, "axis_from": _num(lo) if truncated else None}


def _nice_step(span: float, target: int = 5) -> float:
    raw = span / target if span > 0 else 1.0
    mag = 10 ** math.floor(math.log10(raw))
    for m in (1, 2, 2.5, 5, 10):
        if m * mag >= raw - 1e-12:
            return m * mag
    return 10 * mag


# ---------------------------------------------------------------- small helpers

def _epoch(text: str) -> float:
    return parse_time(text).timestamp()


def _iso(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, timezone.utc).strftime("%Y-%m-%d %H:%M UTC")


def _when(text) -> str:
    if not text:
        return ""
    try:
        return parse_time(str(text)).strftime("%Y-%m-%d %H:%M UTC")
    except (MvError, ValueError):
        return str(text)


def _num(value) -> str:
    if not isinstance(value, (int, float)) or isinstance(value, bool):
        return "–" if value is None else str(value)
    return f"{value:.4g}"


def _signed(value) -> str:
    if not isinstance(value, (int, float)) or isinstance(value, bool):
        return "–"
    return "±0" if value == 0 else f"{value:+.4g}"


def _text_w(text: str, per_char: float) -> float:
    return len(text) * per_char


def _wrap(text: str, width: int, max_lines: int) -> list[str]:
    words = []
    for word in text.split():
        while len(word) > width:
            words.append(word[:width])
            word = word[width:]
        words.append(word)
    lines: list[str] = []
    for word in words:
        if lines and len(lines[-1]) + 1 + len(word) <= width:
            lines[-1] += " " + word
        else:
            lines.append(word)
    if len(lines) > max_lines:
        lines = lines[:max_lines]
        lines[-1] = lines[-1][: width - 1] + "…"
    return lines or [""]


def _rgb(color: str) -> tuple:
    c = color.lstrip("#")
    return int(c[0:2], 16), int(c[2:4], 16), int(c[4:6], 16)


def _ink(color: str) -> str:
    r, g, b = _rgb(color)
    return "#1f2328" if 0.299 * r + 0.587 * g + 0.114 * b > 150 else "#ffffff"


def _tint(color: str, keep: float = 0.18) -> str:
    r, g, b = (round(255 - (255 - c) * keep) for c in _rgb(color))
    return f"#{r:02x}{g:02x}{b:02x}"
