"""RQ4 macro analysis: Table 11's synthetic columns and outcome rates by model size, as tables.

The paper's rows merge outcomes that difftest keeps apart:

- *converter failure* = source-model failure + conversion failure + hang + crash (781 of the
  800 TensorFlow "converter failures" are TensorFlow errors raised before any conversion);
- *ORT load failure* = load failure + inference failure (88 TensorFlow and 8 PyTorch entries
  failed while running a node, not while loading).

Both levels are in the table: ``level == "paper"`` rows use the paper's grouping, ``level ==
"detail"`` rows the difftest outcome classes (under the ``default`` verdict policy), then the
mismatch counts under every other policy of :data:`analysis.outcomes.data.POLICIES`. A one-sided
NaN or infinity (``nonfinite_mismatch``) is in the paper's "mismatch" row: an allclose test
fails on it.
"""

from __future__ import annotations

import pandas as pd

from analysis.outcomes.data import POLICIES, outcome_column
from analysis.render.latex import wrap_table
from convfail import campaign_files as files

PUBLISHED_COLUMNS = {"tensorflow": "tf_synthetic", "torch": "pt_synthetic"}
PUBLISHED_DATASET = "issta24"
# Table 11 "2023 (paper) vs today": the published columns are the converters of 2023
WHEN = {PUBLISHED_DATASET: "2023 (paper)"}
TODAY = "today"
PAPER_GROUPS = {
    "converter failure": [files.SOURCE_FAILURE, files.CONVERSION_FAILURE, files.HANG, files.CRASH],
    "ORT load failure": [files.ORT_LOAD_FAILURE, files.ORT_INFERENCE_FAILURE],
    "mismatch": [files.MISMATCH, files.NONFINITE_MISMATCH],
    "success": [files.SUCCESS],
}
# difftest's outcome classes, in the order of the paper's groups they fall in
DETAIL = [outcome for members in PAPER_GROUPS.values() for outcome in members]


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
    if results["rejudged"].any():
        for policy in POLICIES[1:]:
            judged = results[outcome_column(policy)].value_counts()
            for outcome in (files.MISMATCH, files.NONFINITE_MISMATCH):
                rows.append(("detail", f"{outcome} ({policy})", int(judged.get(outcome, 0))))
    failures = results[results["signature"] != ""]
    rows.append(("detail", "unique errors", int(failures["signature"].nunique())))
    frame = pd.DataFrame(rows, columns=["level", "row", "count"])
    frame.insert(0, "column", column)
    frame.insert(0, "when", WHEN.get(dataset, TODAY))
    frame.insert(0, "dataset", dataset)
    frame["percent"] = (100 * frame["count"] / start).round(1)
    frame.loc[frame["row"] == "unique errors", "percent"] = float("nan")
    return frame


def table11(published: pd.DataFrame, fresh: dict[str, pd.DataFrame]) -> pd.DataFrame:
    """The published synthetic columns (TF, PT) and one column per fresh campaign and converter."""
    parts = [
        outcome_table(published[published["framework"] == fw], col, PUBLISHED_DATASET)
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


def latex_table(table: pd.DataFrame) -> str:
    paper = table[table["level"] == "paper"]
    columns = list(dict.fromkeys(paper["column"]))
    wide = paper.pivot(index="row", columns="column", values="count").reindex(
        ["start", *PAPER_GROUPS], axis=0
    )[columns]
    when = paper.drop_duplicates("column").set_index("column")["when"]
    header = " & ".join(["Outcome", *[c.replace("_", r"\_") for c in columns]])
    body = [" & ".join(["", *[when[c] for c in columns]]) + r" \\"]
    body += [
        " & ".join([row, *[f"{int(v):,}" for v in wide.loc[row]]]) + r" \\" for row in wide.index
    ]
    return wrap_table(
        body,
        "l" + "r" * len(columns),
        header,
        "Outcomes of converting synthetic models: 2023 (the paper's published results) vs. today "
        "(fresh campaigns, the same graph through every converter).",
        "tab:conversion-outcomes",
    )
