"""Hypothesis tests the paper did not run: is a feature (operator or sequence) tied to mismatch?

- :func:`fisher_tests`: per feature and converter, Fisher's exact test of presence vs. mismatch
  (two-sided, scipy), Benjamini–Hochberg false-discovery control over the tested features
  (statsmodels), odds ratios with Woolf intervals, Haldane-corrected (+0.5 in every cell) when a
  cell is 0 so the ratio and its interval stay finite.
- :func:`cmh_tests`: the same question over all converters at once, stratified by converter
  (:mod:`analysis.sequences.stratified`), so that a graph is never counted twice in one table.
- Intervals beside BH decisions are false-coverage-rate adjusted (Benjamini & Yekutieli 2005):
  with R of m features selected, at level 1 - R*alpha/m (1 - alpha/m when none is), so an
  interval that excludes 1 agrees with the test beside it; ``ci_level`` says which level.
- :func:`size_logit`: a model-level Firth-penalised logistic regression
  (:mod:`analysis.sequences.firth`) of mismatch on log2(model size) plus the presence of chosen
  sequences, so "big models fail more" is told apart from "this pattern fails"; the penalty
  keeps estimates finite where a sequence occurs only in mismatching models (separation).
"""

from __future__ import annotations

from functools import cache

import numpy as np
import pandas as pd
from scipy import stats
from statsmodels.stats.multitest import multipletests

from analysis.sequences.firth import firth_logit
from analysis.sequences.stratified import cmh

ALPHA = 0.05
MIN_SUPPORT = 3

FISHER_COLUMNS = [
    "feature",
    "mismatch_with",
    "mismatch_without",
    "correct_with",
    "correct_without",
    "odds_ratio",
    "ci_low",
    "ci_high",
    "ci_level",
    "haldane",
    "p_value",
    "q_value",
    "significant",
]


@cache
def _two_sided(total: int, n_mismatch: int, holders: int) -> tuple[np.ndarray, np.ndarray]:
    """Support and two-sided p-values of every table with these margins.

    As scipy's ``fisher_exact``: the p-value of ``a`` sums the hypergeometric probabilities of
    all tables no more likely than it (relative tolerance 1e-14). Computing the whole support
    once per margin makes thousands of features with the same holder count cost one vector.
    """
    low, high = max(0, holders - (total - n_mismatch)), min(holders, n_mismatch)
    support = np.arange(low, high + 1)
    pmf = stats.hypergeom.pmf(support, total, n_mismatch, holders)
    order = np.sort(pmf)
    cumulative = np.cumsum(order)
    at_most = np.searchsorted(order, pmf * (1 + 1e-14), side="right") - 1
    return support, np.minimum(cumulative[at_most], 1.0)


def fisher_p_values(
    with_mismatch: np.ndarray, holders: np.ndarray, n_mismatch: int, total: int
) -> np.ndarray:
    """Two-sided Fisher p-values, one per feature (``scipy.stats.fisher_exact``'s values)."""
    p = np.empty(len(with_mismatch))
    for k in np.unique(holders):
        rows = np.flatnonzero(holders == k)
        support, values = _two_sided(int(total), int(n_mismatch), int(k))
        p[rows] = values[with_mismatch[rows] - support[0]]
    return p


