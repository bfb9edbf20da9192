"""What a reviewer relies on: every published cell guarded, new studies analysed without a
traceback, the right statistics for the design of a comparison, and no silent label choice.

Each test runs the real command on a copy of the project's data (``project_copy``) with one
thing changed: a label swap, a pilot-only study, a relabelled copy, a partial adjudication.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from analysis.failures.compare import compare_studies
from analysis.registry import AnalysisContext
from analysis.report import only_suffix, report_paths
from convfail.paths import project_root

CONVFAIL = Path(sys.executable).parent / "convfail"
ISSTA = Path("data") / "studies" / "issta24"


def convfail(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(CONVFAIL), *args],
        capture_output=True,
        text=True,
        timeout=600,
        env=os.environ.copy(),
        check=False,
    )


def _read(path: Path) -> pd.DataFrame:
    return pd.read_csv(path, dtype=str, keep_default_na=False)


def _write(frame: pd.DataFrame, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    frame.to_csv(path, index=False)


def derived_study(home: Path, name: str, issues: pd.DataFrame, labels: dict[str, pd.DataFrame]):
    folder = home / "data" / "studies" / name
    _write(issues, folder / "issues.csv")
    for rater, frame in labels.items():
        _write(frame, folder / "labels" / f"{rater}.csv")
    primary = next(iter(labels))
    (folder / "study.yaml").write_text(f"name: {name}\nprimary_rater: {primary}\n")
    return folder


def test_a_margin_preserving_label_swap_fails_reproduce_naming_the_cells(project_copy):
    path = project_copy / ISSTA / "labels" / "primary.csv"
    labels = _read(path)
    torch = labels["repository"] == "pytorch/pytorch"
    crash = labels.index[
        torch & (labels["cause"] == "incompatibility") & (labels["symptom"] == "crash")
    ]
    wrong = labels.index[
        torch & (labels["cause"] == "type_problem") & (labels["symptom"] == "wrong_model")
    ]
    labels.loc[crash[0], "symptom"], labels.loc[wrong[0], "symptom"] = "wrong_model", "crash"
    _write(labels, path)
    out = project_copy / "out"
    ids = ["table09_symptoms", "table10_causes_by_symptom", "table14_causes"]
    result = convfail("reproduce", "--out", str(out), *[a for i in ids for a in ("--only", i)])
    assert result.returncode != 0
    # every margin still equals the paper: only the inner cells can catch the swap
    assert "table09_symptoms:" not in result.stderr and "table14_causes:" not in result.stderr
    for cell in (
        "cause=incompatibility, symptom=crash, converter=torch.onnx: published 28, ours 27",
        "cause=incompatibility, symptom=wrong_model, converter=torch.onnx: published 3, ours 4",
        "cause=type_problem, symptom=crash, converter=torch.onnx: published 14, ours 15",
        "cause=type_problem, symptom=wrong_model, converter=torch.onnx: published 13, ours 12",
    ):
        assert f"table10_causes_by_symptom: {cell}" in result.stderr, result.stderr


def _pilot_only(home: Path) -> Path:
    """The issues only the pilot saw, with pilot rater R1's labels (cause and symptom only)."""
    issues = _read(home / ISSTA / "issues.csv")
    issues = issues[issues["in_sample"] == "false"]
    pilot = _read(home / ISSTA / "labels" / "pilot_r1.csv")
    keys = issues[["repository", "number"]]
    pilot = pilot.merge(keys, on=["repository", "number"])
    return derived_study(home, "pilot", issues, {"pilot_r1": pilot})


def test_a_pilot_only_study_analyses_and_compares_without_a_traceback(project_copy):
    _pilot_only(project_copy)
    out = project_copy / "out"
    result = convfail("analyze", "--study", "pilot", "--compare", "issta24", "--out", str(out))
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr
    assert "table08_locations: skipped: study 'pilot' did not code location" in result.stdout
    assert not (out / "tables" / "table08_locations.csv").exists()  # no table of zeros
    assert (out / "tables" / "table09_symptoms.csv").is_file()
    assert "did not code location" in (out / "REPORT.md").read_text()
    tests = pd.read_csv(out / "comparison" / "tests.csv").set_index("dimension")
    assert tests.loc["location", "test"] == "skipped"
    assert tests.loc["symptom", "test"] == "chi_square_homogeneity"  # no shared issues
    assert 0 <= tests.loc["symptom", "p_value"] <= 1


