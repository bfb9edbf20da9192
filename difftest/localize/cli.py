"""``convfail difftest localize`` and ``convfail difftest repair`` (added to the difftest group)."""

from __future__ import annotations

from pathlib import Path

import click
import numpy as np

from convfail.errors import ConvfailError
from convfail.paths import cache_dir, project_root
from difftest.localize.tolerance import RTOL


def _case_options(fn):
    options = [
        click.option("--campaign", help="Campaign folder under data/difftest/."),
        click.option("--key", help="Record key MODEL_ID/CONVERTER in that campaign."),
        click.option("--source", "source_path", type=click.Path(path_type=Path),
                     help="Saved source model: torch.save(module) file or SavedModel dir."),
        click.option("--onnx", "onnx_path", type=click.Path(path_type=Path),
                     help="The converted ONNX model (with --source)."),
        click.option("--inputs-npz", type=click.Path(path_type=Path, exists=True),
                     help="Input arrays for --source (default: seeded random)."),
        click.option("--inputs", "n_inputs", default=2, show_default=True,
                     help="Random input samples to compare on."),
        click.option("--precision", type=click.Choice(sorted(RTOL)), default="float32",
                     show_default=True,
                     help="Precision the conversion was asked for: narrower ones are intended."),
        click.option("--rtol", type=float, help="Override the precision's relative tolerance."),
        click.option("--out", type=click.Path(path_type=Path),
                     help="Report folder [default: .cache/difftest/localize/<case>]."),
        click.option("--budget-mb", default=512.0, show_default=True,
                     help="Memory for intermediate values per ONNX Runtime pass."),
    ]  # fmt: skip
    for option in reversed(options):
        fn = option(fn)
    return fn


def _load(campaign, key, source_path, onnx_path, inputs_npz, n_inputs):
    from difftest.localize.inputs import from_campaign, from_files

    if campaign and key:
        return from_campaign(project_root(), campaign, key, n_inputs)
    if source_path and onnx_path:
        return from_files(source_path, onnx_path, inputs_npz, n_inputs)
    raise ConvfailError(
        "say what to localize",
        "give --campaign NAME --key MODEL_ID/CONVERTER, or --source and --onnx",
    )


def _out_dir(out: Path | None, case) -> Path:
    if out is not None:
        return out
    slug = case.title.replace(":", "--").replace("/", "--").replace(" ", "_")
    return cache_dir() / "difftest" / "localize" / slug


def _run(case, precision, rtol, budget_mb, settings: bool):
    from difftest.localize.pipeline import localize
    from difftest.localize.settings import try_settings
    from difftest.localize.tolerance import Tolerance

    tolerance = Tolerance(precision, rtol)
    with click.progressbar(length=3, label="localizing") as bar:
        loc = localize(case.source, case.model, case.samples, tolerance, budget_mb)
        bar.update(2)
        if settings and not loc.agrees:
            loc.settings = try_settings(case.source, case.samples, tolerance)
        bar.update(1)
    return loc


def write_reproducer_for(loc, directory: Path) -> dict | None:
    """Cut out the first divergent node with its data and check that the file reproduces."""
    from difftest.localize.reproducer import check_reproducer, write_reproducer

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
        loc.model, first.node, loc.samples, expected, source_inputs, directory / "reproducer",
        {"cause": first.cause, "detail": first.detail},
    )  # fmt: skip
    check = check_reproducer(path, loc.tolerance)
    return {"path": str(path.relative_to(directory)), "check": check.to_dict()}


@click.command("localize")
@_case_options
@click.option("--settings/--no-settings", default=True, show_default=True,
              help="Re-convert with alternative settings when the outputs differ.")  # fmt: skip
def localize_command(campaign, key, source_path, onnx_path, inputs_npz, n_inputs, precision, rtol,
                     out, budget_mb, settings) -> None:  # fmt: skip
    """Find where a converted model starts to differ from its source, and why.

    Stages: conversion settings, parameters (initializers aligned with source weights by value,
    BatchNorm folding recognised), hyper-parameters (attributes vs. the source operator), graph
    (every intermediate value in one ONNX Runtime pass, aligned by value; first divergent node).
    Writes localization.json, localization.md, divergence.png and reproducer/ (a minimal ONNX
    file with its input and expected output data).

    \b
    Examples:
      convfail difftest localize --campaign fresh-synthetic --key syn-n035-0002/torchscript
      convfail difftest localize --source model.pt --onnx model.onnx --precision float16
    """
    from difftest.localize.report import to_json, write_report

    case = _load(campaign, key, source_path, onnx_path, inputs_npz, n_inputs)
    loc = _run(case, precision, rtol, budget_mb, settings)
    directory = _out_dir(out, case)
    reproducer = write_reproducer_for(loc, directory)
    report = to_json(loc, {"title": case.title, **case.meta}, reproducer=reproducer)
    paths = write_report(report, directory)
    _echo_summary(report)
    click.echo(f"  report: {paths['markdown']}")


