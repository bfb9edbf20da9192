"""One case localized, or localized and repaired, into its report folder: what the ``localize``
and ``repair`` commands do between reading their options and printing the outcome.

A repair is also checked on held-out inputs (another seed than the ones it was chosen on),
because a fix may only fit the inputs it was chosen on. ``repaired.onnx`` is written only when a
targeted repair changed the converted model; a re-conversion with other settings is a workaround,
written as ``reconverted.onnx``.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, replace
from pathlib import Path
from types import SimpleNamespace

import onnx

from convfail.errors import ConvfailError
from convfail.paths import localize_cache_dir
from convfail.verdicts import DEFAULT, parse_policy
from difftest.localize.conversion_path import PathCheck, check_path, localize_path, predict
from difftest.localize.greedy import GreedyResult, greedy_repair, onnx_predictor
from difftest.localize.inputs import Case, from_campaign, from_files
from difftest.localize.pipeline import Localization, localize
from difftest.localize.repair import repair
from difftest.localize.repair_record import RepairResult
from difftest.localize.report import to_json, write_report, write_reproducer_for
from difftest.localize.settings import run_model, try_settings
from difftest.localize.tolerance import Tolerance
from difftest.localize.verdict import policy_verdict
from difftest.matrix.hops import Artifact
from difftest.matrix.images import load_split
from difftest.matrix.labels import top1_discrepancy_pct
from difftest.matrix.paths import make_path
from difftest.matrix.sources import input_size, source_artifact

REPAIRED_FILE = "repaired.onnx"
TARGETS = ("onnx", "tflite", "torch")  # what localize_path reads (torch: onnx2torch's module)
RECONVERTED_FILE = "reconverted.onnx"  # a workaround: the source converted again, other settings
HELD_OUT_SEED = 1000
# causes found in the converted model itself: re-converting would tell nothing more about them
EXPLAINED = {"parameter", "hyper-parameter", "precision (intended)", "precision (unintended)"}
STEPS = 3  # progress units of one localization: 2 for the stages, 1 for the settings
# given a length, a context holding a bar with ``update(steps)`` (click.progressbar is one)
Progress = Callable[[int], AbstractContextManager]


def no_progress(length: int) -> AbstractContextManager:
    """A progress bar that shows nothing."""
    return nullcontext(SimpleNamespace(update=lambda steps: None))


@dataclass(frozen=True)
class CaseRequest:
    """What ``localize`` and ``repair`` are asked: the case (a campaign record, or a saved source
    model and its ONNX file), the localizer's tolerance, the verdict policy to report beside it
    (default: the record's), the report folder and the memory budget."""

    campaign: str | None
    key: str | None
    source_path: Path | None
    onnx_path: Path | None
    inputs_npz: Path | None
    n_inputs: int
    precision: str
    rtol: float | None
    policy: str | None
    out: Path | None
    budget_mb: float

    @property
    def tolerance(self) -> Tolerance:
        return Tolerance(self.precision, self.rtol)

    def case(self) -> Case:
        """The case the request names; one line saying what is missing when it names none."""
        if self.campaign and self.key:
            return from_campaign(self.campaign, self.key, self.n_inputs)
        if self.source_path and self.onnx_path:
            return from_files(self.source_path, self.onnx_path, self.inputs_npz, self.n_inputs)
        raise ConvfailError(
            "say what to localize",
            "give --campaign NAME --key MODEL_ID/CONVERTER, or --source and --onnx",
        )


@dataclass
class Run:
    """The report of one case, where it was written, and the repair (``None`` for localize)."""

    report: dict
    paths: dict[str, Path]
    directory: Path
    repair: RepairResult | None = None
    held_out: bool | None = None

    @property
    def repaired_path(self) -> Path | None:
        """The repaired model, or ``None`` when the repair changed nothing."""
        path = self.directory / REPAIRED_FILE
        return path if path.exists() else None

    @property
    def reconverted_path(self) -> Path | None:
        """The workaround model (a re-conversion that agrees), when there is one."""
        path = self.directory / RECONVERTED_FILE
        return path if path.exists() else None


def report_dir(out: Path | None, case: Case) -> Path:
    """``out``, or a folder named after the case in the localize cache."""
    if out is not None:
        return out
    slug = case.title.replace(":", "--").replace("/", "--").replace(" ", "_")
    return localize_cache_dir() / slug


def localize_case(
    case: Case,
    tolerance: Tolerance,
    budget_mb: float,
    settings: bool | None,
    progress: Progress = no_progress,
) -> Localization:
    """Localize ``case``; when its outputs differ, also re-convert it with alternative settings
    if ``settings`` is set, or (``None``) if stages 2-4 explain none of the first divergent
    nodes. A ``progress`` bar of :data:`STEPS` units shows it going."""
    with progress(STEPS) as bar:
        loc = localize(case.source, case.model, case.samples, tolerance, budget_mb)
        bar.update(2)
        if settings is None:
            settings = not any(d.cause in EXPLAINED for d in loc.divergences)
        if settings and not loc.agrees:
            loc.settings = try_settings(case.source, case.samples, tolerance)
        bar.update(1)
    return loc


def case_verdict(request: CaseRequest, case: Case, loc: Localization) -> dict:
    """The verdict policy's judgement of the case beside the localizer's (see :mod:`.verdict`)."""
    policy = parse_policy(request.policy or case.meta.get("recorded_policy") or DEFAULT)
    recorded = None
    if "recorded_outcome" in case.meta:
        recorded = {
            "outcome": case.meta["recorded_outcome"],
            "policy": case.meta.get("recorded_policy") or DEFAULT,
            "n_inputs": case.meta.get("recorded_inputs"),
        }
    return policy_verdict(
        loc.expected,  # the source outputs on case.samples, computed once by the localization
        run_model(case.model, case.samples),
        policy,
        loc.tolerance,
        loc.agrees,
        recorded,
    )


def localize_and_report(
    request: CaseRequest,
    settings: bool | None,
    progress: Progress = no_progress,
) -> Run:
    """Localize the requested case and write its report and reproducer; ``settings`` as in
    :func:`localize_case`."""
    case = request.case()
    loc = localize_case(case, request.tolerance, request.budget_mb, settings, progress)
    directory = report_dir(request.out, case)
    reproducer = write_reproducer_for(loc, directory)
    report = to_json(loc, {"title": case.title, **case.meta}, reproducer=reproducer)
    report["verdict"] = case_verdict(request, case, loc)
    return Run(report, write_report(report, directory), directory)


def repair_and_report(
    request: CaseRequest,
    progress: Progress = no_progress,
) -> Run:
    """Localize the requested case, repair it (each step and the result also checked on
    held-out inputs), and write the repaired model beside the report only when the targeted
    repairs changed it; a re-conversion that agrees is written apart, as a workaround."""
    case = request.case()
    loc = localize_case(case, request.tolerance, request.budget_mb, True, progress)
    working = next(
        ((_settings_text(s.settings), s.model) for s in loc.settings if s.outcome == "agrees"),
        None,
    )
    held_out_inputs = case.source.make_inputs(HELD_OUT_SEED, request.n_inputs)
    result = repair(case.source, loc, working, held_out_inputs)
    directory = report_dir(request.out, case)
    directory.mkdir(parents=True, exist_ok=True)
    for name in (REPAIRED_FILE, RECONVERTED_FILE):  # never leave an earlier run's model behind
        (directory / name).unlink(missing_ok=True)
    if result.changed:
        onnx.save(result.model, directory / REPAIRED_FILE)
    if result.workaround is not None and result.workaround_agrees:
        onnx.save(result.workaround, directory / RECONVERTED_FILE)
    report = to_json(loc, {"title": case.title, **case.meta}, repair=result)
    report["verdict"] = case_verdict(request, case, loc)
    return Run(report, write_report(report, directory), directory, result, result.held_out_agrees)


def _settings_text(settings: dict) -> str:
    return ", ".join(f"{k}={v}" for k, v in sorted(settings.items()))


@dataclass
class PathRun:
    """A conversion path checked hop by hop, its final model localized and repaired (by the
    alignment-driven repair, or by the label-driven greedy loop: the other one is ``None``)."""

    report: dict
    paths: dict[str, Path]
    directory: Path
    check: PathCheck
    repair: RepairResult | None
    label_repair: GreedyResult | None = None


def _reading_artifact(loc: Localization, final: Artifact, workdir: Path) -> Artifact:
    """The final model as the ONNX file the greedy repair edits: itself, or a .tflite's reading
    (saved beside the path's models)."""
    if final.framework == "onnx":
        return final
    path = workdir / "tflite-reading.onnx"
    onnx.save(loc.model, path)
    return replace(final, framework="onnx", path=path, model=None)


def localize_path_and_report(
    model: str,
    framework: str,
    hops: list[str],
    n_images: int,
    n_inputs: int,
    out: Path | None,
    greedy: bool = False,
    reuse: Path | None = None,
) -> PathRun:
    """Convert ``model`` from ``framework`` along ``hops``, name the hop where the difference
    starts, localize the final model (ONNX, a .tflite or onnx2torch's module) and repair it as an
    ONNX file, and measure the label discrepancy on held-out digits before and after the repair.
    A .tflite is repaired through its ONNX reading; onnx2torch's module is not repaired (its
    fault is in the module, not in an ONNX file). ``greedy``: repair by FetaFix's label-driven
    loop on those digits (:mod:`.greedy`) instead of the alignment-driven repair. ``reuse``: a
    matrix run's ``models/`` folder whose files of this path are read instead of converted."""
    path = make_path(framework, hops)
    if path.target not in TARGETS:
        raise ConvfailError(
            f"path {path.name} ends in {path.target}; the localizer reads ONNX, TFLite and "
            "onnx2torch targets",
            "end the path with a hop to onnx, tflite or onnx2torch",
        )
    directory = out or localize_cache_dir() / f"path--{model}--{framework}--{'--'.join(hops)}"
    workdir = directory / "models"
    workdir.mkdir(parents=True, exist_ok=True)
    images = load_split(input_size(model), "test").images[:n_images]
    earlier = reuse / f"{model}--{framework}--{'+'.join(hops)}" if reuse is not None else None
    check = check_path(path, source_artifact(model, framework), images, workdir, reuse=earlier)
    source, loc = localize_path(check, n_inputs)
    final = check.artifacts[-1]
    result, labelled, fixed = None, None, None
    # onnx2torch's module: its fault is reported (loc.target), not repaired; repairs are ONNX
    repairable = final.framework != "torch"
    if greedy and repairable:
        reading = _reading_artifact(loc, final, workdir)
        predictor = onnx_predictor(images, reading, workdir / "candidates")
        labelled = greedy_repair(source, loc, check.reference, predictor)
        fixed = labelled.model if labelled.changed else None
    elif repairable:
        result = repair(source, loc, held_out=source.make_inputs(HELD_OUT_SEED, n_inputs))
        fixed = result.model if result.changed else None
    (directory / REPAIRED_FILE).unlink(missing_ok=True)
    labels = {"images": len(images), "before_pct": check.hops[-1].discrepancy_pct}
    if fixed is not None:
        onnx.save(fixed, directory / REPAIRED_FILE)
        repaired = Artifact("onnx", final.layout, path=directory / REPAIRED_FILE, size=final.size)
        logits = predict(repaired, images)
        labels["after_pct"] = top1_discrepancy_pct(check.reference, logits)
        labels["max_abs_diff_after"] = float(abs(logits - check.reference).max())
    labels["max_abs_diff_before"] = check.hops[-1].max_abs_diff
    meta = {"title": f"{model} ({framework}) along {path.name}", "intended_precision": loc.intended}
    reproducer = write_reproducer_for(loc, directory)
    report = to_json(loc, meta, repair=result, reproducer=reproducer)
    culprit = check.culprit
    report["path"] = {
        "name": path.name,
        "summary": check.summary(),
        "culprit": culprit.hop if culprit else None,
        "hops": [h.to_dict() for h in check.hops],
    }
    report["labels"] = labels
    report["label_repair"] = labelled.to_dict() if labelled is not None else None
    if loc.target:
        report["target"] = loc.target
    paths = write_report(report, directory)
    return PathRun(report, paths, directory, check, result, labelled)
