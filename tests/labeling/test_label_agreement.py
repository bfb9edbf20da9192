"""Agreement on the published pilot data, and with more than two raters."""

from __future__ import annotations

import math

from click.testing import CliRunner

from convfail.agreement import BLANK_POLICY
from convfail.cli import cli
from convfail.dataset import load_study
from labeling.agreement_report import build_report, confusion_matrix, write_report
from labeling.store import LabelStore


def test_pilot_kappa_reproduces_the_paper(project, codebook):
    study = load_study("issta24", codebook)
    report = build_report(study, ["pilot_r1", "pilot_r2"], codebook)
    total = report.pairwise[report.pairwise["converter"] == "total"].set_index("dimension")
    assert round(total.loc["cause", "kappa"], 2) == 0.90  # paper: 0.90 on causes
    assert round(total.loc["symptom", "kappa"], 2) == 0.95  # paper: 0.95 on symptoms
    assert set(total.index) == {"cause", "symptom"}  # the pilot coded no location or sub-cause
    assert total.loc["cause", "n"] == 60
    assert round(total.loc["cause", "percent_agreement"], 2) == 91.67
    by_converter = report.pairwise[report.pairwise["converter"] != "total"]
    assert sorted(by_converter["converter"].unique()) == ["tf2onnx", "torch.onnx"]
    assert report.alpha.empty  # alpha only for more than two raters
    # 5 cause and 2 symptom disagreements among 60 issues
    assert report.disagreements["dimension"].value_counts().to_dict() == {"cause": 5, "symptom": 2}
    matrix = confusion_matrix(study, "pilot_r1", "pilot_r2", "symptom", codebook)
    assert matrix.to_numpy().sum() == 60 and int(matrix.to_numpy().trace()) == 58


def test_agreement_command_writes_tables_and_heat_maps(project, tmp_path):
    out = tmp_path / "agreement"
    result = CliRunner().invoke(
        cli,
        [
            "label",
            "agreement",
            "--study",
            "issta24",
            "--raters",
            "pilot_r1,pilot_r2",
            "--out",
            str(out),
        ],
    )
    assert result.exit_code == 0, result.output
    assert "0.9031" in result.output and "0.9529" in result.output
    for name in (
        "kappa.csv",
        "alpha.csv",
        "disagreements.csv",
        "confusion/cause__pilot_r1__pilot_r2.png",
    ):
        assert (out / name).stat().st_size > 0
    assert (out / "confusion/cause__pilot_r1__pilot_r2.png").read_bytes()[:4] == b"\x89PNG"


def test_three_raters_get_krippendorff_alpha(demo_study, codebook):
    values = {
        "ann": ["typo", "typo", "others"],
        "bob": ["typo", "typo", "others"],
        "cat": ["typo", "others", "others"],
    }
    for rater, causes in values.items():
        store = LabelStore(demo_study, rater, codebook)
        for number, cause in enumerate(causes, start=1):
            store.save("pytorch/pytorch", number, {"cause": cause})
    study = load_study("demo", codebook)
    report = build_report(study, ["ann", "bob", "cat"], codebook)
    alpha = report.alpha.set_index(["dimension", "converter"]).loc[("cause", "total")]
    # By hand: coincidences typo-typo 3 + 1, typo-others 1 + 1, others-others 3 (n = 9, n_typo = 5,
    # n_others = 4); alpha = 1 - observed / expected = 1 - 2 / (2 * 5 * 4 / 8) = 0.6
    assert math.isclose(alpha["alpha"], 0.6, abs_tol=1e-9)
    assert alpha["units"] == 3
    pairs = report.pairwise[(report.pairwise["converter"] == "total")]
    assert len(pairs) == 3  # ann-bob, ann-cat, bob-cat on cause
    assert list(report.disagreements["number"]) == [2]


def test_agreement_needs_two_raters(project):
    result = CliRunner().invoke(
        cli, ["label", "agreement", "--study", "issta24", "--raters", "pilot_r1"]
    )
    assert result.exit_code != 0 and "two raters or more" in str(result.exception)


def test_blank_answers_follow_one_stated_policy_for_kappa_and_alpha(demo_study, codebook, tmp_path):
    causes = {
        "ann": ["typo", "typo", "others", "", ""],
        "bob": ["typo", "others", "others", "", "typo"],
        "cat": ["typo", "others", "others", "typo", "typo"],
    }
    for rater, values in causes.items():
        store = LabelStore(demo_study, rater, codebook)
        for number, cause in enumerate(values, start=1):
            store.save("pytorch/pytorch", number, {"symptom": "crash", "cause": cause})
    study = load_study("demo", codebook)
    report = build_report(study, list(causes), codebook)
    pairs = report.pairwise[
        (report.pairwise["converter"] == "total") & (report.pairwise["dimension"] == "cause")
    ].set_index(["rater_a", "rater_b"])
    # ann-bob: issues 4 and 5 left out (a blank on each); kappa on 1-3 only
    assert pairs.loc[("ann", "bob"), ["n", "blank"]].tolist() == [3, 2]
    assert math.isclose(pairs.loc[("ann", "bob"), "kappa"], 0.4, abs_tol=1e-4)
    assert pairs.loc[("bob", "cat"), ["n", "blank"]].tolist() == [4, 1]
    alpha = report.alpha.set_index(["dimension", "converter"]).loc[("cause", "total")]
    # issue 4 has one value (cat) and is left out; issue 5 has two (bob, cat) and counts
    assert (alpha["units"], alpha["blank"]) == (4, 1)
    written = write_report(report, tmp_path / "out")
    assert (tmp_path / "out" / "blank_policy.txt").read_text().strip() == BLANK_POLICY
    assert tmp_path / "out" / "blank_policy.txt" in written


def test_the_agreement_command_states_the_blank_policy(project):
    result = CliRunner().invoke(
        cli, ["label", "agreement", "--study", "issta24", "--raters", "pilot_r1,pilot_r2"]
    )
    assert result.exit_code == 0 and result.output.startswith(BLANK_POLICY)
