"""Inter-rater agreement of the study's pilot and drift check (Cohen's kappa, % agreement)."""

from __future__ import annotations

import pandas as pd

from analysis.published import checks_for
from analysis.registry import AnalysisContext, ArtifactResult, artifact
from convfail.agreement import cohen_kappa, paired, percent_agreement
from convfail.dataset import Study

TOTAL = "total"


def agreement_table(
    study: Study, rater_a: str, rater_b: str, dimensions: list[str]
) -> pd.DataFrame:
    """Kappa and percent agreement per dimension, per converter and pooled (``total``)."""
    converters = study.issues[["repository", "number", "converter"]]
    rows = []
    for dimension in dimensions:
        both = paired(study.labels[rater_a], study.labels[rater_b], dimension)
        both = both.merge(converters, on=["repository", "number"], how="left")
        groups = [(c, both[both["converter"] == c]) for c in sorted(both["converter"].unique())]
        for converter, part in [*groups, (TOTAL, both)]:
            rows.append(
                {
                    "dimension": dimension,
                    "converter": converter,
                    "kappa": round(cohen_kappa(part["a"], part["b"]), 4),
                    "percent_agreement": round(percent_agreement(part["a"], part["b"]), 2),
                    "n": len(part),
                    "rater_a": rater_a,
                    "rater_b": rater_b,
                }
            )
    return pd.DataFrame(rows)


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
