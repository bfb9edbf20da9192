"""Published reference values and their comparison with ours.

``data/reference/published_<study>.yaml`` lists, per artifact, the cells the paper printed as
tidy keys plus a value. :func:`checks_for` looks each one up in our tidy table, so a table
function never hard-codes a published number.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

import pandas as pd
import yaml

from analysis.registry import Check
from convfail.config import reject_unknown_keys
from convfail.errors import DatasetError
from convfail.paths import reference_data_dir

# libyaml's parser when PyYAML was built with it: the same data, ten times faster than the pure
# Python one on the 40 KB of published values every worker reads
_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
ARTIFACT_KEYS = ("cells", "tolerance", "paper_ref")
CELL_OPTIONS = {"value", "value_column", "tolerance", "expected", "reason"}


@cache
def _published(path: Path) -> dict:
    try:
        return yaml.load(path.read_text(encoding="utf-8"), Loader=_LOADER) or {}
    except FileNotFoundError:
        raise DatasetError(f"published reference values not found: {path}") from None


def published_cells(artifact_id: str, study: str = "issta24") -> tuple[list[dict], float, str]:
    """The published cells of an artifact, its tolerance and the paper reference."""
    path = reference_data_dir() / f"published_{study}.yaml"
    data = _published(path)
    entry = (data.get("artifacts") or {}).get(artifact_id) or {}
    reject_unknown_keys(entry, ARTIFACT_KEYS, path, artifact_id, DatasetError)
    return (
        list(entry.get("cells") or []),
        float(entry.get("tolerance", 0.0)),
        entry.get("paper_ref", ""),
    )


def checks_for(
    artifact_id: str, table: pd.DataFrame, value_column: str, study: str = "issta24"
) -> list[Check]:
    """Compare every published cell of ``artifact_id`` with the matching row of ``table``.

    Besides its keys and ``value`` a cell may set ``value_column`` (compare that column instead
    of the artifact's value column), ``tolerance`` (instead of the artifact's) and, for a known
    quirk of the paper, ``expected`` (what the data gives) with ``reason``.
    """
    cells, tolerance, _ = published_cells(artifact_id, study)
    checks = []
    for cell in cells:
        keys = {k: v for k, v in cell.items() if k not in CELL_OPTIONS}
        mask = pd.Series(True, index=table.index)
        for column, wanted in keys.items():
            mask &= table[column].astype(str) == str(wanted)
        column = cell.get("value_column", value_column)
        match = table.loc[mask, column]
        ours = None if match.empty else _plain(match.iloc[0])
        label = ", ".join(f"{k}={v}" for k, v in keys.items())
        if column != value_column:
            label += f" [{column}]"
        checks.append(
            Check(
                artifact_id,
                label,
                cell["value"],
                ours,
                float(cell.get("tolerance", tolerance)),
                note=cell.get("reason", ""),
                expected_discrepancy=cell.get("expected"),
            )
        )
    return checks


def _plain(value: object) -> float | int | str:
    if isinstance(value, int | float | str):
        return value
    return value.item() if hasattr(value, "item") else str(value)
