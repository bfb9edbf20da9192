"""``convfail survey import`` / ``analyze``: a new export of the instrument, end to end."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from convfail.paths import artifact_dir, project_root, survey_dir

SURVEY = artifact_dir() / "theme1-survey"
CONVFAIL = Path(sys.executable).parent / "convfail"

pytestmark = pytest.mark.skipif(
    not SURVEY.is_dir(), reason="the shared artifact is not beside the checkout"
)


def run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(CONVFAIL), "survey", *args],
        capture_output=True,
        text=True,
        cwd=project_root(),
        check=False,
    )


def test_import_then_analyze_a_new_export(tmp_path):
    folder, out = tmp_path / "survey-2025", tmp_path / "out"
    done = run(
        "import",
        str(SURVEY / "interopSurvey.xlsx"),
        "--coding",
        str(SURVEY / "survey_analysis.xlsx"),
        "--out",
        str(folder),
    )
    assert done.returncode == 0, done.stderr
    assert sorted(p.name for p in folder.iterdir()) == [
        "answers.csv",
        "catalogue.yaml",
        "coded_answers.csv",
        "respondents.csv",
    ]
    assert (folder / "answers.csv").read_bytes() == (survey_dir() / "answers.csv").read_bytes()
    done = run("analyze", str(folder), "--out", str(out))
    assert done.returncode == 0, done.stderr
    table = pd.read_csv(out / "tables" / "survey_table04_deployment.csv")
    assert dict(zip(table["category"], table["count"], strict=True))["deploy_directly"] == 13
    assert (out / "figures" / "survey_finding3_problems.pdf").is_file()


def test_analyze_without_coding_skips_coded_tables(tmp_path):
    folder, out = tmp_path / "s", tmp_path / "out"
    assert run("import", str(SURVEY / "interopSurvey.xlsx"), "--out", str(folder)).returncode == 0
    done = run("analyze", str(folder), "--out", str(out))
    assert done.returncode == 0, done.stderr
    assert "survey_table04_deployment: skipped" in done.stdout
    assert (out / "tables" / "survey_table03_demographics.csv").is_file()


def test_missing_folder_is_one_line(tmp_path):
    (tmp_path / "empty").mkdir()
    done = run("analyze", str(tmp_path / "empty"))
    assert done.returncode == 1
    assert (
        done.stderr.startswith("convfail: error: no imported survey at")
        and "Traceback" not in done.stderr
    )
