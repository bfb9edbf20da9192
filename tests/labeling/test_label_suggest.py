"""Suggestions: a hint learnt from labelled issues, evaluated against a majority baseline."""

from __future__ import annotations

from click.testing import CliRunner

from convfail.cli import cli
from convfail.dataset import load_study
from labeling.cli import labelled_documents
from labeling.suggest import Suggester, evaluate


def test_cross_validated_scores_beat_the_majority_baseline_on_issta24(project, codebook):
    documents, labels = labelled_documents(load_study("issta24", codebook), "primary")
    table = evaluate(documents, labels, folds=5, seed=0).set_index("dimension")
    assert list(table.index) == ["location", "symptom", "cause", "subcause"]
    assert table.loc["cause", "n"] == 200 and table.loc["subcause", "n"] == 111
    for dim in table.index:
        assert table.loc[dim, "macro_f1"] > table.loc[dim, "baseline_macro_f1"], dim
        assert table.loc[dim, "accuracy"] >= table.loc[dim, "baseline_accuracy"], dim
    again = evaluate(documents, labels, folds=5, seed=0)
    assert again.equals(table.reset_index())  # seeded: the same numbers every run


def test_suggestions_are_codebook_values_with_a_confidence(project, codebook):
    documents, labels = labelled_documents(load_study("issta24", codebook), "primary")
    hints = (
        Suggester()
        .fit(documents, labels)
        .suggest("Unsupported ONNX opset version: aten::new_zeros")
    )
    assert {"location", "symptom", "cause"} <= set(hints)
    for dim in ("location", "symptom", "cause"):
        assert hints[dim].value in codebook.valid_names(dim) and 0 < hints[dim].confidence <= 1
    assert hints["subcause:incompatibility"].value in codebook.valid_names(
        "subcause", "incompatibility"
    )


def test_too_few_labels_give_no_model(project, codebook):
    assert Suggester().fit(["a", "b"], [{"cause": "typo"}, {"cause": "others"}]).suggest("a") == {}


def test_suggest_eval_command_prints_model_and_baseline(project):
    result = CliRunner().invoke(
        cli, ["label", "suggest-eval", "--study", "issta24", "--folds", "3"]
    )
    assert result.exit_code == 0, result.output
    assert "baseline_macro_f1" in result.output and "200 labelled issues" in result.output
