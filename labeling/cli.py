"""``convfail label``: code issues with the codebook, measure agreement, adjudicate, interchange."""

from __future__ import annotations

from pathlib import Path

import click
import pandas as pd

from convfail.agreement import BLANK_POLICY
from convfail.codebook import load_codebook
from convfail.dataset import FINAL_RATER, Study, load_study
from convfail.errors import ConvfailError
from convfail.paths import data_dir, labels_dir, paper_figures_dir
from labeling.adjudication import Adjudication
from labeling.agreement_report import build_report, choose_raters, write_report
from labeling.guard import RequestGuard
from labeling.interchange import export_workbook, import_workbook
from labeling.issue_texts import load_issue_texts
from labeling.serve import serve_until_interrupted
from labeling.session import LabelingSession
from labeling.store import check_name, check_rater_name, check_writable
from labeling.suggest import evaluate, score_table
from labeling.suggestion_service import SuggestionService, TrainingData
from labeling.webapp import create_app


def _study_name(ctx: click.Context, param: click.Parameter, value: str) -> str:
    """Study names are folder names under data/studies/: the same rule as rater names."""
    try:
        return check_name(value, "study", "it names the folder data/studies/<study>")
    except ConvfailError as exc:
        raise click.BadParameter(str(exc)) from None


study_option = click.option(
    "--study", required=True, callback=_study_name, help="Study folder name under data/studies/."
)
host_option = click.option(
    "--host", default="127.0.0.1", show_default=True, help="Address to listen on."
)
port_option = click.option(
    "--port", default=0, type=click.IntRange(0, 65535), help="Port [default: a free one]."
)
browser_option = click.option("--no-browser", is_flag=True, help="Do not open a browser window.")


def _raters(value: str | None) -> list[str] | None:
    return [r.strip() for r in value.split(",") if r.strip()] if value else None


def labelled_documents(study: Study, rater: str) -> TrainingData:
    """The texts and labels of the issues ``rater`` coded in ``study`` (the classifier's data)."""
    texts = {t.key: t for t in load_issue_texts(study.issues, data_dir())}
    labels = [
        row
        for row in study.labels[rater].to_dict("records")
        if (row["repository"], int(row["number"])) in texts
    ]
    documents = [texts[(row["repository"], int(row["number"]))].document() for row in labels]
    return documents, [{k: str(v) for k, v in row.items()} for row in labels]


@click.group()
def label() -> None:
    """Label a study's issues in a local web app; agreement, adjudication, suggestions, Excel."""


@label.command()
@study_option
@click.option("--rater", required=True, help="Your rater name; labels go to labels/<rater>.csv.")
@click.option(
    "--suggest-from",
    "suggest_from",
    metavar="STUDY",
    help="Also learn suggestions from this study's labels (e.g. issta24) besides your own.",
)
@host_option
@port_option
@browser_option
def serve(
    study: str, rater: str, suggest_from: str | None, host: str, port: int, no_browser: bool
) -> None:
    """Start the labelling app for one rater (bound to 127.0.0.1, opens the browser).

    Pick each dimension with the keyboard (every choice shows its key; n/p for next/previous);
    each choice is saved at once, atomically, to data/studies/STUDY/labels/RATER.csv.
    """
    check_rater_name(rater)
    if rater == FINAL_RATER:
        raise ConvfailError("'final' is written by adjudication", "use convfail label adjudicate")
    codebook = load_codebook()
    loaded = load_study(study, codebook)
    check_writable(labels_dir(loaded.path))
    session = LabelingSession(loaded, rater, codebook, data_dir())
    reference = None
    if suggest_from:
        other = load_study(suggest_from, codebook)
        reference = labelled_documents(other, other.primary_rater)

    def training_data() -> TrainingData:
        labels = session.labels()
        issues = [session.issue(*key) for key in labels]
        documents = [i.document() for i in issues if i is not None]
        rows = [labels[i.key] for i in issues if i is not None]
        if reference:
            documents, rows = reference[0] + documents, reference[1] + rows
        return documents, rows

    suggestions = SuggestionService(training_data)
    suggestions.request_retrain()
    guard = RequestGuard()
    app = create_app(session, guard, suggestions)
    done, total = session.progress()
    click.echo(f"study {study}: {total} issues, {done} labelled by {rater}")
    try:
        serve_until_interrupted(app, guard, host, port, not no_browser, click.echo)
    finally:
        suggestions.close()


@label.command()
@study_option
@click.option(
    "--raters", help="Comma-separated raters to compare [default: every rater but final]."
)
@click.option(
    "--out",
    type=click.Path(path_type=Path, file_okay=False),
    help="Folder for the tables and heat maps [default: paper_figures/agreement/STUDY].",
)
def agreement(study: str, raters: str | None, out: Path | None) -> None:
    """Cohen's kappa per rater pair, dimension and converter; Krippendorff's alpha (> 2 raters);
    percent agreement; confusion matrices (CSV + heat map); the list of disagreements."""
    codebook = load_codebook()
    loaded = load_study(study, codebook)
    chosen = choose_raters(loaded, _raters(raters))
    report = build_report(loaded, chosen, codebook)
    if report.pairwise.empty:
        raise ConvfailError(
            f"raters {', '.join(chosen)} share no coded issue",
            "pick raters who coded the same issues",
        )
    click.echo(BLANK_POLICY + "\n")
    with pd.option_context("display.width", 200, "display.max_rows", 500):
        click.echo(report.pairwise.to_string(index=False))
        if not report.alpha.empty:
            click.echo("\nKrippendorff's alpha (nominal), all raters:")
            click.echo(report.alpha.to_string(index=False))
    folder = out or paper_figures_dir() / "agreement" / study
    written = write_report(report, folder)
    click.echo(
        f"\n{len(report.disagreements)} disagreement(s); {len(written)} file(s) written to {folder}"
    )


