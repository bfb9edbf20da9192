"""RQ2 failure analysis: Tables 8, 9, 10, 14 and 16 of the paper, for any labelled study.

Every table is a pure function of the labelled issues (one row per issue with ``converter``,
``location``, ``symptom``, ``cause``, ``subcause``) and the codebook, returning a tidy frame:
one row per cell, categories by canonical codebook name, converters plus ``total``. Row order
follows the codebook file. Bins that are not codebook categories are called ``other``.
"""

from __future__ import annotations

import pandas as pd

from analysis import latex
from analysis.plotting import count_heatmap, horizontal_stacked_bars
from analysis.published import checks_for, published_cells
from analysis.registry import AnalysisContext, ArtifactResult, Check, artifact
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


def _labels(codebook: Codebook, dimension: str) -> dict[str, str]:
    names = {c.name: c.paper_name for c in codebook[dimension]}
    return {**names, OTHER: "Other"}


def _result(
    ctx: AnalysisContext, artifact_id: str, table: pd.DataFrame, value: str = "count"
) -> ArtifactResult:
    checks = checks_for(artifact_id, table, value) if ctx.is_reference_study else []
    return ArtifactResult(table=table, checks=checks)


def _marginal_checks(artifact_id: str, table: pd.DataFrame, ctx: AnalysisContext) -> list[Check]:
    """Table 10/16 cells are not listed in study.md; their margins must equal Tables 9 and 14."""
    if not ctx.is_reference_study:
        return []
    checks = []
    sym_cells, _, _ = published_cells("table09_symptoms")
    cause_cells, _, _ = published_cells("table14_causes")
    totals_by_symptom = table.groupby(["symptom", "converter"])["count"].sum()
    totals_by_cause = table.groupby(["cause", "converter"])["count"].sum()
    for cell in sym_cells:
        key = (cell["symptom"], cell["converter"])
        if key in totals_by_symptom.index:
            checks.append(
                Check(
                    artifact_id,
                    f"margin symptom={key[0]}, converter={key[1]}",
                    cell["value"],
                    int(totals_by_symptom[key]),
                )
            )
    causes = {}
    for cell in cause_cells:
        causes[(cell["cause"], cell["converter"])] = (
            causes.get((cell["cause"], cell["converter"]), 0) + cell["value"]
        )
    for key, value in causes.items():
        if key in totals_by_cause.index:
            checks.append(
                Check(
                    artifact_id,
                    f"margin cause={key[0]}, converter={key[1]}",
                    value,
                    int(totals_by_cause[key]),
                )
            )
    return checks


@artifact("table08_locations", "Failure locations (converter stages)", "Table 8")
def build_table08(ctx: AnalysisContext) -> ArtifactResult:
    table = table08_locations(ctx.study.labelled_issues(), ctx.codebook)
    result = _result(ctx, "table08_locations", table)
    result.latex = latex.count_table(
        table, "location", _labels(ctx.codebook, "location"), "Failure locations", "tab:locations"
    )
    result.figures["table08_locations"] = horizontal_stacked_bars(
        table, "location", _labels(ctx.codebook, "location"), "Failure locations"
    )
    return result


@artifact("table09_symptoms", "Failure symptoms, with DL compilers (Shen et al.)", "Table 9")
def build_table09(ctx: AnalysisContext) -> ArtifactResult:
    table = table09_symptoms(ctx.study.labelled_issues(), ctx.codebook)
    result = _result(ctx, "table09_symptoms", table)
    result.latex = latex.count_table(
        table, "symptom", _labels(ctx.codebook, "symptom"), "Failure symptoms", "tab:symptoms"
    )
    result.figures["table09_symptoms"] = horizontal_stacked_bars(
        table, "symptom", _labels(ctx.codebook, "symptom"), "Failure symptoms"
    )
    return result


@artifact("table14_causes", "Failure causes with sub-causes, with DL compilers", "Table 14")
def build_table14(ctx: AnalysisContext) -> ArtifactResult:
    table = table14_causes(ctx.study.labelled_issues(), ctx.codebook)
    result = _result(ctx, "table14_causes", table)
    labels = _labels(ctx.codebook, "cause")
    sub_labels = {s.name: s.paper_name for s in ctx.codebook["subcause"]}
    result.latex = latex.cause_table(table, labels, sub_labels)
    plot = table.assign(
        cause=table["cause"] + table["subcause"].map(lambda s: f"/{s}" if s else "")
    )
    plot_labels = {
        **labels,
        **{
            f"{s.parent}/{s.name}": f"{labels[s.parent]}: {s.paper_name}"
            for s in ctx.codebook["subcause"]
        },
    }
    result.figures["table14_causes"] = horizontal_stacked_bars(
        plot, "cause", plot_labels, "Failure causes"
    )
    return result


def _cross_result(
    ctx: AnalysisContext, artifact_id: str, table: pd.DataFrame, title: str, label: str, paper: str
) -> ArtifactResult:
    """A cause × symptom table as LaTeX and heat map; its margins checked against the paper."""
    causes, symptoms = _labels(ctx.codebook, "cause"), _labels(ctx.codebook, "symptom")
    result = ArtifactResult(table=table, checks=_marginal_checks(artifact_id, table, ctx))
    result.latex = latex.cross_table(table, causes, symptoms, title, label)
    result.figures[artifact_id] = count_heatmap(table, "cause", "symptom", causes, symptoms, title)
    if ctx.is_reference_study:
        result.notes.append(
            f"study.md lists no cell-level values for {paper}; its margins are checked against "
            "Tables 9 and 14."
        )
    return result


@artifact("table10_causes_by_symptom", "Top-5 causes by symptom", "Table 10")
def build_table10(ctx: AnalysisContext) -> ArtifactResult:
    table = table10_causes_by_symptom(ctx.study.labelled_issues(), ctx.codebook)
    return _cross_result(
        ctx,
        "table10_causes_by_symptom",
        table,
        "Top causes by symptom",
        "tab:causes-symptoms",
        "Table 10",
    )


@artifact("table16_causes_by_symptom_full", "Every cause by every symptom", "Table 16 (appendix)")
def build_table16(ctx: AnalysisContext) -> ArtifactResult:
    table = table16_causes_by_symptom_full(ctx.study.labelled_issues(), ctx.codebook)
    return _cross_result(
        ctx,
        "table16_causes_by_symptom_full",
        table,
        "Causes by symptom (all categories)",
        "tab:causes-symptoms-full",
        "Table 16",
    )


@artifact("findings_failures", "Headline numbers of the RQ2 findings", "Section 5")
def build_findings(ctx: AnalysisContext) -> ArtifactResult:
    table = findings(ctx.study.labelled_issues())
    result = _result(ctx, "findings_failures", table, "value")
    if ctx.is_reference_study:
        result.notes.append(
            "The paper rounds shares: node conversion 148/200 = 74.0% "
            "(printed as ~75% in the abstract)."
        )
    return result
