"""The failure-analysis tables against the numbers the paper published (study.md), and the table
functions on small crafted studies."""

from __future__ import annotations

import pandas as pd
import pytest

from analysis.failures.agreement import agreement_table
from analysis.failures.tables import (
    count_by,
    table08_locations,
    table09_symptoms,
    table10_causes_by_symptom,
    table14_causes,
    table16_causes_by_symptom_full,
    top_causes,
)
from convfail.codebook import load_codebook
from convfail.dataset import load_study

# (tf2onnx, torch.onnx, total) as printed in the paper
TABLE8 = {
    "load_model": (5, 6, 11),
    "node_conversion": (70, 78, 148),
    "optimization": (14, 5, 19),
    "export": (1, 0, 1),
    "validation": (0, 3, 3),
    "not_distinguishable": (10, 8, 18),
}
TABLE9 = {
    "crash": (50, 62, 112, 226),
    "wrong_model": (35, 30, 65, 100),
    "build_failure": (3, 2, 5, 3),
    "bad_performance": (2, 1, 3, 6),
    "hang": (0, 0, 0, 4),
    "unreported": (10, 5, 15, 20),
}
TABLE14 = {
    ("incompatibility", "external"): (23, 32, 55, 16),
    ("incompatibility", "internal"): (2, 0, 2, 5),
    ("incompatibility", "resource"): (0, 0, 0, 4),
    ("type_problem", "node"): (21, 25, 46, 13),
    ("type_problem", "conventional"): (3, 2, 5, 20),
    ("type_problem", "tensor"): (1, 2, 3, 42),
    ("algorithmic_error", ""): (18, 6, 24, 59),
    ("shape_problem", ""): (9, 12, 21, 67),
    ("api_misuse", ""): (6, 6, 12, 35),
    ("other", ""): (17, 15, 32, 98),
}
COLUMNS = ("tf2onnx", "torch.onnx", "total", "dl_compilers")


@pytest.fixture(scope="module")
def codebook():
    return load_codebook()


@pytest.fixture(scope="module")
def study(codebook):
    return load_study("issta24", codebook)


@pytest.fixture(scope="module")
def labelled(study):
    return study.labelled_issues()


def cells(table: pd.DataFrame, keys: list[str]) -> dict:
    return {tuple(row[k] for k in keys): int(row["count"]) for _, row in table.iterrows()}


def test_table8_locations(labelled, codebook):
    got = cells(table08_locations(labelled, codebook), ["location", "converter"])
    expected = {
        (loc, conv): n for loc, row in TABLE8.items() for conv, n in zip(COLUMNS, row, strict=False)
    }
    assert got == expected


def test_table9_symptoms_with_dl_compilers(labelled, codebook):
    got = cells(table09_symptoms(labelled, codebook), ["symptom", "converter"])
    expected = {
        (s, conv): n for s, row in TABLE9.items() for conv, n in zip(COLUMNS, row, strict=True)
    }
    assert got == expected
    assert sum(n for (s, conv), n in got.items() if conv == "dl_compilers") == 359


def test_table14_causes_with_subcauses(labelled, codebook):
    got = cells(table14_causes(labelled, codebook), ["cause", "subcause", "converter"])
    expected = {
        (c, s, conv): n
        for (c, s), row in TABLE14.items()
        for conv, n in zip(COLUMNS, row, strict=True)
    }
    assert got == expected


