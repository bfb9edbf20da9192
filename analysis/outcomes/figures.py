"""Figure of Table 11's outcomes: shares of each outcome group by model size."""

from __future__ import annotations

import matplotlib.pyplot as plt
import pandas as pd

from analysis.outcomes.tables import rates_by_size
from analysis.render.plotting import PAPER_WIDTH_IN

GROUP_COLORS = {
    "converter failure": "#c44e52",
    "ORT load failure": "#dd8452",
    "mismatch": "#8172b2",
    "success": "#55a868",
}


def size_figure(panels: dict[str, pd.DataFrame]):
    """Stacked outcome shares by model size, one panel per table column (three per row)."""
    columns = min(3, len(panels))
    rows = -(-len(panels) // columns)
    fig, axes = plt.subplots(
        rows, columns, figsize=(PAPER_WIDTH_IN, 2.1 * rows + 0.5), sharey=True, squeeze=False
    )
    for ax, (title, results) in zip(axes.flat, panels.items(), strict=False):
        shares = rates_by_size(results)
        bottom = pd.Series(0.0, index=shares.index)
        for group, color in GROUP_COLORS.items():
            ax.bar(shares.index, shares[group], bottom=bottom, color=color, label=group, width=4)
            bottom += shares[group]
        ax.set_title(title.replace("/", "\n", 1), fontsize=8)
        ax.set_xlabel("nodes", fontsize=8)
        ax.set_xticks([15, 40, 70, 100])
        ax.tick_params(labelsize=7)
    for ax in axes.flat[len(panels) :]:
        ax.set_visible(False)
    for row in axes:
        row[0].set_ylabel("share of models", fontsize=8)
    handles, labels = axes.flat[0].get_legend_handles_labels()
    fig.legend(handles, labels, frameon=False, fontsize=7, ncol=len(labels), loc="lower center")
    fig.tight_layout(rect=(0, 0.06, 1, 1))
    return fig
