"""RQ4 macro analysis: Table 11's synthetic columns and outcome rates by model size.

Reads the *files* difftest writes (``data/difftest/<campaign>/results.jsonl``), never its code:
the imported published results (campaign ``issta24-synthetic``) give the paper's columns, every
other campaign folder with a ``campaign.yaml`` gives fresh columns (one per converter) beside
them.

The paper's rows merge outcomes that difftest keeps apart:

- *converter failure* = source-model failure + conversion failure + hang + crash (781 of the
  800 TensorFlow "converter failures" are TensorFlow errors raised before any conversion);
- *ORT load failure* = load failure + inference failure (88 TensorFlow and 8 PyTorch entries
  failed while running a node, not while loading).

Both levels are in the table: ``level == "paper"`` rows use the paper's grouping, ``level ==
"detail"`` rows the difftest outcome classes.
"""

from __future__ import annotations

import json
from pathlib import Path

import matplotlib.pyplot as plt
import pandas as pd

from analysis.latex import wrap_table
from analysis.plotting import PAPER_WIDTH_IN
from analysis.published import checks_for
from analysis.registry import AnalysisContext, ArtifactResult, artifact
from convfail.errors import DatasetError
from convfail.paths import data_dir

ARTIFACT_ID = "table11_conversion_outcomes"
PUBLISHED_CAMPAIGN = "issta24-synthetic"
PUBLISHED_COLUMNS = {"tensorflow": "tf_synthetic", "torch": "pt_synthetic"}
DETAIL = [
    "source_failure",
    "conversion_failure",
    "hang",
    "crash",
    "ort_load_failure",
    "ort_inference_failure",
    "mismatch",
    "success",
]
PAPER_GROUPS = {
    "converter failure": ["source_failure", "conversion_failure", "hang", "crash"],
    "ORT load failure": ["ort_load_failure", "ort_inference_failure"],
    "mismatch": ["mismatch"],
    "success": ["success"],
}
GROUP_COLORS = {
    "converter failure": "#c44e52",
    "ORT load failure": "#dd8452",
    "mismatch": "#8172b2",
    "success": "#55a868",
}
LOOSE = 1e-3


def _difftest_dir() -> Path:
    return data_dir() / "difftest"


def load_results(path: Path) -> pd.DataFrame:
    """One row per result record, with the columns the tables need."""
    rows = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if not line.strip():
            continue
        r = json.loads(line)
        mismatch = (r.get("comparison") or {}).get("mismatch") or {}
        rows.append(
            {
                "campaign": r["campaign"],
                "framework": r["framework"],
                "converter": r["converter"],
                "nodes": r["nodes"],
                "outcome": r["outcome"],
                "signature": r.get("signature") or "",
                "mismatch_loose": mismatch.get(repr(LOOSE)),
            }
        )
    if not rows:
        raise DatasetError(
            f"no results in {path}", "run `convfail data import-artifact --only difftest`"
        )
    return pd.DataFrame(rows)


def fresh_campaigns(root: Path) -> list[str]:
    """Campaign folders made by ``convfail difftest run`` (they hold a campaign.yaml)."""
    return sorted(
        p.parent.name
        for p in root.glob("*/campaign.yaml")
        if (p.parent / "results.jsonl").is_file()
    )


def outcome_table(results: pd.DataFrame, column: str, dataset: str) -> pd.DataFrame:
    """Counts of one table column: the paper's rows, then the detailed outcome classes."""
    counts = results["outcome"].value_counts()
    start = len(results)
    rows = [("paper", "start", start)]
    rows += [
        ("paper", g, int(sum(counts.get(o, 0) for o in members)))
        for g, members in PAPER_GROUPS.items()
    ]
    rows += [("detail", o, int(counts.get(o, 0))) for o in DETAIL]
    loose = results["mismatch_loose"].dropna()
    if len(loose):
        rows.append(("detail", f"mismatch at {LOOSE:g}", int(loose.astype(bool).sum())))
    failures = results[results["signature"] != ""]
    rows.append(("detail", "unique errors", int(failures["signature"].nunique())))
    frame = pd.DataFrame(rows, columns=["level", "row", "count"])
    frame.insert(0, "column", column)
    frame.insert(0, "dataset", dataset)
    frame["percent"] = (100 * frame["count"] / start).round(1)
    frame.loc[frame["row"] == "unique errors", "percent"] = float("nan")
    return frame