def test_a_relabelled_copy_is_compared_with_paired_statistics(project_copy):
    issues = _read(project_copy / ISSTA / "issues.csv")
    labels = _read(project_copy / ISSTA / "labels" / "primary.csv")
    relabelled = labels.copy()
    crashes = relabelled.index[relabelled["symptom"] == "crash"][:12]
    relabelled.loc[crashes, "symptom"] = "wrong_model"  # one direction only: asymmetric
    derived_study(project_copy, "relabelled", issues, {"second_pass": relabelled})
    out = project_copy / "out"
    result = convfail("analyze", "--study", "relabelled", "--compare", "issta24", "--out", str(out))
    assert result.returncode == 0, result.stderr
    assert "paired: 200 shared issues" in result.stdout
    tests = pd.read_csv(out / "comparison" / "tests.csv").set_index("dimension")
    symptom = tests.loc["symptom"]
    assert symptom["test"] == "mcnemar_bowker" and symptom["n_shared"] == 200
    assert 0.8 < symptom["kappa"] < 1.0
    assert symptom["p_value"] < 0.01  # 12 moves crash -> wrong model, none back
    assert tests.loc["cause", "kappa"] == 1.0 and tests.loc["cause", "p_value"] == 1.0


def test_a_tiny_study_is_flagged(project_copy):
    issues = _read(project_copy / ISSTA / "issues.csv").head(3)
    labels = _read(project_copy / ISSTA / "labels" / "primary.csv").head(3)
    issues["number"] = issues["number"].astype(int) + 900000
    labels["number"] = labels["number"].astype(int) + 900000
    derived_study(project_copy, "tiny", issues, {"alice": labels})
    out = project_copy / "out"
    result = convfail("analyze", "--study", "tiny", "--compare", "issta24", "--out", str(out))
    assert result.returncode == 0, result.stderr
    assert "tiny study (3 issues" in result.stdout
    tests = pd.read_csv(out / "comparison" / "tests.csv")
    assert tests["warning"].str.contains("tiny study").all()


def test_a_partial_final_csv_is_refused_unless_asked_for(project_copy):
    labels = _read(project_copy / ISSTA / "labels" / "primary.csv").head(36)
    _write(labels, project_copy / ISSTA / "labels" / "final.csv")
    out = project_copy / "out"
    refused = convfail("reproduce", "--only", "table08_locations", "--out", str(out))
    assert refused.returncode == 1
    message = refused.stderr.strip().splitlines()
    assert len(message) == 1 and "final.csv adjudicates 36 of 200" in message[0]
    assert "--allow-partial-final" in message[0]
    allowed = convfail("analyze", "--study", "issta24", "--allow-partial-final", "--out", str(out))
    assert allowed.returncode == 0, allowed.stderr
    assert "labels/final.csv (adjudicated 36 of 200 sampled issues: partial" in allowed.stdout
    assert "adjudicated 36 of 200" in (out / "REPORT.md").read_text()


def test_the_report_names_the_label_file(tmp_path):
    result = subprocess.run(
        [str(CONVFAIL), "reproduce", "--only", "table08_locations", "--out", str(tmp_path)],
        capture_output=True,
        text=True,
        cwd=project_root(),
        check=False,
    )
    assert result.returncode == 0, result.stderr
    markdown, _ = report_paths(tmp_path, only_suffix(["table08_locations"]))
    assert "Labels of the failure analysis: labels/primary.csv" in markdown.read_text()


def test_only_writes_its_own_report_beside_the_full_one(tmp_path):
    full = tmp_path / "REPORT.md"
    full.write_text("the full report\n")
    result = subprocess.run(
        [str(CONVFAIL), "reproduce", "--only", "table08_locations", "--out", str(tmp_path)],
        capture_output=True,
        text=True,
        cwd=project_root(),
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert full.read_text() == "the full report\n"
    assert (tmp_path / "REPORT-only-table08_locations.md").is_file()
    assert (tmp_path / "reproduction-only-table08_locations.json").is_file()
    assert "REPORT-only-table08_locations.md" in result.stdout


@pytest.mark.parametrize(
    "ids",
    [["a"], ["b", "a"], ["a", "b", "c", "d"]],
)
def test_only_suffixes_are_distinct_and_stable(ids):
    assert only_suffix(ids) == only_suffix(list(reversed(ids)))
    assert only_suffix(ids) != only_suffix([*ids, "z"])
    assert len(only_suffix(ids)) < 60


def test_a_partial_overlap_is_paired_on_the_shared_issues_and_says_so(project_copy):
    issues = _read(project_copy / ISSTA / "issues.csv")
    labels = _read(project_copy / ISSTA / "labels" / "primary.csv").head(50)
    derived_study(project_copy, "half", issues, {"second_pass": labels})
    comparison = compare_studies(
        AnalysisContext("half"), AnalysisContext("issta24"), project_copy / "cmp"
    )
    assert comparison.design.startswith("paired: 50 shared issues")
    assert any("150 of 'issta24'" in w for w in comparison.warnings)
