"""``convfail difftest localize``, ``repair``, ``localize-known`` and ``localize-eval`` (added to
the difftest group). Each command reads its options, calls one function of the localize package
and prints what came of it.

The modules doing the work load ONNX, the stages, plotting and pandas (about a second of CPU):
:func:`_work` imports them when a command runs, so ``--help`` and a bad option answer at once.
"""

from __future__ import annotations

import functools
import importlib
from collections.abc import Callable, Iterable, Iterator
from dataclasses import fields
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING

import click

from convfail.paths import data_dir, localization_dir, localize_cache_dir
from difftest.heap import keep_freed_memory
from difftest.localize.tolerance import RTOL
from difftest.matrix.torch_archs import ARCHITECTURES, TINY

if TYPE_CHECKING:
    from difftest.localize.runs import CaseRequest, Progress

MODELS = (*ARCHITECTURES, TINY)


def _work(name: str) -> ModuleType:
    """The localize module ``name`` (runs, evaluate, known_faults), imported on first use."""
    return importlib.import_module(f"difftest.localize.{name}")


CASE_OPTIONS = [
    click.option("--campaign", help="Campaign folder under data/difftest/."),
    click.option("--key", help="Record key MODEL_ID/CONVERTER in that campaign."),
    click.option(
        "--source",
        "source_path",
        type=click.Path(path_type=Path),
        help="Saved source model: torch.save(module) file or SavedModel dir.",
    ),
    click.option(
        "--onnx",
        "onnx_path",
        type=click.Path(path_type=Path),
        help="The converted ONNX model (with --source).",
    ),
    click.option(
        "--inputs-npz",
        type=click.Path(path_type=Path, exists=True),
        help="Input arrays for --source (default: seeded random).",
    ),
    click.option(
        "--inputs",
        "n_inputs",
        default=2,
        show_default=True,
        help="Random input samples to compare on.",
    ),
    click.option(
        "--precision",
        type=click.Choice(sorted(RTOL)),
        default="float32",
        show_default=True,
        help="Precision the conversion was asked for: narrower ones are intended.",
    ),
    click.option("--rtol", type=float, help="Override the precision's relative tolerance."),
    click.option(
        "--policy",
        help="Verdict policy reported beside the localizer's: default, paper or RTOL,ATOL "
        "[default: the record's].",
    ),
    click.option(
        "--out",
        type=click.Path(path_type=Path),
        help="Report folder [default: .cache/difftest/localize/<case>].",
    ),
    click.option(
        "--budget-mb",
        default=512.0,
        show_default=True,
        help="Memory for intermediate values per ONNX Runtime pass.",
    ),
]


# the localize-path and localize-eval-matrix commands read an earlier matrix run the same way
REUSE_OPTION = click.option(
    "--reuse",
    type=click.Path(path_type=Path, exists=True, file_okay=False),
    help="A matrix run's models/ folder: converted files it already holds are read, not "
    "converted again.",
)


def _case_options(fn: Callable) -> Callable:
    """Add the case options to a command; it receives them as one :class:`CaseRequest`."""

    @functools.wraps(fn)
    def command(**options: object) -> None:
        keep_freed_memory()  # a case's large arrays reuse freed memory (see difftest.heap)
        request_type = _work("runs").CaseRequest
        names = [f.name for f in fields(request_type)]
        request = request_type(**{name: options.pop(name) for name in names})
        fn(request, **options)

    for option in reversed(CASE_OPTIONS):
        command = option(command)
    return command


def _bar(label: str) -> Progress:
    return lambda length: click.progressbar(length=length, label=label)


def _progress(label: str) -> Callable[[Iterable], Iterator]:
    """A wrapper that shows a progress bar while the items are consumed."""

    def wrap(items: Iterable) -> Iterator:
        with click.progressbar(items, label=label) as bar:
            yield from bar

    return wrap


