"""The registered RQ2 artifacts: Tables 8, 9, 10, 14, 16, the findings and the agreement.

Each builder takes a table from :mod:`analysis.failures.tables` or
:mod:`analysis.failures.agreement`, renders it (LaTeX, bar chart or heat map) and, for the study
the paper analysed, checks it against the published values.
"""

from __future__ import annotations

import pandas as pd

from analysis.failures.agreement import TOTAL, agreement_table
from analysis.failures.tables import (
    OTHER,
    findings,
    table08_locations,
    table09_symptoms,
    table10_causes_by_symptom,
    table14_causes,
    table16_causes_by_symptom_full,
)
from analysis.published import checks_for, published_cells
from analysis.registry import AnalysisContext, ArtifactResult, Check, artifact
from analysis.render import latex
from analysis.render.plotting import count_heatmap, horizontal_stacked_bars
from convfail.codebook import Codebook


def _labels(codebook: Codebook, dimension: str) -> dict[str, str]:
    names = {c.name: c.paper_name for c in codebook[dimension]}
    return {**names, OTHER: "Other"}


def _result(
    ctx: AnalysisContext, artifact_id: str, table: pd.DataFrame, value: str = "count"
) -> ArtifactResult:
    checks = checks_for(artifact_id, table, value) if ctx.is_reference_study else []
    return ArtifactResult(table=table, checks=checks)


def _marginal_checks(artifact_id: str, table: pd.DataFrame, ctx: AnalysisContext) -> list[Check]:
    """The margins of Tables 10 and 16 must also equal Tables 9 and 14 (one labelling, four
    tables: a label edit that moves one of them moves the others)."""
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


@artifact(
    "table08_locations", "Failure locations (converter stages)", "Table 8", needs=("location",)
)
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


@artifact(
    "table09_symptoms",
    "Failure symptoms, with DL compilers (Shen et al.)",
    "Table 9",
    needs=("symptom",),
)
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


@artifact(
    "table14_causes",
    "Failure causes with sub-causes, with DL compilers",
    "Table 14",
    needs=("cause",),
)
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


def with_margins(table: pd.DataFrame) -> pd.DataFrame:
    """The cause × symptom table plus its row totals (``symptom=total``) and column totals
    (``cause=total``), so that every printed cell of Tables 10 and 16 has a key to check."""
    columns = table.groupby(["symptom", "converter"], sort=False, as_index=False)["count"].sum()
    rows = table.groupby(["cause", "converter"], sort=False, as_index=False)["count"].sum()
    return pd.concat(
        [table, columns.assign(cause=TOTAL), rows.assign(symptom=TOTAL)], ignore_index=True
    )


def _cross_result(
    ctx: AnalysisContext, artifact_id: str, table: pd.DataFrame, title: str, label: str
) -> ArtifactResult:
    """A cause × symptom table as LaTeX and heat map; every printed cell and its margins
    (against Tables 9 and 14) checked against the paper."""
    causes, symptoms = _labels(ctx.codebook, "cause"), _labels(ctx.codebook, "symptom")
    checks = []
    if ctx.is_reference_study:
        checks = checks_for(artifact_id, with_margins(table), "count")
        checks += _marginal_checks(artifact_id, table, ctx)
    result = ArtifactResult(table=table, checks=checks)
    result.latex = latex.cross_table(table, causes, symptoms, title, label)
    result.figures[artifact_id] = count_heatmap(table, "cause", "symptom", causes, symptoms, title)
    return result


@artifact(
    "table10_causes_by_symptom",
    "Top-5 causes by symptom",
    "Table 10",
    needs=("cause", "symptom"),
)
def build_table10(ctx: AnalysisContext) -> ArtifactResult:
    table = table10_causes_by_symptom(ctx.study.labelled_issues(), ctx.codebook)
    return _cross_result(
        ctx,
        "table10_causes_by_symptom",
        table,
        "Top causes by symptom",
        "tab:causes-symptoms",
    )


@artifact(
    "table16_causes_by_symptom_full",
    "Every cause by every symptom",
    "Table 16 (appendix)",
    needs=("cause", "symptom"),
)
def build_table16(ctx: AnalysisContext) -> ArtifactResult:
    table = table16_causes_by_symptom_full(ctx.study.labelled_issues(), ctx.codebook)
    return _cross_result(
        ctx,
        "table16_causes_by_symptom_full",
        table,
        "Causes by symptom (all categories)",
        "tab:causes-symptoms-full",
    )


@artifact(
    "findings_failures",
    "Headline numbers of the RQ2 findings",
    "Section 5",
    needs=("location", "symptom", "cause"),
)
def build_findings(ctx: AnalysisContext) -> ArtifactResult:
    table = findings(ctx.study.labelled_issues())
    result = _result(ctx, "findings_failures", table, "value")
    if ctx.is_reference_study:
        result.notes.append(
            "The paper rounds shares: node conversion 148/200 = 74.0% "
            "(printed as ~75% in the abstract)."
        )
    return result


def _pair_present(ctx: AnalysisContext, a: str, b: str) -> bool:
    return a in ctx.study.labels and b in ctx.study.labels


@artifact("agreement_pilot", "Pilot inter-rater agreement (R1 vs R2)", "Section 4.2.2")
def build_pilot(ctx: AnalysisContext) -> ArtifactResult:
    if not _pair_present(ctx, "pilot_r1", "pilot_r2"):
        return ArtifactResult(notes=["study has no pilot raters (pilot_r1, pilot_r2)"])
    table = agreement_table(ctx.study, "pilot_r1", "pilot_r2", ["cause", "symptom"])
    checks = checks_for("agreement_pilot", table, "kappa") if ctx.is_reference_study else []
    return ArtifactResult(table=table, checks=checks)


@artifact("agreement_drift", "Drift check agreement (rater A vs rater B)", "Section 4.2.2")
def build_drift(ctx: AnalysisContext) -> ArtifactResult:
    if not _pair_present(ctx, "drift_a", "drift_b"):
        return ArtifactResult(notes=["study has no drift raters (drift_a, drift_b)"])
    table = agreement_table(
        ctx.study, "drift_a", "drift_b", ["location", "symptom", "cause", "subcause"]
    )
    result = ArtifactResult(table=table)
    if ctx.is_reference_study:
        result.checks = checks_for("agreement_drift", table, "kappa")
        n = int(table[(table["converter"] == TOTAL)]["n"].iloc[0])
        result.notes.append(
            f"The paper says the drift check re-coded 20 issues; the spreadsheet holds {n} "
            "(9 + 9). Agreement is computed on those."
        )
    return result
