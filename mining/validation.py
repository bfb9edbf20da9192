"""How good is a fix filter? Precision and recall against hand judgements.

The judgement file is a CSV with columns ``repository``, ``number`` and ``fixed`` (true/false,
yes/no, 1/0): a person read the issue and said whether it was closed with a fix. The paper
validated its filter on 50 issues per repository and required precision and recall ≥ 0.8.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd

from convfail.dataset import read_csv
from convfail.errors import DatasetError
from mining import rules

TRUE = {"true", "yes", "1", "y", "fixed"}
FALSE = {"false", "no", "0", "n", "not fixed", "unfixed"}
BAR = 0.8


def load_judgements(path: Path) -> pd.DataFrame:
    frame = read_csv(path, ["repository", "number", "fixed"])
    values = frame["fixed"].str.strip().str.lower()
    bad = frame[~values.isin(TRUE | FALSE)]
    if not bad.empty:
        raise DatasetError(
            f"{path}: row {bad.index[0] + 2}: 'fixed' is {bad.iloc[0]['fixed']!r}",
            "write true or false (yes/no, 1/0 also work)",
        )
    frame["fixed"] = values.isin(TRUE)
    frame["number"] = frame["number"].astype(int)
    return frame


def score(
    judgements: pd.DataFrame, records: dict[tuple[str, int], dict[str, Any]], rule_set: str
) -> pd.DataFrame:
    """Confusion counts, precision, recall and F1 per repository and overall."""
    missing = [
        f"{r}#{n}"
        for r, n in zip(judgements["repository"], judgements["number"], strict=True)
        if (r, n) not in records
    ]
    if missing:
        raise DatasetError(
            f"no mined record for {len(missing)} judged issue(s): {', '.join(missing[:5])}",
            "mine them first: convfail mine hydrate --study NAME, or convfail mine issues",
        )
    predicted = [
        rules.is_fixed(records[(r, n)], rule_set)
        for r, n in zip(judgements["repository"], judgements["number"], strict=True)
    ]
    frame = judgements.assign(predicted=predicted)
    rows = []
    groups = [(repo, g) for repo, g in frame.groupby("repository", sort=True)] + [("all", frame)]
    for repository, group in groups:
        tp = int((group["fixed"] & group["predicted"]).sum())
        fp = int((~group["fixed"] & group["predicted"]).sum())
        fn = int((group["fixed"] & ~group["predicted"]).sum())
        tn = int((~group["fixed"] & ~group["predicted"]).sum())
        precision = tp / (tp + fp) if tp + fp else float("nan")
        recall = tp / (tp + fn) if tp + fn else float("nan")
        f1 = 2 * precision * recall / (precision + recall) if precision + recall else float("nan")
        rows.append(
            {
                "repository": repository,
                "rule_set": rule_set,
                "judged": len(group),
                "tp": tp,
                "fp": fp,
                "fn": fn,
                "tn": tn,
                "precision": round(precision, 3),
                "recall": round(recall, 3),
                "f1": round(f1, 3),
                "meets_bar": bool(precision >= BAR and recall >= BAR),
            }
        )
    return pd.DataFrame(rows)
