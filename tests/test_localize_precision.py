"""Narrowed weights are a precision finding: int8 behind DequantizeLinear (per tensor and per
channel) and float16 behind Cast are paired with the source weights, told intended from
unintended, and repaired by copying the source weights back as float initializers."""

from __future__ import annotations

import numpy as np
import onnx
import pytest
from localize_models import copy_model, node_index, small_source
from onnx import helper, numpy_helper

from difftest.localize.pipeline import localize
from difftest.localize.repair import repair
from difftest.localize.tolerance import Tolerance


def _take(model: onnx.ModelProto, name: str) -> np.ndarray:
    tensor = next(t for t in model.graph.initializer if t.name == name)
    model.graph.initializer.remove(tensor)
    return numpy_helper.to_array(tensor)


def quantize(model: onnx.ModelProto, op_type: str, per_channel: bool) -> str:
    """Store the weight of the first ``op_type`` node as symmetric int8 behind a
    DequantizeLinear (one scale, or one per output channel), as tf2onnx writes TFLite weights."""
    name = model.graph.node[node_index(model, op_type)].input[1]
    weight = _take(model, name)
    flat = np.abs(weight.reshape(weight.shape[0], -1))
    scale = (flat.max(axis=1) if per_channel else flat.max()) / 127.0
    shaped = scale.reshape((-1,) + (1,) * (weight.ndim - 1)) if per_channel else scale
    q = np.clip(np.round(weight / shaped), -127, 127).astype(np.int8)
    model.graph.initializer.extend(
        [
            numpy_helper.from_array(q, f"{name}_q"),
            numpy_helper.from_array(np.asarray(scale, np.float32), f"{name}_scale"),
            numpy_helper.from_array(np.zeros(np.shape(scale), np.int8), f"{name}_zero"),
        ]
    )
    axis = {"axis": 0} if per_channel else {}
    dq = helper.make_node(
        "DequantizeLinear", [f"{name}_q", f"{name}_scale", f"{name}_zero"], [name], **axis
    )
    model.graph.node.insert(0, dq)
    return name


def to_float16(model: onnx.ModelProto, op_type: str) -> str:
    """Store the weight of the first ``op_type`` node as float16 behind a Cast to float."""
    name = model.graph.node[node_index(model, op_type)].input[1]
    weight = _take(model, name)
    model.graph.initializer.append(numpy_helper.from_array(weight.astype(np.float16), f"{name}_h"))
    cast = helper.make_node("Cast", [f"{name}_h"], [name], to=onnx.TensorProto.FLOAT)
    model.graph.node.insert(0, cast)
    return name


@pytest.fixture(scope="module")
def case(localized_export):
    return localized_export(small_source())


@pytest.mark.parametrize(("op_type", "per_channel"), [("Gemm", False), ("Conv", True)])
def test_int8_behind_dequantizelinear_is_an_unintended_precision_finding_and_repaired(
    case, op_type: str, per_channel: bool
):
    source, model, inputs, healthy = case
    narrowed = copy_model(model)
    name = quantize(narrowed, op_type, per_channel)
    loc = localize(source, narrowed, inputs, trace=healthy.trace)
    (finding,) = [p for p in loc.parameters if p.initializer == name]
    assert finding.kind == "precision" and finding.detail == "int8" and not finding.intended
    q = finding.quantization
    assert q["via"] == "DequantizeLinear" and q["levels"] == 256
    assert q["granularity"] == ("per-channel" if per_channel else "per-tensor")
    assert q["scales"] == (8 if per_channel else 1)
    assert finding.folded == (op_type == "Conv")  # the Conv carries the folded BatchNorm
    assert not loc.agrees
    (first,) = loc.divergences
    assert first.op_type == op_type and first.cause == "precision (unintended)"
    assert "256 levels" in first.detail
    fixed = repair(source, loc, held_out=source.make_inputs(7, 2))
    assert fixed.agrees_after and fixed.held_out_agrees
    assert [s.stage for s in fixed.steps] == ["precision"]
    assert "DequantizeLinear" not in {n.op_type for n in fixed.model.graph.node}
    assert f"{name}_q" not in {t.name for t in fixed.model.graph.initializer}


def test_int8_asked_for_is_intended(case):
    source, model, inputs, healthy = case
    narrowed = copy_model(model)
    name = quantize(narrowed, "Gemm", False)
    loc = localize(source, narrowed, inputs, Tolerance("int8"), trace=healthy.trace)
    (finding,) = [p for p in loc.parameters if p.initializer == name]
    assert finding.kind == "precision" and finding.intended and not finding.faulty
    assert all(d.cause != "precision (unintended)" for d in loc.divergences)


def test_float16_behind_cast_is_copied_back_even_inside_the_tolerance(case):
    source, model, inputs, healthy = case
    narrowed = copy_model(model)
    name = to_float16(narrowed, "Gemm")
    loc = localize(source, narrowed, inputs, trace=healthy.trace)
    (finding,) = [p for p in loc.parameters if p.initializer == name]
    assert finding.kind == "precision" and finding.detail == "float16"
    assert finding.quantization["via"] == "Cast" and finding.faulty
    before = max(loc.alignment.output_errors)
    fixed = repair(source, loc)
    assert [s.stage for s in fixed.steps] == ["precision"]
    assert fixed.changed and fixed.agrees_after
    assert max(fixed.output_errors_after) <= before
    assert "Cast" not in {n.op_type for n in fixed.model.graph.node}


def test_every_narrowed_weight_is_copied_back_in_one_step_when_that_is_what_agrees(case):
    source, model, inputs, healthy = case
    narrowed = copy_model(model)
    quantize(narrowed, "Conv", True)
    quantize(narrowed, "Gemm", False)
    loc = localize(source, narrowed, inputs, trace=healthy.trace)
    assert sum(p.kind == "precision" for p in loc.parameters) == 2
    fixed = repair(source, loc)
    (step,) = fixed.steps
    assert step.change.startswith("copied the source parameters into all 2 int8 weights")
    assert fixed.agrees_after
    assert "DequantizeLinear" not in {n.op_type for n in fixed.model.graph.node}
