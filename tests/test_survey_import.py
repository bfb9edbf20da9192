"""The survey importer on the real export, its multi-select split, and bad inputs."""

from __future__ import annotations

import csv
import shutil
import subprocess
import sys
from io import StringIO
from pathlib import Path

import openpyxl
import pandas as pd
import pytest

from analysis.survey import tables as survey_tables
from analysis.survey.catalogue import load_catalogue
from analysis.survey.data import load_survey
from analysis.survey.importer import (
    CODING_FILE,
    EXPORT_FILE,
    build_survey,
    import_survey,
    split_multi,
    write_survey,
)
from convfail.codebook import default_codebook
from convfail.errors import ArtifactImportError
from convfail.importers import ImportContext, registered_importers
from convfail.paths import artifact_dir, project_root, survey_dir

ARTIFACT = artifact_dir()
EXPORT = ARTIFACT / EXPORT_FILE
CODING = ARTIFACT / CODING_FILE
SURVEY = survey_dir()

pytestmark = pytest.mark.skipif(
    not EXPORT.is_file(), reason="the shared artifact is not beside the checkout"
)


@pytest.fixture(scope="module")
def catalogue():
    return load_catalogue(SURVEY / "catalogue.yaml")


@pytest.fixture(scope="module")
def files(catalogue):
    return build_survey(EXPORT, CODING, catalogue, ARTIFACT / "LICENSE")


def frame(text: str) -> pd.DataFrame:
    return pd.read_csv(StringIO(text), dtype=str, keep_default_na=False)


# --- splitting multi-select cells -------------------------------------------------------------


def test_split_keeps_commas_inside_parentheses():
    f2f = "Framework-to-framework Model Conversion (e.g., converting models from TF to PyTorch)"
    deploy = "Model conversion for deployment (e.g., converting to ONNX, then ONNXRuntime)"
    assert split_multi(f"{f2f},{deploy}") == [f2f, deploy]
    assert split_multi(f"{deploy},Other (please specify)") == [deploy, "Other (please specify)"]


def test_split_plain_and_nested():
    assert split_multi("PyTorch,TensorFlow,JAX/FLAX") == ["PyTorch", "TensorFlow", "JAX/FLAX"]
    assert split_multi("A (x, (y, z)),B") == ["A (x, (y, z))", "B"]
    assert split_multi("Only one (a, b)") == ["Only one (a, b)"]


@pytest.mark.parametrize("cell", ["A (x, y,B", "A x), B"])
def test_split_refuses_unbalanced_parentheses(cell):
    with pytest.raises(ValueError, match="unbalanced"):
        split_multi(cell)


# --- the real export --------------------------------------------------------------------------


def test_real_export_has_92_responses_and_no_question_text_row(files):
    respondents = frame(files["respondents.csv"])
    assert len(respondents) == 92
    assert respondents["source_row"].astype(int).min() == 3  # row 2 (question texts) is metadata
    assert list(respondents["response_id"]) == [f"R{i:03d}" for i in range(1, 93)]


def test_real_export_drops_the_display_order_artefact(files):
    answers = frame(files["answers.csv"])
    assert not answers.isin(["AnswerDisplayOrder"]).any().any()
    q65 = answers[answers["question"] == "Q65"]
    assert q65["response_id"].nunique() == 51  # 53 non-empty cells, 2 of them only the artefact


def test_real_export_splits_options_with_commas(files):
    answers = frame(files["answers.csv"])
    q63 = answers[answers["question"] == "Q63"]
    assert set(q63["answer"]) == {"deployment", "framework_to_framework", "other"}
    both = q63.groupby("response_id")["answer"].apply(set)
    assert sum(s >= {"deployment", "framework_to_framework"} for s in both) == 13
    assert (q63["answer"] == "deployment").sum() == 37


def test_real_export_keeps_other_free_text(files):
    answers = frame(files["answers.csv"])
    other = answers[(answers["question"] == "Q67") & (answers["answer"] == "other")]
    assert "Research" in set(other["text"])
    assert set(answers.loc[answers["question"] == "Q62", "text"]) >= {"TensorRT", "GGML"}
    open_answers = answers[answers["question"] == "Q64"]
    assert len(open_answers) == 40 and (open_answers["answer"] == "").all()


def test_real_export_skips_questions_of_the_other_survey(files):
    answers = frame(files["answers.csv"])
    assert not answers["question"].isin(["Q9", "Q20", "Q23", "Q24", "Q35", "Q42", "Q76"]).any()


def test_coding_links_answers_and_decodes_html(files):
    coded = frame(files["coded_answers.csv"])
    assert coded.groupby("question").size().to_dict() == {"Q64": 32, "Q66": 17, "Q78": 8}
    q64 = coded[coded["question"] == "Q64"]
    assert (q64["response_id"] != "").all()
    assert any("->" in t for t in q64["text"]) and not any("&gt;" in t for t in q64["text"])
    themes = q64["themes"].str.split(";").explode()
    assert (themes == "simplicity").sum() == 7 and (themes == "deploy_directly").sum() == 13
    # the Use case sheet holds an 'NA' that no response gave
    assert (coded.loc[coded["question"] == "Q78", "response_id"] == "").sum() == 1


