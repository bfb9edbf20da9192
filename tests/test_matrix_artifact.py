"""The conversion_matrix artifact on hand-made records: the issue's columns, the precision
case, the heat map, and an honest note when no run is shipped."""

import json
from pathlib import Path

import pytest
import yaml

from analysis.conversions.artifacts import MATRIX, build_conversion_matrix
from analysis.conversions.data import read_matrix
from analysis.conversions.tables import COLUMNS, RAN, conversion_matrix, precision_case
from analysis.registry import REGISTRY, artifacts
from convfail.errors import ConvfailError


def _record(
    path: str,
    precision: str,
    discrepancy: float | None,
    outcome: str = "success",
    runtime: str = "litert",
    target: str = "tflite",
) -> dict:
    return {
        "model": "inception_v3",
        "source": "keras",
        "target": target,
        "path": path,
        "runtime": runtime,
        "precision": precision,
        "images": 1000,
        "top1_discrepancy_pct": discrepancy,
        "top5_tau_mean": 0.9,
        "outcome": outcome,
        "max_abs_diff": 0.1,
        "hops": [],
    }


RECORDS = [
    _record("tflite-float32", "float32", 0.0),
    _record("tflite-dynamic-int8", "dynamic-int8", 1.7, "mismatch"),
    _record("(onnx -> keras: no converter)", "float32", None, "no_converter", "", "keras"),
]


def test_the_table_has_the_issues_columns_and_the_precision_case():
    table = conversion_matrix(RECORDS)
    assert list(table.columns) == COLUMNS
    assert precision_case(table) == {"float32": 0.0, "dynamic-int8": 1.7}


def test_the_artifact_builds_from_a_run(home: Path):
    folder = home / "data" / "difftest" / MATRIX
    folder.mkdir(parents=True)
    (folder / "matrix.jsonl").write_text("".join(json.dumps(r) + "\n" for r in RECORDS))
    result = build_conversion_matrix(None)
    assert len(result.table) == 3
    assert "fig_conversion_matrix" in result.figures
    assert any("dynamic-int8 1.7 %" in note for note in result.notes)


def test_without_a_run_the_artifact_says_how_to_make_one(home: Path):
    result = build_conversion_matrix(None)
    assert result.table.empty and list(result.table.columns) == COLUMNS
    assert any("convfail difftest matrix conversions" in note for note in result.notes)


def test_the_artifact_is_registered():
    artifacts()
    assert not REGISTRY["conversion_matrix"].per_study


def test_the_shipped_run_reads_and_builds_the_table(monkeypatch: pytest.MonkeyPatch):
    checkout = Path(__file__).resolve().parents[1]
    monkeypatch.setenv("CONVFAIL_HOME", str(checkout))
    folder = checkout / "data" / "difftest" / MATRIX
    assert (folder / "README.md").exists(), "the shipped run has its datasheet"
    config = yaml.safe_load((folder / "matrix.yaml").read_text())
    records = read_matrix(MATRIX)
    result = build_conversion_matrix(None)
    table = result.table
    assert list(table.columns) == COLUMNS and len(table) == len(records)
    assert sorted(table["model"].unique()) == sorted(config["models"])
    for model, rows in table.groupby("model"):
        ran = set(rows["source"] + ": " + rows["path"])
        assert ran == set(config["paths"]), model
    measured = table[table["outcome"].isin(RAN)]
    assert (measured["images"] == config["images"]).sum() > 0
    assert (measured["images"] <= config["images"]).all()
    assert measured["top1_discrepancy_pct"].between(0, 100).all()
    case = precision_case(table)
    assert {"float32", "dynamic-int8"} <= set(case)
    assert any(f"dynamic-int8 {case['dynamic-int8']:.1f} %" in note for note in result.notes)


def test_a_malformed_line_is_one_error_naming_it_and_the_file_is_kept(home: Path):
    folder = home / "data" / "difftest" / MATRIX
    folder.mkdir(parents=True)
    path = folder / "matrix.jsonl"
    path.write_text('{"unit": "a"}\n{"unit": \n')
    before = path.read_bytes()
    with pytest.raises(ConvfailError, match=r"matrix\.jsonl:2: not a matrix record"):
        read_matrix(MATRIX)
    assert path.read_bytes() == before
