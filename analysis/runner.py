"""Walk the registry, write every artifact to an output folder, and write the report.

Artifacts are built and written in a small pool of forked worker processes (rendering figures
is most of the time). Artifacts of one module go to the same worker, so what a module caches
for its artifacts (a loaded survey, an analysed campaign) is computed once; modules are handed
out slowest first (the order of :data:`~analysis.registry.ARTIFACT_MODULES`), so the longest
starts at once and the rest share the other core meanwhile. Each worker returns
what the report needs (the table, checks and notes, the files written), never the figures; the
report is assembled in registry order, so the output does not depend on which worker finished
first.
"""

from __future__ import annotations

import multiprocessing
import os
import traceback
from collections.abc import Iterable
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import replace
from pathlib import Path

import matplotlib.pyplot as plt
from matplotlib.figure import Figure
from tqdm import tqdm

from analysis.registry import (
    ARTIFACT_MODULES,
    REGISTRY,
    AnalysisContext,
    Artifact,
    ArtifactResult,
    Outcome,
)
from analysis.render.plotting import figure_paths, write_figure_file
from analysis.report import write_report
from convfail.dataset import atomic_write_text, csv_text


def save_figures(figures: dict[str, Figure], folder: Path, parallel: bool = False) -> list[Path]:
    """Save each figure as ``<stem>.png`` and ``.pdf``; ``parallel``: every job of
    :func:`_saving_jobs` but the last in a forked child of its own, all at the same time.

    Each file is a full layout and render of its figure (RQ4's two forest plots take seconds
    each per file), so even one figure keeps both cores busy. A forked child has the figure as
    it is, so nothing is pickled; the bytes are those of saving in this process.
    """
    folder.mkdir(parents=True, exist_ok=True)
    jobs = _saving_jobs(figures, folder)
    children = []
    for job in jobs[:-1] if parallel else []:
        pid = os.fork()
        if pid == 0:  # the child writes its files and leaves without running any cleanup
            code = 0
            try:
                _write(job)
            except BaseException:
                traceback.print_exc()
                code = 1
            os._exit(code)
        children.append((job, pid))
    try:
        for job in jobs[len(children) :]:
            _write(job)
    finally:
        for figure in figures.values():
            plt.close(figure)
        failed = [
            path.name
            for job, pid in children
            if os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1])
            for path, _ in job
        ]
    if failed:
        raise RuntimeError(f"saving figure file(s) {', '.join(failed)} failed (traceback above)")
    return [path for job in jobs for path, _ in job]


def _saving_jobs(figures: dict[str, Figure], folder: Path) -> list[list[tuple[Path, Figure]]]:
    """The files to write, in stem order, grouped into jobs that can run at the same time.

    A figure's PNG and PDF are separate jobs, except for a figure with a layout engine
    (constrained layout): it lays itself out again at every save, starting from where the
    previous save left it, so its PDF is written after its PNG, in the same job, as in one
    process.
    """
    jobs = []
    for stem, figure in sorted(figures.items()):
        files = [(path, figure) for path in figure_paths(folder / stem)]
        jobs += [files] if figure.get_layout_engine() is not None else [[f] for f in files]
    return jobs


def _write(job: list[tuple[Path, Figure]]) -> None:
    for path, figure in job:
        write_figure_file(figure, path)


def write_result(
    result: ArtifactResult, artifact_id: str, out: Path, parallel: bool = False
) -> list[Path]:
    """``tables/<id>.csv`` and ``.tex``, ``figures/<stem>.png`` and ``.pdf``."""
    files = []
    if result.table is not None:
        path = out / "tables" / f"{artifact_id}.csv"
        atomic_write_text(path, csv_text(result.table))
        files.append(path)
    if result.latex is not None:
        path = out / "tables" / f"{artifact_id}.tex"
        atomic_write_text(path, result.latex)
        files.append(path)
    return files + save_figures(result.figures, out / "figures", parallel)


def build_or_skip(item: Artifact, ctx: AnalysisContext) -> ArtifactResult:
    """Build an artifact, or say why not: a per-study artifact over a dimension the study did
    not code (e.g. pilot raters coded no locations) is skipped, never a table of zeros."""
    missing = ctx.uncoded(item.needs) if item.per_study else []
    if missing:
        reason = f"skipped: study '{ctx.study_name}' did not code {', '.join(missing)}"
        return ArtifactResult(notes=[reason], skipped=reason)
    return item.build(ctx)


def _build_and_write(
    artifact_ids: list[str], ctx: AnalysisContext, out: Path, parallel: bool
) -> dict[str, tuple[ArtifactResult, list[Path]]]:
    done = {}
    for artifact_id in artifact_ids:
        result = build_or_skip(REGISTRY[artifact_id], ctx)
        files = write_result(result, artifact_id, out, parallel)
        done[artifact_id] = (replace(result, figures={}), files)
    return done


def default_jobs() -> int:
    return max(1, min(2, os.cpu_count() or 1))


def run(
    ctx: AnalysisContext,
    selected: Iterable[Artifact],
    out: Path,
    progress: bool = True,
    jobs: int | None = None,
    report_suffix: str = "",
) -> list[Outcome]:
    """Build and write each artifact, then the reproduction report (``REPORT<suffix>.md`` and
    ``reproduction<suffix>.json``, see :func:`analysis.report.report_paths`); returns what was
    done."""
    items = list(selected)
    if any(item.per_study for item in items):
        ctx.coded_dimensions  # noqa: B018 - load and validate the study before any work starts
    jobs = jobs or default_jobs()
    bar = tqdm(
        total=len(items), desc="artifacts", unit="artifact", disable=not progress, leave=False
    )
    groups: dict[str, list[str]] = {module: [] for module in ARTIFACT_MODULES}
    for item in items:
        groups.setdefault(item.build.__module__, []).append(item.id)
    groups = {module: ids for module, ids in groups.items() if ids}
    done: dict[str, tuple[ArtifactResult, list[Path]]] = {}
    if jobs == 1 or len(groups) == 1:
        for ids in groups.values():
            done.update(_build_and_write(ids, ctx, out, jobs > 1))
            bar.update(len(ids))
    else:
        context = multiprocessing.get_context("fork")
        with ProcessPoolExecutor(jobs, mp_context=context) as pool:
            futures = [
                pool.submit(_build_and_write, ids, ctx, out, True) for ids in groups.values()
            ]
            for future in as_completed(futures):
                built = future.result()
                done.update(built)
                bar.update(len(built))
    bar.close()
    outcomes = [Outcome(item, *done[item.id]) for item in items]
    write_report(ctx, outcomes, out, report_suffix)
    return outcomes