def test_committed_data_is_what_the_importer_writes(files):
    for name, text in files.items():
        assert (SURVEY / name).read_text(encoding="utf-8") == text, name


def test_import_twice_is_byte_identical(tmp_path):
    target = tmp_path / "data"
    (target / "survey").mkdir(parents=True)
    shutil.copy(SURVEY / "catalogue.yaml", target / "survey" / "catalogue.yaml")
    ctx = ImportContext(artifact=ARTIFACT, data_dir=target, codebook=default_codebook())
    first = {p.name: p.read_bytes() for p in import_survey(ctx)}
    second = {p.name: p.read_bytes() for p in import_survey(ctx)}
    assert first == second and "answers.csv" in first


def test_importer_is_registered():
    assert registered_importers()["survey"] is import_survey


# --- bad inputs -------------------------------------------------------------------------------


def _edited_export(tmp_path: Path, edit) -> Path:
    workbook = openpyxl.load_workbook(EXPORT)
    edit(workbook.worksheets[0])
    path = tmp_path / "export.xlsx"
    workbook.save(path)
    return path


def _column(sheet, qid: str) -> int:
    for cell in sheet[1]:
        if cell.value == qid:
            return cell.column
    raise AssertionError(qid)


def test_unknown_column_is_named(tmp_path, catalogue):
    def edit(sheet):
        sheet.cell(row=1, column=sheet.max_column + 1, value="Q99")
        sheet.cell(row=2, column=sheet.max_column, value="A new question")

    with pytest.raises(
        ArtifactImportError, match="'Q99' is not a question of the survey catalogue"
    ):
        build_survey(_edited_export(tmp_path, edit), None, catalogue)


def test_unknown_option_is_named(tmp_path, catalogue):
    def edit(sheet):
        sheet.cell(row=5, column=_column(sheet, "Q60"), value="PyTorch,Caffe (v1, v2)")

    with pytest.raises(
        ArtifactImportError, match=r"row 5, column Q60: 'Caffe \(v1, v2\)' is not an option"
    ):
        build_survey(_edited_export(tmp_path, edit), None, catalogue)


def test_changed_question_text_is_refused(tmp_path, catalogue):
    def edit(sheet):
        sheet.cell(row=2, column=_column(sheet, "Q61"), value="Do you use TVM?")

    with pytest.raises(ArtifactImportError, match="row 2, column Q61: question text"):
        build_survey(_edited_export(tmp_path, edit), None, catalogue)


def test_missing_question_is_refused(tmp_path, catalogue):
    def edit(sheet):
        sheet.delete_cols(_column(sheet, "Q65"))

    with pytest.raises(ArtifactImportError, match="Q65"):
        build_survey(_edited_export(tmp_path, edit), None, catalogue)


def test_other_text_without_other_option_is_refused(tmp_path, catalogue):
    def edit(sheet):
        sheet.cell(row=5, column=_column(sheet, "Q60"), value="PyTorch")
        sheet.cell(row=5, column=_column(sheet, "Q60_5_TEXT"), value="Caffe")

    with pytest.raises(ArtifactImportError, match="'Other' is not selected"):
        build_survey(_edited_export(tmp_path, edit), None, catalogue)


def test_single_choice_is_not_split(tmp_path, catalogue):
    """Single-choice labels may hold commas ("Yes, I consent"): two options joined are refused."""

    def edit(sheet):
        sheet.cell(row=5, column=_column(sheet, "Q61"), value="Yes, I use ONNX,No")

    with pytest.raises(ArtifactImportError, match="'Yes, I use ONNX,No' is not an option of Q61"):
        build_survey(_edited_export(tmp_path, edit), None, catalogue)


def test_unknown_theme_is_named(tmp_path, catalogue):
    workbook = openpyxl.load_workbook(CODING)
    workbook["Deployment Consideration"]["D12"] = "Vibes"
    path = tmp_path / "coding.xlsx"
    workbook.save(path)
    with pytest.raises(
        ArtifactImportError, match="row 12, column #4: 'Vibes' is not a theme of question Q64"
    ):
        build_survey(EXPORT, path, catalogue)


def test_not_a_workbook(tmp_path, catalogue):
    path = tmp_path / "export.xlsx"
    path.write_text("not a workbook", encoding="utf-8")
    with pytest.raises(ArtifactImportError, match=r"not a readable \.xlsx workbook"):
        build_survey(path, None, catalogue)