@click.command("localize")
@_case_options
@click.option(
    "--settings/--no-settings",
    default=None,
    help="Re-convert with alternative settings when the outputs differ: always, or never "
    "[default: only when no weight, attribute or precision finding explains the first "
    "divergent nodes].",
)
def localize_command(request: CaseRequest, settings: bool | None) -> None:
    """Find where a converted model starts to differ from its source, and why.

    Stages: conversion settings (by default only when the others explain nothing), parameters
    (initializers aligned with source weights by value, BatchNorm folding recognised),
    hyper-parameters (attributes vs. the source operator), graph (every intermediate value in
    one ONNX Runtime pass, aligned by value; first divergent node).
    Writes localization.json, localization.md, divergence.png and reproducer/ (a minimal ONNX
    file with its input and expected output data).

    \b
    Examples:
      convfail difftest localize --campaign fresh-synthetic --key syn-n035-0002/torchscript
      convfail difftest localize --source model.pt --onnx model.onnx --precision float16
    """
    run = _work("runs").localize_and_report(request, settings, _bar("localizing"))
    _echo_summary(run.report)
    click.echo(f"  report: {run.paths['markdown']}")


@click.command("repair")
@_case_options
def repair_command(request: CaseRequest) -> None:
    """Localize, apply the fixes the stages suggest, verify, and save the repaired model.

    Targeted fixes: copy source weights back (re-folded where BatchNorm was folded; quantized
    weights become float initializers), set attributes to the source operator's values, bypass
    a node the source lacks or swap an operator for the one the source computes. Each is kept
    only if it verifiably reduces the divergence, and is checked on fresh inputs. Writes
    repaired.onnx only when the model changed; a re-conversion with settings that agree is a
    workaround, reported apart and written as reconverted.onnx.
    """
    run = _work("runs").repair_and_report(request, _bar("localizing"))
    _echo_summary(run.report)
    click.echo(f"  repair: {run.repair.summary()}")
    for step in run.repair.steps:
        held = ""
        if step.held_out is not None:
            outcome = "holds" if step.held_out else "FAILS"
            held = f"; on {step.held_out_inputs} fresh input(s): {outcome}"
        click.echo(
            f"  [{step.kind}] {step.stage} {step.node}: {step.change} - verified: {step.verified}"
            f"{held}"
        )
    if run.repaired_path is not None:
        click.echo(f"  repaired model: {run.repaired_path}")
    else:
        click.echo("  nothing changed: no repaired model written")
    if run.reconverted_path is not None:
        click.echo(f"  re-converted model (workaround): {run.reconverted_path}")
    click.echo(f"  report: {run.paths['markdown']}")


def _echo_summary(report: dict) -> None:
    verdict = report["verdict"]
    click.echo(
        f"{report['title']}: {verdict['outcome']} under policy {verdict['policy_rule']}; "
        f"localizer ({verdict['localizer_rule']}): {verdict['localizer']}"
    )
    for why in verdict["why"]:
        click.echo(f"  why: {why}")
    if report["agrees"]:
        click.echo(f"{report['title']}: outputs agree; nothing to localize")
        return
    for d in report["first_divergent"][:3]:
        click.echo(
            f"{report['title']}: first divergent node {d['node']} {d['name']} "
            f"({d['op_type']}): {d['cause']} - {d['detail']}"
        )
    agreeing = [s["settings"] for s in report["settings"] if s["outcome"] == "agrees"]
    if report["settings"]:
        click.echo(f"  settings that agree: {agreeing or 'none'}")


