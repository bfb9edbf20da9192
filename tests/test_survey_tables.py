"""The survey tables against the paper's published numbers, the Wilson CIs and the outputs."""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path

import pytest
from matplotlib.figure import Figure

from analysis.registry import Check, artifacts
from analysis.report import only_suffix, report_paths
from analysis.survey import tables
from analysis.survey.artifacts import SURVEY_ARTIFACTS
from analysis.survey.data import load_survey
from analysis.survey.stats import proportion, wilson_interval
from convfail.paths import project_root

SURVEY_IDS = sorted(spec.id for spec in SURVEY_ARTIFACTS)


@pytest.fixture(scope="module")
def survey():
    return load_survey()


@pytest.fixture(scope="module")
def results(survey):
    return {spec.id: spec.build(survey, True) for spec in SURVEY_ARTIFACTS}


def _count(table, question, category, basis=None, column="count"):
    rows = table[(table["question"] == question) & (table["category"] == category)]
    if basis is not None:
        rows = rows[rows["basis"] == basis]
    assert len(rows) == 1, (question, category, basis)
    return rows[column].iloc[0]


# --- the published numbers (shared/docs/study.md) ---------------------------------------------


def test_table3_demographics(survey):
    table = tables.table03_demographics(survey)
    published = {
        "Q1": {"lt_1y": 8, "1_2y": 17, "3_5y": 32, "gt_5y": 32},
        "Q2": {"lt_1y": 4, "1_2y": 12, "3_5y": 20, "gt_5y": 53},
        "Q5": {"small": 48, "medium": 17, "large": 24},
        "Q67": {
            "web": 59,
            "cloud": 52,
            "desktop": 19,
            "mobile": 14,
            "iot_embedded": 14,
            "other": 4,
        },
    }
    for question, counts in published.items():
        for category, count in counts.items():
            assert _count(table, question, category) == count, (question, category)
    assert set(table["denominator"]) == {89}


def test_finding1_tools(survey):
    table = tables.finding1_tools(survey)
    assert _count(table, "Q61", "yes", "all respondents") == 39
    assert _count(table, "Q61", "yes", "all respondents", "denominator") == 92
    assert round(_count(table, "Q61", "yes", "all respondents", "percent")) == 42
    assert _count(table, "Q62", "any", "all respondents") == 15
    assert _count(table, "derived", "no_purpose_answer", column="count") == 39
    # "uses no tool" by the respondents' own answers: 45/92, not the paper's 41%
    assert _count(table, "derived", "no_tool", column="count") == 45
    # the two derivations of the paper's 41% both give 38/92, so the data cannot choose
    wording = _count(table, "derived", "rest_after_onnx_and_other_users", column="count")
    cells = _count(table, "derived", "rest_after_q63_cells", column="count")
    assert wording == cells == 38
    assert round(_count(table, "derived", "rest_after_q63_cells", column="percent")) == 41


def test_frameworks_counts(survey):
    table = tables.frameworks(survey)
    counts = {
        c: _count(table, "Q60", c, "answered Q60")
        for c in ("pytorch", "tensorflow", "jax_flax", "mlx")
    }
    assert counts == {"pytorch": 84, "tensorflow": 35, "jax_flax": 11, "mlx": 5}
    assert _count(table, "Q60", "pytorch", "answered Q60", "denominator") == 89


def test_finding2_purposes(survey):
    table = tables.finding2_purposes(survey)
    assert _count(table, "Q63", "deployment") == 37
    assert _count(table, "Q63", "framework_to_framework") == 28
    assert _count(table, "Q63", "deployment", column="denominator") == 53  # paper: 54 (quirk)


def test_finding3_problems(survey):
    table = tables.finding3_problems(survey)
    assert _count(table, "Q65", "crashes") == 19
    assert _count(table, "Q65", "performance_differences") == 19
    assert _count(table, "Q65", "other") == 6
    assert _count(table, "Q65", "meets_problems") == 33  # paper: 32 (quirk)
    assert _count(table, "Q65", "meets_problems", column="denominator") == 51  # paper: 54 (quirk)
    assert _count(table, "Q65", "no_problems_and_a_problem") == 4


def test_table4_deployment(survey):
    table = tables.table04_deployment(survey)
    counts = dict(zip(table["category"], table["count"], strict=True))
    # paper: simplicity 8, inference speed 5, portability 5 (each one higher than the sheet)
    assert counts == {
        "deploy_directly": 13,
        "simplicity": 7,
        "deployment_requirements": 7,
        "inference_speed": 4,
        "portability": 4,
        "other": 2,
    }
    assert set(table["denominator"]) == {32}
    assert _count(table, "Q64", "deploy_directly", column="percent") == 40.6  # printed as 35%


def test_table5_equals_the_paper(survey):
    """The paper's reading: Other = documentation or config answers, shares of the 16 themed."""
    table = tables.table05_addressing(survey)
    counts = dict(zip(table["category"], table["count"], strict=True))
    assert counts == {"community": 7, "test_run": 5, "versioning": 3, "other": 3}
    assert set(table["denominator"]) == {16}
    percents = dict(zip(table["category"], table["percent"].round(), strict=True))
    assert percents == {"community": 44, "test_run": 31, "versioning": 19, "other": 19}