@click.command("repair")
@_case_options
def repair_command(campaign, key, source_path, onnx_path, inputs_npz, n_inputs, precision, rtol,
                   out, budget_mb) -> None:  # fmt: skip
    """Localize, apply the fixes the stages suggest, verify, and save the repaired model.

    Fixes: copy source weights back (re-folded where BatchNorm was folded), set attributes to
    the source operator's values, bypass or swap a wrong node, or, as a last resort, re-convert
    with settings that agree. Each fix is kept only if it verifiably reduces the divergence.
    Writes repaired.onnx beside the report.
    """
    import onnx

    from difftest.localize.repair import repair
    from difftest.localize.report import to_json, write_report

    case = _load(campaign, key, source_path, onnx_path, inputs_npz, n_inputs)
    loc = _run(case, precision, rtol, budget_mb, settings=True)
    working = next((s.model for s in loc.settings if s.outcome == "agrees"), None)
    result = repair(case.source, loc, working)
    held_out = None
    if result.agrees_after and result.steps:  # a fix may only fit the inputs it was chosen on
        from difftest.localize.pipeline import localize

        check = localize(case.source, result.model, case.source.make_inputs(1000, n_inputs),
                         loc.tolerance, budget_mb, trace=None)  # fmt: skip
        held_out = check.agrees
    directory = _out_dir(out, case)
    directory.mkdir(parents=True, exist_ok=True)
    onnx.save(result.model, directory / "repaired.onnx")
    report = to_json(loc, {"title": case.title, **case.meta}, repair=result)
    report["repair"]["agrees_on_held_out_inputs"] = held_out
    paths = write_report(report, directory)
    _echo_summary(report)
    verdict = "agrees" if result.agrees_after else "still differs"
    if held_out is False:
        verdict += ", but NOT on held-out inputs: the fix only fits the inputs it was chosen on"
    click.echo(
        f"  repaired model ({verdict}, {len(result.steps)} change(s)): "
        f"{directory / 'repaired.onnx'}"
    )
    click.echo(f"  report: {paths['markdown']}")


def _echo_summary(report: dict) -> None:
    if report["agrees"]:
        click.echo(f"{report['title']}: outputs agree; nothing to localize")
        return
    for d in report["first_divergent"][:3]:
        click.echo(f"{report['title']}: first divergent node {d['node']} {d['name']} "
                   f"({d['op_type']}): "
                   f"{d['cause']} - {d['detail']}")  # fmt: skip
    agreeing = [s["settings"] for s in report["settings"] if s["outcome"] == "agrees"]
    if report["settings"]:
        click.echo(f"  settings that agree: {agreeing or 'none'}")


REAL_RECORDS = (
    ("fresh-synthetic", "syn-n035-0002/torchscript"),
    ("fresh-synthetic", "syn-n045-0002/torchscript"),
    ("fresh-synthetic", "syn-n030-0001/torchscript"),
    ("fresh-synthetic", "syn-n065-0000/tf2onnx"),
    ("fresh-synthetic", "syn-n060-0001/tf2onnx"),
)
REAL_COLUMNS = [
    "case", "converter", "present", "node", "cause", "scaled_error", "max_abs_diff",
    "reproduces", "why", "detail",
]  # fmt: skip


@click.command("localize-known")
@click.option("--out", type=click.Path(path_type=Path),
              help="Folder [default: data/difftest/localization/real].")  # fmt: skip
@click.option("--converter", "converters", multiple=True, default=("torchscript", "dynamo"),
              show_default=True, help="Converters for the rebuilt cases.")  # fmt: skip
@click.option("--records/--no-records", default=True, show_default=True,
              help="Also localize the listed fresh-synthetic mismatch records.")  # fmt: skip
