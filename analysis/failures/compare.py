"""Two studies side by side: does the failure profile differ (e.g. 2023 sample vs a newer one)?

For each dimension, the share of issues per category in each study, and a test chosen by the
design of the comparison:

- the studies share issues (a relabelling, an adjudication against the first pass): the two
  codings of the shared issues are paired, so the test is Cohen's kappa between them and the
  McNemar-Bowker test of symmetry (does one coding move issues between two categories more in
  one direction than the other?);
- no shared issues: independent samples, a chi-square test of homogeneity.

Every test row says what could make it unreliable: expected counts below 5 (chi-square),
discordant category pairs with fewer than 10 issues (Bowker), a study of fewer than
:data:`TINY_STUDY` issues. A dimension either study did not code is named and skipped.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from analysis.registry import AnalysisContext
from analysis.render.plotting import PAPER_WIDTH_IN, save_figure
from convfail.agreement import cohen_kappa, paired
from convfail.dataset import atomic_write_text, csv_text
from convfail.records import ISSUE_KEY

DIMENSIONS = ["location", "symptom", "cause"]
TINY_STUDY = 30
SMALL_EXPECTED = 5
SMALL_DISCORDANT = 10
TEST_COLUMNS = [
    "dimension",
    "test",
    "n_first",
    "n_second",
    "n_shared",
    "statistic",
    "dof",
    "p_value",
    "kappa",
    "small_counts",
    "warning",
]


@dataclass
class Comparison:
    """What ``compare_studies`` wrote, the design it chose and what a reader must be told."""

    design: str
    files: list[Path] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


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


def shared_issues(first: AnalysisContext, second: AnalysisContext) -> int:
    """How many issues both studies labelled (same repository and number)."""
    a = first.study.labelled_issues()[ISSUE_KEY]
    b = second.study.labelled_issues()[ISSUE_KEY]
    return len(a.merge(b, on=ISSUE_KEY))


def _tiny(n_first: int, n_second: int) -> str:
    n = min(n_first, n_second)
    if n >= TINY_STUDY:
        return ""
    return f"tiny study ({n} issues, fewer than {TINY_STUDY}): the p-value is not meaningful"


def homogeneity_test(table: pd.DataFrame, dimension: str) -> dict:
    """Chi-square test of homogeneity of two independent studies' category counts."""
    # scipy.stats takes a while to import and only this comparison needs it.
    from scipy.stats import chi2_contingency

    wide = table.pivot_table(index=dimension, columns="study", values="count", sort=False)
    wide = wide[wide.sum(axis=1) > 0]
    chi2, p, dof, expected = chi2_contingency(wide.to_numpy())
    small = int((np.asarray(expected) < SMALL_EXPECTED).sum())
    sizes = wide.sum(axis=0).astype(int).tolist()
    warnings = [_tiny(*sizes)]
    if small:
        warnings.append(f"{small} of {expected.size} cells expect fewer than {SMALL_EXPECTED}")
    return {
        "dimension": dimension,
        "test": "chi_square_homogeneity",
        "n_first": sizes[0],
        "n_second": sizes[1],
        "n_shared": 0,
        "statistic": round(float(chi2), 4),
        "dof": int(dof),
        "p_value": float(f"{p:.6g}"),
        "kappa": np.nan,
        "small_counts": small,
        "warning": "; ".join(w for w in warnings if w),
    }


def paired_test(first: AnalysisContext, second: AnalysisContext, dimension: str) -> dict:
    """Cohen's kappa and the McNemar-Bowker symmetry test over the issues both studies coded."""
    # scipy.stats and statsmodels take about a second to import; only this comparison needs them.
    from scipy.stats import chi2
    from statsmodels.stats.contingency_tables import SquareTable

    a, b = first.study.labelled_issues(), second.study.labelled_issues()
    both = paired(a, b, dimension)
    seen = set(both["a"]) | set(both["b"])
    names = first.codebook[dimension].names
    # codebook order, then whatever stands for a blank under the agreement module's policy
    used = [c for c in names if c in seen] + sorted(seen - set(names))
    square = pd.crosstab(both["a"], both["b"]).reindex(index=used, columns=used, fill_value=0)
    counts = square.to_numpy()
    pair_sums = (counts + counts.T)[np.triu_indices(len(used), k=1)]
    discordant = pair_sums[pair_sums > 0]
    small = int((discordant < SMALL_DISCORDANT).sum())
    if discordant.size:
        # statsmodels counts every category pair as a degree of freedom; a pair that no issue
        # moved between carries no information, so only the discordant pairs are counted (as
        # in Bowker's test with empty cells removed).
        result = SquareTable(counts, shift_zeros=False).symmetry(method="bowker")
        statistic, dof = float(result.statistic), int(discordant.size)
        p = float(chi2.sf(statistic, dof))
    else:
        statistic, dof, p = 0.0, 0, 1.0
    warnings = [_tiny(len(both), len(both))]
    if small:
        warnings.append(
            f"{small} of {discordant.size} discordant category pairs have fewer than "
            f"{SMALL_DISCORDANT} issues (the chi-square approximation is rough)"
        )
    if not discordant.size:
        warnings.append("the two codings agree on every shared issue")
    return {
        "dimension": dimension,
        "test": "mcnemar_bowker",
        "n_first": len(a),
        "n_second": len(b),
        "n_shared": len(both),
        "statistic": round(statistic, 4),
        "dof": dof,
        "p_value": float(f"{p:.6g}"),
        "kappa": round(cohen_kappa(both["a"], both["b"]), 4),
        "small_counts": small,
        "warning": "; ".join(w for w in warnings if w),
    }


def _skipped(dimension: str, reason: str) -> dict:
    row = dict.fromkeys(TEST_COLUMNS, np.nan)
    return {**row, "dimension": dimension, "test": "skipped", "warning": reason}


def compare_studies(first: AnalysisContext, second: AnalysisContext, out: Path) -> Comparison:
    """Write ``comparison/<dimension>.csv|png|pdf`` and ``tests.csv``; return what was done."""
    target = out / "comparison"
    shared = shared_issues(first, second)
    design = (
        f"paired: {shared} shared issues, Cohen's kappa and McNemar-Bowker"
        if shared
        else "independent samples, chi-square test of homogeneity"
    )
    comparison = Comparison(design)
    sizes = [len(c.study.labelled_issues()) for c in (first, second)]
    if shared and shared < max(sizes):
        comparison.warnings.append(
            f"paired on the {shared} shared issues only: {sizes[0] - shared} of "
            f"'{first.study_name}' and {sizes[1] - shared} of '{second.study_name}' are in one "
            "study and not tested"
        )
    tests = []
    for dimension in DIMENSIONS:
        missing = [c.study_name for c in (first, second) if c.uncoded([dimension])]
        if missing:
            reason = f"skipped: study '{', '.join(missing)}' did not code {dimension}"
            tests.append(_skipped(dimension, reason))
            comparison.warnings.append(f"{dimension}: {reason}")
            continue
        table = side_by_side(first, second, dimension)
        path = target / f"{dimension}.csv"
        atomic_write_text(path, csv_text(table))
        comparison.files.append(path)
        row = (
            paired_test(first, second, dimension) if shared else homogeneity_test(table, dimension)
        )
        tests.append(row)
        if row["warning"]:
            comparison.warnings.append(f"{dimension} ({row['test']}): {row['warning']}")
        comparison.files += save_figure(_figure(table, dimension, first), target / dimension)
    path = target / "tests.csv"
    atomic_write_text(path, csv_text(pd.DataFrame(tests, columns=TEST_COLUMNS)))
    comparison.files.append(path)
    return comparison


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