@click.command("localize-path")
@click.option(
    "--model",
    type=click.Choice(sorted(MODELS)),
    default="tiny",
    show_default=True,
    help="Matrix model (tiny: untrained).",
)
@click.option(
    "--from",
    "framework",
    type=click.Choice(["keras", "torch"]),
    default="keras",
    show_default=True,
    help="Source framework.",
)
@click.option(
    "--hops",
    default="tflite-dynamic-int8,tflite-tf2onnx",
    show_default=True,
    help="Comma-separated hops of the path, ending in ONNX, TFLite or onnx2torch's module.",
)
@click.option("--images", default=256, show_default=True, help="Held-out digits for labels.")
@click.option("--inputs", "n_inputs", default=2, show_default=True, help="Inputs to localize on.")
@click.option("--out", type=click.Path(path_type=Path), help="Report folder.")
@REUSE_OPTION
@click.option(
    "--greedy",
    is_flag=True,
    help="Repair by FetaFix's label-driven loop on the --images digits: a change is kept only "
    "if the worst image's top-5 Kendall tau does not drop; stops at 0 % discrepancy.",
)
def localize_path_command(
    model: str,
    framework: str,
    hops: str,
    images: int,
    n_inputs: int,
    out: Path | None,
    reuse: Path | None,
    greedy: bool,
) -> None:
    """Convert a matrix model along a path, name the hop where the difference starts, then
    localize and repair the final model (e.g. the paper's Keras -> TFLite int8 -> ONNX). A
    .tflite is localized on LiteRT's own tensors and repaired as an ONNX file (its tf2onnx
    reading); onnx2torch's module on its own values and parameters, with no repair.

    \b
    Examples:
      convfail difftest localize-path --model tiny --hops tflite-dynamic-int8,tflite-tf2onnx
      convfail difftest localize-path --model tiny --hops tflite-dynamic-int8
      convfail difftest localize-path --model inception_v3 --images 1000 --greedy \\
        --reuse .cache/matrix/conversions/models
    """
    run = _work("runs").localize_path_and_report(
        model, framework, [h for h in hops.split(",") if h], images, n_inputs, out, greedy, reuse
    )
    click.echo(run.report["path"]["summary"])
    target = run.report.get("target") or {}
    if target:
        click.echo(f"  {target['values']}")
    ops = {o["node"]: o.get("describe") for o in target.get("first_divergent_ops", [])}
    for d in run.report["first_divergent"][:3]:
        op = f" = {ops[d['node']]}" if ops.get(d["node"]) else ""
        click.echo(
            f"  first divergent node {d['name']} ({d['op_type']}){op}: {d['cause']} - {d['detail']}"
        )
    if run.label_repair is not None:
        click.echo(f"  {run.label_repair.summary()}")
        for s in run.label_repair.steps:
            click.echo(
                f"  [round {s.round}] {s.stage}: {s.change}: discrepancy "
                f"{s.before.discrepancy_pct:.1f} % -> {s.after.discrepancy_pct:.1f} %, worst tau "
                f"{s.before.worst_tau:.3f} -> {s.after.worst_tau:.3f} ({s.reason})"
            )
    if run.repair is not None:
        click.echo(f"  repair: {run.repair.summary()}")
        for step in run.repair.steps:
            click.echo(f"  [{step.kind}] {step.stage}: {step.change} - verified: {step.verified}")
    labels = run.report["labels"]
    after = f"{labels['after_pct']:.1f} %" if "after_pct" in labels else "no repaired model"
    click.echo(
        f"  top-1 discrepancy on {labels['images']} held-out digits: "
        f"{labels['before_pct']:.1f} % before, {after} after"
    )
    click.echo(f"  report: {run.paths['markdown']}")


@click.command("localize-known")
@click.option(
    "--out",
    type=click.Path(path_type=Path),
    help="Folder [default: data/difftest/localization/real].",
)
@click.option(
    "--converter",
    "converters",
    multiple=True,
    default=("torchscript", "dynamo"),
    show_default=True,
    help="Converters for the rebuilt cases.",
)
@click.option(
    "--records/--no-records",
    default=True,
    show_default=True,
    help="Also localize the listed fresh-synthetic mismatch records.",
)
def localize_known_command(out: Path | None, converters: tuple[str, ...], records: bool) -> None:
    """Localize known behavioural differences: the operator kinds blamed in 2023 (bicubic and
    trilinear upsampling, GELU, division), NaN handling, and mismatch records of the fresh
    campaign. Writes one report + reproducer folder per case and real_faults.csv."""
    out = out or localization_dir() / "real"
    rows, table = _work("known_faults").write_known_faults(
        out, converters, records, _progress("known cases")
    )
    present = sum(r["present"] == "yes" for r in rows)
    click.echo(f"{len(rows)} case(s), {present} still differ: {table}")