@pytest.mark.parametrize("artifact_id", SURVEY_IDS)
def test_every_published_number_is_reproduced_or_explained(results, artifact_id):
    result = results[artifact_id]
    statuses = {c.cell: c.status for c in result.checks}
    assert all(s in {"match", "explained"} for s in statuses.values()), statuses
    for check in result.checks:
        if check.status == "explained":
            assert check.note, f"{check.cell}: an explained discrepancy needs its reason"


def test_known_quirks_are_reported_as_explained(results):
    explained = [
        f"{c.artifact}: {c.cell}"
        for r in results.values()
        for c in r.checks
        if c.status == "explained"
    ]
    for expected in (
        "survey_table04_deployment: question=Q64, category=deploy_directly [percent]",
        "survey_table04_deployment: question=Q64, category=simplicity",
        "survey_finding2_purposes: question=Q63, category=deployment [denominator]",
        "survey_finding3_problems: question=Q65, category=meets_problems",
        "survey_finding1_tools: question=derived, category=no_tool [percent]",
    ):
        assert expected in explained
    assert len(explained) == 19


def test_a_regression_in_an_explained_cell_is_a_mismatch():
    assert Check("a", "c", 8, 7, expected_discrepancy=7).status == "explained"
    assert Check("a", "c", 8, 6, expected_discrepancy=7).status == "mismatch"
    assert Check("a", "c", 8, 8, expected_discrepancy=7).status == "match"
    assert Check("a", "c", 35, 40.6, tolerance=0.5, expected_discrepancy=40.6).status == "explained"


# --- percentages, denominators and intervals --------------------------------------------------


def _wilson(k: int, n: int, z: float = 1.959963984540054) -> tuple[float, float]:
    p = k / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return 100 * (centre - half), 100 * (centre + half)


@pytest.mark.parametrize(("k", "n"), [(39, 92), (0, 17), (17, 17), (13, 32), (1, 3)])
def test_wilson_interval_matches_the_formula(k, n):
    low, high = wilson_interval(k, n)
    expected = _wilson(k, n)
    assert low == pytest.approx(expected[0], abs=1e-9) and high == pytest.approx(
        expected[1], abs=1e-9
    )
    assert 0 <= low <= 100 * k / n <= high <= 100


def test_every_percentage_states_its_denominator(results):
    for artifact_id, result in results.items():
        table = result.table
        assert (table["denominator"] > 0).all() and (table["basis"].str.len() > 0).all(), (
            artifact_id
        )
        recomputed = (100 * table["count"] / table["denominator"]).round(1)
        assert (recomputed == table["percent"]).all(), artifact_id
        assert (
            (table["ci_low"] <= table["percent"]) & (table["percent"] <= table["ci_high"])
        ).all()
        for denominator in table["denominator"].unique():
            assert f"(of {denominator}: " in result.latex, artifact_id


def test_proportion_of_empty_base_is_nan():
    row = proportion("Q", "c", "C", 0, 0, "nobody")
    assert math.isnan(row["percent"]) and math.isnan(row["ci_low"])


def test_latex_rounds_half_up(results):
    # 4/32 = 12.5% -> 13%, as the paper would print it
    assert r"Inference speed & 4 & 13\% [5, 28]" in results["survey_table04_deployment"].latex


def test_figures_have_one_panel_per_base(results):
    figure = results["survey_finding1_tools"].figures["survey_finding1_tools"]
    assert isinstance(figure, Figure)
    assert len(figure.axes) == 5
    assert all(ax.get_xlim() == (0.0, 100.0) for ax in figure.axes)


def test_artifacts_are_registered_outside_studies():
    registered = {a.id: a for a in artifacts()}
    for artifact_id in SURVEY_IDS:
        assert artifact_id in registered and not registered[artifact_id].per_study


def test_each_survey_artifact_is_listed_once_and_registered_from_that_list():
    assert len(SURVEY_IDS) == len(set(SURVEY_IDS))
    registered = {a.id: a for a in artifacts() if a.id.startswith("survey_")}
    assert sorted(registered) == SURVEY_IDS
    for spec in SURVEY_ARTIFACTS:
        entry = registered[spec.id]
        assert (entry.title, entry.paper_ref) == (spec.title, spec.paper_ref)
        assert entry.build.__module__ == "analysis.survey.artifacts"


def test_reproduce_writes_survey_outputs_and_passes(tmp_path):
    convfail = Path(sys.executable).parent / "convfail"
    only = [arg for artifact_id in SURVEY_IDS for arg in ("--only", artifact_id)]
    done = subprocess.run(
        [str(convfail), "reproduce", "--out", str(tmp_path), *only],
        capture_output=True,
        text=True,
        cwd=project_root(),
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert "not reproduced: 0" in done.stdout
    for artifact_id in SURVEY_IDS:
        assert (tmp_path / "tables" / f"{artifact_id}.csv").is_file()
        assert (tmp_path / "figures" / f"{artifact_id}.png").is_file()
    markdown, machine = report_paths(tmp_path, only_suffix(SURVEY_IDS))
    report = json.loads(machine.read_text(encoding="utf-8"))
    assert report["summary"] == {"explained": 19, "match": 45}
    assert "explained 19" in markdown.read_text(encoding="utf-8")
    assert not (tmp_path / "REPORT.md").exists()  # a partial run leaves the full report alone
