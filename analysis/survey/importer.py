"""Import the survey (theme 1 of the published artifact) into ``data/survey/``.

Inputs (read-only): a Qualtrics-style export (``interopSurvey.xlsx``: row 1 question ids, row 2
the question texts - metadata, not a response - then one row per response; or the same as
Qualtrics' default CSV export, whose optional third row of ``{"ImportId": ...}`` cells is
metadata too) and the qualitative
coding of the open answers (``survey_analysis.xlsx``: one sheet per open question, the answer
text and its themes). Both are read against the question catalogue
(``data/survey/catalogue.yaml``): an unknown column, option or theme stops the import with an
error that names it, before anything is written.

Outputs are sorted and rendered canonically, so a re-import is byte-identical:
``respondents.csv`` (one row per response, with its spreadsheet row), ``answers.csv`` (one row
per response x question x selected option, or the text of an open answer; free text of
"Other (please specify)" beside the ``other`` option) and ``coded_answers.csv`` (one row per
coded open answer, its themes and the response it belongs to). Two responses that give the
same answer to every question are flagged (a double submission is common in web surveys), not
dropped: the reader decides.
"""

from __future__ import annotations

import csv
import html
import re
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from analysis.survey.catalogue import (
    CATALOGUE_FILE,
    Catalogue,
    CodingSheet,
    Question,
    load_catalogue,
)
from analysis.survey.data import duplicate_respondents
from convfail.dataset import atomic_write_text, csv_text
from convfail.errors import ArtifactImportError, DatasetError
from convfail.importers import ImportContext, artifact_licence
from convfail.paths import SURVEY
from convfail.spreadsheet import SheetRow, clean, open_workbook, sheet_rows

EXPORT_FILE = "theme1-survey/interopSurvey.xlsx"
CODING_FILE = "theme1-survey/survey_analysis.xlsx"
RESPONDENT_COLUMNS = ["response_id", "source_file", "source_sheet", "source_row"]
ANSWER_COLUMNS = ["response_id", "question", "answer", "text"]
CODED_COLUMNS = ["question", "source_sheet", "source_row", "response_id", "themes", "text"]
THEME_SEPARATOR = ";"
OTHER = "other"
CSV_SHEET = "csv"
IMPORT_ID = '{"ImportId"'


def split_multi(value: str) -> list[str]:
    """Split a comma-joined multi-select cell; commas inside parentheses belong to a label.

    ``"Model conversion for deployment (e.g., converting to ONNX),Other (please specify)"`` is
    two options, not three. Unbalanced parentheses are an error (the cell cannot be split
    reliably).
    """
    parts, depth, current = [], 0, []
    for char in value:
        if char == "(":
            depth += 1
        elif char == ")":
            depth -= 1
            if depth < 0:
                raise ValueError(f"unbalanced ')' in {value!r}")
        if char == "," and depth == 0:
            parts.append("".join(current))
            current = []
        else:
            current.append(char)
    if depth != 0:
        raise ValueError(f"unbalanced '(' in {value!r}")
    parts.append("".join(current))
    return [p.strip() for p in parts if p.strip()]


def normalise_text(text: str) -> str:
    """Answer text as compared between the export and the coding sheet (HTML entities decoded,
    whitespace collapsed): the coding sheet holds e.g. ``-&gt;`` where the export has ``->``."""
    return re.sub(r"\s+", " ", html.unescape(text)).strip()


@dataclass(frozen=True)
class Where:
    file: str
    sheet: str
    row: int
    column: str = ""

    def __str__(self) -> str:
        column = f", column {self.column}" if self.column else ""
        sheet = "" if self.sheet == CSV_SHEET else f", sheet '{self.sheet}'"
        return f"{self.file}{sheet}, row {self.row}{column}"


def _error(where: Where | str, problem: str, hint: str = "") -> ArtifactImportError:
    return ArtifactImportError(
        f"{where}: {problem}", hint or "fix the input or the catalogue; nothing was written"
    )


