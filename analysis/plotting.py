"""Figure helpers: one look for every figure, readable at paper size, saved reproducibly."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import pandas as pd
from matplotlib.figure import Figure

PAPER_WIDTH_IN = 6.8  # a two-column ACM page, full width
CONVERTER_COLORS = {"tf2onnx": "#4c72b0", "torch.onnx": "#dd8452"}

plt.rcParams.update(
    {
        "font.size": 9,
        "axes.titlesize": 10,
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
    ax.set_title(title)
    ax.legend(frameon=False, loc="lower right")
    fig.tight_layout()
    return fig


def save_figure(fig: Figure, stem: Path) -> list[Path]:
    """Write ``stem``.png and ``stem``.pdf without time stamps, so reruns give the same bytes."""
    stem.parent.mkdir(parents=True, exist_ok=True)
    png, pdf = stem.with_suffix(".png"), stem.with_suffix(".pdf")
    fig.savefig(png, dpi=200, metadata={"Software": None})
    fig.savefig(pdf, metadata={"CreationDate": None, "Producer": None, "Creator": None})
    plt.close(fig)
    return [png, pdf]
