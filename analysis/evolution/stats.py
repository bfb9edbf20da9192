"""The test of H_RQ3: releases that change more operators bring more converter failures.

A Spearman correlation between a release's number of changes and the number of sampled failures
created between that release and the next; the first release (opset 1, everything new) and the
last one (its interval is still open) are dropped. Two binnings of releases
(:data:`~analysis.evolution.tables.BINNINGS`):

- ``not_merged``: one point per ONNX release (opsets 2–5 share one, ONNX 1.1) — this reproduces
  the published 0.34;
- ``merged_2_7``: opsets 2–7 (released within about two months) merged into one point, as the
  paper's text says it did.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from analysis.evolution.tables import ALL, SUBSET

PERMUTATIONS = 10_000


SEED = 20240


def spearman_test(x, y, permutations: int = PERMUTATIONS, seed: int = SEED) -> dict:
    """Spearman's rho with its asymptotic p-value and a two-sided permutation p-value.

    Pairs with a missing value are dropped. The permutation test shuffles ``y`` against ``x``
    (seeded, so reruns agree); p = (extreme shuffles + 1) / (shuffles + 1).
    """
    # scipy.stats takes a while to import; of the RQ3 artifacts only this test needs it.
    from scipy import stats

    pairs = pd.DataFrame({"x": x, "y": y}).dropna()
    n = len(pairs)
    if n < 3 or pairs["x"].nunique() < 2 or pairs["y"].nunique() < 2:
        return {"points": n, "rho": np.nan, "p_value": np.nan, "permutation_p_value": np.nan}
    rho, p_value = stats.spearmanr(pairs["x"], pairs["y"])
    rx = stats.rankdata(pairs["x"])
    ry = stats.rankdata(pairs["y"])
    rng = np.random.default_rng(seed)
    shuffled = rng.permuted(np.tile(ry, (permutations, 1)), axis=1)
    rxc = rx - rx.mean()
    sc = shuffled - shuffled.mean(axis=1, keepdims=True)
    null = (sc @ rxc) / (np.sqrt((sc**2).sum(axis=1)) * np.sqrt((rxc**2).sum()))
    extreme = int((np.abs(null) >= abs(rho) - 1e-12).sum())
    return {
        "points": n,
        "rho": round(float(rho), 4),
        "p_value": round(float(p_value), 4),
        "permutation_p_value": round((extreme + 1) / (permutations + 1), 4),
    }


def rq3_test(per_release_by_binning: dict[tuple[str, str], pd.DataFrame]) -> pd.DataFrame:
    """Spearman tests per binning, changes counted and failure measure (first/last dropped)."""
    rows = []
    for (binning, counted), per_release in per_release_by_binning.items():
        inner = per_release.iloc[1:-1]
        measures = [
            (ALL, "count", ALL),
            (SUBSET, "count", SUBSET),
            (SUBSET, "share", f"{SUBSET}_share"),
        ]
        for failures, measure, column in measures:
            result = spearman_test(inner["changes"], inner[column])
            rows.append(
                {
                    "binning": binning,
                    "changes_counted": counted,
                    "failures": failures,
                    "measure": measure,
                    **result,
                }
            )
    return pd.DataFrame(rows)
