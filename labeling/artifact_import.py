"""Import the ISSTA 2024 failure study (theme 2 of the published artifact) as study ``issta24``.

Inputs (read-only): ``FailureAnalysis.xlsx`` (the primary rater's labels of the 200 sampled
issues and the two drift raters' codes), ``PilotStudy.xlsx`` (raters R1/R2 coding cause and
symptom of 30 + 30 issues, paired in sheet ``Interrater``) and ``issue-created-dates.csv``.

Every code/name pair the spreadsheets hold is checked against the codebook, every record keeps
its file, sheet and row, and all output is built in memory first: a defect anywhere stops the
import before a single file is written. Outputs are sorted, so a re-import is byte-identical.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
import yaml

from convfail.codebook import Codebook
from convfail.dataset import atomic_write_text, csv_text, label_frame, read_csv
from convfail.errors import ArtifactImportError, CodebookError, DatasetError
from convfail.importers import ImportContext, artifact_licence
from convfail.paths import STUDIES
from convfail.records import CONVERTER_REPOSITORIES, ISSUE_COLUMNS, ISSUE_KEY, LABEL_COLUMNS
from convfail.spreadsheet import SheetRow, column_index, open_workbook, sheet_rows

STUDY = "issta24"
FAILURES_FILE = "theme2-failures/FailureAnalysis.xlsx"
PILOT_FILE = "theme2-failures/PilotStudy.xlsx"
MAIN_SHEETS = {"torch.onnx": "PyTorch", "tf2onnx": "tf2onnx"}
DRIFT_SHEETS = {"torch.onnx": "PT Drift Testing", "tf2onnx": "TF Drift Testing"}
PILOT_SHEETS = {
    ("torch.onnx", "pilot_r1"): "PyTorch Issues - R1",
    ("torch.onnx", "pilot_r2"): "PyTorch Issues - R2",
    ("tf2onnx", "pilot_r1"): "tf2onnx Issues - R1",
    ("tf2onnx", "pilot_r2"): "tf2onnx Issues - R2",
}
PAIRING_SHEET = "Interrater"
DATES_CONVERTERS = {"pytorch": "torch.onnx", "tf2onnx": "tf2onnx"}
URL_PATTERN = re.compile(r"^https://github\.com/([^/\s]+/[^/\s]+)/(?:issues|pull)/(\d+)/?$")

# (dimension, code column, name column) of the main sheets; sub-causes are handled per cause.
MAIN_DIMENSIONS = [
    ("cause", "Type By Number", "Type"),
    ("symptom", "Symptom by Number", "Symptoms"),
    ("location", "Component by number", "Component"),
]
SUBCAUSE_COLUMNS = {
    "incompatibility": ("Incomp. Type by Number", "Incomp. Type"),
    "type_problem": ("Type Prob. Type by Number", "Type Prob. Type"),
}
DRIFT_CODE_COLUMNS = [
    ("cause", "Type By Number"),
    ("symptom", "Symptom by Number"),
    ("location", "Component by number"),
    ("incompatibility", "Incomp. Type by Number"),
    ("type_problem", "Type Prob. Type by Number"),
]
RATERS = {
    "primary": "The study's main pass: one rater coded all 200 sampled issues on every dimension.",
    "drift_a": "Drift check, rater A (sheets 'PT/TF Drift Testing', columns under 'Rater A').",
    "drift_b": "Drift check, rater B (sheets 'PT/TF Drift Testing', columns under 'Rater B').",
    "pilot_r1": "Pilot, rater R1: cause and symptom of 30 random issues per converter.",
    "pilot_r2": "Pilot, rater R2: cause and symptom of the same 60 issues.",
}


@dataclass(frozen=True)
class Where:
    """Provenance of one record, used in records and in error messages."""

    file: str
    sheet: str
    row: int

    def __str__(self) -> str:
        return f"{self.file}, sheet '{self.sheet}', row {self.row}"

    def columns(self) -> dict[str, Any]:
        return {"source_file": self.file, "source_sheet": self.sheet, "source_row": self.row}


def _error(where: Where, problem: str, hint: str = "") -> ArtifactImportError:
    return ArtifactImportError(f"{where}: {problem}", hint or "fix the input; nothing was written")


def _code(value: Any, where: Where, column: str) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or int(value) != value:
        raise _error(where, f"column '{column}' holds {value!r}, expected an integer code")
    return int(value)


def _category(book: Codebook, dim: str, code: int, where: Where, parent: str | None = None):
    try:
        return book.by_code(dim, code, parent)
    except CodebookError as exc:
        raise _error(where, exc.message, exc.hint) from None


def _check_name(category, name: Any, where: Where, column: str) -> None:
    """The name column is derived from the code column; a disagreement means a corrupt row."""
    if name is not None and name not in category.sheet_names:
        raise _error(
            where,
            f"code {category.code} means '{category.sheet_names[0]}' but column '{column}' says "
            f"'{name}'",
        )


def parse_issue_url(url: Any, where: Where) -> tuple[str, int]:
    match = URL_PATTERN.match(str(url or "").strip())
    if not match:
        raise _error(where, f"'{url}' is not a GitHub issue URL")
    return match.group(1), int(match.group(2))


def _subcause(
    book: Codebook, cause: str, codes: dict[str, tuple[int | None, Any]], where: Where
) -> str:
    """Pick the sub-cause of ``cause`` and refuse a sub-cause recorded for another cause."""
    result = ""
    for parent, (code, name) in codes.items():
        if code is None:
            continue
        if parent != cause:
            raise _error(
                where, f"a {parent} sub-cause (code {code}) is recorded for cause '{cause}'"
            )
        sub = _category(book, "subcause", code, where, parent)
        if name is not None:
            _check_name(sub, name, where, SUBCAUSE_COLUMNS[parent][1])
        result = sub.name
    if cause in SUBCAUSE_COLUMNS and not result and book.subcauses(cause):
        raise _error(where, f"cause '{cause}' has no sub-cause")
    return result


def _label(repo: str, number: int, values: dict[str, str], book: Codebook, where: Where) -> dict:
    return {
        "repository": repo,
        "number": number,
        "location": values.get("location", ""),
        "symptom": values.get("symptom", ""),
        "cause": values.get("cause", ""),
        "subcause": values.get("subcause", ""),
        "note": values.get("note", ""),
        "codebook_version": book.version,
        "labelled_at": "",
        **where.columns(),
    }


def _read_main(ctx: ImportContext) -> tuple[list[dict], list[dict]]:
    path = ctx.artifact / FAILURES_FILE
    workbook = open_workbook(path)
    book = ctx.codebook
    issues, labels = [], []
    for converter, sheet in MAIN_SHEETS.items():
        header, rows = sheet_rows(workbook, path, sheet)
        col = {name: column_index(header, name, path, sheet) for name in _main_columns()}
        for row in rows:
            if row.cells[col["id"]] is None:
                continue
            where = Where(FAILURES_FILE, sheet, row.row)

            def cell(name: str, r: SheetRow = row, index: dict = col) -> Any:
                return _cell(r, index[name])

            repo, number = parse_issue_url(cell("URL"), where)
            _check_repository(converter, repo, where)
            values: dict[str, str] = {}
            for dim, code_col, name_col in MAIN_DIMENSIONS:
                code = _code(cell(code_col), where, code_col)
                if code is None:
                    raise _error(where, f"column '{code_col}' is empty")
                category = _category(book, dim, code, where)
                _check_name(category, cell(name_col), where, name_col)
                values[dim] = category.name
            sub_codes = {
                parent: (_code(cell(code_col), where, code_col), cell(name_col))
                for parent, (code_col, name_col) in SUBCAUSE_COLUMNS.items()
            }
            values["subcause"] = _subcause(book, values["cause"], sub_codes, where)
            values["note"] = str(cell("Description") or "")
            issues.append(
                {
                    "converter": converter,
                    "repository": repo,
                    "number": number,
                    "url": f"https://github.com/{repo}/issues/{number}",
                    "title": str(cell("Title") or ""),
                    "in_sample": "true",
                    "artifact_id": _code(cell("id"), where, "id"),
                    **where.columns(),
                }
            )
            labels.append(_label(repo, number, values, book, where))
    return issues, labels


def _main_columns() -> list[str]:
    names = ["id", "Title", "URL", "Description"]
    for _, code_col, name_col in MAIN_DIMENSIONS:
        names += [code_col, name_col]
    for code_col, name_col in SUBCAUSE_COLUMNS.values():
        names += [code_col, name_col]
    return names


def _check_repository(converter: str, repo: str, where: Where) -> None:
    expected = CONVERTER_REPOSITORIES[converter]
    if repo.lower() != expected:
        raise _error(where, f"issue of {repo} in the {converter} sheet (expected {expected})")


def _read_drift(ctx: ImportContext) -> dict[str, list[dict]]:
    path = ctx.artifact / FAILURES_FILE
    workbook = open_workbook(path)
    book = ctx.codebook
    out: dict[str, list[dict]] = {"drift_a": [], "drift_b": []}
    for converter, sheet in DRIFT_SHEETS.items():
        groups, _ = sheet_rows(workbook, path, sheet, header_row=1)
        header, rows = sheet_rows(workbook, path, sheet, header_row=2)
        starts = {}
        for rater, title in (("drift_a", "Rater A"), ("drift_b", "Rater B")):
            if title not in groups:
                raise ArtifactImportError(f"{path}, sheet '{sheet}': no '{title}' column group")
            starts[rater] = groups.index(title)
        url_col = column_index(header, "URL", path, sheet)
        for row in rows:
            where = Where(FAILURES_FILE, sheet, row.row)
            repo, number = parse_issue_url(row.cells[url_col], where)
            _check_repository(converter, repo, where)
            for rater, start in starts.items():
                codes = {
                    key: _code(
                        _cell(row, column_index(header, column, path, sheet, start)), where, column
                    )
                    for key, column in DRIFT_CODE_COLUMNS
                }
                values = {
                    dim: _category(book, dim, codes[dim], where).name
                    for dim in ("cause", "symptom", "location")
                    if codes[dim] is not None
                }
                if "cause" not in values:
                    raise _error(where, f"{rater}: no cause code")
                sub_codes = {p: (codes[p], None) for p in SUBCAUSE_COLUMNS}
                values["subcause"] = _subcause(book, values["cause"], sub_codes, where)
                out[rater].append(_label(repo, number, values, book, where))
    return out


def _cell(row: SheetRow, index: int) -> Any:
    return row.cells[index] if index < len(row.cells) else None


def _read_pilot(ctx: ImportContext) -> tuple[dict[str, list[dict]], list[dict]]:
    path = ctx.artifact / PILOT_FILE
    workbook = open_workbook(path)
    book = ctx.codebook
    labels: dict[str, list[dict]] = {"pilot_r1": [], "pilot_r2": []}
    issues: dict[tuple[str, int], dict] = {}
    codes_by_id: dict[tuple[str, str, int], tuple[int, int]] = {}
    for (converter, rater), sheet in PILOT_SHEETS.items():
        header, rows = sheet_rows(workbook, path, sheet)
        col = {
            n: column_index(header, n, path, sheet)
            for n in [
                "id",
                "Title",
                "URL",
                "Type By Number",
                "Type",
                "Symptom by Number",
                "Symptoms",
            ]
        }
        seen = set()
        for row in rows:
            if _cell(row, col["id"]) is None:
                continue  # the legend block below the data has no id
            where = Where(PILOT_FILE, sheet, row.row)
            repo, number = parse_issue_url(_cell(row, col["URL"]), where)
            _check_repository(converter, repo, where)
            if (repo, number) in seen:
                raise _error(where, f"issue {repo}#{number} appears twice")
            seen.add((repo, number))
            values = {}
            for dim, code_col, name_col in MAIN_DIMENSIONS[:2]:
                code = _code(_cell(row, col[code_col]), where, code_col)
                if code is None:
                    raise _error(where, f"column '{code_col}' is empty")
                category = _category(book, dim, code, where)
                _check_name(category, _cell(row, col[name_col]), where, name_col)
                values[dim] = category.name
            pilot_id = _code(_cell(row, col["id"]), where, "id")
            codes_by_id[(converter, rater, pilot_id)] = (
                book.category("cause", values["cause"]).code,
                book.category("symptom", values["symptom"]).code,
            )
            labels[rater].append(_label(repo, number, values, book, where))
            issues.setdefault(
                (repo, number),
                {
                    "converter": converter,
                    "repository": repo,
                    "number": number,
                    "title": str(_cell(row, col["Title"]) or ""),
                    "pilot_artifact_id": pilot_id,
                    **where.columns(),
                },
            )
    _check_pairing(workbook, path, codes_by_id)
    return labels, list(issues.values())


def _check_pairing(workbook, path: Path, codes_by_id: dict) -> None:
    """Sheet ``Interrater`` pairs R1 and R2; it must agree with the raters' own sheets."""
    header, rows = sheet_rows(workbook, path, PAIRING_SHEET, header_row=2)
    blocks = {"tf2onnx": 0, "torch.onnx": column_index(header, "id", path, PAIRING_SHEET, 1)}
    pairs = 0
    for converter, start in blocks.items():
        idx = {
            name: column_index(header, name, path, PAIRING_SHEET, start)
            for name in ("id", "R1 causes", "R2 causes", "R1 symptoms", "R2 symptoms")
        }
        for row in rows:
            pilot_id = _cell(row, idx["id"])
            if pilot_id is None:
                continue
            where = Where(PILOT_FILE, PAIRING_SHEET, row.row)
            for rater, prefix in (("pilot_r1", "R1"), ("pilot_r2", "R2")):
                own = codes_by_id.get((converter, rater, int(pilot_id)))
                paired = (
                    _cell(row, idx[f"{prefix} causes"]),
                    _cell(row, idx[f"{prefix} symptoms"]),
                )
                if own != paired:
                    raise _error(
                        where,
                        f"{converter} pilot issue {pilot_id}: {prefix} codes {paired} here but "
                        f"{own} in the rater's own sheet",
                    )
            pairs += 1
    expected = len(codes_by_id) // 2
    if pairs != expected:
        raise ArtifactImportError(
            f"{path}, sheet '{PAIRING_SHEET}': pairs {pairs} issues, the rater sheets {expected}"
        )


