"""The opset history from the installed onnx package, against the published artifact's lists."""

from __future__ import annotations

import pandas as pd
import pytest

from analysis.evolution.opsets import (
    PAPER_LAST_OPSET,
    compare_with_artifact,
    installed_onnx,
    load_artifact_opset_diff,
    onnx_release_table,
    opset_counts,
    opset_history,
    release_dates,
    undated_opsets,
)
from convfail.errors import DatasetError


@pytest.fixture(scope="module")
def paper_history() -> pd.DataFrame:
    return opset_history(PAPER_LAST_OPSET)


def test_paper_view_matches_artifact_name_for_name(paper_history):
    artifact = load_artifact_opset_diff()
    diff = compare_with_artifact(paper_history[paper_history["kind"] == "operator"], artifact)
    assert sorted(diff["opset"].unique()) == list(range(1, 19))
    differing = diff[(diff["only_ours"] != "") | (diff["only_artifact"] != "")]
    assert differing.empty, differing.to_string()


def test_paper_totals_are_the_published_149_and_217(paper_history):
    counts = opset_counts(paper_history)
    assert counts["added"].sum() == 149
    assert counts["updated"].sum() == 217
    assert counts.set_index("opset").loc[13, "updated"] == 67  # the tallest bar of Figure 5


def test_function_operators_are_what_the_artifact_leaves_out(paper_history):
    functions = set(paper_history.loc[paper_history["kind"] == "function", "operator"])
    listed = {n for e in load_artifact_opset_diff().values() for n in e["added"] + e["updated"]}
    assert {"Relu", "Softmax", "Celu", "LayerNormalization"} <= functions
    assert not functions & listed


def test_history_extends_to_newest_installed_opset():
    _, newest = installed_onnx()
    history = opset_history()
    assert newest > PAPER_LAST_OPSET
    assert history["opset"].max() == newest
    first = history[history["change"] == "added"].groupby("operator")["opset"].min()
    assert first["Attention"] > PAPER_LAST_OPSET  # an operator the paper never saw


def test_every_operator_added_once_before_its_updates():
    history = opset_history()
    history = history[history["kind"] != "experimental"]
    for name, rows in history.groupby("operator"):
        added = rows[rows["change"] == "added"]
        assert len(added) == 1, name
        assert (rows.loc[rows["change"] == "updated", "opset"] > added["opset"].iloc[0]).all(), name


def test_release_dates_cover_installed_opsets_and_agree_with_the_package():
    dates = release_dates()
    assert undated_opsets(opset_history(), dates) == []
    package = onnx_release_table()
    for row in dates.itertuples():
        first = package[package["opset"] >= row.opset]["onnx_version"].iloc[0]
        assert row.onnx_version == first, row.opset
    assert dates["release_date"].is_monotonic_increasing


def test_release_dates_match_artifact_and_pypi():
    dates = release_dates().set_index("opset")
    for opset, entry in load_artifact_opset_diff().items():
        assert dates.loc[opset, "release_date"] == pd.Timestamp(entry["date"])
    gap = (pd.to_datetime(dates["pypi_upload_date"]) - dates["release_date"]).dt.days.abs()
    assert gap.max() <= 3


def test_release_dates_without_source_are_rejected(tmp_path):
    path = tmp_path / "opset_releases.csv"
    path.write_text(
        "opset,onnx_version,release_date,release_date_source,pypi_version,pypi_upload_date,note\n"
        "1,1.0,2017-12-06,,1.0.0,2017-12-04,\n"
    )
    with pytest.raises(DatasetError, match="without a source"):
        release_dates(path)
