"""``convfail survey``: import and analyse a survey run with the ISSTA 2024 instrument.

The published survey comes in with ``convfail data import-artifact`` and is reproduced by
``convfail reproduce``; these commands are for a new export of the same (or an extended)
instrument, kept in its own folder beside ``data/survey``.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import click

from analysis.runner import write_result
from analysis.survey.artifacts import SURVEY_ARTIFACTS
from analysis.survey.catalogue import CATALOGUE_FILE, default_catalogue_path, load_catalogue
from analysis.survey.data import load_survey
from analysis.survey.importer import build_survey, write_survey
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
    """Validate EXPORT against the catalogue and write it as CSV (nothing is written on error)."""
    source = catalogue or default_catalogue_path()
    files = build_survey(export, coding, load_catalogue(source))
    out = out or survey_dir(export.stem)
    written = write_survey(files, out)
    if source.resolve() != (out / CATALOGUE_FILE).resolve():
        shutil.copyfile(source, out / CATALOGUE_FILE)
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
    data = load_survey(folder)
    out = out or survey_figures_dir(folder.name)
    files = []
    for spec in SURVEY_ARTIFACTS:
        question = spec.coded_question
        if question and data.coded[data.coded["question"] == question].empty:
            click.echo(f"{spec.id}: skipped, no coded answers to {question}")
            continue
        files += write_result(spec.build(data, False), spec.id, out)
    click.echo(f"wrote {len(files)} files to {out}")
