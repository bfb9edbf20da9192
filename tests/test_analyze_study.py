"""Any study folder gets the same tables; two studies can be compared side by side."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pandas as pd

from analysis.failures.compare import compare_studies, homogeneity_test, side_by_side
from analysis.registry import AnalysisContext
from convfail.dataset import load_study
from convfail.records import ISSUE_COLUMNS, LABEL_COLUMNS

CONVFAIL = Path(sys.executable).parent / "convfail"


def make_study(
    home: Path, name: str, rows: list[tuple[int, str, str, str, str]], rater: str
) -> Path:
    """A small torch.onnx study: (number, location, symptom, cause, subcause) per issue."""
    folder = home / "data" / "studies" / name
    (folder / "labels").mkdir(parents=True)
    issues = (
        pd.DataFrame(
            [
                {
                    "converter": "torch.onnx",
                    "repository": "pytorch/pytorch",
                    "number": n,
                    "url": f"https://github.com/pytorch/pytorch/issues/{n}",
                    "title": f"issue {n}",
                    "in_sample": "true",
                }
                for n, *_ in rows
            ],
            columns=ISSUE_COLUMNS,
        )
        .astype(object)
        .fillna("")
    )
    issues.to_csv(folder / "issues.csv", index=False)
    labels = (
        pd.DataFrame(
            [
                {
                    "repository": "pytorch/pytorch",
                    "number": n,
                    "location": loc,
                    "symptom": sym,
                    "cause": cause,
                    "subcause": sub,
                    "codebook_version": "issta24-1",
                }
                for n, loc, sym, cause, sub in rows
            ],
            columns=LABEL_COLUMNS,
        )
        .astype(object)
        .fillna("")
    )
    labels.to_csv(folder / "labels" / f"{rater}.csv", index=False)
    (folder / "study.yaml").write_text(f"name: {name}\nprimary_rater: {rater}\n")
    return folder


ROWS = [
    (150001, "node_conversion", "crash", "incompatibility", "external"),
    (150002, "node_conversion", "wrong_model", "type_problem", "tensor"),
    (150003, "optimization", "wrong_model", "algorithmic_error", ""),
    (150004, "export", "crash", "shape_problem", ""),
    (150005, "node_conversion", "crash", "incompatibility", "external"),
]


def test_analyze_any_study_and_compare(project_copy):
    make_study(project_copy, "newer", ROWS, "alice")
    out = project_copy / "out"
    result = subprocess.run(
        [str(CONVFAIL), "analyze", "--study", "newer", "--compare", "issta24", "--out", str(out)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr
    locations = pd.read_csv(out / "tables" / "table08_locations.csv")
    total = locations[locations["converter"] == "total"].set_index("location")["count"]
    assert total["node_conversion"] == 3 and total["export"] == 1 and total["load_model"] == 0
    report = (out / "REPORT.md").read_text()
    assert "Published numbers checked: 0" in report  # no published values for a new study
    tests = pd.read_csv(out / "comparison" / "tests.csv")
    assert list(tests["dimension"]) == ["location", "symptom", "cause"]
    assert ((tests["p_value"] >= 0) & (tests["p_value"] <= 1)).all()
    assert (out / "comparison" / "cause.png").is_file()


def test_final_labels_win_over_raters(project_copy):
    folder = make_study(project_copy, "adjudicated", ROWS, "alice")
    final = pd.read_csv(folder / "labels" / "alice.csv", dtype=str, keep_default_na=False)
    final.loc[0, "symptom"] = "hang"
    final.to_csv(folder / "labels" / "final.csv", index=False)
    study = load_study("adjudicated")
    assert study.primary_rater == "final"
    assert (study.labelled_issues()["symptom"] == "hang").sum() == 1


def test_side_by_side_counts_and_test(project_copy):
    make_study(project_copy, "newer", ROWS, "alice")
    first, second = AnalysisContext("newer"), AnalysisContext("issta24")
    table = side_by_side(first, second, "symptom")
    newer = table[table["study"] == "newer"].set_index("symptom")
    assert newer.loc["crash", "count"] == 3 and newer.loc["crash", "percent"] == 60.0
    old = table[table["study"] == "issta24"].set_index("symptom")
    assert old.loc["crash", "count"] == 112
    result = homogeneity_test(table, "symptom")
    assert result["dof"] == 4  # hang is used by neither study and dropped
    comparison = compare_studies(first, second, project_copy / "cmp")
    assert comparison.design.startswith("independent samples")
    assert all(f.exists() for f in comparison.files)
    assert any("tiny study (5 issues" in w for w in comparison.warnings)
