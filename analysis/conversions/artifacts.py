"""The registered conversion-matrix artifact: the tidy table, the heat map, and the
InceptionV3 Keras -> TFLite precision case, from the shipped matrix run."""

from __future__ import annotations

from analysis.conversions.data import matrix_results_path, read_matrix
from analysis.conversions.figures import discrepancy_heatmap
from analysis.conversions.tables import conversion_matrix, precision_case
from analysis.registry import AnalysisContext, ArtifactResult, artifact

ARTIFACT_ID = "conversion_matrix"
MATRIX = "conversions"


@artifact(
    ARTIFACT_ID, "Label discrepancy of cross-framework conversions", "issue 13", per_study=False
)
def build_conversion_matrix(ctx: AnalysisContext) -> ArtifactResult:
    records = read_matrix(MATRIX)
    table = conversion_matrix(records)
    notes = [
        "Worst-case top-1 discrepancy per source x target in the figure; every path, runtime "
        "and intended precision in the table (observed dtypes are in the records' hops).",
    ]
    if not records:
        notes.append(
            f"no matrix run is shipped ({matrix_results_path(MATRIX)} is missing): "
            f"run `convfail difftest matrix {MATRIX}`"
        )
    case = precision_case(table)
    if case:
        notes.append(
            "InceptionV3 Keras -> TFLite in LiteRT, top-1 discrepancy: "
            + ", ".join(f"{p} {v:.1f} %" for p, v in sorted(case.items()))
        )
    return ArtifactResult(
        table=table, figures={"fig_conversion_matrix": discrepancy_heatmap(table)}, notes=notes
    )
