"""The `convfail` command as a user runs it: exit codes, one-line errors, outputs on disk."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

CONVFAIL = Path(sys.executable).parent / "convfail"


def run(
    *args: str, cwd: Path | None = None, env: dict | None = None
) -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(CONVFAIL), *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        env={**os.environ, **(env or {})},
        timeout=300,
    )


def one_error_line(result: subprocess.CompletedProcess) -> str:
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("convfail: error: ")
    assert "Traceback" not in result.stderr
    return lines[0]


def test_help_lists_the_subcommands():
    result = run("--help")
    assert result.returncode == 0
    for command in ("reproduce", "analyze", "data", "codebook"):
        assert command in result.stdout


def test_reproduce_writes_everything_and_reports_no_mismatch(tmp_path):
    result = run("reproduce", "--out", str(tmp_path))
    assert result.returncode == 0, result.stderr
    assert "not reproduced: 0" in result.stdout
    report = json.loads((tmp_path / "reproduction.json").read_text())
    assert report["summary"].get("mismatch", 0) == 0 and report["summary"]["match"] >= 130
    for table in (
        "table08_locations",
        "table09_symptoms",
        "table10_causes_by_symptom",
        "table14_causes",
        "table16_causes_by_symptom_full",
        "agreement_pilot",
        "agreement_drift",
    ):
        assert (tmp_path / "tables" / f"{table}.csv").is_file()
    for table in ("table08_locations", "table09_symptoms", "table14_causes"):
        assert (tmp_path / "tables" / f"{table}.tex").read_text().startswith("\\begin{table}")
        assert (tmp_path / "figures" / f"{table}.png").stat().st_size > 10_000
        assert (tmp_path / "figures" / f"{table}.pdf").is_file()
    text = (tmp_path / "REPORT.md").read_text()
    assert "mismatch 0" in text and "18 vs 20 drift-check issues" not in text
    assert "Drift check: 18 issues in the spreadsheet (9 + 9) vs 20 in the text." in text
    tidy = pd.read_csv(tmp_path / "tables" / "table08_locations.csv")
    assert {"location", "converter", "count"} <= set(tidy.columns)


def test_reproduce_is_deterministic(tmp_path):
    assert run("reproduce", "--out", str(tmp_path / "a")).returncode == 0
    assert run("reproduce", "--out", str(tmp_path / "b")).returncode == 0
    files = sorted(
        p.relative_to(tmp_path / "a") for p in (tmp_path / "a").rglob("*") if p.is_file()
    )
    assert files
    for relative in files:
        assert (tmp_path / "a" / relative).read_bytes() == (
            tmp_path / "b" / relative
        ).read_bytes(), relative


def test_reproduce_fails_when_a_label_changes(project_copy, tmp_path):
    labels = project_copy / "data/studies/issta24/labels/primary.csv"
    frame = pd.read_csv(labels, dtype=str, keep_default_na=False)
    first_crash = frame.index[frame["symptom"] == "crash"][0]
    frame.loc[first_crash, "symptom"] = "hang"
    frame.to_csv(labels, index=False, lineterminator="\n")
    result = run("reproduce", "--out", str(tmp_path / "out"))
    assert result.returncode == 1
    assert "published number(s) not reproduced" in result.stderr
    assert "symptom=crash" in result.stderr


def test_unknown_study_is_one_clear_line():
    result = run("analyze", "--study", "no-such-study")
    assert result.returncode == 1
    line = one_error_line(result)
    assert "no study 'no-such-study'" in line and "known studies: issta24" in line


def test_invalid_label_in_a_study_names_file_and_row(project_copy):
    labels = project_copy / "data/studies/issta24/labels/primary.csv"
    text = labels.read_text().replace("node_conversion,crash", "node_convertion,crash", 1)
    labels.write_text(text)
    result = run("analyze", "--study", "issta24", "--out", str(project_copy / "out"))
    assert result.returncode == 1
    line = one_error_line(result)
    assert "primary.csv: row" in line and "'node_convertion' is not a location" in line


def test_import_artifact_errors():
    missing = run("data", "import-artifact", "/definitely/not/here")
    assert missing.returncode == 1
    assert "artifact folder not found" in one_error_line(missing)
    unknown = run("data", "import-artifact", "--only", "nope")
    assert unknown.returncode == 1
    assert "unknown importer(s): nope" in one_error_line(unknown)


def test_codebook_check(tmp_path):
    assert run("codebook", "check").returncode == 0
    bad = tmp_path / "codebook.yaml"
    bad.write_text("version: x\ndimensions: {}\n")
    result = run("codebook", "check", str(bad))
    assert result.returncode == 1
    assert "missing dimension(s)" in one_error_line(result)


def test_unknown_artifact_id():
    result = run("reproduce", "--only", "table99")
    assert result.returncode == 1
    assert "unknown artifact(s): table99" in one_error_line(result)


@pytest.mark.parametrize("args", [["bogus"], ["reproduce", "--no-such-option"]])
def test_usage_errors_exit_2(args):
    assert run(*args).returncode == 2