def test_bad_input_writes_nothing(tmp_path):
    artifact = tmp_path / "artifact"
    (artifact / "theme1-survey").mkdir(parents=True)
    shutil.copy(ARTIFACT / "LICENSE", artifact / "LICENSE")
    shutil.copy(CODING, artifact / CODING_FILE)
    workbook = openpyxl.load_workbook(EXPORT)
    workbook.worksheets[0]["A5"] = "Maybe"
    workbook.save(artifact / EXPORT_FILE)
    target = tmp_path / "data"
    (target / "survey").mkdir(parents=True)
    shutil.copy(SURVEY / "catalogue.yaml", target / "survey" / "catalogue.yaml")
    ctx = ImportContext(artifact=artifact, data_dir=target, codebook=default_codebook())
    with pytest.raises(ArtifactImportError, match="'Maybe' is not an option of Q52"):
        import_survey(ctx)
    assert sorted(p.name for p in (target / "survey").iterdir()) == ["catalogue.yaml"]


def test_cli_reports_a_bad_export_in_one_line(tmp_path):
    artifact = tmp_path / "artifact"
    (artifact / "theme1-survey").mkdir(parents=True)
    (artifact / EXPORT_FILE).write_text("junk", encoding="utf-8")
    dates = tmp_path / "dates.csv"
    dates.write_text("converter,url,number,created_date,date_kind\n", encoding="utf-8")
    convfail = Path(sys.executable).parent / "convfail"
    args = [str(convfail), "data", "import-artifact", str(artifact), "--only", "survey"]
    done = subprocess.run(
        [*args, "--created-dates", str(dates)],
        capture_output=True,
        text=True,
        cwd=project_root(),
        check=False,
    )
    assert done.returncode == 1
    assert done.stderr.startswith("convfail: error: ") and done.stderr.count("\n") == 1
    assert "not a readable .xlsx workbook" in done.stderr


# --- Qualtrics CSV exports and duplicate respondents -------------------------------------------


def _csv_twin(tmp_path: Path, import_ids: bool = True) -> Path:
    """The xlsx export written as Qualtrics writes CSV: UTF-8 with BOM, a row of ImportIds."""
    rows = list(
        openpyxl.load_workbook(EXPORT, read_only=True).worksheets[0].iter_rows(values_only=True)
    )
    path = tmp_path / "export.csv"
    with path.open("w", encoding="utf-8-sig", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerows(["" if v is None else str(v) for v in row] for row in rows[:2])
        if import_ids:
            writer.writerow([f'{{"ImportId":"QID{i}"}}' for i in range(len(rows[0]))])
        writer.writerows(["" if v is None else str(v) for v in row] for row in rows[2:])
    return path


def test_a_csv_export_imports_to_the_same_numbers_as_its_xlsx_twin(tmp_path, catalogue, files):
    from_csv = build_survey(_csv_twin(tmp_path), CODING, catalogue)
    assert from_csv["answers.csv"] == files["answers.csv"]
    assert from_csv["coded_answers.csv"] == files["coded_answers.csv"]
    respondents = frame(from_csv["respondents.csv"])
    assert len(respondents) == 92 and set(respondents["source_sheet"]) == {"csv"}
    folders = {}
    for name, outputs in (("csv", from_csv), ("xlsx", files)):
        folders[name] = tmp_path / name
        write_survey({k: v for k, v in outputs.items() if k.endswith(".csv")}, folders[name])
        shutil.copyfile(SURVEY / "catalogue.yaml", folders[name] / "catalogue.yaml")
    twins = [load_survey(folders[n]) for n in ("csv", "xlsx")]
    for table in (survey_tables.finding1_tools, survey_tables.finding3_problems):
        first, second = (table(t) for t in twins)
        pd.testing.assert_frame_equal(first, second)


def test_a_csv_without_import_ids_reads_too(tmp_path, catalogue, files):
    from_csv = build_survey(_csv_twin(tmp_path, import_ids=False), None, catalogue)
    assert from_csv["answers.csv"] == files["answers.csv"]


def test_a_bad_csv_is_one_line(tmp_path, catalogue):
    path = tmp_path / "export.csv"
    path.write_bytes(b"\xff\xfe not utf-8")
    with pytest.raises(ArtifactImportError, match="not a UTF-8 CSV file"):
        build_survey(path, None, catalogue)


def test_duplicate_respondents_are_flagged_not_dropped(tmp_path, catalogue):
    def edit(sheet):
        last = sheet.max_row
        for column in range(1, sheet.max_column + 1):
            sheet.cell(row=last + 1, column=column, value=sheet.cell(row=5, column=column).value)

    warnings: list[str] = []
    built = build_survey(_edited_export(tmp_path, edit), None, catalogue, warnings=warnings)
    assert len(frame(built["respondents.csv"])) == 93
    assert any("(row 95) repeats R003 (row 5) answer for answer" in w for w in warnings)


def test_the_published_export_has_one_identical_pair(catalogue):
    warnings: list[str] = []
    build_survey(EXPORT, None, catalogue, warnings=warnings)
    assert warnings == [
        "response R073 (row 75) repeats R026 (row 28) answer for answer (8 answers); both are "
        "kept - remove one from the export if it is a double submission"
    ]
