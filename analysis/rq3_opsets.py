"""RQ3, ONNX's side: Figure 5 (operators added and updated per opset) and the opset history table.

Two views, both from the installed ``onnx`` package:

- ``paper``: opsets 1–18, primitive operators as ONNX documented them at opset 18 — the
  definition behind the paper's Figure 5 and the artifact's ``onnx_opset_diff.json``;
- ``current``: every opset the installed package knows, operators and function-defined operators
  apart, sorted as of the newest opset.
"""

from __future__ import annotations

import matplotlib.pyplot as plt
import pandas as pd
from matplotlib.figure import Figure

from analysis.opsets import (
    PAPER_LAST_OPSET,
    compare_with_artifact,
    installed_onnx,
    load_artifact_opset_diff,
    opset_counts,
    opset_history,
    release_dates,
    undated_opsets,
)
from analysis.plotting import PAPER_WIDTH_IN
from analysis.published import checks_for
from analysis.registry import AnalysisContext, ArtifactResult, artifact
from convfail.errors import DatasetError

CHANGE_COLORS = {"updated": "#4c72b0", "added": "#dd8452"}
TOTAL = "total"


def change_table(paper: pd.DataFrame, current: pd.DataFrame) -> pd.DataFrame:
    """Tidy counts: view × kind × opset (plus ``total``) × change."""
    parts = []
    for view, history in (("paper", paper), ("current", current)):
        for kind in sorted(history["kind"].unique()):
            counts = opset_counts(history, (kind,))
            long = counts.melt(
                id_vars="opset",
                value_vars=["added", "updated"],
                var_name="change",
                value_name="count",
            )
            totals = long.groupby("change", as_index=False)["count"].sum().assign(opset=TOTAL)
            long["opset"] = long["opset"].astype(str)
            parts.append(pd.concat([long, totals], ignore_index=True).assign(view=view, kind=kind))
    table = pd.concat(parts, ignore_index=True)
    table["_o"] = pd.to_numeric(table["opset"], errors="coerce").fillna(10_000)
    table = table.sort_values(["view", "kind", "_o", "change"], ascending=[False, True, True, True])
    return table[["view", "kind", "opset", "change", "count"]].reset_index(drop=True)


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


def artifact_notes(paper: pd.DataFrame, current: pd.DataFrame) -> list[str]:
    """How our history compares with the artifact's onnx_opset_diff.json, and why it differs.

    The artifact lives outside the repository (``../shared/reference``); without it the figure
    is still built from the onnx package and the report says the comparison was skipped.
    """
    try:
        artifact = load_artifact_opset_diff()
    except DatasetError as exc:
        return [f"Comparison with the artifact's onnx_opset_diff.json skipped: {exc.message}."]
    operators = paper[paper["kind"] == "operator"]
    diff = compare_with_artifact(operators, artifact)
    differing = diff[(diff["only_ours"] != "") | (diff["only_artifact"] != "")]
    if differing.empty:
        head = (
            "Opset history (primitive operators as of opset 18) equals the artifact's "
            "onnx_opset_diff.json name for name in every opset 1–18."
        )
    else:
        cells = "; ".join(
            f"opset {r.opset} {r.change}: only ours [{r.only_ours}], "
            f"only artifact [{r.only_artifact}]"
            for r in differing.itertuples()
        )
        head = f"Opset history differs from the artifact's onnx_opset_diff.json: {cells}."
    everything = compare_with_artifact(paper[paper["kind"] != "experimental"], artifact)
    totals = everything.groupby("change")["ours"].sum()
    current_18 = current[(current["kind"] == "operator") & (current["opset"] <= PAPER_LAST_OPSET)]
    later = sorted(set(operators["operator"]) - set(current_18["operator"]))
    return [
        head,
        "The artifact (and the paper's Figure 5) counts only primitive operators: "
        "operators defined "
        "as functions of other operators (Celu, Clip, Relu, Softmax, the Reduce* family, "
        "LayerNormalization, ...) and the experimental Upsample-1 are left out. Counting them too "
        f"gives {int(totals['added'])} additions and {int(totals['updated'])} updates "
        "for opsets 1–18.",
        "Whether an operator is function-defined depends on the newest opset looked at: "
        f"as of opset {int(current['opset'].max())}, {', '.join(later) or 'no operator'} "
        "also became function-defined, "
        "so the 'current' view counts slightly fewer primitive operators in opsets 1–18.",
    ]


@artifact(
    "fig5_opset_changes", "ONNX operators added and updated per opset", "Figure 5", per_study=False
)
def build_fig5(ctx: AnalysisContext) -> ArtifactResult:
    version, newest = installed_onnx()
    paper = opset_history(PAPER_LAST_OPSET)
    current = opset_history(newest)
    table = change_table(paper, current)
    paper_ops = table[(table["view"] == "paper") & (table["kind"] == "operator")]
    result = ArtifactResult(table=table, figures={"fig5_opset_changes": figure5(paper, current)})
    result.checks = checks_for("fig5_opset_changes", paper_ops, "count")
    result.notes = [
        f"Derived from the schemas of the installed onnx {version} (newest opset {newest})."
    ]
    result.notes += artifact_notes(paper, current)
    missing = undated_opsets(current, release_dates())
    if missing:
        result.notes.append(
            f"Opsets without a release date in data/onnx/opset_releases.csv: {missing}."
        )
    return result


@artifact(
    "opset_history",
    "Every operator version of the default ONNX domain",
    "Figure 5 (data)",
    per_study=False,
)
def build_opset_history(ctx: AnalysisContext) -> ArtifactResult:
    _, newest = installed_onnx()
    history = opset_history(newest)
    dates = release_dates()[["opset", "onnx_version", "release_date"]]
    table = history.merge(dates, on="opset", how="left")
    table["release_date"] = table["release_date"].dt.strftime("%Y-%m-%d")
    return ArtifactResult(
        table=table[
            ["opset", "onnx_version", "release_date", "operator", "change", "kind", "deprecated"]
        ]
    )