def _read_dates(path: Path) -> dict[tuple[str, int], str]:
    """Creation dates; only ``date_kind == description`` is a creation date."""
    frame = read_csv(path, ["converter", "url", "number", "created_date", "date_kind"])
    dates = {}
    for offset, row in frame.iterrows():
        where = Where(path.name, "-", int(str(offset)) + 2)
        repo, number = parse_issue_url(row["url"], where)
        if row["converter"] not in DATES_CONVERTERS:
            raise _error(where, f"unknown converter '{row['converter']}'")
        if row["date_kind"] == "description":
            if not re.fullmatch(r"\d{4}-\d{2}-\d{2}", row["created_date"]):
                raise _error(where, f"created_date '{row['created_date']}' is not YYYY-MM-DD")
            dates[(repo, number)] = row["created_date"]
    return dates


def _unique(records: Iterable[dict], what: str) -> None:
    seen: dict[tuple[str, int], dict] = {}
    for record in records:
        key = (record["repository"], record["number"])
        if key in seen:
            first = seen[key]
            raise ArtifactImportError(
                f"issue {key[0]}#{key[1]} appears twice in {what}: {first['source_sheet']} row "
                f"{first['source_row']} and {record['source_sheet']} row {record['source_row']}",
                "remove the duplicate; nothing was written",
            )
        seen[key] = record


