"""Read a campaign's outcomes: one row per ``results.jsonl`` record, the columns Table 11 needs.

Reads the *files* difftest writes, through :mod:`convfail.campaign_files` (record keys, outcome
names, tolerance keys), never difftest's code. A torn last line (a campaign still running or
killed) is left out by the reader.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from convfail.campaign_files import read_results, tolerance_key
from convfail.errors import DatasetError

LOOSE = 1e-3


def load_results(path: Path) -> pd.DataFrame:
    """One row per result record, with the columns the tables need."""
    rows = []
    for r in read_results(path).records:
        mismatch = (r.get("comparison") or {}).get("mismatch") or {}
        rows.append(
            {
                "campaign": r["campaign"],
                "framework": r["framework"],
                "converter": r["converter"],
                "nodes": r["nodes"],
                "outcome": r["outcome"],
                "signature": r.get("signature") or "",
                "mismatch_loose": mismatch.get(tolerance_key(LOOSE)),
            }
        )
    if not rows:
        raise DatasetError(
            f"no results in {path}", "run `convfail data import-artifact --only difftest`"
        )
    return pd.DataFrame(rows)
