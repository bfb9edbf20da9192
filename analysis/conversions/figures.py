"""The heat map: label discrepancy by source x target framework, one panel per model."""

from __future__ import annotations

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from analysis.conversions.tables import RAN

TARGETS = ["torch", "keras", "tflite", "onnx"]
SOURCES = ["torch", "keras"]


def discrepancy_heatmap(table: pd.DataFrame) -> Figure:
    """Worst top-1 discrepancy (%) over the paths and runtimes of each source -> target; a
    cell where nothing ran is grey and says why."""
    models = sorted(table["model"].unique()) or ["(no run)"]
    figure = Figure(figsize=(4.2 * len(models) + 0.8, 3.0), layout="constrained")
    axes = figure.subplots(1, len(models), squeeze=False)[0]
    # the colour scale ends at the worst discrepancy measured (at least 1 %), so that a few
    # per cent stay visible; the numbers are written in the cells
    measured = table.loc[table["outcome"].isin(RAN), "top1_discrepancy_pct"].dropna()
    top = max(1.0, float(measured.max())) if len(measured) else 1.0
    image = None
    for ax, model in zip(axes, models, strict=True):
        rows = table[table["model"] == model]
        grid = np.full((len(SOURCES), len(TARGETS)), np.nan)
        for i, source in enumerate(SOURCES):
            for j, target in enumerate(TARGETS):
                cell = rows[
                    (rows["source"] == source)
                    & (rows["target"] == target)
                    & (rows["path"] != "(source)")
                ]
                ran = cell[cell["outcome"].isin(RAN)]
                if len(ran):
                    grid[i, j] = ran["top1_discrepancy_pct"].max()
                label = f"{grid[i, j]:.1f}" if len(ran) else ("no conv." if len(cell) else "-")
                ax.text(j, i, label, ha="center", va="center", fontsize=8)
        image = ax.imshow(np.ma.masked_invalid(grid), cmap="Reds", vmin=0, vmax=top)
        ax.set_facecolor("0.85")
        ax.set_xticks(range(len(TARGETS)), TARGETS)
        ax.set_yticks(range(len(SOURCES)), SOURCES)
        ax.set_title(model, fontsize=9)
        ax.set_xlabel("target")
        ax.set_ylabel("source")
    figure.colorbar(image, ax=list(axes), label="top-1 discrepancy (%)", shrink=0.8)
    figure.suptitle("Top-1 label discrepancy (%), worst path and runtime", fontsize=9)
    return figure
