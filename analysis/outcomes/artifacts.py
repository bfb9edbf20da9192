"""The registered Table 11 artifact: the published synthetic columns and every fresh campaign.

The imported published results (campaign ``issta24-synthetic``) give the paper's columns, every
other *finished* campaign folder (a ``campaign.yaml`` and a record for each of its planned jobs)
gives fresh columns (one per converter) beside them. An unfinished campaign is named in the notes
and left out until it completes, so reproducing twice gives the same bytes while one runs.
"""

from __future__ import annotations

from analysis.outcomes.data import load_results
from analysis.outcomes.figures import size_figure
from analysis.outcomes.tables import latex_table, table11
from analysis.published import checks_for
from analysis.registry import AnalysisContext, ArtifactResult, artifact
from convfail.campaign_files import (
    ORT_INFERENCE_FAILURE,
    RESULTS_FILE,
    SOURCE_FAILURE,
    finished_campaigns,
)
from convfail.errors import DatasetError
from convfail.paths import campaign_dir, difftest_dir

ARTIFACT_ID = "table11_conversion_outcomes"
PUBLISHED_CAMPAIGN = "issta24-synthetic"


@artifact(ARTIFACT_ID, "Conversion outcomes of synthetic models", "Table 11", per_study=False)
def build_table11(ctx: AnalysisContext) -> ArtifactResult:
    published_path = campaign_dir(PUBLISHED_CAMPAIGN) / RESULTS_FILE
    if not published_path.is_file():
        raise DatasetError(
            f"{published_path} is missing", "run `convfail data import-artifact --only difftest`"
        )
    published = load_results(published_path)
    finished, unfinished = finished_campaigns(difftest_dir())
    fresh = {f.name: load_results(f / RESULTS_FILE) for f in finished}
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
        f"{detail[('tf_synthetic', SOURCE_FAILURE)]} of the TF ones failed in TensorFlow before "
        "conversion (Sub on bool, incompatible shapes) and are not converter failures.",
        "Paper row 'ORT load failure' includes errors raised while running a node: "
        f"{detail[('tf_synthetic', ORT_INFERENCE_FAILURE)]} TF and "
        f"{detail[('pt_synthetic', ORT_INFERENCE_FAILURE)]} PT.",
        "The TF 'success' count includes 30 models whose maximum absolute difference is NaN "
        "(NaN > 1e-7 is false); whether they differ cannot be told from the published data.",
        "Fresh campaigns: same generator graph for every converter, judged under the default "
        "verdict policy (dtype-aware allclose, torch.testing's defaults); the detail rows re-judge "
        "the same records under the paper's allclose (rtol 1e-3, atol 1e-7) and a bare absolute "
        "1e-7. A one-sided NaN/Inf (nonfinite_mismatch) counts in the paper's mismatch row.",
    ]
    for name, results in sorted(fresh.items()):
        if results["kept_verdict"].any():
            notes.append(
                f"{name}: {int(results['kept_verdict'].sum())} compared records have no raw "
                "differences (an older format) and keep their recorded verdict under every policy."
            )
    notes += [p.unfinished_note() for p in unfinished]
    return ArtifactResult(
        table=table,
        latex=latex_table(table),
        figures={"fig_rq4_outcomes_by_size": size_figure(panels)},
        checks=checks_for(ARTIFACT_ID, table[table["level"] == "paper"], "count"),
        notes=notes,
    )
