"""Reading a matrix run's records (``data/difftest/<name>/matrix.jsonl``, written by
``convfail difftest matrix``) without importing the difftest stage."""

from __future__ import annotations

import json
from pathlib import Path

from convfail.paths import campaign_dir

RESULTS = "matrix.jsonl"


def matrix_results_path(name: str) -> Path:
    return campaign_dir(name) / RESULTS


def read_matrix(name: str) -> list[dict]:
    """Every record of matrix ``name``; none when it has not been run."""
    path = matrix_results_path(name)
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
