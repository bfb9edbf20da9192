"""The localization report: JSON (for tools), Markdown (for people), a divergence figure, and
the reproducer of the first divergent node beside them.

The figure plots, for every ONNX node in graph order, the scaled error of its output against
the nearest source value (log scale; 1 is the tolerance): values that agree in blue, internal
values without a source counterpart (decompositions, shape arithmetic) in grey, diverging ones
in red, the first divergent node(s) marked with a cross.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np

from difftest.localize.divergence_plot import draw_divergence
from difftest.localize.greedy import step_table
from difftest.localize.pipeline import Localization
from difftest.localize.reproducer import check_reproducer, write_reproducer

JSON_FILE = "localization.json"
MARKDOWN_FILE = "localization.md"
FIGURE_FILE = "divergence.png"


def _num(value: float | None):
    if value is None:
        return None
    return round(value, 6) if math.isfinite(value) else "inf"


def node_errors(loc: Localization) -> list[dict]:
    rows = []
    for index, node in enumerate(loc.model.graph.node):
        if not node.output or node.output[0] not in loc.alignment.values:
            continue
        match = loc.alignment.values[node.output[0]]
        rows.append(
            {
                "index": index,
                "name": node.name or node.output[0],
                "op_type": node.op_type,
                "scaled_error": _num(match.error),
                "mismatched_share": round(match.share, 6),
                "bad": bool(node.output[0] in loc.alignment.bad),
                "matched": bool(match.matched),
                "source": match.source,
            }
        )
    return rows


def to_json(
    loc: Localization, meta: dict, repair=None, reproducer=None, timings: bool = True
) -> dict:
    """The report as JSON-able data (``timings=False`` for files that must be reproducible)."""
    return {
        "schema": "localization/1",
        **meta,
        "tolerance": {"precision": loc.tolerance.precision, "rtol": loc.tolerance.relative},
        "agrees": loc.agrees,
        "output_scaled_errors": [_num(e) for e in loc.alignment.output_errors],
        "first_divergent": [d.to_dict() for d in loc.divergences],
        "parameters": [p.to_dict() for p in loc.parameters if p.kind != "copied"],
        "parameters_copied": sum(p.kind == "copied" for p in loc.parameters),
        "hyperparameters": [h.to_dict() for h in loc.hyper if h.diffs],
        "hyperparameters_compared": len(loc.hyper),
        "settings": [s.to_dict() for s in loc.settings],
        "repair": repair.to_dict() if repair is not None else None,
        "reproducer": reproducer,
        "timings_s": {k: round(v, 3) for k, v in loc.timings.items()} if timings else None,
        "nodes": node_errors(loc),
    }


def to_markdown(report: dict) -> str:
    lines = [f"# Localization: {report.get('title', 'converted model')}", ""]
    verdict = "agree" if report["agrees"] else "DIFFER"
    tol = report["tolerance"]
    lines.append(
        f"Outputs **{verdict}** at {tol['precision']} tolerance (rtol {tol['rtol']:g}, scaled by "
        f"magnitude); output scaled errors: {report['output_scaled_errors']}."
    )
    if report.get("path"):
        lines += ["", "## Conversion path, hop by hop", "", report["path"]["summary"] + ".", ""]
        lines += [
            "| hop | asked | observed | scaled error | top-1 discrepancy |",
            "|---|---|---|---|---|",
        ]
        for h in report["path"]["hops"]:
            observed = h["observed"].get("tensor_dtypes", "")
            lines.append(
                f"| {h['hop']} | {h['asked']} | {observed} | {h['scaled_error']:.3g} | "
                f"{h['discrepancy_pct']:.1f} % |"
            )
    target = report.get("target") or {}
    if target:
        lines += ["", f"Target runtime {target['runtime']}: {target['values']}."]
    ops = {o["node"]: o.get("describe") for o in target.get("first_divergent_ops", [])}
    lines += ["", "## First divergent node(s)", ""]
    if not report["first_divergent"]:
        lines.append("None: every output agrees.")
    for d in report["first_divergent"]:
        lines.append(
            f"- node {d['node']} `{d['name']}` ({d['op_type']})"
            + (f", {ops[d['node']]}" if ops.get(d["node"]) else "")
            + f", scaled error {d['error']}, cause **{d['cause']}**: {d['detail']} "
            f"(source counterpart: `{d['source_counterpart']}`)"
        )
    lines += ["", "## Parameters", ""]
    lines.append(f"{report['parameters_copied']} initializer(s) equal to their source parameter.")
    for p in report["parameters"]:
        flag = " (intended)" if p["intended"] else ""
        lines.append(
            f"- `{p['initializer']}` <- `{p['source']}`: {p['kind']}{flag}, max |diff| "
            f"{p['max_abs_diff']:.3g}, {p['changed_elements']} element(s) changed {p['detail']}"
        )
    lines += ["", "## Hyper-parameters", ""]
    lines.append(
        f"{report['hyperparameters_compared']} node(s) compared with their source operator."
    )
    for h in report["hyperparameters"]:
        diffs = "; ".join(
            f"{d['attribute']}: ONNX {d['onnx_value']} vs source {d['source_value']}"
            for d in h["diffs"]
        )
        lines.append(
            f"- node {h['node']} `{h['node_name']}` ({h['op_type']} ~ {h['source_op']}): {diffs}"
        )
    if report["settings"]:
        lines += [
            "",
            "## Conversion settings",
            "",
            "| settings | outcome | scaled error |",
            "|---|---|---|",
        ]
        for s in report["settings"]:
            settings = ", ".join(f"{k}={v}" for k, v in s["settings"].items())
            lines.append(
                f"| {settings} | {s['outcome']} | "
                f"{s['error'] if s['error'] is not None else s['message'][:60]} |"
            )
    if report.get("repair"):
        r = report["repair"]
        lines += ["", "## Repair", "", f"**{r['summary']}**.", ""]
        if not r["changed"]:
            lines += ["No repaired model was written.", ""]
        for step in r["steps"]:
            held = (
                "not checked on fresh inputs"
                if step["held_out"] is None
                else f"on {step['held_out_inputs']} fresh input(s): "
                + ("holds" if step["held_out"] else "**does not hold**")
            )
            lines.append(
                f"- {step['kind']} [{step['stage']}] `{step['node']}`: fault: {step['fault']}; "
                f"fixed: {step['change']}; verified: {step['verified']}; {held}"
            )
    if report.get("label_repair"):
        greedy = report["label_repair"]
        lines += ["", "## Label-driven repair (FetaFix's greedy loop)", "", greedy["summary"] + "."]
        lines += ["", *step_table(greedy)]
        if not greedy["changed"]:
            lines += ["", "No repaired model was written."]
    if report.get("labels"):
        lab = report["labels"]
        after = f"{lab['after_pct']:.1f} %" if "after_pct" in lab else "no repaired model"
        lines += [
            "",
            f"Top-1 label discrepancy on {lab['images']} held-out images: "
            f"{lab['before_pct']:.1f} % before the repair, {after} after.",
        ]
    if report.get("reproducer"):
        rep = report["reproducer"]
        lines += ["", "## Reproducer", "", f"`{rep['path']}`: {rep['check']}"]
    lines += ["", "![divergence per node](divergence.png)", ""]
    return "\n".join(lines)


def write_report(report: dict, directory: Path) -> dict[str, Path]:
    directory.mkdir(parents=True, exist_ok=True)
    paths = {
        "json": directory / JSON_FILE,
        "markdown": directory / MARKDOWN_FILE,
        "figure": directory / FIGURE_FILE,
    }
    paths["json"].write_text(json.dumps(report, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    paths["markdown"].write_text(to_markdown(report) + "\n", encoding="utf-8")
    draw_divergence(report, paths["figure"])
    return paths


def write_reproducer_for(loc: Localization, directory: Path) -> dict | None:
    """Cut out the first divergent node with its data and check that the file reproduces."""
    if not loc.divergences:
        return None
    first = loc.divergences[0]
    expected = None
    source_name = first.source_counterpart
    by_name = loc.trace.by_name()
    if source_name and source_name.split("@")[0] in by_name:
        expected = [np.asarray(a) for a in by_name[source_name.split("@")[0]].arrays]
    node = loc.model.graph.node[first.node]
    source_inputs = {}
    for name in node.input:
        match = loc.alignment.values.get(name)
        if match is not None and match.matched and match.source in by_name:
            source_inputs[name] = by_name[match.source].arrays
    path = write_reproducer(
        loc.model,
        first.node,
        loc.samples,
        expected,
        source_inputs,
        directory / "reproducer",
        {"cause": first.cause, "detail": first.detail},
        loc.alignment,
    )
    check = check_reproducer(path, loc.tolerance)
    return {"path": str(path.relative_to(directory)), "check": check.to_dict()}