def odds_ratios(
    a: np.ndarray, b: np.ndarray, c: np.ndarray, d: np.ndarray, level: float = 0.95
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Sample odds ratios ad/bc with Woolf intervals at ``level``; Haldane +0.5 where a cell is 0.

    Returns (ratio, ci_low, ci_high, haldane) arrays.
    """
    cells = np.stack([np.asarray(x) for x in (a, b, c, d)]).astype(float)
    haldane = cells.min(axis=0) == 0
    cells = cells + 0.5 * haldane
    log_or = np.log(cells[0] * cells[3] / (cells[1] * cells[2]))
    z = float(stats.norm.ppf(0.5 + level / 2))
    se = np.sqrt((1.0 / cells).sum(axis=0))
    return np.exp(log_or), np.exp(log_or - z * se), np.exp(log_or + z * se), haldane


def fcr_level(significant: np.ndarray, alpha: float = ALPHA) -> float:
    """Confidence level of intervals shown beside BH decisions (false coverage rate)."""
    tested = max(1, len(significant))
    return 1.0 - max(1, int(np.sum(significant))) * alpha / tested


def _decide(frame: pd.DataFrame, alpha: float) -> pd.DataFrame:
    reject, q, _, _ = multipletests(frame["p_value"].to_numpy(), alpha=alpha, method="fdr_bh")
    frame["q_value"] = q
    frame["significant"] = reject
    frame["ci_level"] = fcr_level(reject, alpha)
    return frame


def fisher_tests(
    with_mismatch: np.ndarray,
    with_correct: np.ndarray,
    n_mismatch: int,
    n_correct: int,
    features: list[str],
    min_support: int = MIN_SUPPORT,
    alpha: float = ALPHA,
) -> pd.DataFrame:
    """One row per tested feature, most significant first.

    ``with_mismatch[i]``/``with_correct[i]``: how many mismatching/correct models hold feature
    ``i``. A feature is tested when at least ``min_support`` models hold it and at least
    ``min_support`` lack it (with fewer, no test could reach significance); the BH family is the
    tested features.
    """
    with_mismatch = np.asarray(with_mismatch, dtype=np.int64)
    with_correct = np.asarray(with_correct, dtype=np.int64)
    holding = with_mismatch + with_correct
    total = n_mismatch + n_correct
    tested = np.flatnonzero((holding >= min_support) & (total - holding >= min_support))
    if not len(tested):
        return pd.DataFrame(columns=FISHER_COLUMNS)
    a = with_mismatch[tested]
    c = with_correct[tested]
    b, d = n_mismatch - a, n_correct - c
    p_value = fisher_p_values(a, a + c, n_mismatch, total)
    level = fcr_level(multipletests(p_value, alpha=alpha, method="fdr_bh")[0], alpha)
    ratio, low, high, haldane = odds_ratios(a, b, c, d, level)
    frame = pd.DataFrame(
        {
            "feature": [features[i] for i in tested],
            "mismatch_with": a,
            "mismatch_without": b,
            "correct_with": c,
            "correct_without": d,
            "odds_ratio": ratio,
            "ci_low": low,
            "ci_high": high,
            "haldane": haldane,
            "p_value": p_value,
        }
    )
    frame = _decide(frame, alpha)[FISHER_COLUMNS]
    return frame.sort_values(
        ["p_value", "odds_ratio", "feature"], ascending=[True, False, True], ignore_index=True
    )


def cmh_tests(
    with_mismatch: np.ndarray,
    with_correct: np.ndarray,
    n_mismatch: np.ndarray,
    n_correct: np.ndarray,
    features: list[str],
    min_support: int = MIN_SUPPORT,
    alpha: float = ALPHA,
) -> pd.DataFrame:
    """:func:`fisher_tests` stratified by converter: arrays of shape (features, strata) for the
    counts, (strata,) for the group sizes; the columns of a Fisher row, cells summed over the
    strata, the Mantel-Haenszel common odds ratio (``haldane`` always False)."""
    with_mismatch = np.asarray(with_mismatch, dtype=np.int64)
    with_correct = np.asarray(with_correct, dtype=np.int64)
    n_mismatch, n_correct = np.asarray(n_mismatch), np.asarray(n_correct)
    holding = (with_mismatch + with_correct).sum(axis=1)
    total = int(n_mismatch.sum() + n_correct.sum())
    tested = np.flatnonzero((holding >= min_support) & (total - holding >= min_support))
    if not len(tested):
        return pd.DataFrame(columns=FISHER_COLUMNS)
    a, c = with_mismatch[tested], with_correct[tested]
    b, d = n_mismatch[None, :] - a, n_correct[None, :] - c
    p_value = cmh(a, b, c, d)["p_value"]
    level = fcr_level(multipletests(p_value, alpha=alpha, method="fdr_bh")[0], alpha)
    result = cmh(a, b, c, d, level)
    frame = pd.DataFrame(
        {
            "feature": [features[i] for i in tested],
            "mismatch_with": a.sum(axis=1),
            "mismatch_without": b.sum(axis=1),
            "correct_with": c.sum(axis=1),
            "correct_without": d.sum(axis=1),
            "odds_ratio": result["odds_ratio"],
            "ci_low": result["ci_low"],
            "ci_high": result["ci_high"],
            "haldane": False,
            "p_value": result["p_value"],
        }
    )
    frame = _decide(frame, alpha)[FISHER_COLUMNS]
    return frame.sort_values(
        ["p_value", "odds_ratio", "feature"], ascending=[True, False, True], ignore_index=True
    )


LOGIT_COLUMNS = [
    "term",
    "coef",
    "std_err",
    "odds_ratio",
    "ci_low",
    "ci_high",
    "p_value",
    "converged",
    "warning",
]


def size_logit(
    mismatch: np.ndarray, size: np.ndarray, covariates: pd.DataFrame | None = None
) -> pd.DataFrame:
    """Firth logit(mismatch) ~ 1 + log2(size) + covariates; one row per term, 95 % Wald
    intervals.

    Constant and duplicate covariate columns are dropped first (they cannot be estimated). A
    covariate that separates (present only in mismatching or only in correct models) keeps a
    finite estimate; ``warning`` says its interval is approximate."""
    design = pd.DataFrame({"log2_nodes": np.log2(np.asarray(size, dtype=float))})
    if covariates is not None and not covariates.empty:
        usable = covariates.loc[:, covariates.nunique() > 1]
        usable = usable.T.drop_duplicates().T
        design = pd.concat([design, usable.reset_index(drop=True).astype(float)], axis=1)
    design.insert(0, "const", 1.0)
    y = np.asarray(mismatch, dtype=bool)
    fit = firth_logit(design.to_numpy(float), y.astype(float))
    low, high = fit.conf_int()
    rows = []
    for j, term in enumerate(design.columns):
        present = design[term].to_numpy() > 0
        separates = term not in ("const", "log2_nodes") and (
            not (present & y).any() or not (present & ~y).any()
        )
        note = "separates: Firth estimate finite, Wald interval approximate" if separates else ""
        if not fit.converged:
            note = "no convergence: estimates not reliable"
        rows.append(
            [
                term,
                float(fit.coef[j]),
                float(fit.std_err[j]),
                float(np.exp(fit.coef[j])),
                float(np.exp(low[j])),
                float(np.exp(high[j])),
                float(fit.p_value[j]),
                fit.converged,
                note,
            ]
        )
    return pd.DataFrame(rows, columns=LOGIT_COLUMNS)
