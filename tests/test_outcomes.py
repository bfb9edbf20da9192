"""Table 11's synthetic columns from the imported published results, and the importer itself."""

import pandas as pd
import pytest

from analysis.outcomes.artifacts import build_table11
from analysis.outcomes.data import load_results
from analysis.outcomes.tables import table11
from analysis.registry import AnalysisContext
from convfail.campaign_files import OUTCOMES, RESULTS_FILE
from convfail.paths import artifact_dir, campaign_dir
from difftest.artifact_import import read_results, results_text

PUBLISHED = {
    "tf_synthetic": {
        "start": 1820,
        "converter failure": 800,
        "ORT load failure": 757,
        "mismatch": 220,
        "success": 43,
    },
    "pt_synthetic": {
        "start": 1724,
        "converter failure": 2,
        "ORT load failure": 741,
        "mismatch": 100,
        "success": 881,
    },
}


@pytest.fixture(scope="module")
def imported(tmp_path_factory):
    if not (artifact_dir() / "theme3-models").is_dir():
        pytest.skip("the published artifact is not beside the checkout")
    path = tmp_path_factory.mktemp("outcomes") / RESULTS_FILE
    path.write_text(results_text(read_results(artifact_dir())))
    return path


def test_import_reproduces_table11_synthetic_columns(imported):
    table = table11(load_results(imported), {})
    paper = table[table["level"] == "paper"].set_index(["column", "row"])["count"]
    for column, rows in PUBLISHED.items():
        for row, value in rows.items():
            assert paper[(column, row)] == value, (column, row)


def test_import_keeps_source_failures_and_inference_failures_apart(imported):
    detail = table11(load_results(imported), {}).set_index(["column", "row"])["count"]
    assert detail[("tf_synthetic", "source_failure")] == 785
    assert detail[("tf_synthetic", "ort_inference_failure")] == 88
    assert detail[("pt_synthetic", "conversion_failure")] == 2
    assert detail[("tf_synthetic", "hang")] == 2


def test_import_is_deterministic_and_matches_the_shipped_file(imported):
    assert results_text(read_results(artifact_dir())) == imported.read_text()
    shipped = campaign_dir("issta24-synthetic") / RESULTS_FILE
    assert shipped.read_text() == imported.read_text()


def test_registered_artifact_checks_all_match_and_has_fresh_columns():
    result = build_table11(AnalysisContext())
    assert result.checks and all(c.status == "match" for c in result.checks)
    assert "fig_rq4_outcomes_by_size" in result.figures
    fresh = result.table[result.table["dataset"] != "issta24"]
    assert not fresh.empty  # the shipped fresh campaign sits beside the published columns
    starts = fresh[fresh["row"] == "start"]["count"]
    details = (
        fresh[(fresh["level"] == "detail") & fresh["row"].isin(OUTCOMES)]
        .groupby("column")["count"]
        .sum()
    )
    assert (
        pd.Series(starts.values, index=fresh[fresh["row"] == "start"]["column"]) == details
    ).all()