def _catalogue_hint(catalogue: Catalogue) -> str:
    where = catalogue.source or "data/survey/catalogue.yaml"
    return f"add it to {where} if the instrument changed; nothing was written"


def read_export(
    path: Path, catalogue: Catalogue, label: str | None = None
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The respondents and their answers, validated against the catalogue."""
    label = label or path.name
    sheet, header, rows = _export_rows(path, catalogue)
    known = catalogue.columns()
    for index, column in enumerate(header):
        if column is not None and column not in known:
            raise _error(
                Where(label, sheet, catalogue.question_id_row),
                f"column {index + 1} '{column}' is not a question of the survey catalogue",
                _catalogue_hint(catalogue),
            )
    position = {column: i for i, column in enumerate(header) if column is not None}
    missing = [q.id for q in catalogue.questions if q.type != "skip" and q.id not in position]
    if missing:
        raise _error(
            Where(label, sheet, catalogue.question_id_row),
            f"question(s) {', '.join(missing)} missing from the export",
        )
    by_row = {r.row: r for r in rows}
    texts = by_row.get(catalogue.question_text_row)
    if texts is None:
        raise _error(
            Where(label, sheet, catalogue.question_text_row), "the row of question texts is missing"
        )
    for q in catalogue.questions:
        if q.id in position:
            _check_text(q, _cell(texts.cells, position[q.id]), Where(label, sheet, texts.row, q.id))
    respondents, answers = [], []
    responses = [
        r for r in rows if r.row >= catalogue.first_response_row and not _is_import_id_row(r.cells)
    ]
    for number, row in enumerate(responses, start=1):
        response_id = f"R{number:03d}"
        respondents.append(
            {
                "response_id": response_id,
                "source_file": label,
                "source_sheet": sheet,
                "source_row": row.row,
            }
        )
        for q in catalogue.questions:
            if q.type == "skip" or q.id not in position:
                continue
            where = Where(label, sheet, row.row, q.id)
            value = _cell(row.cells, position[q.id])
            other = _cell(row.cells, position[q.other_text]) if q.other_text in position else None
            answers += [
                {"response_id": response_id, "question": q.id, **a}
                for a in _answers(q, value, other, catalogue, where)
            ]
    return pd.DataFrame(respondents, columns=RESPONDENT_COLUMNS), pd.DataFrame(
        answers, columns=ANSWER_COLUMNS
    )


def _export_rows(path: Path, catalogue: Catalogue) -> tuple[str, list[Any], list[SheetRow]]:
    """The first sheet of an xlsx export, or a CSV export, as (sheet, header, data rows)."""
    if path.suffix.lower() != ".csv":
        workbook = open_workbook(path)
        sheet = workbook.sheetnames[0]
        header, rows = sheet_rows(workbook, path, sheet, header_row=catalogue.question_id_row)
        return sheet, header, rows
    try:
        with path.open(encoding="utf-8-sig", newline="") as handle:
            lines = list(csv.reader(handle))
    except UnicodeDecodeError:
        raise _error(path.name, "not a UTF-8 CSV file", "export the survey again as CSV") from None
    except csv.Error as exc:
        raise _error(path.name, f"not a readable CSV file ({exc})") from None
    if len(lines) < catalogue.question_id_row:
        raise _error(path.name, f"no header row {catalogue.question_id_row}")
    header = [clean(v) for v in lines[catalogue.question_id_row - 1]]
    rows = []
    for number, values in enumerate(
        lines[catalogue.question_id_row :], start=catalogue.question_id_row + 1
    ):
        cells = tuple(clean(v or None) for v in values)
        if any(v is not None for v in cells):
            rows.append(SheetRow(number, cells))
    return CSV_SHEET, header, rows


def _is_import_id_row(cells: tuple[Any, ...]) -> bool:
    """Qualtrics' third header row of a CSV export: ``{"ImportId":"QID1"}`` in every cell."""
    filled = [c for c in cells if c is not None]
    return bool(filled) and all(str(c).startswith(IMPORT_ID) for c in filled)


def _cell(cells: tuple[Any, ...], index: int) -> Any:
    return cells[index] if index < len(cells) else None


def _check_text(q: Question, text: Any, where: Where) -> None:
    if normalise_text(str(text or "")) != normalise_text(q.text):
        raise _error(
            where,
            f"question text {str(text)[:80]!r} differs from the catalogue's {q.text[:80]!r}",
            "a different instrument, or the row of question texts is not where the catalogue says",
        )


def _answers(q: Question, value: Any, other: Any, catalogue: Catalogue, where: Where) -> list[dict]:
    if q.type == "text":
        return [{"answer": "", "text": str(value)}] if value is not None else []
    if value is None:
        if other is not None:
            raise _error(where, f"free text {str(other)[:60]!r} for 'Other' but no option selected")
        return []
    if isinstance(value, str) and q.type == "multi":
        try:
            parts = split_multi(value)
        except ValueError as exc:
            raise _error(where, str(exc)) from None
    else:
        parts = [str(value)]
    parts = [p for p in parts if p not in catalogue.artefacts]
    options = q.option_by_label()
    chosen = []
    for part in parts:
        if part not in options:
            raise _error(
                where,
                f"'{part}' is not an option of {q.id}",
                f"options: {'; '.join(o.label for o in q.options)}; {_catalogue_hint(catalogue)}",
            )
        chosen.append(options[part].name)
    if other is not None and OTHER not in chosen:
        raise _error(
            where, f"free text {str(other)[:60]!r} for 'Other' but 'Other' is not selected"
        )
    order = {name: i for i, name in enumerate(q.option_names)}
    return [
        {"answer": name, "text": str(other) if name == OTHER and other is not None else ""}
        for name in sorted(set(chosen), key=order.__getitem__)
    ]


def read_coding(
    path: Path, catalogue: Catalogue, answers: pd.DataFrame, label: str | None = None
) -> pd.DataFrame:
    """The coded open answers of every coding sheet, linked to the response they came from."""
    label = label or path.name
    workbook = open_workbook(path)
    coded = []
    for sheet in catalogue.coding:
        coded += _read_sheet(workbook, path, label, sheet, answers, catalogue)
    return pd.DataFrame(coded, columns=CODED_COLUMNS)


def _read_sheet(
    workbook,
    path: Path,
    label: str,
    sheet: CodingSheet,
    answers: pd.DataFrame,
    catalogue: Catalogue,
) -> list[dict]:
    header, rows = sheet_rows(workbook, path, sheet.sheet)
    if sheet.text_column not in header:
        raise _error(
            Where(label, sheet.sheet, 1), f"no column '{sheet.text_column}'", f"columns: {header}"
        )
    text_index = header.index(sheet.text_column)
    ignored = {i for i, h in enumerate(header) if h in sheet.ignore_columns}
    themes_by_label = sheet.theme_by_label()
    order = {t.name: i for i, t in enumerate(sheet.themes)}
    unlinked = _open_answers(answers, sheet.question)
    out = []
    for row in rows:
        text = _cell(row.cells, text_index)
        labels = [
            (i, v)
            for i, v in enumerate(row.cells)
            if i != text_index and i not in ignored and v is not None
        ]
        where = Where(label, sheet.sheet, row.row)
        if text is None:
            if labels:
                raise _error(where, f"themes {[v for _, v in labels]} but no answer text")
            continue
        names = set()
        for index, value in labels:
            if str(value) not in themes_by_label:
                raise _error(
                    Where(label, sheet.sheet, row.row, str(header[index] or f"#{index + 1}")),
                    f"'{value}' is not a theme of question {sheet.question}",
                    f"themes: {'; '.join(t.label for t in sheet.themes)}; "
                    + _catalogue_hint(catalogue),
                )
            names.add(themes_by_label[str(value)].name)
        key = normalise_text(str(text))
        matches = unlinked.get(key) or []
        response_id = matches.pop(0) if matches else ""
        out.append(
            {
                "question": sheet.question,
                "source_sheet": sheet.sheet,
                "source_row": row.row,
                "response_id": response_id,
                "themes": THEME_SEPARATOR.join(sorted(names, key=order.__getitem__)),
                "text": html.unescape(str(text)),
            }
        )
    return out


def _open_answers(answers: pd.DataFrame, question: str) -> dict[str, list[str]]:
    """Response ids by normalised answer text, in response order (identical texts link in order)."""
    found: dict[str, list[str]] = {}
    rows = answers[answers["question"] == question].sort_values("response_id")
    for response_id, text in zip(rows["response_id"], rows["text"], strict=True):
        found.setdefault(normalise_text(text), []).append(response_id)
    return found


def build_survey(
    export: Path,
    coding: Path | None,
    catalogue: Catalogue,
    licence: Path | None = None,
    warnings: list[str] | None = None,
) -> dict[str, str]:
    """Every output file as text, keyed by file name; nothing is written here. Duplicate
    respondents are appended to ``warnings`` when a list is given."""
    try:
        respondents, answers = read_export(export, catalogue, _label(export))
        if warnings is not None:
            warnings += duplicate_respondents(respondents, answers)
        files = {
            "respondents.csv": csv_text(respondents, RESPONDENT_COLUMNS),
            "answers.csv": csv_text(answers, ANSWER_COLUMNS),
        }
        if coding is not None:
            coded = read_coding(coding, catalogue, answers, _label(coding))
            files["coded_answers.csv"] = csv_text(coded, CODED_COLUMNS)
    except DatasetError as exc:
        raise ArtifactImportError(exc.message, exc.hint or "nothing was written") from None
    if licence is not None:
        files.update(artifact_licence(licence))
    return files


def _label(path: Path) -> str:
    """How a source file is named in the data: relative to the artifact when it is in one."""
    parts = path.parts
    return "/".join(parts[-2:]) if len(parts) >= 2 and parts[-2] == "theme1-survey" else path.name


def write_survey(files: dict[str, str], target: Path) -> list[Path]:
    written = []
    for name, text in sorted(files.items()):
        path = target / name
        atomic_write_text(path, text)
        written.append(path)
    return written


def import_survey(ctx: ImportContext) -> list[Path]:
    """Entry point of ``convfail data import-artifact``: write ``data/survey/``."""
    target = ctx.data_dir / SURVEY
    catalogue = load_catalogue(target / CATALOGUE_FILE)
    files = build_survey(
        ctx.artifact / EXPORT_FILE, ctx.artifact / CODING_FILE, catalogue, ctx.artifact / "LICENSE"
    )
    return write_survey(files, target)


def import_follow_up(
    export: Path, coding: Path | None, catalogue: Path, out: Path
) -> tuple[list[Path], list[str]]:
    """``convfail survey import``: a new export (xlsx or CSV, and its coding) validated against
    ``catalogue`` and written to ``out`` with a copy of the catalogue; nothing is written on
    error. Returns the files and the warnings (duplicate respondents)."""
    warnings: list[str] = []
    files = build_survey(export, coding, load_catalogue(catalogue), warnings=warnings)
    written = write_survey(files, out)
    if catalogue.resolve() != (out / CATALOGUE_FILE).resolve():
        shutil.copyfile(catalogue, out / CATALOGUE_FILE)
    return written, warnings


__all__ = [
    "build_survey",
    "import_follow_up",
    "import_survey",
    "normalise_text",
    "read_coding",
    "read_export",
    "split_multi",
    "write_survey",
]