def build_study(ctx: ImportContext) -> dict[str, str]:
    """All files of study ``issta24`` as text, keyed by path relative to the study folder."""
    issues, primary = _read_main(ctx)
    _unique(issues, "the main sample")
    drift = _read_drift(ctx)
    pilot_labels, pilot_issues = _read_pilot(ctx)
    sampled = {(i["repository"], i["number"]): i for i in issues}
    for rater, rows in drift.items():
        _unique(rows, f"the drift sheets ({rater})")
        for row in rows:
            if (row["repository"], row["number"]) not in sampled:
                raise ArtifactImportError(
                    f"drift issue {row['repository']}#{row['number']} is not in the main sample"
                )
    for issue in pilot_issues:
        key = (issue["repository"], issue["number"])
        if key in sampled:
            sampled[key]["pilot_artifact_id"] = issue["pilot_artifact_id"]
        else:
            issues.append(
                {
                    **issue,
                    "url": f"https://github.com/{key[0]}/issues/{key[1]}",
                    "in_sample": "false",
                }
            )
    if ctx.created_dates is not None:
        dates = _read_dates(ctx.created_dates)
        for issue in issues:
            date = dates.get((issue["repository"], issue["number"]))
            issue["created_at"] = date or ""
            issue["created_at_source"] = ctx.created_dates.name if date else ""
    issues.sort(key=lambda i: (i["converter"], i["number"]))
    issue_frame = pd.DataFrame(
        [{c: "" if i.get(c) is None else str(i[c]) for c in ISSUE_COLUMNS} for i in issues]
    )
    files = {"issues.csv": csv_text(issue_frame, ISSUE_COLUMNS)}
    for rater, rows in {"primary": primary, **drift, **pilot_labels}.items():
        files[f"labels/{rater}.csv"] = csv_text(label_frame(rows), LABEL_COLUMNS)
    files["study.yaml"] = _settings(ctx)
    files.update(artifact_licence(ctx.artifact / "LICENSE"))
    return files


