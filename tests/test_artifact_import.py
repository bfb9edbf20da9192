"""Import of the published failure study: real spreadsheets in, byte-identical files out, and
every kind of malformed input stopped with one clear error before anything is written."""

from __future__ import annotations

import shutil
from pathlib import Path

import openpyxl
import pandas as pd
import pytest

from convfail.codebook import load_codebook
from convfail.errors import ArtifactImportError
from convfail.importers import ImportContext, registered_importers
from convfail.paths import study_dir
from labeling.artifact_import import build_study, import_failure_study

FAILURES = "theme2-failures/FailureAnalysis.xlsx"
PILOT = "theme2-failures/PilotStudy.xlsx"


@pytest.fixture
def artifact_copy(artifact: Path, tmp_path: Path) -> Path:
    """The parts of the artifact the importer reads, in a folder a test may damage."""
    copy = tmp_path / "artifact"
    (copy / "theme2-failures").mkdir(parents=True)
    for name in (FAILURES, PILOT, "LICENSE"):
        shutil.copy(artifact / name, copy / name)
    shutil.copy(artifact.parent / "issue-created-dates.csv", tmp_path / "issue-created-dates.csv")
    return copy


def context(artifact: Path, data: Path) -> ImportContext:
    return ImportContext(
        artifact, data, load_codebook(), artifact.parent / "issue-created-dates.csv"
    )


def test_import_reproduces_the_committed_files_byte_for_byte(artifact_copy, tmp_path):
    data = tmp_path / "data"
    written = import_failure_study(context(artifact_copy, data))
    assert len(written) == 8
    committed = study_dir("issta24")
    for path in written:
        relative = path.relative_to(data / "studies" / "issta24")
        assert path.read_bytes() == (committed / relative).read_bytes(), relative
    first = {p: p.read_bytes() for p in written}
    import_failure_study(context(artifact_copy, data))
    assert {p: p.read_bytes() for p in written} == first


def test_imported_study_content(artifact_copy):
    files = build_study(context(artifact_copy, artifact_copy.parent / "data"))
    issues = pd.read_csv(
        pd.io.common.StringIO(files["issues.csv"]), dtype=str, keep_default_na=False
    )
    sample = issues[issues["in_sample"] == "true"]
    assert len(sample) == 200
    assert sample.groupby("converter").size().to_dict() == {"tf2onnx": 100, "torch.onnx": 100}
    assert (sample["created_at"] != "").sum() == 192  # only date_kind == description counts
    assert set(issues["repository"]) == {"pytorch/pytorch", "onnx/tensorflow-onnx"}
    # pilot issues outside the sample are kept, with their pilot id
    pilot_only = issues[issues["in_sample"] == "false"]
    assert len(pilot_only) == 38 and (pilot_only["pilot_artifact_id"] != "").all()
    counts = {
        name: len(pd.read_csv(pd.io.common.StringIO(text)))
        for name, text in files.items()
        if name.startswith("labels/")
    }
    assert counts == {
        "labels/primary.csv": 200,
        "labels/drift_a.csv": 18,
        "labels/drift_b.csv": 18,
        "labels/pilot_r1.csv": 60,
        "labels/pilot_r2.csv": 60,
    }
    primary = pd.read_csv(
        pd.io.common.StringIO(files["labels/primary.csv"]), dtype=str, keep_default_na=False
    )
    row = primary[
        (primary["repository"] == "pytorch/pytorch") & (primary["number"] == "49403")
    ].iloc[0]
    assert (row["location"], row["symptom"], row["cause"], row["subcause"]) == (
        "node_conversion",
        "crash",
        "incompatibility",
        "external",
    )
    assert (row["source_file"], row["source_sheet"], row["source_row"]) == (
        FAILURES,
        "PyTorch",
        "2",
    )


def test_the_importer_is_registered():
    assert "failures" in registered_importers()


def damage(path: Path, sheet: str, cell: str, value) -> None:
    workbook = openpyxl.load_workbook(path)
    workbook[sheet][cell] = value
    workbook.save(path)


def assert_refused(artifact_copy: Path, match: str) -> None:
    data = artifact_copy.parent / "data"
    with pytest.raises(ArtifactImportError, match=match):
        import_failure_study(context(artifact_copy, data))
    assert not data.exists(), "a refused import must not write anything"


def test_missing_sheet(artifact_copy):
    workbook = openpyxl.load_workbook(artifact_copy / FAILURES)
    del workbook["tf2onnx"]
    workbook.save(artifact_copy / FAILURES)
    assert_refused(artifact_copy, r"sheet 'tf2onnx' not found.*sheets present: PyTorch")


def test_missing_column(artifact_copy):
    damage(artifact_copy / FAILURES, "PyTorch", "G1", "Symptom code")
    assert_refused(artifact_copy, r"sheet 'PyTorch': column 'Symptom by Number' not found")


def test_code_not_in_codebook(artifact_copy):
    damage(artifact_copy / FAILURES, "PyTorch", "E5", 42)
    assert_refused(artifact_copy, r"sheet 'PyTorch', row 5: code 42 is not a cause")


def test_code_and_name_disagree(artifact_copy):
    damage(artifact_copy / FAILURES, "tf2onnx", "H3", "Crash")  # code 2 = Wrong Code
    assert_refused(
        artifact_copy,
        r"sheet 'tf2onnx', row 3: code 2 means 'Wrong Code' but column 'Symptoms' says 'Crash'",
    )


def test_duplicated_issue(artifact_copy):
    workbook = openpyxl.load_workbook(artifact_copy / FAILURES)
    sheet = workbook["PyTorch"]
    sheet["C3"] = sheet["C2"].value
    workbook.save(artifact_copy / FAILURES)
    assert_refused(artifact_copy, r"pytorch/pytorch#49403 appears twice in the main sample")


def test_subcause_recorded_for_another_cause(artifact_copy):
    damage(artifact_copy / FAILURES, "PyTorch", "M2", 1)  # a type sub-cause on an incompatibility
    assert_refused(
        artifact_copy,
        r"row 2: a type_problem sub-cause \(code 1\) is recorded for cause 'incompatibility'",
    )


def test_pilot_pairing_must_agree_with_rater_sheets(artifact_copy):
    damage(artifact_copy / PILOT, "Interrater", "B3", 10)
    assert_refused(artifact_copy, r"Interrater', row 3: tf2onnx pilot issue 99: R1 codes")


def test_not_a_workbook(artifact_copy):
    (artifact_copy / FAILURES).write_text("not a spreadsheet", encoding="utf-8")
    assert_refused(artifact_copy, r"not a readable \.xlsx workbook")


def test_bad_url(artifact_copy):
    damage(artifact_copy / FAILURES, "tf2onnx", "C4", "see slack")
    assert_refused(artifact_copy, r"row 4: 'see slack' is not a GitHub issue URL")
