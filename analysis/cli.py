"""``convfail reproduce`` and ``convfail analyze``: the paper's artifacts for any study."""

from __future__ import annotations

from pathlib import Path

import click

from analysis.failures.compare import compare_studies
from analysis.registry import AnalysisContext, Artifact, Outcome, artifacts
from analysis.runner import run
from convfail.errors import ConvfailError
from convfail.paths import paper_figures_dir, study_figures_dir


def _select(only: tuple[str, ...], per_study_only: bool) -> list[Artifact]:
    chosen = artifacts(per_study_only)
    known = {a.id for a in chosen}
    unknown = [o for o in only if o not in known]
    if unknown:
        raise ConvfailError(
            f"unknown artifact(s): {', '.join(unknown)}", f"choose from: {', '.join(sorted(known))}"
        )
    return [a for a in chosen if not only or a.id in only]


def _finish(outcomes: list[Outcome], out: Path) -> None:
    mismatches = [
        (o.artifact.id, c)
        for o in outcomes
        for c in o.result.checks
        if c.status in {"mismatch", "missing"}
    ]
    checked = sum(len(o.result.checks) for o in outcomes)
    explained = sum(c.status == "explained" for o in outcomes for c in o.result.checks)
    click.echo(f"wrote {sum(len(o.files) for o in outcomes)} files to {out}")
    click.echo(
        f"published numbers checked: {checked}, not reproduced: {len(mismatches)}, "
        f"not reproducible from the shipped data with a stated reason: {explained} "
        f"(see {out / 'REPORT.md'})"
    )
    for artifact_id, check in mismatches:
        click.echo(
            f"  {artifact_id}: {check.cell}: published {check.published}, ours {check.ours}",
            err=True,
        )
    if mismatches:
        raise ConvfailError(
            f"{len(mismatches)} published number(s) not reproduced", f"read {out / 'REPORT.md'}"
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
def reproduce(out: Path | None, only: tuple[str, ...], list_only: bool) -> None:
    """Regenerate every table, figure and statistic of the paper from the shipped data.

    Writes tables (tidy CSV + LaTeX), figures (PNG + PDF), REPORT.md and reproduction.json, and
    exits non-zero when a published number is not reproduced.
    """
    if list_only:
        for a in artifacts():
            click.echo(f"{a.id:<36} {a.paper_ref:<22} {a.title}")
        return
    out = out or paper_figures_dir()
    _finish(run(AnalysisContext("issta24"), _select(only, False), out), out)


@click.command()
@click.option("--study", "study", required=True, help="Study folder under data/studies/.")
@click.option("--compare", "compare", help="A second study to put beside the first.")
@click.option(
    "--out",
    type=click.Path(path_type=Path, file_okay=False),
    help="Output folder [default: paper_figures/studies/<study>].",
)
def analyze(study: str, compare: str | None, out: Path | None) -> None:
    """Build the failure-analysis tables and figures for any labelled study."""
    out = out or study_figures_dir(study)
    outcomes = run(AnalysisContext(study), _select((), True), out)
    click.echo(f"wrote {sum(len(o.files) for o in outcomes)} files to {out}")
    if compare:
        files = compare_studies(AnalysisContext(study), AnalysisContext(compare), out)
        click.echo(f"comparison with '{compare}': {len(files)} files in {out / 'comparison'}")
