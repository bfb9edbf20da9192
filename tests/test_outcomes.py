"""Table 11's synthetic columns from the imported published results, and the importer itself."""

import shutil

import pandas as pd
import pytest

from analysis.outcomes.artifacts import build_table11
from analysis.outcomes.data import load_results
from analysis.outcomes.tables import table11
from analysis.registry import AnalysisContext
from convfail.campaign_files import CONFIG_FILE, OUTCOMES, RESULTS_FILE
from convfail.paths import artifact_dir, campaign_dir, project_root
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


SHIPPED_DATA = project_root() / "data"


@pytest.fixture
def small_project(home):
    """A project holding the published results, a small finished campaign (the shipped fresh one)
    and the first jobs of a campaign still running."""
    shipped = SHIPPED_DATA
    shutil.copytree(shipped / "reference", home / "data" / "reference")
    shutil.copy(shipped / "codebook.yaml", home / "data" / "codebook.yaml")
    for name in ("issta24-synthetic", "fresh-synthetic"):
        shutil.copytree(campaign_dir_in(shipped, name), campaign_dir_in(home / "data", name))
    running = campaign_dir_in(home / "data", "growing")
    running.mkdir()
    config = campaign_dir_in(shipped, "fresh-synthetic") / CONFIG_FILE
    (running / CONFIG_FILE).write_text(config.read_text().replace("fresh-synthetic", "growing"))
    lines = (campaign_dir_in(shipped, "fresh-synthetic") / RESULTS_FILE).read_text().splitlines()
    (running / RESULTS_FILE).write_text("\n".join(lines[:40]) + "\n")
    return home


def campaign_dir_in(data, name):
    return data / "difftest" / name


def test_table11_puts_finished_campaigns_beside_2023_and_names_unfinished_ones(small_project):
    result = build_table11(AnalysisContext())
    table = result.table
    assert set(table["when"]) == {"2023 (paper)", "today"}
    today = table[table["when"] == "today"]
    assert set(today["dataset"]) == {"fresh-synthetic"}  # not the growing one
    assert set(today["column"]) == {
        f"fresh-synthetic/{c}" for c in ("dynamo", "tf2onnx", "torchscript")
    }
    starts = today[today["row"] == "start"].set_index("column")["count"]
    assert (starts == 54).all()  # 18 sizes x 3 models, each through every converter
    assert any(
        n.startswith("growing: unfinished (162 jobs planned), left out") for n in result.notes
    )
    assert all(c.status == "match" for c in result.checks)
    assert r"2023 (paper)" in result.latex and "today" in result.latex
    axes = result.figures["fig_rq4_outcomes_by_size"].axes
    assert len([a for a in axes if a.get_visible()]) == 2 + 3


def test_table11_is_the_same_while_a_campaign_grows(small_project):
    before = build_table11(AnalysisContext())
    growing = campaign_dir_in(small_project / "data", "growing") / RESULTS_FILE
    shipped = campaign_dir_in(SHIPPED_DATA, "fresh-synthetic") / RESULTS_FILE
    growing.write_text("\n".join(shipped.read_text().splitlines()[:80]) + "\n")
    during = build_table11(AnalysisContext())
    pd.testing.assert_frame_equal(during.table, before.table)
    assert during.notes == before.notes
    growing.write_text(shipped.read_text())
    after = build_table11(AnalysisContext()).table
    assert "growing" in set(after["dataset"])  # finished now, so it is read