def _settings(ctx: ImportContext) -> str:
    settings = {
        "name": STUDY,
        "title": "ISSTA 2024 failure analysis of ONNX model converters (Jajal et al.)",
        "codebook_version": ctx.codebook.version,
        "primary_rater": "primary",
        "converters": dict(CONVERTER_REPOSITORIES),
        "raters": RATERS,
        "source": {
            "artifact": "PurdueDualityLab/issta24-onnx-artifact, commit 3907b01 (Apache-2.0)",
            "files": [FAILURES_FILE, PILOT_FILE, "issue-created-dates.csv"],
        },
    }
    return yaml.safe_dump(settings, sort_keys=False, allow_unicode=True, width=100)


def import_failure_study(ctx: ImportContext) -> list[Path]:
    """Entry point of ``convfail data import-artifact``: write ``data/studies/issta24/``."""
    try:
        files = build_study(ctx)
    except DatasetError as exc:
        raise ArtifactImportError(exc.message, exc.hint or "nothing was written") from None
    target = ctx.data_dir / STUDIES / STUDY
    written = []
    for relative, text in sorted(files.items()):
        path = target / relative
        atomic_write_text(path, text)
        written.append(path)
    return written


__all__ = ["ISSUE_KEY", "build_study", "import_failure_study", "parse_issue_url"]
