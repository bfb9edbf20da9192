"""The reproducer file loads on its own and reproduces the difference; reports are written."""

from __future__ import annotations

import json

import numpy as np
import onnx
import onnxruntime as ort
import pytest
from click.testing import CliRunner
from localize_models import (
    export,
    node_index,
    perturb_weight,
    samples,
    save_faulty_small_case,
    small_source,
)

from convfail.cli import cli, main
from difftest.localize.known_faults import build_case
from difftest.localize.pipeline import localize
from difftest.localize.report import to_json, write_report, write_reproducer_for
from difftest.localize.reproducer import DATA_FILE, MODEL_FILE, check_reproducer


def test_reproducer_of_a_planted_fault(tmp_path):
    source = small_source()
    inputs = samples(source)
    model = export(source)
    conv = node_index(model, "Conv")
    perturb_weight(model, conv)
    loc = localize(source, model, inputs)
    info = write_reproducer_for(loc, tmp_path)
    directory = tmp_path / "reproducer"
    sub = onnx.load(directory / MODEL_FILE)
    onnx.checker.check_model(sub)
    assert [n.op_type for n in sub.graph.node] == ["Conv"]
    data = np.load(directory / DATA_FILE)
    session = ort.InferenceSession(str(directory / MODEL_FILE), providers=["CPUExecutionProvider"])
    got = session.run(None, {session.get_inputs()[0].name: data["input:0:0"]})[0]
    assert np.abs(got - data["expected:0"]).max() > 1e-3  # still differs from the source value
    np.testing.assert_allclose(got, data["actual:0"], rtol=1e-5, atol=1e-6)
    assert info["check"]["reproduces"]
    assert check_reproducer(directory).reproduces


def test_reproducer_of_a_real_difference_sign_of_nan(tmp_path):
    source, inputs, _ = build_case("sign-nan")
    loc = localize(source, export(source), inputs)
    assert not loc.agrees
    (first,) = loc.divergences
    assert first.op_type == "Sign" and first.cause == "graph"
    write_reproducer_for(loc, tmp_path)
    check = check_reproducer(tmp_path / "reproducer")
    assert check.reproduces and check.on_source_inputs > 1.0  # the node itself differs


def test_rounding_amplified_by_a_discontinuity_is_not_blamed_on_the_node():
    source, inputs, _ = build_case("floor-divide")
    loc = localize(source, export(source), inputs)
    assert loc.agrees or all(d.cause == "amplified rounding" for d in loc.divergences)


def test_report_files_and_figure(tmp_path):
    source = small_source()
    inputs = samples(source)
    model = export(source)
    perturb_weight(model, node_index(model, "Gemm"))
    loc = localize(source, model, inputs)
    report = to_json(loc, {"title": "planted"})
    paths = write_report(report, tmp_path)
    saved = json.loads(paths["json"].read_text())
    assert saved["first_divergent"][0]["cause"] == "parameter"
    assert saved["nodes"] and any(n["bad"] for n in saved["nodes"])
    assert "First divergent node" in paths["markdown"].read_text()
    assert paths["figure"].stat().st_size > 1000


def test_cli_localize_and_repair_saved_model(tmp_path):
    source = save_faulty_small_case(tmp_path)
    runner = CliRunner()
    args = ["--source", str(tmp_path / "model.pt"), "--onnx", str(tmp_path / "model.onnx")]
    result = runner.invoke(
        cli, ["difftest", "repair", *args, "--out", str(tmp_path / "out")], catch_exceptions=False
    )
    assert result.exit_code == 0, result.output
    assert "first divergent node" in result.output
    repaired = onnx.load(tmp_path / "out" / "repaired.onnx")
    fixed = localize(source, repaired, source.make_inputs(5, 2))
    assert fixed.agrees


def test_cli_error_without_inputs_is_one_line(capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["difftest", "localize"])
    assert exit_info.value.code == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("convfail: error: say what to localize")