@click.command("localize-eval")
@click.option(
    "--out",
    type=click.Path(path_type=Path),
    help="Folder [default: data/difftest/localization].",
)
@click.option("--per-type", default=3, show_default=True, help="Faults of each type per model.")
@click.option(
    "--models",
    "n_models",
    default=10,
    show_default=True,
    help="Evaluation models to use (9 synthetic, resnet18-tiny).",
)
@click.option(
    "--converter",
    "converters",
    multiple=True,
    default=("torchscript",),
    show_default=True,
    help="Converters whose exports get faults.",
)
def localize_eval_command(
    out: Path | None, per_type: int, n_models: int, converters: tuple[str, ...]
) -> None:
    """Fault-injection evaluation: plant faults in converted difftest models (weights perturbed
    or rounded, attributes changed, operators swapped, transposes inserted), localize and
    repair each; write fault_injection.csv and fault_injection_summary.json."""
    out = out or localization_dir()
    summary = _work("evaluate").write_evaluation(
        out, n_models, converters, per_type, _progress("faults")
    )
    a = summary["all"]
    click.echo(
        f"{a['injected']} faults, {a['effective']} effective: localization precision "
        f"{a['localization_precision']} recall {a['localization_recall']}, repair precision "
        f"{a['repair_precision']} recall {a['repair_recall']}"
    )


@click.command("localize-eval-matrix")
@click.option(
    "--model",
    "models",
    type=click.Choice(sorted(MODELS)),
    multiple=True,
    default=("mobilenet_v2", "resnet101", "inception_v3"),
    show_default=True,
    help="Matrix models (tiny: untrained, for a quick try).",
)
@click.option("--per-type", default=2, show_default=True, help="Faults per type (graph-side).")
@click.option("--images", default=200, show_default=True, help="Held-out digits for labels.")
@click.option("--seed", default=0, show_default=True, help="Seed of fault sites and inputs.")
@REUSE_OPTION
@click.option(
    "--out",
    type=click.Path(path_type=Path),
    help="Folder [default: data/difftest/localize-eval].",
)
@click.option(
    "--resume",
    is_flag=True,
    help="Keep the models and paths an earlier run into --out finished; do the rest.",
)
@click.option(
    "--include-run",
    "include",
    multiple=True,
    type=click.Path(exists=True, file_okay=False, path_type=Path),
    help="Also keep what the run in this folder finished (same settings; repeatable): "
    "joins runs made in parallel.",
)
def localize_eval_matrix_command(
    models: tuple[str, ...],
    per_type: int,
    images: int,
    seed: int,
    reuse: Path | None,
    out: Path | None,
    resume: bool,
    include: tuple[Path, ...],
) -> None:
    """Fault-injection evaluation across the matrix: faults of FetaFix's six types
    (preprocessing, input layout, tensor shape, weights, hyper-parameters, graph) planted in
    each model's ONNX conversions (torch.onnx, tf2onnx, TFLite -> tf2onnx), plus benign
    rewrites and the clean conversions; localization (top-1 node, stage) and repair (targeted
    vs workaround, held-out inputs and digits) scored apart. Writes matrix_faults.csv and
    matrix_faults_summary.json."""
    out = out or data_dir() / "difftest" / "localize-eval"
    matrix_eval = _work("matrix_eval")
    settings = matrix_eval.EvalSettings(
        tuple(models), per_type=per_type, n_images=images, seed=seed
    )
    workdir = localize_cache_dir() / "localize-eval-matrix"
    summary = matrix_eval.write_matrix_evaluation(
        out, settings, workdir, reuse, _progress("cases"), ((out,) if resume else ()) + include
    )
    a = summary["all"]
    click.echo(
        f"{a['planted']} faults, {a['effective']} effective: top-1 {a['top1']}, stage "
        f"{a['stage']}, targeted repair {a['targeted_repair']} ({a['workaround_only']} by "
        f"workaround only); false alarms: clean {summary['clean_false_alarms']['alarms']}/"
        f"{summary['clean_false_alarms']['checked']}, benign "
        f"{summary['benign_false_alarms']['alarms']}/{summary['benign_false_alarms']['checked']}"
    )
    click.echo(f"  rows: {out / 'matrix_faults.csv'}; {summary['wall_s']} s wall")
