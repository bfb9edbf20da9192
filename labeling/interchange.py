"""Labels to and from the published artifact's spreadsheet layout (``FailureAnalysis.xlsx``).

For colleagues who stay in Excel: one sheet per converter (``PyTorch``, ``tf2onnx`` as in the
artifact, the converter's name otherwise), columns ``id, Title, URL, Description`` and, per
dimension, the numeric code beside its name (``Type By Number`` / ``Type``, ...). Names are
written with the spelling the artifact's sheets use. Import accepts a code, a name or both (they
must agree), checks every value against the codebook and every issue against the study, and
writes nothing when one row is wrong.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import openpyxl
from openpyxl.styles import Font

from convfail.codebook import Category, Codebook
from convfail.dataset import Study
from convfail.errors import CodebookError, ConvfailError
from convfail.records import ISSUE_KEY, LABEL_COLUMNS
from convfail.spreadsheet import SheetRow, open_workbook, sheet_rows
from labeling.artifact_import import MAIN_SHEETS, SUBCAUSE_COLUMNS
from labeling.store import LabelStore

BASE_COLUMNS = ["id", "Title", "URL", "Description"]
DIMENSION_COLUMNS = {
    "cause": ("Type By Number", "Type"),
    "symptom": ("Symptom by Number", "Symptoms"),
    "location": ("Component by number", "Component"),
}
URL = re.compile(r"^https?://github\.com/([^/\s]+/[^/\s]+)/(?:issues|pull)/(\d+)/?$")


class InterchangeError(ConvfailError):
    """A spreadsheet that cannot be turned into labels of the study."""


def subcause_columns(codebook: Codebook) -> dict[str, tuple[str, str]]:
    """Code and name columns of the sub-causes of each cause that has sub-causes."""
    out = {}
    for cause in codebook["cause"]:
        if codebook.subcauses(cause.name):
            out[cause.name] = SUBCAUSE_COLUMNS.get(
                cause.name,
                (f"{cause.paper_name} Sub-cause by Number", f"{cause.paper_name} Sub-cause"),
            )
    return out


def layout(codebook: Codebook) -> list[str]:
    columns = list(BASE_COLUMNS)
    for code_col, name_col in [*DIMENSION_COLUMNS.values(), *subcause_columns(codebook).values()]:
        columns += [code_col, name_col]
    return columns


def sheet_name(converter: str) -> str:
    name = MAIN_SHEETS.get(converter, converter)
    return re.sub(r"[\[\]:*?/\\]", "_", name)[:31]


def _sheet_label(category: Category) -> str:
    return category.sheet_names[0] if category.sheet_names else category.paper_name


def export_workbook(study: Study, rater: str, codebook: Codebook, path: Path) -> int:
    """Write ``rater``'s labels of ``study`` to ``path``; returns the number of issues written."""
    if rater not in study.labels:
        raise InterchangeError(
            f"study '{study.name}' has no labels of rater '{rater}'",
            f"raters with labels: {', '.join(sorted(study.labels)) or 'none'}",
        )
    labelled = study.issues.merge(study.labels[rater], on=ISSUE_KEY, how="inner")
    columns = layout(codebook)
    sub_columns = subcause_columns(codebook)
    workbook = openpyxl.Workbook()
    workbook.remove(workbook.active)
    for converter in sorted(labelled["converter"].unique()):
        sheet = workbook.create_sheet(sheet_name(converter))
        sheet.append(columns)
        for cell in sheet[1]:
            cell.font = Font(bold=True)
        part = labelled[labelled["converter"] == converter].sort_values("number")
        for position, row in enumerate(part.to_dict("records"), start=1):
            values: dict[str, Any] = {
                "id": int(row["artifact_id"]) if row.get("artifact_id") else position,
                "Title": row["title"],
                "URL": row["url"],
                "Description": row["note"] or None,
            }
            for dim, (code_col, name_col) in DIMENSION_COLUMNS.items():
                if row[dim]:
                    category = codebook.category(dim, row[dim])
                    values[code_col], values[name_col] = category.code, _sheet_label(category)
            if row["subcause"]:
                code_col, name_col = sub_columns[row["cause"]]
                category = codebook.category("subcause", row["subcause"], row["cause"])
                values[code_col], values[name_col] = category.code, _sheet_label(category)
            sheet.append([values.get(c) for c in columns])
    if not workbook.sheetnames:
        raise InterchangeError(f"rater '{rater}' has no labelled issue in study '{study.name}'")
    path.parent.mkdir(parents=True, exist_ok=True)
    workbook.save(path)
    return len(labelled)


@dataclass(frozen=True)
class _Cell:
    sheet: str
    row: int

    def __str__(self) -> str:
        return f"sheet '{self.sheet}', row {self.row}"


