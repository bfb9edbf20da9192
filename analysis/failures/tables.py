"""RQ2 failure analysis: Tables 8, 9, 10, 14 and 16 of the paper as tidy frames, for any study.

Every table is a pure function of the labelled issues (one row per issue with ``converter``,
``location``, ``symptom``, ``cause``, ``subcause``) and the codebook, returning a tidy frame:
one row per cell, categories by canonical codebook name, converters plus ``total``. Row order
follows the codebook file. Bins that are not codebook categories are called ``other``.
"""

from __future__ import annotations

import pandas as pd

from convfail.codebook import Codebook
from convfail.paths import reference_data_dir

TOTAL = "total"
OTHER = "other"
REFERENCE_COLUMN = "dl_compilers"
TOP_CAUSES = 5
MAIN_SYMPTOMS = ["crash", "wrong_model"]


def converters_of(labelled: pd.DataFrame) -> list[str]:
    return sorted(labelled["converter"].unique())


def _with_totals(frame: pd.DataFrame, keys: list[str], converters: list[str]) -> pd.DataFrame:
    """Add the ``total`` converter and percentages of each converter's issue count."""
    totals = frame.groupby(keys, sort=False, as_index=False)["count"].sum()
    totals["converter"] = TOTAL
    out = pd.concat([frame, totals], ignore_index=True)
    order = {c: i for i, c in enumerate([*converters, TOTAL])}
    out["_conv"] = out["converter"].map(order)
    return (
        out.sort_values([*[f"_{k}" for k in keys], "_conv"])
        .drop(columns=["_conv", *[f"_{k}" for k in keys]])
        .reset_index(drop=True)
    )


def count_by(
    labelled: pd.DataFrame, column: str, categories: list[str], converters: list[str] | None = None
) -> pd.DataFrame:
    """Counts of ``column`` per category and converter, every category listed (zeros too)."""
    converters = converters or converters_of(labelled)
    grid = pd.MultiIndex.from_product([categories, converters], names=[column, "converter"])
    counts = labelled.groupby([column, "converter"]).size().reindex(grid, fill_value=0)
    frame = counts.rename("count").reset_index()
    frame[f"_{column}"] = frame[column].map({c: i for i, c in enumerate(categories)})
    out = _with_totals(frame, [column], converters)
    sizes = labelled.groupby("converter").size().to_dict()
    sizes[TOTAL] = len(labelled)
    out["percent"] = (100 * out["count"] / out["converter"].map(sizes)).round(1)
    return out


def table08_locations(labelled: pd.DataFrame, codebook: Codebook) -> pd.DataFrame:
    return count_by(labelled, "location", codebook["location"].names)


def table09_symptoms(labelled: pd.DataFrame, codebook: Codebook) -> pd.DataFrame:
    table = count_by(labelled, "symptom", codebook["symptom"].names)
    return pd.concat([table, _reference_rows("symptom", "symptom")], ignore_index=True)


def _reference_rows(dimension: str, column: str) -> pd.DataFrame:
    """The DL-compiler column of Shen et al., as the paper printed it beside ours."""
    ref = pd.read_csv(reference_data_dir() / "shen2021_dl_compilers.csv")
    ref = ref[ref["dimension"] == dimension]
    rows = []
    for category, count in zip(ref["category"], ref["count"], strict=True):
        cause, _, sub = category.partition("/")
        row = {column: cause, "converter": REFERENCE_COLUMN, "count": int(count)}
        if dimension == "cause":
            row["subcause"] = sub
        rows.append(row)
    frame = pd.DataFrame(rows)
    frame["percent"] = (100 * frame["count"] / frame["count"].sum()).round(1)
    return frame


def top_causes(labelled: pd.DataFrame, codebook: Codebook, n: int = TOP_CAUSES) -> list[str]:
    """The ``n`` most frequent causes overall, ties broken by codebook order.

    A catch-all category (``catch_all`` in the codebook) is never ranked: it goes into the bin.
    """
    order = {c: i for i, c in enumerate(codebook["cause"].names)}
    catch_all = {c.name for c in codebook["cause"] if c.catch_all}
    counts = labelled["cause"].value_counts()
    ranked = sorted(
        (c for c in counts.index if c not in catch_all), key=lambda c: (-counts[c], order[c])
    )
    return ranked[:n]


