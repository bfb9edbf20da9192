"""Two studies side by side: does the failure profile differ (e.g. 2023 sample vs a newer one)?

For each dimension, the share of issues per category in each study and a chi-square test of
homogeneity over the categories either study used. The number of cells with an expected count
below 5 is reported beside the p-value, so a reader can judge whether the test is valid.
"""

from __future__ import annotations

from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from scipy.stats import chi2_contingency

from analysis.registry import AnalysisContext
from analysis.render.plotting import PAPER_WIDTH_IN, save_figure
from convfail.dataset import atomic_write_text, csv_text

DIMENSIONS = ["location", "symptom", "cause"]


def side_by_side(first: AnalysisContext, second: AnalysisContext, dimension: str) -> pd.DataFrame:
    """Count and percent per category for both studies, in codebook order."""
    rows = []
    for ctx in (first, second):
        labelled = ctx.study.labelled_issues()
        counts = labelled[dimension].value_counts()
        for category in first.codebook[dimension].names:
            count = int(counts.get(category, 0))
            rows.append(
                {
                    "study": ctx.study_name,
                    dimension: category,
                    "count": count,
                    "percent": round(100 * count / len(labelled), 1) if len(labelled) else 0.0,
                }
            )
    return pd.DataFrame(rows)


def homogeneity_test(table: pd.DataFrame, dimension: str) -> dict:
    wide = table.pivot_table(index=dimension, columns="study", values="count", sort=False)
    wide = wide[wide.sum(axis=1) > 0]
    chi2, p, dof, expected = chi2_contingency(wide.to_numpy())
    return {
        "dimension": dimension,
        "chi2": round(float(chi2), 4),
        "dof": int(dof),
        "p_value": float(f"{p:.6g}"),
        "cells_expected_below_5": int((np.asarray(expected) < 5).sum()),
    }


def compare_studies(first: AnalysisContext, second: AnalysisContext, out: Path) -> list[Path]:
    target = out / "comparison"
    files, tests = [], []
    for dimension in DIMENSIONS:
        table = side_by_side(first, second, dimension)
        path = target / f"{dimension}.csv"
        atomic_write_text(path, csv_text(table))
        files.append(path)
        tests.append(homogeneity_test(table, dimension))
        files += save_figure(_figure(table, dimension, first), target / f"{dimension}")
    path = target / "tests.csv"
    atomic_write_text(path, csv_text(pd.DataFrame(tests)))
    return [*files, path]


def _figure(table: pd.DataFrame, dimension: str, ctx: AnalysisContext):
    labels = {c.name: c.paper_name for c in ctx.codebook[dimension]}
    wide = table.pivot_table(index=dimension, columns="study", values="percent", sort=False)
    fig, ax = plt.subplots(figsize=(PAPER_WIDTH_IN / 2 + 0.6, 0.35 * len(wide) + 1.2))
    height = 0.8 / len(wide.columns)
    for i, study in enumerate(wide.columns):
        ax.barh(np.arange(len(wide)) + i * height, wide[study], height=height, label=study)
    ax.set_yticks(np.arange(len(wide)) + height * (len(wide.columns) - 1) / 2)
    ax.set_yticklabels([labels.get(c, c) for c in wide.index])
    ax.invert_yaxis()
    ax.set_xlabel("% of the study's issues")
    ax.set_title(f"{dimension.capitalize()}: studies compared")
    ax.legend(frameon=False)
    fig.tight_layout()
    return fig
