"""RQ4 micro figures: forest plots of the operators and sequences most associated with mismatch."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.ticker import NullLocator

from analysis.render.plotting import PAPER_WIDTH_IN

FIGURE_TOP = 12


def odds_figure(tests: pd.DataFrame, kind: str, top: int = FIGURE_TOP):
    """Forest plot: the features most associated with mismatch, odds ratios with the
    false-coverage-rate adjusted intervals of the tests (their ``ci_level``).

    One panel per campaign/group and policy; filled markers are significant after BH, and an
    interval excludes 1 when (and, up to the Wald approximation, only when) the test rejects.
    The log axes have ticks at the powers of ten only: wide intervals span up to eight decades,
    and minor ticks at 2..9 of each (some 500 over the panels) told a reader nothing while
    costing a quarter to a third of every save.
    """
    data = tests[tests["test"].isin(["fisher", "cmh"]) & (tests["kind"] == kind)]
    panels = list(data.groupby(["campaign", "group", "policy"], sort=True))
    if not panels:
        fig, ax = plt.subplots(figsize=(PAPER_WIDTH_IN, 1.5))
        ax.text(0.5, 0.5, f"no {kind} could be tested", ha="center", va="center")
        ax.set_axis_off()
        return fig
    columns = min(2, len(panels))
    rows = int(np.ceil(len(panels) / columns))
    fig, axes = plt.subplots(
        rows, columns, figsize=(PAPER_WIDTH_IN, 0.18 * top * rows + 0.8 * rows), squeeze=False
    )
    for ax, ((campaign, group, policy), part) in zip(axes.ravel(), panels, strict=False):
        part = part.head(top).iloc[::-1]
        y = np.arange(len(part))
        ratio = part["odds_ratio"].to_numpy(float)
        low, high = part["ci_low"].to_numpy(float), part["ci_high"].to_numpy(float)
        significant = part["significant"].astype(bool).to_numpy()
        ax.errorbar(ratio, y, xerr=[ratio - low, high - ratio], fmt="none", ecolor="#888", lw=1)
        ax.scatter(ratio[significant], y[significant], color="#c44e52", zorder=3, s=14)
        ax.scatter(
            ratio[~significant],
            y[~significant],
            facecolor="white",
            edgecolor="#4c72b0",
            zorder=3,
            s=14,
        )
        ax.axvline(1.0, color="#444", lw=0.8, ls="--")
        ax.set_xscale("log")
        ax.xaxis.set_minor_locator(NullLocator())
        ax.set_yticks(y, [_short(f) for f in part["feature"]], fontsize=6)
        test = "CMH" if (part["test"] == "cmh").any() else "Fisher"
        level = float(part["ci_level"].iloc[0])
        ax.set_title(f"{campaign}/{group}, {policy} ({test}, {100 * level:.3g}% CI)", fontsize=8)
        ax.tick_params(axis="x", labelsize=7)
    for ax in axes.ravel()[len(panels) :]:
        ax.set_axis_off()
    for ax in axes[-1]:
        ax.set_xlabel("odds ratio of mismatch (FCR-adjusted CI; filled: BH q < 0.05)", fontsize=7)
    fig.tight_layout()
    return fig


def _short(feature: str, width: int = 48) -> str:
    return feature if len(feature) <= width else feature[: width - 1] + "…"