def test_table10_top5_causes_by_symptom(labelled, codebook):
    table = table10_causes_by_symptom(labelled, codebook)
    assert list(dict.fromkeys(table["cause"])) == [
        "incompatibility",
        "type_problem",
        "algorithmic_error",
        "shape_problem",
        "api_misuse",
        "other",
    ]
    assert list(dict.fromkeys(table["symptom"])) == ["crash", "wrong_model", "other"]
    by_cause = table.groupby(["cause", "converter"])["count"].sum()
    assert by_cause[("incompatibility", "total")] == 57
    assert by_cause[("type_problem", "total")] == 54
    assert by_cause[("other", "tf2onnx")] == 17 and by_cause[("other", "torch.onnx")] == 15
    by_symptom = table.groupby(["symptom", "converter"])["count"].sum()
    assert (
        by_symptom[("crash", "tf2onnx")] == 50 and by_symptom[("wrong_model", "torch.onnx")] == 30
    )
    assert by_symptom[("other", "total")] == 200 - 112 - 65
    # findings: crashes come mostly from incompatibility and type problems
    crash = table[(table["symptom"] == "crash") & (table["converter"] == "total")].set_index(
        "cause"
    )["count"]
    assert crash.nlargest(2).index.tolist() == ["incompatibility", "type_problem"]


def test_table16_is_the_full_grid(labelled, codebook):
    table = table16_causes_by_symptom_full(labelled, codebook)
    assert len(table) == 14 * 6 * 3
    assert table.groupby("converter")["count"].sum().to_dict() == {
        "tf2onnx": 100,
        "torch.onnx": 100,
        "total": 200,
    }
    totals = table[table["converter"] == "total"]
    tf = table[table["converter"] == "tf2onnx"]["count"].to_numpy()
    pt = table[table["converter"] == "torch.onnx"]["count"].to_numpy()
    assert (totals["count"].to_numpy() == tf + pt).all()
    assert (
        int(
            table[(table["cause"] == "algorithmic_error") & (table["converter"] == "tf2onnx")][
                "count"
            ].sum()
        )
        == 18
    )


def test_pilot_kappas(study):
    table = agreement_table(study, "pilot_r1", "pilot_r2", ["cause", "symptom"])
    pooled = table[table["converter"] == "total"].set_index("dimension")
    assert round(pooled.loc["cause", "kappa"], 2) == 0.90
    assert round(pooled.loc["symptom", "kappa"], 2) == 0.95
    assert pooled.loc["cause", "n"] == 60
    per = table.set_index(["dimension", "converter"])
    assert per.loc[("symptom", "torch.onnx"), "kappa"] == 1.0


def test_drift_check_is_perfect(study):
    table = agreement_table(
        study, "drift_a", "drift_b", ["location", "symptom", "cause", "subcause"]
    )
    assert (table["kappa"] == 1.0).all()
    # sub-cause: only the 8 issues where both raters gave one (blank = not coded, BLANK_POLICY)
    assert table[table["converter"] == "total"]["n"].tolist() == [18, 18, 18, 8]


def crafted(rows: list[tuple]) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=["converter", "location", "symptom", "cause", "subcause"])


def test_count_by_lists_unused_categories_and_percentages():
    labelled = crafted(
        [
            ("a", "x", "crash", "typo", ""),
            ("a", "x", "crash", "typo", ""),
            ("b", "y", "hang", "typo", ""),
        ]
    )
    table = count_by(labelled, "location", ["x", "y", "z"])
    assert len(table) == 9
    row = table[(table["location"] == "x") & (table["converter"] == "a")].iloc[0]
    assert (row["count"], row["percent"]) == (2, 100.0)
    assert table[(table["location"] == "z") & (table["converter"] == "total")]["count"].item() == 0


def test_top_causes_never_rank_the_catch_all(codebook):
    rows = [("a", "export", "crash", "others", "")] * 9 + [("a", "export", "crash", "typo", "")] * 2
    rows += [
        ("a", "export", "crash", c, "")
        for c in ["concurrency", "documentation", "testing", "misconfiguration", "api_misuse"]
    ]
    labelled = crafted(rows)
    top = top_causes(labelled, codebook)
    # typo leads; ties are broken by codebook order, so testing (last) is binned
    assert top == ["typo", "api_misuse", "misconfiguration", "concurrency", "documentation"]
    table = table14_causes(labelled, codebook)
    assert (
        table[(table["cause"] == "other") & (table["converter"] == "total")]["count"].item() == 10
    )
