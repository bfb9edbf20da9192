"""The border file of a conversion matrix, ``data/difftest/<name>/matrix.jsonl``: written by
difftest's matrix runner, read by it on a resume and by the conversions analysis. Defined once
here, in the core, because the two stages may not import each other."""

from __future__ import annotations

import json
from pathlib import Path

from convfail.errors import ConvfailError
from convfail.paths import campaign_dir

RESULTS = "matrix.jsonl"


def results_path(name: str) -> Path:
    return campaign_dir(name) / RESULTS


def read_results(name: str) -> list[dict]:
    """Every record of matrix ``name`` (none when it has not been run); a line that is not a
    JSON object is one error naming ``path:line``, and the file is left as it is."""
    path = results_path(name)
    if not path.exists():
        return []
    records = []
    for number, line in enumerate(path.read_text().splitlines(), start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError as error:
            record = error
        if not isinstance(record, dict):
            raise ConvfailError(
                f"{path}:{number}: not a matrix record ({record})",
                "restore the file from git, or delete that line and rerun the matrix to redo it",
            )
        records.append(record)
    return records
