"""Inter-rater agreement statistics over label frames (shared by labeling and analysis).

Agreement is computed on the issues both raters coded, per dimension. An empty label counts as
a category of its own ("none"), so a sub-cause one rater gave and the other did not is a
disagreement rather than a silently dropped pair.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from convfail.records import ISSUE_KEY

NONE = "none"


def paired(left: pd.DataFrame, right: pd.DataFrame, dimension: str) -> pd.DataFrame:
    """The two raters' values of ``dimension`` on the issues both coded (columns ``a``, ``b``)."""
    a = left[[*ISSUE_KEY, dimension]].rename(columns={dimension: "a"})
    b = right[[*ISSUE_KEY, dimension]].rename(columns={dimension: "b"})
    both = a.merge(b, on=ISSUE_KEY, how="inner", validate="one_to_one")
    both[["a", "b"]] = both[["a", "b"]].replace("", NONE)
    return both.sort_values(ISSUE_KEY).reset_index(drop=True)


def cohen_kappa(a: pd.Series, b: pd.Series) -> float:
    """Cohen's kappa; 1.0 when both raters used one and the same category throughout."""
    if len(a) == 0:
        return math.nan
    if a.nunique() == 1 and b.nunique() == 1 and a.iloc[0] == b.iloc[0]:
        return 1.0
    # sklearn takes over a second to import; only the agreement artifacts and commands need it.
    from sklearn.metrics import cohen_kappa_score

    return float(cohen_kappa_score(a.astype(str), b.astype(str)))


def percent_agreement(a: pd.Series, b: pd.Series) -> float:
    return float((a.to_numpy() == b.to_numpy()).mean() * 100) if len(a) else math.nan


def krippendorff_alpha_nominal(ratings: pd.DataFrame) -> float:
    """Krippendorff's alpha for nominal data; rows are units, columns raters, NaN = not coded."""
    values = sorted({v for v in ratings.to_numpy().ravel() if isinstance(v, str) and v})
    index = {v: i for i, v in enumerate(values)}
    coincidence = np.zeros((len(values), len(values)))
    for _, row in ratings.iterrows():
        coded = [index[v] for v in row if isinstance(v, str) and v]
        m = len(coded)
        if m < 2:
            continue
        for i, ci in enumerate(coded):
            for j, cj in enumerate(coded):
                if i != j:
                    coincidence[ci, cj] += 1 / (m - 1)
    n = coincidence.sum()
    if n == 0:
        return math.nan
    marginals = coincidence.sum(axis=1)
    observed = n - np.trace(coincidence)
    expected = (n * n - (marginals**2).sum()) / (n - 1)
    return 1.0 if expected == 0 else float(1 - observed / expected)
