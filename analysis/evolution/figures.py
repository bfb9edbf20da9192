"""RQ3 figures: operators added and updated per opset (Figure 5), failures over time (Figure 6)."""

from __future__ import annotations

import matplotlib.pyplot as plt
import pandas as pd
from matplotlib.figure import Figure

from analysis.evolution.opsets import PAPER_LAST_OPSET, opset_counts
from analysis.evolution.tables import ALL, SUBSET
from analysis.render.plotting import CONVERTER_COLORS, PAPER_WIDTH_IN

CHANGE_COLORS = {"updated": "#4c72b0", "added": "#dd8452"}


LINE_THRESHOLD = 10


def _bars(
    ax, counts: pd.DataFrame, alpha: float = 1.0, bottom: pd.Series | None = None, label: str = ""
) -> pd.Series:
    base = bottom if bottom is not None else pd.Series(0, index=counts.index)
    for change in ("updated", "added"):
        ax.bar(
            counts["opset"],
            counts[change],
            bottom=base,
            color=CHANGE_COLORS[change],
            alpha=alpha,
            width=0.85,
            label=f"{change}{label}",
            edgecolor="white",
            linewidth=0.4,
        )
        base = base + counts[change]
    return base


def figure5(paper: pd.DataFrame, current: pd.DataFrame) -> Figure:
    """Stacked bars of additions and updates per opset: the paper's period, then up to today."""
    fig, (top, bottom) = plt.subplots(2, 1, figsize=(PAPER_WIDTH_IN, 5.2))
    counts = opset_counts(paper)
    total = _bars(top, counts)
    for x, y in zip(counts["opset"], total, strict=True):
        top.text(x, y + 0.8, str(int(y)), ha="center", fontsize=7)
    top.set_title(
        f"Operators added and updated per opset, 1–{int(counts['opset'].max())} (the paper's view)"
    )
    top.set_xticks(counts["opset"])
    top.set_ylabel("operators")
    top.legend(frameon=False)
    ops = opset_counts(current, ("operator",))
    funcs = opset_counts(current, ("function",))
    stacked = _bars(bottom, ops)
    _bars(bottom, funcs, alpha=0.45, bottom=stacked, label=" (function-defined)")
    bottom.axvline(PAPER_LAST_OPSET + 0.5, color="grey", linestyle=":", linewidth=1)
    bottom.set_title(f"All opsets the installed onnx knows, 1–{int(ops['opset'].max())}")
    bottom.set_xticks(ops["opset"])
    bottom.set_xlabel("opset")
    bottom.set_ylabel("operators")
    bottom.legend(frameon=False, ncols=2, fontsize=7)
    fig.tight_layout()
    return fig


def figure6(cumulative: pd.DataFrame, per_opset: pd.DataFrame, subset_label: str) -> Figure:
    """Cumulative failures per converter by quarter, with opset releases of >10 changes marked."""
    fig, ax = plt.subplots(figsize=(PAPER_WIDTH_IN * 0.75, 3.6))
    x_of = pd.to_datetime(cumulative["quarter_end"])
    lo, hi = x_of.min() - pd.Timedelta(days=120), x_of.max() + pd.Timedelta(days=30)
    big = per_opset[
        (per_opset["changes"] > LINE_THRESHOLD) & per_opset["release_date"].between(lo, hi)
    ]
    # Releases within a quarter of each other get their labels on successive rows, so opset
    # numbers never overlap (opsets 6 and 7 came out about a month apart).
    previous, row = None, 0
    for opset, date in zip(big["opset"], big["release_date"], strict=True):
        ax.axvline(date, color="#d62728", alpha=0.5, linewidth=1)
        row = row + 1 if previous is not None and (date - previous).days < 90 else 0
        ax.text(
            date,
            0.97 - 0.07 * row,
            str(opset),
            ha="center",
            va="top",
            fontsize=7,
            color="#d62728",
            bbox={"facecolor": "white", "edgecolor": "none", "pad": 1.0, "alpha": 0.9},
            transform=ax.get_xaxis_transform(),
        )
        previous = date
    fallback = iter(plt.rcParams["axes.prop_cycle"].by_key()["color"])
    for converter in sorted(cumulative["converter"].unique()):
        color = CONVERTER_COLORS.get(converter) or next(fallback)
        for failures, marker, label in (
            (ALL, "o", converter),
            (SUBSET, "x", f"{converter} ({subset_label})"),
        ):
            part = cumulative[
                (cumulative["converter"] == converter) & (cumulative["failures"] == failures)
            ]
            ax.scatter(
                pd.to_datetime(part["quarter_end"]),
                part["cumulative"],
                marker=marker,
                s=18,
                color=color,
                label=label,
            )
    ax.set_xlim(lo, hi)
    ax.set_xlabel("issue creation (end of quarter)")
    ax.set_ylabel("sampled failures (cumulative)")
    ax.legend(frameon=False, fontsize=7, loc="upper left", bbox_to_anchor=(0.0, 0.84))
    fig.tight_layout()
    return fig
