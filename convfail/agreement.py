"""Inter-rater agreement statistics over label frames (shared by labeling and analysis).

Agreement is computed per dimension on the issues the raters coded. One policy for blank answers
holds for every statistic here, kappa, percent agreement and alpha alike (:data:`BLANK_POLICY`):
a blank is "not coded", never a category. Counting it as a category would let two raters who
both skipped a sub-cause "agree", and would make kappa and alpha disagree on the same data. The
issues left out because of a blank are counted (:func:`blank_pairs`), so a sub-cause one rater
gave and the other did not stays visible instead of silently vanishing.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from convfail.records import ISSUE_KEY

BLANK_POLICY = (
    "Blank answers count as not coded, for kappa, percent agreement and alpha alike: an issue "
    "enters a dimension's kappa and percent agreement only where both raters gave a value, and "
    "its alpha where at least two raters did; the issues left out for a blank are counted "
    "(column 'blank')."
)


def _all_pairs(left: pd.DataFrame, right: pd.DataFrame, dimension: str) -> pd.DataFrame:
    a = left[[*ISSUE_KEY, dimension]].rename(columns={dimension: "a"})
    b = right[[*ISSUE_KEY, dimension]].rename(columns={dimension: "b"})
    both = a.merge(b, on=ISSUE_KEY, how="inner", validate="one_to_one")
    return both.sort_values(ISSUE_KEY).reset_index(drop=True)


def paired(left: pd.DataFrame, right: pd.DataFrame, dimension: str) -> pd.DataFrame:
    """The two raters' values of ``dimension`` (columns ``a``, ``b``) on the issues both of them
    coded with a value: a blank is not coded (:data:`BLANK_POLICY`)."""
    both = _all_pairs(left, right, dimension)
    coded = both[(both["a"] != "") & (both["b"] != "")]
    return coded.reset_index(drop=True)


def blank_pairs(left: pd.DataFrame, right: pd.DataFrame, dimension: str) -> pd.DataFrame:
    """The issues both raters labelled where one or both left ``dimension`` blank."""
    both = _all_pairs(left, right, dimension)
    return both[(both["a"] == "") | (both["b"] == "")].reset_index(drop=True)


def cohen_kappa(a: pd.Series, b: pd.Series) -> float:
    """Cohen's kappa; 1.0 when both raters used one and the same category throughout.

    Computed here with numpy rather than by scikit-learn, which takes seconds to import for one
    small table; the arithmetic follows its ``cohen_kappa_score`` step by step (a test holds the
    two equal), so the numbers do not change.
    """
    if len(a) == 0:
        return math.nan
    if a.nunique() == 1 and b.nunique() == 1 and a.iloc[0] == b.iloc[0]:
        return 1.0
    first, second = a.astype(str).to_numpy(), b.astype(str).to_numpy()
    categories = np.union1d(first, second)
    confusion = np.zeros((len(categories), len(categories)))
    np.add.at(
        confusion, (np.searchsorted(categories, first), np.searchsorted(categories, second)), 1
    )
    sum0, sum1 = confusion.sum(axis=0), confusion.sum(axis=1)
    expected = np.outer(sum0, sum1) / sum0.sum()
    disagree = 1.0 - np.eye(len(categories))
    return float(1 - np.sum(disagree * confusion) / np.sum(disagree * expected))


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