@label.command()
@study_option
@click.option(
    "--raters", help="Comma-separated raters to adjudicate [default: every rater but final]."
)
@host_option
@port_option
@browser_option
def adjudicate(study: str, raters: str | None, host: str, port: int, no_browser: bool) -> None:
    """Settle disagreements into labels/final.csv (which the analysis then uses).

    Issues on which the raters agree are copied to final.csv first; the page then shows each
    disagreement with the raters' choices side by side.
    """
    codebook = load_codebook()
    loaded = load_study(study, codebook)
    chosen = choose_raters(loaded, _raters(raters))
    check_writable(labels_dir(loaded.path))
    adjudication = Adjudication(loaded.path, chosen, codebook)
    added = adjudication.seed_agreed()
    open_items = adjudication.disagreements()
    click.echo(
        f"{added} agreed issue(s) added to final.csv; {len(open_items)} disagreement(s) to settle"
    )
    if not open_items:
        click.echo("nothing to adjudicate")
        return
    session = LabelingSession(loaded, FINAL_RATER, codebook, data_dir())
    guard = RequestGuard()
    app = create_app(session, guard, adjudication=adjudication)
    serve_until_interrupted(app, guard, host, port, not no_browser, click.echo)


@label.command("suggest-eval")
@study_option
@click.option(
    "--rater", help="Whose labels to learn from [default: final, else the study's primary rater]."
)
@click.option("--folds", default=5, show_default=True, type=click.IntRange(2, 20))
@click.option(
    "--seeds",
    default="0,1,2,3,4",
    show_default=True,
    help="Comma-separated seeds of the fold splits; scores are mean ± sd over them.",
)
def suggest_eval(study: str, rater: str | None, folds: int, seeds: str) -> None:
    """Cross-validated macro-F1 and accuracy of the suggestions vs. two baselines on the same
    folds: word TF-IDF + linear SVM, and the majority class (mean ± sd over seeds)."""
    try:
        seed_list = [int(s) for s in seeds.split(",") if s.strip()]
    except ValueError:
        raise click.BadParameter(f"'{seeds}' is not a list of integers, e.g. 0,1,2") from None
    codebook = load_codebook()
    loaded = load_study(study, codebook)
    rater = rater or loaded.primary_rater
    if rater not in loaded.labels:
        raise ConvfailError(
            f"study '{study}' has no labels of rater '{rater}'",
            f"raters: {', '.join(loaded.labels)}",
        )
    documents, labels = labelled_documents(loaded, rater)
    mined = sum(1 for t in load_issue_texts(loaded.issues, data_dir()) if t.mined)
    table = evaluate(documents, labels, folds=folds, seeds=seed_list or [0])
    if table.empty:
        raise ConvfailError(
            f"too few labelled issues of rater '{rater}' to evaluate", "label more issues"
        )
    click.echo(
        f"study {study}, rater {rater}: {len(documents)} labelled issues, {mined} with mined text; "
        f"{folds}-fold stratified cross-validation, seeds {','.join(map(str, seed_list or [0]))}"
    )
    click.echo(score_table(table).to_string(index=False))


@label.command("export")
@study_option
@click.option("--rater", help="Whose labels [default: final, else the study's primary rater].")
@click.argument("output", type=click.Path(path_type=Path, dir_okay=False))
def export_command(study: str, rater: str | None, output: Path) -> None:
    """Write a rater's labels to OUTPUT.xlsx in the artifact's spreadsheet layout."""
    codebook = load_codebook()
    loaded = load_study(study, codebook)
    rater = rater or loaded.primary_rater
    count = export_workbook(loaded, rater, codebook, output)
    click.echo(f"wrote {count} labelled issue(s) of {rater} to {output}")


@label.command("import")
@study_option
@click.option("--rater", required=True, help="Rater name to import as (labels/<rater>.csv).")
@click.option("--replace", is_flag=True, help="Overwrite an existing labels/<rater>.csv.")
@click.argument("workbook", type=click.Path(path_type=Path, dir_okay=False, exists=True))
def import_command(study: str, rater: str, replace: bool, workbook: Path) -> None:
    """Read labels from WORKBOOK.xlsx (artifact layout) into labels/<rater>.csv."""
    check_rater_name(rater)
    codebook = load_codebook()
    loaded = load_study(study, codebook)
    count = import_workbook(workbook, loaded, rater, codebook, replace)
    click.echo(f"imported {count} labelled issue(s) as rater {rater}")