def table11(published: pd.DataFrame, fresh: dict[str, pd.DataFrame]) -> pd.DataFrame:
    """The published synthetic columns (TF, PT) and one column per fresh campaign and converter."""
    parts = [
        outcome_table(published[published["framework"] == fw], col, "issta24")
        for fw, col in PUBLISHED_COLUMNS.items()
    ]
    for name, results in sorted(fresh.items()):
        for converter, group in sorted(results.groupby("converter")):
            parts.append(outcome_table(group, f"{name}/{converter}", name))
    return pd.concat(parts, ignore_index=True)


def rates_by_size(results: pd.DataFrame) -> pd.DataFrame:
    """Share of each paper outcome group per model size (nodes)."""
    group_of = {o: g for g, members in PAPER_GROUPS.items() for o in members}
    frame = results.assign(group=results["outcome"].map(group_of))
    shares = pd.crosstab(frame["nodes"], frame["group"], normalize="index")
    return shares.reindex(columns=list(PAPER_GROUPS), fill_value=0.0)


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


def _latex(table: pd.DataFrame) -> str:
    paper = table[table["level"] == "paper"]
    columns = list(dict.fromkeys(paper["column"]))
    wide = paper.pivot(index="row", columns="column", values="count").reindex(
        ["start", *PAPER_GROUPS], axis=0
    )[columns]
    header = " & ".join(["Outcome", *[c.replace("_", r"\_") for c in columns]])
    body = [
        " & ".join([row, *[f"{int(v):,}" for v in wide.loc[row]]]) + r" \\" for row in wide.index
    ]
    return wrap_table(
        body,
        "l" + "r" * len(columns),
        header,
        "Outcomes of converting synthetic models: published and fresh campaigns.",
        "tab:conversion-outcomes",
    )


@artifact(ARTIFACT_ID, "Conversion outcomes of synthetic models", "Table 11", per_study=False)
def build_table11(ctx: AnalysisContext) -> ArtifactResult:
    root = _difftest_dir()
    published_path = root / PUBLISHED_CAMPAIGN / "results.jsonl"
    if not published_path.is_file():
        raise DatasetError(
            f"{published_path} is missing", "run `convfail data import-artifact --only difftest`"
        )
    published = load_results(published_path)
    fresh = {name: load_results(root / name / "results.jsonl") for name in fresh_campaigns(root)}
    table = table11(published, fresh)
    panels = {
        "TF synthetic (published)": published[published["framework"] == "tensorflow"],
        "PT synthetic (published)": published[published["framework"] == "torch"],
    }
    for name, results in fresh.items():
        for converter, group in sorted(results.groupby("converter")):
            panels[f"{name}/{converter}"] = group
    detail = table.set_index(["column", "row"])["count"]
    notes = [
        "Paper row 'converter failure' = source-model failure + conversion failure + hang + crash; "
        f"{detail[('tf_synthetic', 'source_failure')]} of the TF ones failed in TensorFlow before "
        "conversion (Sub on bool, incompatible shapes) and are not converter failures.",
        "Paper row 'ORT load failure' includes errors raised while running a node: "
        f"{detail[('tf_synthetic', 'ort_inference_failure')]} TF and "
        f"{detail[('pt_synthetic', 'ort_inference_failure')]} PT.",
        "The TF 'success' count includes 30 models whose maximum absolute difference is NaN "
        "(NaN > 1e-7 is false); whether they differ cannot be told from the published data.",
        "Fresh campaigns: same generator graph for every converter; mismatch at the campaign "
        "tolerance (1e-7 by default) and at 1e-3.",
    ]
    return ArtifactResult(
        table=table,
        latex=_latex(table),
        figures={"fig_rq4_outcomes_by_size": size_figure(panels)},
        checks=checks_for(ARTIFACT_ID, table[table["level"] == "paper"], "count"),
        notes=notes,
    )
