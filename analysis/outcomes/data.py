"""Read a campaign's outcomes: one row per ``results.jsonl`` record, the columns Table 11 needs.

Reads the *files* difftest writes (``data/difftest/<campaign>/results.jsonl``), never its code.
"""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

from convfail.errors import DatasetError

LOOSE = 1e-3


def load_results(path: Path) -> pd.DataFrame:
    """One row per result record, with the columns the tables need."""
    rows = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if not line.strip():
            continue
        r = json.loads(line)
        mismatch = (r.get("comparison") or {}).get("mismatch") or {}
        rows.append(
            {
                "campaign": r["campaign"],
                "framework": r["framework"],
                "converter": r["converter"],
                "nodes": r["nodes"],
                "outcome": r["outcome"],
                "signature": r.get("signature") or "",
                "mismatch_loose": mismatch.get(repr(LOOSE)),
            }
        )
    if not rows:
        raise DatasetError(
            f"no results in {path}", "run `convfail data import-artifact --only difftest`"
        )
    return pd.DataFrame(rows)


def fresh_campaigns(root: Path) -> list[str]:
    """Campaign folders made by ``convfail difftest run`` (they hold a campaign.yaml)."""
    return sorted(
        p.parent.name
        for p in root.glob("*/campaign.yaml")
        if (p.parent / "results.jsonl").is_file()
    )
