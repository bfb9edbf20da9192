"""LaTeX tables and figures of the survey's proportion tables.

Both take the tidy frame of :mod:`analysis.survey.stats` (one row per share with count,
denominator, basis and Wilson CI) and print every percentage with its denominator.
"""

from __future__ import annotations

import textwrap
from decimal import ROUND_HALF_UP, Decimal

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from analysis.render.plotting import PAPER_WIDTH_IN

BAR_COLOR = "#4c72b0"
LABEL_WIDTH = 30


def _escape(text: str) -> str:
    for char, escaped in (
        ("\\", r"\textbackslash{}"),
        ("&", r"\&"),
        ("%", r"\%"),
        ("_", r"\_"),
        ("#", r"\#"),
    ):
        text = text.replace(char, escaped)
    return text.replace("<", r"$<$").replace(">", r"$>$")


def _whole(percent: float) -> int:
    """Round half up, as percentages are printed (12.5% -> 13%, not banker's 12%)."""
    return int(Decimal(str(percent)).quantize(Decimal(1), rounding=ROUND_HALF_UP))


def _groups(table: pd.DataFrame) -> list[tuple[tuple[str, int, str], pd.DataFrame]]:
    """Rows grouped by (question, denominator, basis), in table order."""
    keys = list(
        dict.fromkeys(zip(table["question"], table["denominator"], table["basis"], strict=True))
    )
    return [
        (
            key,
            table[
                (table["question"] == key[0])
                & (table["denominator"] == key[1])
                & (table["basis"] == key[2])
            ],
        )
        for key in keys
    ]


def proportion_latex(
    table: pd.DataFrame, caption: str, label: str, titles: dict[str, str] | None = None
) -> str:
    """Category | n | % [95% CI], one block per question and base, the base in its heading."""
    titles = titles or {}
    body = []
    for (question, denominator, basis), rows in _groups(table):
        title = titles.get(question, question)
        body.append(
            rf"\multicolumn{{3}}{{l}}{{\textit{{{_escape(title)}}} "
            rf"(of {denominator}: {_escape(basis)})}} \\"
        )
        for row in rows.itertuples():
            share = f"{_whole(row.percent)}\\% [{_whole(row.ci_low)}, {_whole(row.ci_high)}]"
            body.append(rf"\quad {_escape(str(row.label))} & {row.count} & {share} \\")
        body.append(r"\midrule")
    if body:
        body.pop()
    lines = [
        r"\begin{table}[t]",
        r"\centering",
        rf"\caption{{{_escape(caption)}. Percentages of the stated base, "
        r"with Wilson 95\% confidence intervals.}",
        rf"\label{{{label}}}",
        r"\begin{tabular}{lrr}",
        r"\toprule",
        r"Answer & $n$ & \% [95\% CI] \\",
        r"\midrule",
        *body,
        r"\bottomrule",
        r"\end{tabular}",
        r"\end{table}",
    ]
    return "\n".join(lines) + "\n"


def proportion_bars(
    table: pd.DataFrame, title: str, titles: dict[str, str] | None = None
) -> Figure:
    """Horizontal bars of each share with its Wilson 95% CI; one panel per question and base."""
    titles = titles or {}
    groups = _groups(table)
    heights = [len(rows) for _, rows in groups]
    fig, axes = plt.subplots(
        len(groups),
        1,
        squeeze=False,
        figsize=(PAPER_WIDTH_IN, 0.32 * sum(heights) + 0.75 * len(groups) + 0.5),
        gridspec_kw={"height_ratios": heights},
    )
    for ax, ((question, denominator, basis), rows) in zip(axes[:, 0], groups, strict=True):
        y = np.arange(len(rows))
        errors = np.vstack([rows["percent"] - rows["ci_low"], rows["ci_high"] - rows["percent"]])
        ax.barh(
            y,
            rows["percent"],
            color=BAR_COLOR,
            xerr=errors,
            error_kw={"elinewidth": 0.8, "capsize": 2},
        )
        ax.set_yticks(y)
        ax.set_yticklabels([textwrap.fill(str(label), LABEL_WIDTH) for label in rows["label"]])
        ax.invert_yaxis()
        ax.set_xlim(0, 100)
        for yi, (count, high) in enumerate(zip(rows["count"], rows["ci_high"], strict=True)):
            ax.text(min(high + 1.5, 93), yi, str(count), va="center", fontsize=7)
        ax.set_title(f"{titles.get(question, question)} (n = {denominator}, {basis})", fontsize=8)
    axes[-1, 0].set_xlabel("% of base, with Wilson 95% CI (bar label: count)")
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    return fig
