"""Walk the registry, write every artifact to an output folder, and write the report."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from tqdm import tqdm

from analysis.plotting import save_figure
from analysis.registry import AnalysisContext, Artifact, ArtifactResult
from analysis.report import write_report
from convfail.dataset import atomic_write_text, csv_text


@dataclass
class Outcome:
    artifact: Artifact
    result: ArtifactResult
    files: list[Path]


def write_result(result: ArtifactResult, artifact_id: str, out: Path) -> list[Path]:
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
    for stem, figure in sorted(result.figures.items()):
        files += save_figure(figure, out / "figures" / stem)
    return files


def run(
    ctx: AnalysisContext, selected: Iterable[Artifact], out: Path, progress: bool = True
) -> list[Outcome]:
    """Build and write each artifact, then the reproduction report; returns what was done."""
    outcomes = []
    items = list(selected)
    if any(item.per_study for item in items):
        ctx.study  # noqa: B018 - load and validate the study before the progress bar starts
    for item in tqdm(items, desc="artifacts", unit="artifact", disable=not progress, leave=False):
        result = item.build(ctx)
        outcomes.append(Outcome(item, result, write_result(result, item.id, out)))
    write_report(ctx, outcomes, out)
    return outcomes
