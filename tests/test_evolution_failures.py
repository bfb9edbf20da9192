"""RQ3 on the failures: binning on crafted dates, the correlation on known input, missing dates."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from analysis.evolution.stats import spearman_test
from analysis.evolution.tables import (
    BINNINGS,
    PAPER_WINDOW,
    SUBSET,
    cumulative_by_quarter,
    failures_per_release,
    in_window,
    release_bins,
    split_dated,
    subset_causes,
)
from analysis.registry import AnalysisContext, artifacts
from convfail.codebook import default_codebook


def _per_opset() -> pd.DataFrame:
    dates = [
        "2017-12-06",
        "2018-03-21",
        "2018-03-21",
        "2018-03-21",
        "2018-03-21",
        "2018-04-25",
        "2018-05-24",
        "2018-08-30",
        "2019-01-22",
    ]
    return pd.DataFrame(
        {
            "opset": range(1, 10),
            "release_date": pd.to_datetime(dates),
            "changes": [78, 4, 1, 1, 1, 24, 26, 7, 27],
        }
    )


def _failures(dates: list[str], causes: list[str]) -> pd.DataFrame:
    return pd.DataFrame(
        {"created": pd.to_datetime(dates), "cause": causes, "converter": ["tf2onnx"] * len(dates)}
    )


def test_not_merged_groups_opsets_released_together():
    bins = release_bins(_per_opset(), BINNINGS["not_merged"])
    assert list(zip(bins["first_opset"], bins["last_opset"], strict=True)) == [
        (1, 1),
        (2, 5),
        (6, 6),
        (7, 7),
        (8, 8),
        (9, 9),
    ]
    assert bins.loc[1, "changes"] == 7


def test_merged_2_7_joins_the_first_releases():
    bins = release_bins(_per_opset(), BINNINGS["merged_2_7"])
    assert list(bins["first_opset"]) == [1, 2, 8, 9]
    assert bins.loc[1, "changes"] == 4 + 1 + 1 + 1 + 24 + 26
    assert bins.loc[1, "start"] == pd.Timestamp("2018-03-21")


def test_failures_fall_between_a_release_and_the_next():
    bins = release_bins(_per_opset(), BINNINGS["not_merged"])
    failures = _failures(
        ["2018-03-20", "2018-03-21", "2018-04-24", "2018-04-25", "2018-09-01", "2020-01-01"],
        ["incompatibility", "shape_problem", "type_problem", "typo", "incompatibility", "typo"],
    )
    per = failures_per_release(bins, failures, ["incompatibility", "type_problem"])
    assert list(per["all"]) == [1, 2, 1, 0, 1, 1]
    assert list(per[SUBSET]) == [1, 1, 0, 0, 1, 0]
    assert np.isnan(per.loc[3, f"{SUBSET}_share"])
    assert per.loc[1, f"{SUBSET}_share"] == 0.5


def test_spearman_on_known_input():
    perfect = spearman_test([1, 2, 3, 4, 5, 6], [2, 4, 6, 8, 10, 12], permutations=2000)
    assert perfect["rho"] == 1.0
    assert perfect["permutation_p_value"] == pytest.approx(2 / 720, abs=0.004)  # 2 of 6! orders
    x, y = [3, 1, 4, 1, 5, 9, 2, 6], [2, 7, 1, 8, 2, 8, 1, 8]
    result = spearman_test(x, y)
    rho, p = stats.spearmanr(x, y)
    assert result["rho"] == pytest.approx(rho, abs=1e-4)
    assert result["p_value"] == pytest.approx(p, abs=1e-4)
    assert 0.0 < result["permutation_p_value"] <= 1.0
    assert spearman_test(x, y) == result  # seeded


def test_spearman_drops_missing_pairs_and_degenerate_input():
    result = spearman_test([1, 2, 3, 4], [1.0, np.nan, 3.0, 4.0], permutations=100)
    assert result["points"] == 3
    assert np.isnan(spearman_test([1, 1, 1], [1, 2, 3])["rho"])


def test_missing_dates_are_split_off_and_listed():
    failures = pd.DataFrame(
        {
            "converter": ["tf2onnx", "torch.onnx", "torch.onnx"],
            "repository": ["onnx/tensorflow-onnx", "pytorch/pytorch", "pytorch/pytorch"],
            "number": [7, 5, 3],
            "url": ["u1", "u2", "u3"],
            "title": ["a", "b", "c"],
            "created_at": ["2018-04-19", "", "2020-01-02T10:00:00Z"],
            "cause": ["typo"] * 3,
        }
    )
    dated, undated = split_dated(failures)
    assert list(dated["number"]) == [7, 3]
    assert dated.loc[1, "created"] == pd.Timestamp("2020-01-02")
    assert list(undated["number"]) == [5]


def test_cumulative_counts_per_quarter():
    failures = _failures(
        ["2018-01-05", "2018-02-01", "2018-08-01"], ["typo", "incompatibility", "typo"]
    )
    table = cumulative_by_quarter(failures, ["incompatibility"])
    everything = table[table["failures"] == "all"]
    assert list(everything["quarter"]) == ["2018Q1", "2018Q2", "2018Q3"]
    assert list(everything["cumulative"]) == [2, 2, 3]
    assert list(table[table["failures"] == SUBSET]["cumulative"]) == [1, 1, 1]


def test_subset_is_read_from_the_codebook():
    assert subset_causes(default_codebook()) == ["incompatibility", "type_problem"]


@pytest.fixture(scope="module")
def built() -> dict:
    ctx = AnalysisContext("issta24")
    wanted = {"spearman_rq3", "fig6_failures_over_time", "rq3_undated_issues"}
    return {a.id: a.build(ctx) for a in artifacts() if a.id in wanted}


def test_reference_study_reproduces_rho_all_failures(built):
    result = built["spearman_rq3"]
    checks = {c.cell: c for c in result.checks}
    all_cell = (
        "window=paper, binning=not_merged, changes_counted=operators, failures=all, measure=count"
    )
    assert checks[all_cell].status == "match"
    paper = result.table[result.table["window"] == "paper"]
    table = paper.set_index(["binning", "changes_counted", "failures", "measure"])
    assert table.loc[("not_merged", "operators", "all", "count"), "rho"] == pytest.approx(
        0.34, abs=0.005
    )
    assert table.loc[("merged_2_7", "operators", "all", "count"), "points"] == 11
    assert (table["permutation_p_value"] > 0.05).loc[(slice(None), "operators", "all")].all()
    assert any("releases 2–7" in n for n in result.notes)


def test_the_033_is_checked_against_the_merged_share_in_the_paper_window(built):
    checks = {c.cell: c for c in built["spearman_rq3"].checks}
    cell = (
        "window=paper, binning=merged_2_7, changes_counted=operators, "
        "failures=incompatibility_type, measure=share"
    )
    assert checks[cell].published == 0.33
    assert checks[cell].status == "explained"  # the shipped creation dates differ
    assert "88 torch.onnx" in checks[cell].note


def test_reference_study_leaves_out_the_8_undated_issues(built):
    undated = built["rq3_undated_issues"].table
    assert len(undated) == 8
    assert "8 of 200 sampled failures have no creation date" in built["spearman_rq3"].notes[0]
    table = built["fig6_failures_over_time"].table
    for window, dated in (("full", 192), ("paper", 185)):
        final = table[table["window"] == window]
        last = final[final["quarter"] == final["quarter"].max()]
        assert last[last["failures"] == "all"]["cumulative"].sum() == dated


def test_figure6_uses_the_paper_window_and_keeps_the_full_range(built):
    result = built["fig6_failures_over_time"]
    assert set(result.figures) == {"fig6_failures_over_time", "fig6_failures_over_time_full"}
    paper = result.table[(result.table["window"] == "paper") & (result.table["failures"] == "all")]
    ends = paper[paper["quarter"] == paper["quarter"].max()].set_index("converter")["cumulative"]
    assert ends.to_dict() == {"tf2onnx": 97, "torch.onnx": 88}  # the paper's figure: 100, 93


def test_in_window_is_strict():
    dated = pd.DataFrame(
        {"created": pd.to_datetime(["2017-12-06", "2017-12-07", "2022-12-11", "2022-12-12"])}
    )
    assert len(in_window(dated, PAPER_WINDOW)) == 2
    assert len(in_window(dated, None)) == 4


def test_figure6_opset_labels_do_not_collide(built):
    figure = built["fig6_failures_over_time"].figures["fig6_failures_over_time"]
    axis = figure.axes[0]
    labels = {t.get_text(): t.get_position() for t in axis.texts}
    assert labels["6"][1] != labels["7"][1]  # released about a month apart: separate rows


def test_figure6_colours_follow_the_paper(built):
    figure = built["fig6_failures_over_time"].figures["fig6_failures_over_time"]
    handles, names = figure.axes[0].get_legend_handles_labels()
    colour = {n: tuple(h.get_facecolor()[0][:3]) for h, n in zip(handles, names, strict=True)}
    assert colour["torch.onnx"] == pytest.approx((0x4C / 255, 0x72 / 255, 0xB0 / 255))
    assert colour["tf2onnx"] == pytest.approx((0xDD / 255, 0x84 / 255, 0x52 / 255))
