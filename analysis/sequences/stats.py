"""Hypothesis tests the paper did not run: is a feature (operator or sequence) tied to mismatch?

- :func:`fisher_tests`: per feature, Fisher's exact test of presence vs. mismatch (two-sided,
  scipy), Benjamini–Hochberg false-discovery control over the tested features (statsmodels),
  odds ratios with 95 % Woolf confidence intervals, Haldane-corrected (+0.5 in every cell) when
  a cell is 0 so the ratio and its interval stay finite.
- :func:`size_logit`: a model-level logistic regression of mismatch on log2(model size) plus the
  presence of chosen sequences (statsmodels), so "big models fail more" is told apart from
  "this pattern fails". Separation (a sequence only in mismatching models) makes the maximum
  likelihood estimate infinite; that is reported, not hidden.
"""

from __future__ import annotations

import warnings
from functools import cache

import numpy as np
import pandas as pd
import statsmodels.api as sm
from scipy import stats
from statsmodels.stats.multitest import multipletests
from statsmodels.tools.sm_exceptions import (
    ConvergenceWarning,
    PerfectSeparationError,
    PerfectSeparationWarning,
)

ALPHA = 0.05
MIN_SUPPORT = 3
Z95 = float(stats.norm.ppf(0.975))

FISHER_COLUMNS = [
    "feature",
    "mismatch_with",
    "mismatch_without",
    "correct_with",
    "correct_without",
    "odds_ratio",
    "ci_low",
    "ci_high",
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
    a: np.ndarray, b: np.ndarray, c: np.ndarray, d: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Sample odds ratios ad/bc with 95 % Woolf intervals; Haldane +0.5 where a cell is 0.

    Returns (ratio, ci_low, ci_high, haldane) arrays.
    """
    cells = np.stack([np.asarray(x) for x in (a, b, c, d)]).astype(float)
    haldane = cells.min(axis=0) == 0
    cells = cells + 0.5 * haldane
    log_or = np.log(cells[0] * cells[3] / (cells[1] * cells[2]))
    se = np.sqrt((1.0 / cells).sum(axis=0))
    return np.exp(log_or), np.exp(log_or - Z95 * se), np.exp(log_or + Z95 * se), haldane


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
    ratio, low, high, haldane = odds_ratios(a, b, c, d)
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
            "p_value": fisher_p_values(a, a + c, n_mismatch, total),
        }
    )
    reject, q, _, _ = multipletests(frame["p_value"].to_numpy(), alpha=alpha, method="fdr_bh")
    frame["q_value"] = q
    frame["significant"] = reject
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
    """Logit(mismatch) ~ 1 + log2(size) + covariates; one row per term.

    Constant and duplicate covariate columns are dropped first (they cannot be estimated).
    When the fit fails or separates, the row says so in ``warning``.
    """
    design = pd.DataFrame({"log2_nodes": np.log2(np.asarray(size, dtype=float))})
    if covariates is not None and not covariates.empty:
        usable = covariates.loc[:, covariates.nunique() > 1]
        usable = usable.T.drop_duplicates().T
        design = pd.concat([design, usable.reset_index(drop=True).astype(float)], axis=1)
    design = sm.add_constant(design, has_constant="add")
    y = np.asarray(mismatch, dtype=float)
    message = ""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            fit = sm.Logit(y, design).fit(disp=0, maxiter=200)
        except (PerfectSeparationError, np.linalg.LinAlgError, ValueError) as exc:
            fit, message = None, f"not estimable: {type(exc).__name__}: {exc}"
    for w in caught:
        if issubclass(w.category, PerfectSeparationWarning | ConvergenceWarning):
            message = message or "separation or no convergence: estimates not reliable"
    if fit is None:
        return pd.DataFrame(
            [[t, *[np.nan] * 6, False, message] for t in design.columns], columns=LOGIT_COLUMNS
        )
    with np.errstate(over="ignore"):  # a separated term's odds ratio is inf, on purpose
        odds = np.exp(fit.params)
        ci = np.exp(fit.conf_int())
    converged = bool(fit.mle_retvals.get("converged", False))
    if not converged and not message:
        message = "no convergence: estimates not reliable"
    return pd.DataFrame(
        [
            [
                term,
                float(fit.params[term]),
                float(fit.bse[term]),
                float(odds[term]),
                float(ci.loc[term, 0]),
                float(ci.loc[term, 1]),
                float(fit.pvalues[term]),
                converged,
                message,
            ]
            for term in design.columns
        ],
        columns=LOGIT_COLUMNS,
    )