def localize_known_command(out: Path | None, converters: tuple[str, ...], records: bool) -> None:
    """Localize known behavioural differences: the operator kinds blamed in 2023 (bicubic and
    trilinear upsampling, GELU, division), NaN handling, and mismatch records of the fresh
    campaign. Writes one report + reproducer folder per case and real_faults.csv."""
    from convfail.dataset import atomic_write_text, csv_text
    from difftest.localize.known_faults import CASE_NAMES, localize_known
    from difftest.localize.pipeline import localize
    from difftest.localize.report import to_json, write_report

    out = out or project_root() / "data" / "difftest" / "localization" / "real"
    rows = []
    jobs = [(n, c) for n in CASE_NAMES for c in converters]
    with click.progressbar(jobs, label="known cases") as bar:
        for name, converter in bar:
            rows.append(localize_known(name, converter, out))
    if records:
        from difftest.localize.inputs import from_campaign

        for campaign, key in REAL_RECORDS:
            case = from_campaign(project_root(), campaign, key, 2)
            loc = localize(case.source, case.model, case.samples)
            directory = out / key.replace("/", "--")
            reproducer = write_reproducer_for(loc, directory) if not loc.agrees else None
            meta = {"title": case.title, **case.meta}
            report = to_json(loc, meta, reproducer=reproducer, timings=False)
            write_report(report, directory)
            first = loc.divergences[0] if loc.divergences else None
            rows.append({
                "case": f"{campaign}:{key.split('/')[0]}", "converter": case.meta["converter"],
                "present": "no" if loc.agrees else "yes",
                "node": f"{first.node}:{first.op_type}" if first else "",
                "cause": first.cause if first else "",
                "scaled_error": report["first_divergent"][0]["error"] if first else "",
                "max_abs_diff": "", "reproduces": reproducer["check"]["reproduces"] if reproducer
                else "", "why": f"campaign mismatch ({case.meta['recorded_outcome']})",
                "detail": first.detail if first else "",
            })  # fmt: skip
    table = [{c: _cell(r.get(c, "")) for c in REAL_COLUMNS} for r in rows]
    import pandas as pd

    atomic_write_text(out.parent / "real_faults.csv", csv_text(pd.DataFrame(table), REAL_COLUMNS))
    present = sum(r["present"] == "yes" for r in rows)
    click.echo(f"{len(rows)} case(s), {present} still differ: {out.parent / 'real_faults.csv'}")


def _cell(value) -> str:
    if isinstance(value, float):
        return f"{value:.6g}"
    return str(value)


@click.command("localize-eval")
@click.option("--out", type=click.Path(path_type=Path),
              help="Folder [default: data/difftest/localization].")  # fmt: skip
@click.option("--per-type", default=3, show_default=True, help="Faults of each type per model.")
@click.option("--models", "n_models", default=10, show_default=True,
              help="Evaluation models to use (9 synthetic, resnet18-tiny).")  # fmt: skip
@click.option("--converter", "converters", multiple=True, default=("torchscript",),
              show_default=True, help="Converters whose exports get faults.")  # fmt: skip
def localize_eval_command(out: Path | None, per_type: int, n_models: int,
                          converters: tuple[str, ...]) -> None:  # fmt: skip
    """Fault-injection evaluation: plant faults in converted difftest models (weights perturbed
    or rounded, attributes changed, operators swapped, transposes inserted), localize and
    repair each; write fault_injection.csv and fault_injection_summary.json."""
    import json

    import pandas as pd

    from convfail.dataset import atomic_write_text, csv_text
    from difftest.localize.evaluate import COLUMNS, DEFAULT_MODELS, evaluate, row_dict, summarise

    out = out or project_root() / "data" / "difftest" / "localization"
    rows = []
    with click.progressbar(evaluate(DEFAULT_MODELS[:n_models], converters, per_type),
                           label="faults") as bar:  # fmt: skip
        for row in bar:
            rows.append(row)
    frame = pd.DataFrame([row_dict(r) for r in rows], columns=COLUMNS)
    atomic_write_text(out / "fault_injection.csv", csv_text(frame, COLUMNS))
    summary = summarise(rows)
    atomic_write_text(
        out / "fault_injection_summary.json", json.dumps(summary, indent=2, sort_keys=True) + "\n"
    )
    a = summary["all"]
    click.echo(
        f"{a['injected']} faults, {a['effective']} effective: localization precision "
        f"{a['localization_precision']} recall {a['localization_recall']}, repair precision "
        f"{a['repair_precision']} recall {a['repair_recall']}"
    )