def _lookup(
    codebook: Codebook, dim: str, code: Any, name: Any, where: _Cell, parent: str | None = None
) -> str:
    """The canonical name for a code and/or a name; both must agree when both are given."""
    by_code = by_name = None
    try:
        if code is not None:
            if isinstance(code, bool) or not isinstance(code, int | float) or int(code) != code:
                raise InterchangeError(f"{where}: {dim} code {code!r} is not a whole number")
            by_code = codebook.by_code(dim, int(code), parent)
        if name is not None:
            text = str(name).strip().lower()
            by_name = next(
                (
                    c
                    for c in codebook[dim]
                    if c.parent == parent
                    and text
                    in {c.name.lower(), c.paper_name.lower(), *(s.lower() for s in c.sheet_names)}
                ),
                None,
            )
            if by_name is None:
                valid = ", ".join(_sheet_label(c) for c in codebook[dim] if c.parent == parent)
                raise InterchangeError(
                    f"{where}: '{name}' is not a {dim} name", f"valid names: {valid}"
                )
    except CodebookError as exc:
        raise InterchangeError(f"{where}: {exc.message}", exc.hint) from None
    if by_code and by_name and by_code != by_name:
        raise InterchangeError(
            f"{where}: {dim} code {by_code.code} means '{_sheet_label(by_code)}' but the name "
            f"column says '{name}'",
            "fix either the code or the name",
        )
    chosen = by_code or by_name
    return chosen.name if chosen else ""


def _value(record: SheetRow, columns: dict[str, int], name: str) -> Any:
    index = columns.get(name)
    return record.cells[index] if index is not None and index < len(record.cells) else None


def _parse_row(record: SheetRow, columns: dict[str, int], where: _Cell, codebook: Codebook) -> dict:
    """One spreadsheet row as a label row (issue key not yet checked against the study)."""
    url = str(_value(record, columns, "URL")).strip()
    match = URL.match(url)
    if not match:
        raise InterchangeError(f"{where}: '{url}' is not a GitHub issue URL")
    label = {c: "" for c in LABEL_COLUMNS}
    label.update(
        repository=match.group(1), number=match.group(2), codebook_version=codebook.version
    )
    for dim, (code_col, name_col) in DIMENSION_COLUMNS.items():
        code, name = _value(record, columns, code_col), _value(record, columns, name_col)
        label[dim] = _lookup(codebook, dim, code, name, where)
    for parent, (code_col, name_col) in subcause_columns(codebook).items():
        code, name = _value(record, columns, code_col), _value(record, columns, name_col)
        value = _lookup(codebook, "subcause", code, name, where, parent)
        if value and parent != label["cause"]:
            raise InterchangeError(
                f"{where}: a {parent} sub-cause is given for cause '{label['cause'] or '(none)'}'"
            )
        label["subcause"] = label["subcause"] or value
    label["note"] = str(_value(record, columns, "Description") or "")
    return label


def read_workbook(path: Path, study: Study, codebook: Codebook) -> list[dict[str, str]]:
    """Label rows from every sheet with the layout (other sheets, e.g. drift checks, skipped)."""
    workbook = open_workbook(path)
    known = set(zip(study.issues["repository"], study.issues["number"].astype(int), strict=True))
    rows: dict[tuple[str, int], dict[str, str]] = {}
    for sheet in workbook.sheetnames:
        header, data = sheet_rows(workbook, path, sheet)
        if "URL" not in header or not any(code in header for code, _ in DIMENSION_COLUMNS.values()):
            continue
        columns = {name: header.index(name) for name in header if isinstance(name, str) and name}
        for record in data:
            if _value(record, columns, "URL") is None:
                continue  # legend or summary rows beside the data
            where = _Cell(sheet, record.row)
            label = _parse_row(record, columns, where, codebook)
            key = (label["repository"], int(label["number"]))
            if key not in known:
                raise InterchangeError(
                    f"{where}: issue {key[0]}#{key[1]} is not in study '{study.name}'",
                    "add it to the study's issues.csv first",
                )
            if key in rows:
                raise InterchangeError(f"{where}: issue {key[0]}#{key[1]} appears twice")
            label.update(source_file=path.name, source_sheet=sheet, source_row=str(record.row))
            rows[key] = label
    if not rows:
        raise InterchangeError(
            f"{path}: no sheet with the artifact's layout",
            f"expected columns: {', '.join(layout(codebook))}",
        )
    return list(rows.values())


def import_workbook(path: Path, study: Study, rater: str, codebook: Codebook, replace: bool) -> int:
    """Write the spreadsheet's labels as ``labels/<rater>.csv``; returns the number of issues."""
    store = LabelStore(study.path, rater, codebook)
    if store.path.exists() and not replace:
        raise InterchangeError(
            f"{store.path} exists: importing would overwrite rater '{rater}'",
            "pass --replace to overwrite it, or import under another --rater",
        )
    rows = read_workbook(path, study, codebook)
    with store.locked():
        store.write_all(rows)
    return len(rows)
