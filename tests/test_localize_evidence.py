"""The committed localization evidence is complete and its summary follows from its rows."""

from __future__ import annotations

import json

import pandas as pd

from convfail.paths import localization_dir
from difftest.localize.evaluate import COLUMNS, Row, summarise

FOLDER = localization_dir()


def test_fault_injection_has_at_least_50_effective_faults_and_a_consistent_summary():
    frame = pd.read_csv(FOLDER / "fault_injection.csv", keep_default_na=False)
    assert list(frame.columns) == COLUMNS
    assert frame["effective"].sum() >= 50
    assert set(frame["fault"]) == {
        "weight-perturbed",
        "weight-rounded",
        "attribute",
        "operator",
        "transpose",
    }
    rows = [Row(**{**r, "localize_s": 0.0, "repair_s": 0.0}) for r in frame.to_dict("records")]
    saved = json.loads((FOLDER / "fault_injection_summary.json").read_text())
    assert summarise(rows) == saved
    assert saved["all"]["localization_recall"] >= 0.85
    assert saved["all"]["repair_precision"] == 1.0


def test_at_least_three_real_differences_localized_with_a_reproducer():
    frame = pd.read_csv(FOLDER / "real_faults.csv", keep_default_na=False)
    real = frame[(frame["present"] == "yes") & (frame["cause"] == "graph")]
    assert len(real) >= 3
    assert set(real["reproduces"]) == {"True"}
    for case, converter in zip(real["case"], real["converter"], strict=True):
        folder = (
            FOLDER
            / "real"
            / (f"{case}--{converter}" if ":" not in case else f"{case.split(':')[1]}--{converter}")
        )
        assert (folder / "reproducer" / "reproducer.onnx").is_file(), folder