def _binned_causes(labelled: pd.DataFrame, codebook: Codebook) -> tuple[pd.Series, list[str]]:
    top = top_causes(labelled, codebook)
    ordered = [c for c in codebook["cause"].names if c in top]
    return labelled["cause"].where(labelled["cause"].isin(top), OTHER), [*ordered, OTHER]


def table14_causes(labelled: pd.DataFrame, codebook: Codebook) -> pd.DataFrame:
    """Top causes with their sub-causes (all sub-causes listed), the rest binned as ``other``."""
    binned, causes = _binned_causes(labelled, codebook)
    rows = labelled.assign(cause=binned)
    keys = []
    for cause in causes:
        subs = codebook.subcauses(cause) if cause != OTHER else []
        keys += [f"{cause}/{s.name}" for s in subs] or [f"{cause}/"]
    rows = rows.assign(
        cause_key=rows["cause"]
        + "/"
        + rows["subcause"].where(
            rows["cause"].isin([k.split("/")[0] for k in keys if not k.endswith("/")]), ""
        )
    )
    table = count_by(rows, "cause_key", keys)
    split = table["cause_key"].str.partition("/")
    table.insert(0, "cause", split[0])
    table.insert(1, "subcause", split[2])
    table = table.drop(columns="cause_key")
    return pd.concat([table, _reference_rows("cause", "cause")], ignore_index=True)


def _symptom_bins(labelled: pd.DataFrame) -> pd.Series:
    return labelled["symptom"].where(labelled["symptom"].isin(MAIN_SYMPTOMS), OTHER)


def cross_table(
    labelled: pd.DataFrame, causes: list[str], symptoms: list[str], converters: list[str]
) -> pd.DataFrame:
    """Cause × symptom counts per converter plus total, every pair listed."""
    grid = pd.MultiIndex.from_product(
        [causes, symptoms, converters], names=["cause", "symptom", "converter"]
    )
    counts = labelled.groupby(["cause", "symptom", "converter"]).size().reindex(grid, fill_value=0)
    frame = counts.rename("count").reset_index()
    frame["_cause"] = frame["cause"].map({c: i for i, c in enumerate(causes)})
    frame["_symptom"] = frame["symptom"].map({c: i for i, c in enumerate(symptoms)})
    return _with_totals(frame, ["cause", "symptom"], converters)


def table10_causes_by_symptom(labelled: pd.DataFrame, codebook: Codebook) -> pd.DataFrame:
    binned, causes = _binned_causes(labelled, codebook)
    rows = labelled.assign(cause=binned, symptom=_symptom_bins(labelled))
    return cross_table(rows, causes, [*MAIN_SYMPTOMS, OTHER], converters_of(labelled))


def table16_causes_by_symptom_full(labelled: pd.DataFrame, codebook: Codebook) -> pd.DataFrame:
    return cross_table(
        labelled, codebook["cause"].names, codebook["symptom"].names, converters_of(labelled)
    )


def findings(labelled: pd.DataFrame) -> pd.DataFrame:
    """The headline numbers of the RQ2 findings."""
    n = len(labelled)
    per = labelled.groupby("converter").size()
    algorithmic = labelled[labelled["cause"] == "algorithmic_error"].groupby("converter").size()
    stats = {f"issues_{c}": int(per[c]) for c in per.index}
    stats["share_node_conversion_percent"] = round(
        100 * (labelled["location"] == "node_conversion").sum() / n, 1
    )
    stats["share_crash_percent"] = round(100 * (labelled["symptom"] == "crash").sum() / n, 1)
    stats["share_wrong_model_percent"] = round(
        100 * (labelled["symptom"] == "wrong_model").sum() / n, 1
    )
    if {"tf2onnx", "torch.onnx"} <= set(algorithmic.index):
        ratio = algorithmic["tf2onnx"] / algorithmic["torch.onnx"]
        stats["algorithmic_error_ratio_tf2onnx_to_torch.onnx"] = round(float(ratio), 2)
    return pd.DataFrame({"statistic": list(stats), "value": list(stats.values())})
