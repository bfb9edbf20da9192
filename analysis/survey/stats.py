"""Proportions with their denominator and a Wilson 95% confidence interval.

Every survey percentage is a row of a tidy frame that carries its count, its denominator and
what the denominator counts (``basis``), so no percentage is ever printed without its base.
The Wilson interval keeps sensible bounds for small samples and for shares near 0% or 100%.
"""

from __future__ import annotations

from collections.abc import Iterable

import pandas as pd

CONFIDENCE = 0.95
PROPORTION_COLUMNS = [
    "question",
    "category",
    "label",
    "count",
    "denominator",
    "basis",
    "percent",
    "ci_low",
    "ci_high",
]


def wilson_interval(
    count: int, denominator: int, confidence: float = CONFIDENCE
) -> tuple[float, float]:
    """The Wilson score interval of ``count / denominator``, in percent."""
    if denominator <= 0:
        return float("nan"), float("nan")
    # statsmodels takes about a second to import; importing and validating a survey need none.
    from statsmodels.stats.proportion import proportion_confint

    low, high = proportion_confint(count, denominator, alpha=1 - confidence, method="wilson")
    return 100 * float(low), 100 * float(high)


def proportion(
    question: str, category: str, label: str, count: int, denominator: int, basis: str
) -> dict:
    """One row: the count, its base, the percentage and its Wilson 95% CI (one decimal)."""
    low, high = wilson_interval(count, denominator)
    percent = 100 * count / denominator if denominator else float("nan")
    return {
        "question": question,
        "category": category,
        "label": label,
        "count": int(count),
        "denominator": int(denominator),
        "basis": basis,
        "percent": round(percent, 1),
        "ci_low": round(low, 1),
        "ci_high": round(high, 1),
    }


def option_shares(
    selections: pd.DataFrame, question: str, labels: dict[str, str], among: pd.Series, basis: str
) -> list[dict]:
    """Each option's share among the responses flagged in ``among`` (options in column order)."""
    chosen = selections[among.reindex(selections.index, fill_value=False).to_numpy()]
    return [
        proportion(
            question,
            option,
            labels.get(option, option),
            int(chosen[option].sum()),
            len(chosen),
            basis,
        )
        for option in selections.columns
    ]


def frame(rows: Iterable[dict]) -> pd.DataFrame:
    return pd.DataFrame(list(rows), columns=PROPORTION_COLUMNS)
