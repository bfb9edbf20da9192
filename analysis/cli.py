"""``convfail reproduce`` and ``convfail analyze``: the paper's artifacts for any study."""

from __future__ import annotations

from pathlib import Path

import click

from analysis.failures.compare import compare_studies
from analysis.registry import AnalysisContext, Artifact, Outcome, artifact_ids, artifacts
from analysis.report import only_suffix, report_paths
from analysis.runner import run
from convfail.errors import ConvfailError
from convfail.paths import paper_figures_dir, study_figures_dir


def _select(only: tuple[str, ...], per_study_only: bool) -> list[Artifact]:
    known = artifact_ids()
    unknown = [o for o in only if o not in known]
    if unknown:
        raise ConvfailError(
            f"unknown artifact(s): {', '.join(unknown)}", f"choose from: {', '.join(known)}"
        )
    return artifacts(per_study_only, only)


def _finish(outcomes: list[Outcome], out: Path, suffix: str = "") -> None:
    mismatches = [
        (o.artifact.id, c)
        for o in outcomes
        for c in o.result.checks
        if c.status in {"mismatch", "missing"}
    ]
    checked = sum(len(o.result.checks) for o in outcomes)
    explained = sum(c.status == "explained" for o in outcomes for c in o.result.checks)
    report = report_paths(out, suffix)[0]
    click.echo(f"wrote {sum(len(o.files) for o in outcomes)} files to {out}")
    for o in outcomes:
        if o.result.skipped:
            click.echo(f"  {o.artifact.id}: {o.result.skipped}")
    click.echo(
        f"published numbers checked: {checked}, not reproduced: {len(mismatches)}, "
        f"not reproducible from the shipped data with a stated reason: {explained} "
        f"(see {report})"
    )
    for artifact_id, check in mismatches:
        click.echo(
            f"  {artifact_id}: {check.cell}: published {check.published}, ours {check.ours}",
            err=True,
        )
    if mismatches:
        raise ConvfailError(
            f"{len(mismatches)} published number(s) not reproduced", f"read {report}"
        )


@click.command()
@click.option(
    "--out",
    type=click.Path(path_type=Path, file_okay=False),
    help="Output folder [default: paper_figures/].",
)
@click.option(
    "--only", multiple=True, metavar="ID", help="Build only these artifact ids (repeatable)."
)
@click.option("--list", "list_only", is_flag=True, help="List the registered artifacts and exit.")
@click.option(
    "--allow-partial-final",
    is_flag=True,
    help="Analyse a labels/final.csv that adjudicates only part of the sample.",
)
def reproduce(
    out: Path | None, only: tuple[str, ...], list_only: bool, allow_partial_final: bool
) -> None:
    """Regenerate every table, figure and statistic of the paper from the shipped data.

    Writes tables (tidy CSV + LaTeX), figures (PNG + PDF), REPORT.md and reproduction.json, and
    exits non-zero when a published number is not reproduced. With --only the report goes to
    REPORT-only-<ids>.md beside the full one.
    """
    if list_only:
        for a in artifacts():
            click.echo(f"{a.id:<36} {a.paper_ref:<22} {a.title}")
        return
    out = out or paper_figures_dir()
    ctx = AnalysisContext("issta24", allow_partial_final=allow_partial_final)
    suffix = only_suffix(list(only))
    _finish(run(ctx, _select(only, False), out, report_suffix=suffix), out, suffix)


@click.command()
@click.option("--study", "study", required=True, help="Study folder under data/studies/.")
@click.option("--compare", "compare", help="A second study to put beside the first.")
@click.option(
    "--out",
    type=click.Path(path_type=Path, file_okay=False),
    help="Output folder [default: paper_figures/studies/<study>].",
)
@click.option(
    "--allow-partial-final",
    is_flag=True,
    help="Analyse a labels/final.csv that adjudicates only part of the sample.",
)
def analyze(study: str, compare: str | None, out: Path | None, allow_partial_final: bool) -> None:
    """Build the failure-analysis tables and figures for any labelled study."""
    out = out or study_figures_dir(study)
    first = AnalysisContext(study, allow_partial_final=allow_partial_final)
    outcomes = run(first, _select((), True), out)
    click.echo(f"wrote {sum(len(o.files) for o in outcomes)} files to {out}")
    click.echo(f"labels: {first.label_source()}")
    for o in outcomes:
        if o.result.skipped:
            click.echo(f"  {o.artifact.id}: {o.result.skipped}")
    if compare:
        second = AnalysisContext(compare, allow_partial_final=allow_partial_final)
        comparison = compare_studies(first, second, out)
        click.echo(
            f"comparison with '{compare}' ({comparison.design}): {len(comparison.files)} files "
            f"in {out / 'comparison'}"
        )
        click.echo(f"labels of '{compare}': {second.label_source()}")
        for line in comparison.warnings:
            click.echo(f"  {line}")
