"""The tidy conversion-matrix table, from the records of ``convfail difftest matrix``."""

from __future__ import annotations

import pandas as pd

COLUMNS = [
    "model",
    "source",
    "target",
    "path",
    "runtime",
    "precision",
    "images",
    "top1_discrepancy_pct",
    "top5_tau_mean",
    "outcome",
    "max_abs_diff",
]
RAN = ("success", "mismatch")


def conversion_matrix(records: list[dict]) -> pd.DataFrame:
    """One row per model x source x path x runtime, in a stable order."""
    table = pd.DataFrame(records, columns=COLUMNS)
    return table.sort_values(["model", "source", "target", "path", "runtime"], ignore_index=True)


def precision_case(table: pd.DataFrame, model: str = "inception_v3") -> dict[str, float]:
    """Top-1 discrepancy of ``model``'s Keras -> TFLite conversions in LiteRT, per precision."""
    rows = table[
        (table["model"] == model)
        & (table["source"] == "keras")
        & (table["target"] == "tflite")
        & (table["runtime"] == "litert")
        & table["outcome"].isin(RAN)
    ]
    return dict(zip(rows["precision"], rows["top1_discrepancy_pct"], strict=True))
