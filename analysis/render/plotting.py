"""Figure helpers: one look for every figure, readable at paper size, saved reproducibly."""

from __future__ import annotations

from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.figure import Figure

PAPER_WIDTH_IN = 6.8  # a two-column ACM page, full width
# As in the paper's Figure 6: torch.onnx blue, tf2onnx orange.
CONVERTER_COLORS = {"tf2onnx": "#dd8452", "torch.onnx": "#4c72b0"}

# Titles at a fixed height, the top of their axes: where matplotlib's automatic placement puts
# them too when nothing is above the axes (no top ticks, no offset text such as "1e6"), as in
# every figure here (their bytes are unchanged). The automatic placement measures all the y tick
# labels again for each title at each draw, about 15% of saving a many-panel figure.
plt.rcParams.update(
    {
        "font.size": 9,
        "axes.titlesize": 10,
        "axes.titley": 1.0,
        "axes.spines.top": False,
        "axes.spines.right": False,
        "svg.hashsalt": "convfail",
    }
)


def horizontal_stacked_bars(
    table: pd.DataFrame, category: str, labels: dict[str, str], title: str, xlabel: str = "issues"
) -> Figure:
    """Bars per category (rows in codebook order), stacked by converter, counts printed."""
    data = table[table["converter"].isin(CONVERTER_COLORS)]
    wide = data.pivot_table(
        index=category, columns="converter", values="count", sort=False, aggfunc="sum"
    )
    wide = wide.reindex([c for c in dict.fromkeys(data[category]) if c in wide.index])
    fig, ax = plt.subplots(figsize=(PAPER_WIDTH_IN / 2 + 0.6, 0.32 * len(wide) + 1.1))
    left = pd.Series(0.0, index=wide.index)
    for converter, color in CONVERTER_COLORS.items():
        if converter not in wide:
            continue
        values = wide[converter].fillna(0)
        ax.barh(
            [labels.get(i, i) for i in wide.index], values, left=left, color=color, label=converter
        )
        left += values
    for y, total in enumerate(left):
        ax.text(total + 0.5, y, f"{int(total)}", va="center", fontsize=8)
    ax.invert_yaxis()
    ax.set_xlabel(xlabel)
    ax.set_title(title, pad=20)
    ax.legend(
        frameon=False,
        loc="lower left",
        bbox_to_anchor=(0.0, 1.0),
        ncol=2,
        borderaxespad=0.2,
        handlelength=1.2,
        columnspacing=1.0,
    )
    ax.set_xlim(0, left.max() * 1.12 + 1)
    fig.tight_layout()
    return fig


def figure_paths(stem: Path) -> list[Path]:
    """The files :func:`save_figure` writes for ``stem``."""
    return [stem.with_suffix(".png"), stem.with_suffix(".pdf")]


def write_figure_file(fig: Figure, path: Path) -> None:
    """Write one of the figure's files, PNG (200 dpi) or PDF by the suffix, without time stamps,
    so reruns give the same bytes; each file is independent of the other being written."""
    if path.suffix == ".png":
        fig.savefig(path, dpi=200, bbox_inches="tight", metadata={"Software": None})
    else:
        fig.savefig(
            path,
            bbox_inches="tight",
            metadata={"CreationDate": None, "Producer": None, "Creator": None},
        )


def save_figure(fig: Figure, stem: Path) -> list[Path]:
    """Write ``stem``.png and ``stem``.pdf and close the figure."""
    stem.parent.mkdir(parents=True, exist_ok=True)
    paths = figure_paths(stem)
    for path in paths:
        write_figure_file(fig, path)
    plt.close(fig)
    return paths


def count_heatmap(
    table: pd.DataFrame,
    rows: str,
    columns: str,
    row_labels: dict[str, str],
    column_labels: dict[str, str],
    title: str,
) -> Figure:
    """A grid of counts (e.g. cause × symptom), one panel per converter plus the total."""
    converters = [c for c in [*CONVERTER_COLORS, "total"] if (table["converter"] == c).any()]
    row_order = list(dict.fromkeys(table[rows]))
    col_order = list(dict.fromkeys(table[columns]))
    fig, axes = plt.subplots(
        1,
        len(converters),
        sharey=True,
        figsize=(PAPER_WIDTH_IN, 0.28 * len(row_order) + 1.6),
        squeeze=False,
    )
    peak = table["count"].max() or 1
    for ax, converter in zip(axes[0], converters, strict=True):
        part = table[table["converter"] == converter]
        grid = part.pivot_table(index=rows, columns=columns, values="count", aggfunc="sum")
        grid = grid.reindex(index=row_order, columns=col_order).fillna(0)
        ax.imshow(grid.to_numpy(), cmap="Blues", vmin=0, vmax=peak, aspect="auto")
        for (i, j), value in np.ndenumerate(grid.to_numpy()):
            if value:
                color = "white" if value > peak * 0.6 else "black"
                ax.text(j, i, f"{int(value)}", ha="center", va="center", fontsize=7, color=color)
        ax.set_xticks(range(len(col_order)))
        ax.set_xticklabels([column_labels.get(c, c) for c in col_order], rotation=45, ha="right")
        ax.set_title(converter)
        ax.spines[:].set_visible(False)
    axes[0][0].set_yticks(range(len(row_order)))
    axes[0][0].set_yticklabels([row_labels.get(r, r) for r in row_order])
    fig.suptitle(title)
    fig.tight_layout()
    return fig
