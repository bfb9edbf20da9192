"""Reading spreadsheets with provenance: every value comes with its file, sheet and row.

The published artifact keeps data in Excel workbooks with legends, pivot tables and notes beside
the data. Readers here take only the columns they name, report the Excel row number of each
record, and turn every shape problem (missing file, sheet or column) into one clear error.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import openpyxl

from convfail.errors import ArtifactImportError

MISSING_MARKERS = {"", "#N/A", "N/A", "#REF!"}


@dataclass(frozen=True)
class SheetRow:
    """One data row: the Excel row number and the named cells (by column position)."""

    row: int
    cells: tuple[Any, ...]


def clean(value: Any) -> Any:
    """Normalise a cell: strip strings, map Excel error markers and blanks to None."""
    if isinstance(value, str):
        value = value.strip()
        return None if value in MISSING_MARKERS else value
    return value


def open_workbook(path: Path) -> openpyxl.Workbook:
    if not path.is_file():
        raise ArtifactImportError(f"input file not found: {path}", "check the artifact path")
    try:
        return openpyxl.load_workbook(path, read_only=True, data_only=True)
    except Exception as exc:  # openpyxl raises many unrelated types for a bad file
        raise ArtifactImportError(f"{path}: not a readable .xlsx workbook ({exc})") from None


def sheet_rows(
    workbook: openpyxl.Workbook, path: Path, sheet: str, header_row: int = 1
) -> tuple[list[Any], list[SheetRow]]:
    """The header cells and the data rows below them (rows whose cells are all empty dropped)."""
    if sheet not in workbook.sheetnames:
        raise ArtifactImportError(
            f"{path}: sheet '{sheet}' not found",
            f"sheets present: {', '.join(workbook.sheetnames)}",
        )
    rows = list(workbook[sheet].iter_rows(values_only=True))
    if len(rows) < header_row:
        raise ArtifactImportError(f"{path}, sheet '{sheet}': no header row {header_row}")
    header = [clean(v) for v in rows[header_row - 1]]
    data = []
    for offset, values in enumerate(rows[header_row:], start=header_row + 1):
        cells = tuple(clean(v) for v in values)
        if any(v is not None for v in cells):
            data.append(SheetRow(offset, cells))
    return header, data


def column_index(header: list[Any], name: str, path: Path, sheet: str, start: int = 0) -> int:
    """Position of the first column called ``name`` at or after ``start``."""
    for index in range(start, len(header)):
        if header[index] == name:
            return index
    raise ArtifactImportError(
        f"{path}, sheet '{sheet}': column '{name}' not found",
        f"columns present: {', '.join(str(h) for h in header if h is not None)}",
    )
