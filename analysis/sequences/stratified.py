"""Cochran-Mantel-Haenszel tests over converters: one question, each model counted once a stratum.

Every generated graph goes through every converter, so pooling the converters' models into one
Fisher table counts the same graph up to three times and mixes converters with different
mismatch rates (Simpson's paradox). The CMH test asks the pooled question properly: within
each converter (a stratum) a 2x2 table of feature presence vs. mismatch; the statistic sums the
strata's deviations of the mismatching-with count from its expectation under independence. No
continuity correction (as statsmodels' ``StratifiedTable.test_null_odds()``); the common odds
ratio is Mantel-Haenszel's, its interval from the Robins-Breslow-Greenland variance. Vectorised
over features: arrays of shape (features, strata). Strata with fewer than two models carry no
information and are left out.
"""

from __future__ import annotations

import numpy as np
from scipy import stats


def cmh(
    a: np.ndarray, b: np.ndarray, c: np.ndarray, d: np.ndarray, level: float = 0.95
) -> dict[str, np.ndarray]:
    """CMH chi-square, p-value, Mantel-Haenszel odds ratio and its interval, per feature.

    ``a``: mismatching with the feature, ``b``: mismatching without, ``c``: correct with,
    ``d``: correct without; each of shape (features, strata)."""
    a, b, c, d = (np.atleast_2d(np.asarray(v, dtype=float)) for v in (a, b, c, d))
    n = a + b + c + d
    usable = n > 1
    safe_n = np.where(usable, n, 2.0)
    expected = np.where(usable, (a + b) * (a + c) / safe_n, 0.0)
    variance = np.where(
        usable, (a + b) * (c + d) * (a + c) * (b + d) / (safe_n**2 * (safe_n - 1)), 0.0
    )
    observed = np.where(usable, a, 0.0).sum(axis=1)
    total_variance = variance.sum(axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        statistic = (observed - expected.sum(axis=1)) ** 2 / total_variance
        p_value = stats.chi2.sf(statistic, 1)
        r = np.where(usable, a * d / safe_n, 0.0)
        s = np.where(usable, b * c / safe_n, 0.0)
        big_p = np.where(usable, (a + d) / safe_n, 0.0)
        big_q = np.where(usable, (b + c) / safe_n, 0.0)
        sr, ss = r.sum(axis=1), s.sum(axis=1)
        ratio = sr / ss
        var_log = (
            (big_p * r).sum(axis=1) / (2 * sr**2)
            + (big_p * s + big_q * r).sum(axis=1) / (2 * sr * ss)
            + (big_q * s).sum(axis=1) / (2 * ss**2)
        )
        z = float(stats.norm.ppf(0.5 + level / 2))
        half = z * np.sqrt(var_log)
        low, high = np.exp(np.log(ratio) - half), np.exp(np.log(ratio) + half)
    return {
        "statistic": statistic,
        "p_value": np.where(np.isfinite(statistic), p_value, 1.0),
        "odds_ratio": ratio,
        "ci_low": low,
        "ci_high": high,
    }
