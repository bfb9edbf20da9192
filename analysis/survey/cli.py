"""``convfail survey``: import and analyse a survey run with the ISSTA 2024 instrument.

The published survey comes in with ``convfail data import-artifact`` and is reproduced by
``convfail reproduce``; these commands are for a new export of the same (or an extended)
instrument, kept in its own folder beside ``data/survey``.
"""

from __future__ import annotations

from pathlib import Path

import click

from analysis.survey.artifacts import write_follow_up
from analysis.survey.catalogue import default_catalogue_path
from analysis.survey.data import load_survey
from analysis.survey.importer import import_follow_up
from convfail.paths import survey_dir, survey_figures_dir


@click.group()
def survey() -> None:
    """Import and analyse a survey export (Qualtrics layout) with the study's instrument."""


@survey.command("import")
@click.argument("export", type=click.Path(path_type=Path, exists=True, dir_okay=False))
@click.option(
    "--coding",
    type=click.Path(path_type=Path, exists=True, dir_okay=False),
    help="Workbook of coded open answers (one sheet per question, as the catalogue says).",
)
@click.option(
    "--catalogue",
    type=click.Path(path_type=Path, exists=True, dir_okay=False),
    help="Question catalogue [default: data/survey/catalogue.yaml].",
)
@click.option(
    "--out",
    type=click.Path(path_type=Path, file_okay=False),
    help="Folder to write [default: data/survey-<export name>].",
)
def import_export(
    export: Path, coding: Path | None, catalogue: Path | None, out: Path | None
) -> None:
    """Validate EXPORT (Qualtrics xlsx or CSV) against the catalogue and write it as CSV
    (nothing is written on error); duplicate respondents are flagged."""
    out = out or survey_dir(export.stem)
    written, warnings = import_follow_up(export, coding, catalogue or default_catalogue_path(), out)
    for line in warnings:
        click.echo(f"warning: {line}", err=True)
    click.echo(f"wrote {len(written)} file(s) and the catalogue to {out}")


@survey.command("analyze")
@click.argument("folder", type=click.Path(path_type=Path, exists=True, file_okay=False))
@click.option(
    "--out",
    type=click.Path(path_type=Path, file_okay=False),
    help="Output folder [default: paper_figures/surveys/<folder name>].",
)
def analyze(folder: Path, out: Path | None) -> None:
    """Build the Theme 1 tables and figures (with Wilson CIs) for an imported survey FOLDER."""
    out = out or survey_figures_dir(folder.name)
    files, skipped = write_follow_up(load_survey(folder), out)
    for line in skipped:
        click.echo(line)
    click.echo(f"wrote {len(files)} files to {out}")
