"""Repairs say what they really did: targeted changes apart from re-conversions, a bypass only
where the source lacks the node, no repaired file when nothing changed, every step verified and
checked on fresh inputs."""

from __future__ import annotations

import onnx
import pytest
import torch
from click.testing import CliRunner
from localize_models import (
    export,
    node_index,
    norms_source,
    perturb_weight,
    samples,
    small_source,
)
from onnx import helper

from convfail.cli import cli
from difftest.localize.align import align
from difftest.localize.pipeline import localize
from difftest.localize.repair import repair
from difftest.localize.repair_candidates import bypass
from difftest.localize.repair_record import TARGETED, WORKAROUND


@pytest.fixture(scope="module")
def norms():
    source = norms_source()
    model = export(source)
    faulty = onnx.ModelProto()
    faulty.CopyFrom(model)
    second = node_index(faulty, "LayerNormalization", 1)
    node = faulty.graph.node[second]
    node.input[1], node.input[2] = node.input[2], node.input[1]  # scale and bias mixed up
    return source, faulty, second


def test_no_bypass_is_claimed_for_a_node_the_source_has(norms):
    source, faulty, second = norms
    inputs = samples(source)
    loc = localize(source, faulty, inputs)
    assert [d.node for d in loc.divergences] == [second]
    # the trap: dropping the second LayerNorm would make the outputs agree ...
    bypassed = bypass(faulty, second)
    assert align(bypassed, loc.trace, inputs, loc.expected, loc.tolerance).outputs_agree
    # ... but the source has both LayerNorms, so that is no repair of this model
    result = repair(source, loc, held_out=source.make_inputs(7, 2))
    assert not result.changed and not result.steps
    assert result.model is faulty
    assert result.summary().startswith("no targeted repair")


def test_an_inserted_transpose_is_bypassed_with_the_checked_reason():
    source = small_source()
    model = export(source)
    tanh = node_index(model, "Tanh")
    value = model.graph.node[tanh].input[0]
    model.graph.node[tanh].input[0] = "swapped"
    model.graph.node.insert(
        tanh, helper.make_node("Transpose", [value], ["swapped"], perm=[0, 1, 3, 2], name="T")
    )
    loc = localize(source, model, samples(source))
    result = repair(source, loc, held_out=source.make_inputs(7, 2))
    (step,) = result.steps
    assert step.change == "bypassed Transpose (source has no Transpose)"
    assert step.kind == TARGETED and step.held_out is True and step.held_out_inputs == 2
    assert result.agrees_after and result.held_out_agrees


def test_each_step_says_fault_change_and_verification():
    source = small_source()
    model = export(source)
    conv = node_index(model, "Conv")
    perturb_weight(model, conv)
    loc = localize(source, model, samples(source, 3))
    result = repair(source, loc, held_out=source.make_inputs(7, 4))
    (step,) = result.steps
    assert step.stage == "parameters" and step.kind == TARGETED
    assert step.fault.startswith("parameter: weight")
    assert "copied source parameter conv.weight" in step.change
    assert step.verified.startswith("outputs agree with the source on 3 input(s)")
    assert step.inputs == 3 and step.held_out is True and step.held_out_inputs == 4
    data = result.to_dict()
    assert data["changed"] and data["targeted_steps"] == 1 and data["held_out_inputs"] == 4


def test_a_batchnorm_folded_bias_is_paired_with_the_source_and_copied_back():
    source = small_source()
    model = export(source)  # TorchScript folds the BatchNorm into the Conv: its bias is computed
    conv = node_index(model, "Conv")
    healthy = localize(source, model, samples(source, 3))
    (bias,) = [p for p in healthy.parameters if p.initializer == model.graph.node[conv].input[2]]
    assert bias.kind == "copied" and bias.source == "bn.bias (folded into conv.weight)"
    perturb_weight(model, conv, delta=1.5, position=2)
    loc = localize(source, model, samples(source, 3), trace=healthy.trace)
    first = loc.divergences[0]
    assert first.node == conv and first.cause == "parameter", first
    assert "bn.bias (folded into conv.weight)" in first.detail
    result = repair(source, loc, held_out=source.make_inputs(7, 4))
    (step,) = result.steps
    assert step.kind == TARGETED and step.held_out is True
    assert "copied source parameter bn.bias (folded into conv.weight)" in step.change


def test_cli_repair_that_cannot_fix_writes_no_repaired_file(norms, tmp_path):
    source, faulty, _ = norms
    torch.save(source.model, tmp_path / "model.pt")
    onnx.save(faulty, tmp_path / "model.onnx")
    out = tmp_path / "out"
    out.mkdir()
    (out / "repaired.onnx").write_bytes(b"left over from an earlier run")
    args = ["--source", str(tmp_path / "model.pt"), "--onnx", str(tmp_path / "model.onnx")]
    result = CliRunner().invoke(
        cli, ["difftest", "repair", *args, "--out", str(out)], catch_exceptions=False
    )
    assert result.exit_code == 0, result.output
    assert "nothing changed: no repaired model written" in result.output
    assert "bypassed" not in result.output
    assert not (out / "repaired.onnx").exists()
    # the re-conversion that agrees is offered, as a workaround in a file of its own
    assert f"[{WORKAROUND}] settings" in result.output
    assert (out / "reconverted.onnx").exists()
    report = (out / "localization.md").read_text()
    assert "No repaired model was written." in report
    assert "workaround (not a repair of this model)" in report
