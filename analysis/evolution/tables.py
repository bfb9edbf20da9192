"""RQ3 as tidy frames: operator changes per opset, and sampled failures per ONNX release.

The failure subset "incompatibility + type problem" is every cause that carries sub-causes in the
codebook, so no category name is written here. Issues without a creation date cannot be placed
in time: :func:`split_dated` lists them apart.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from analysis.evolution.opsets import (
    KINDS,
    PAPER_KINDS,
    installed_onnx,
    opset_counts,
    opset_history,
    release_dates,
    releases,
)
from convfail.codebook import Codebook
from convfail.dataset import Study
from convfail.records import ISSUE_KEY

TOTAL = "total"


BINNINGS = {"not_merged": None, "merged_2_7": (2, 7)}


SUBSET = "incompatibility_type"


ALL = "all"


COUNTED = {"operators": PAPER_KINDS, "all_schemas": KINDS}


UNDATED_COLUMNS = ["converter", "repository", "number", "url", "title"]


# The published analysis counts only failures created strictly between the releases of opset 1
# and opset 18 (study.md, Figure 6); ``full`` is every dated failure, the second view.
PAPER_WINDOW = (pd.Timestamp("2017-12-06"), pd.Timestamp("2022-12-12"))
WINDOWS = {"paper": PAPER_WINDOW, "full": None}


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


def subset_causes(codebook: Codebook) -> list[str]:
    """The causes of the incompatibility + type-problem subset: those with sub-causes."""
    return [c for c in codebook["cause"].names if codebook.subcauses(c)]


def sampled_failures(study: Study) -> pd.DataFrame:
    """The labelled issues of the sample (pilot-only issues, ``in_sample == "false"``, left out)."""
    labelled = study.labelled_issues()
    flags = study.issues[[*ISSUE_KEY, "in_sample"]]
    labelled = labelled.merge(flags, on=ISSUE_KEY, how="left", validate="one_to_one")
    return labelled[labelled["in_sample"].str.lower() != "false"].reset_index(drop=True)


def split_dated(failures: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Failures with a creation date (column ``created`` added) and those without one."""
    created = pd.to_datetime(
        failures["created_at"].str.slice(0, 10), format="%Y-%m-%d", errors="coerce"
    )
    dated = failures.assign(created=created)[created.notna()].reset_index(drop=True)
    undated = (
        failures[created.isna()].sort_values(ISSUE_KEY)[UNDATED_COLUMNS].reset_index(drop=True)
    )
    return dated, undated


def in_window(
    dated: pd.DataFrame, window: tuple[pd.Timestamp, pd.Timestamp] | None
) -> pd.DataFrame:
    """The dated failures created strictly inside ``window`` (all of them for ``None``)."""
    if window is None:
        return dated
    inside = (dated["created"] > window[0]) & (dated["created"] < window[1])
    return dated[inside].reset_index(drop=True)


def release_bins(per_opset: pd.DataFrame, merge: tuple[int, int] | None = None) -> pd.DataFrame:
    """Group opsets into releases: same release date = one release; ``merge`` joins a range too.

    ``per_opset`` has ``opset``, ``release_date`` and ``changes``; the result has one row per
    release with ``first_opset``, ``last_opset``, ``start`` (its date) and summed ``changes``.
    """
    frame = per_opset.dropna(subset=["release_date"]).sort_values("opset").copy()
    key = frame["release_date"]
    if merge:
        inside = frame["opset"].between(*merge)
        key = key.where(~inside, key[inside].min())
    grouped = frame.groupby(key.rename("start"), sort=True).agg(
        first_opset=("opset", "min"), last_opset=("opset", "max"), changes=("changes", "sum")
    )
    return grouped.reset_index()[["first_opset", "last_opset", "start", "changes"]]


def failures_per_release(
    bins: pd.DataFrame, dated: pd.DataFrame, subset: list[str]
) -> pd.DataFrame:
    """Failures created in [release, next release), all of them and the subset, per release."""
    out = bins.copy()
    out["end"] = [*out["start"].iloc[1:], pd.NaT]
    in_subset = dated["cause"].isin(subset)
    counts, subsets = [], []
    for start, end in zip(out["start"], out["end"], strict=True):
        inside = dated["created"] >= start
        if pd.notna(end):
            inside &= dated["created"] < end
        counts.append(int(inside.sum()))
        subsets.append(int((inside & in_subset).sum()))
    out[ALL] = counts
    out[SUBSET] = subsets
    out[f"{SUBSET}_share"] = np.where(
        out[ALL] > 0, out[SUBSET] / out[ALL].where(out[ALL] > 0, 1), np.nan
    )
    return out


def study_releases(
    dated: pd.DataFrame,
    counted: tuple[str, ...] = PAPER_KINDS,
    until: pd.Timestamp | None = None,
) -> pd.DataFrame:
    """Per-opset changes and dates for the releases up to ``until`` (default: the newest failure
    of the study); the paper's window ends on the day of opset 18, which it includes."""
    newest = until if until is not None else dated["created"].max()
    dates = release_dates()
    in_period = dates[dates["release_date"] <= newest]
    horizon = int(in_period["opset"].max()) if not in_period.empty else installed_onnx()[1]
    per_opset = releases(opset_history(horizon), dates, counted)
    return per_opset[per_opset["opset"] <= horizon].reset_index(drop=True)


def cumulative_by_quarter(dated: pd.DataFrame, subset: list[str]) -> pd.DataFrame:
    """Cumulative failures per converter at the end of each creation quarter (all and subset)."""
    quarters = pd.period_range(dated["created"].min(), dated["created"].max(), freq="Q")
    rows = []
    for converter in sorted(dated["converter"].unique()):
        mine = dated[dated["converter"] == converter]
        for failures, chosen in ((ALL, mine), (SUBSET, mine[mine["cause"].isin(subset)])):
            per_q = (
                chosen["created"].dt.to_period("Q").value_counts().reindex(quarters, fill_value=0)
            )
            for quarter, new, total in zip(quarters, per_q, per_q.cumsum(), strict=True):
                rows.append(
                    {
                        "quarter": str(quarter),
                        "quarter_end": quarter.end_time.strftime("%Y-%m-%d"),
                        "converter": converter,
                        "failures": failures,
                        "new": int(new),
                        "cumulative": int(total),
                    }
                )
    return pd.DataFrame(rows)
