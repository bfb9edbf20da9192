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
def fisher_p(a: int, b: int, c: int, d: int) -> float:
    """Two-sided Fisher p of [[a, b], [c, d]], cached: many features share a table."""
    return float(stats.fisher_exact([[a, b], [c, d]], alternative="two-sided").pvalue)


def odds_ratio_ci(a: int, b: int, c: int, d: int) -> tuple[float, float, float, bool]:
    """Sample odds ratio ad/bc with its 95 % Woolf interval; Haldane +0.5 when a cell is 0."""
    haldane = min(a, b, c, d) == 0
    cells = np.array([a, b, c, d], dtype=float) + (0.5 if haldane else 0.0)
    log_or = np.log(cells[0] * cells[3] / (cells[1] * cells[2]))
    se = float(np.sqrt((1.0 / cells).sum()))
    return (
        float(np.exp(log_or)),
        float(np.exp(log_or - Z95 * se)),
        float(np.exp(log_or + Z95 * se)),
        bool(haldane),
    )


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
    rows = []
    for i in tested:
        a, c = int(with_mismatch[i]), int(with_correct[i])
        b, d = n_mismatch - a, n_correct - c
        ratio, low, high, haldane = odds_ratio_ci(a, b, c, d)
        rows.append([features[i], a, b, c, d, ratio, low, high, haldane, fisher_p(a, b, c, d)])
    frame = pd.DataFrame(rows, columns=FISHER_COLUMNS[:-2])
    if frame.empty:
        return pd.DataFrame(columns=FISHER_COLUMNS)
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
