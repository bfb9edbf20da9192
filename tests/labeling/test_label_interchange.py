"""Export to the artifact's spreadsheet layout and import back."""

from __future__ import annotations

import openpyxl
import pytest
from click.testing import CliRunner

from convfail.cli import cli
from convfail.dataset import load_study
from convfail.paths import shared_reference_dir
from labeling.interchange import InterchangeError, export_workbook, import_workbook, layout

# resolved at import, before a test points CONVFAIL_HOME at a throw-away project
PUBLISHED = shared_reference_dir() / "issta24-artifact/theme2-failures/FailureAnalysis.xlsx"
COMPARED = ["repository", "number", "location", "symptom", "cause", "subcause", "note"]

# The first columns of the published spreadsheets, spelling as in the artifact.
PUBLISHED_HEADER = [
    "id",
    "Title",
    "URL",
    "Description",
    "Type By Number",
    "Type",
    "Symptom by Number",
    "Symptoms",
    "Component by number",
    "Component",
    "Incomp. Type by Number",
    "Incomp. Type",
    "Type Prob. Type by Number",
    "Type Prob. Type",
]


def _labels(study_name, rater, codebook):
    frame = load_study(study_name, codebook).labels[rater]
    return frame[COMPARED].sort_values(["repository", "number"]).reset_index(drop=True)


def test_round_trip_of_the_primary_labels(project, codebook, tmp_path):
    study = load_study("issta24", codebook)
    path = tmp_path / "primary.xlsx"
    assert export_workbook(study, "primary", codebook, path) == 200
    workbook = openpyxl.load_workbook(path)
    assert workbook.sheetnames == ["tf2onnx", "PyTorch"]
    header = [c.value for c in workbook["PyTorch"][1]]
    assert header == layout(codebook)
    assert header[:14] == PUBLISHED_HEADER
    first = dict(zip(header, [c.value for c in workbook["tf2onnx"][2]], strict=True))
    shape = codebook.category("cause", "shape_problem")
    assert (first["Type By Number"], first["Type"]) == (
        4,
        shape.sheet_names[0],
    )  # the sheets' spelling
    assert import_workbook(path, study, "roundtrip", codebook, replace=False) == 200
    assert _labels("issta24", "roundtrip", codebook).equals(_labels("issta24", "primary", codebook))


def test_the_published_spreadsheet_imports_as_the_primary_labels(project, codebook):
    study = load_study("issta24", codebook)
    assert import_workbook(PUBLISHED, study, "published", codebook, replace=False) == 200
    assert _labels("issta24", "published", codebook).equals(_labels("issta24", "primary", codebook))


def _sheet(tmp_path, rows):
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    sheet.title = "PyTorch"
    sheet.append(PUBLISHED_HEADER[:8])
    for row in rows:
        sheet.append(row)
    path = tmp_path / "in.xlsx"
    workbook.save(path)
    return path


@pytest.mark.parametrize(
    ("row", "message"),
    [
        (
            [1, "t", "https://github.com/pytorch/pytorch/issues/1", None, 99, None, 1, None],
            "code 99 is not a cause",
        ),
        (
            [1, "t", "https://github.com/pytorch/pytorch/issues/1", None, 11, "Others", 1, None],
            "code 11 means 'Typo'",
        ),
        (
            [
                1,
                "t",
                "https://github.com/pytorch/pytorch/issues/1",
                None,
                None,
                "Typos",
                None,
                None,
            ],
            "'Typos' is not a cause",
        ),
        (
            [1, "t", "https://github.com/pytorch/pytorch/issues/999", None, 11, None, None, None],
            "not in study 'demo'",
        ),
        ([1, "t", "not a url", None, 11, None, None, None], "not a GitHub issue URL"),
    ],
)
def test_bad_rows_are_refused_and_nothing_is_written(demo_study, codebook, tmp_path, row, message):
    study = load_study("demo", codebook)
    good = [2, "t", "https://github.com/pytorch/pytorch/issues/2", None, 11, "Typo", 1, "Crash"]
    with pytest.raises(InterchangeError, match=message):
        import_workbook(_sheet(tmp_path, [good, row]), study, "excel", codebook, replace=False)
    assert not (demo_study / "labels" / "excel.csv").exists()


def test_names_alone_are_enough_and_existing_raters_are_protected(demo_study, codebook, tmp_path):
    study = load_study("demo", codebook)
    path = _sheet(
        tmp_path,
        [
            [
                1,
                "t",
                "https://github.com/pytorch/pytorch/issues/1",
                "why",
                None,
                "typo",
                None,
                "Wrong Code",
            ]
        ],
    )
    runner = CliRunner()
    args = ["label", "import", "--study", "demo", "--rater", "excel", str(path)]
    assert runner.invoke(cli, args).exit_code == 0
    row = load_study("demo", codebook).labels["excel"].iloc[0]
    assert (row.cause, row.symptom, row.note, row.source_sheet) == (
        "typo",
        "wrong_model",
        "why",
        "PyTorch",
    )
    again = runner.invoke(cli, args)
    assert again.exit_code != 0 and "pass --replace" in str(again.exception)
    assert runner.invoke(cli, [*args[:-1], "--replace", str(path)]).exit_code == 0
    assert len(study.issues) == 7
