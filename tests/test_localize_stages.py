"""A planted fault per stage is localized to the right node with the right cause, and repaired."""

from __future__ import annotations

import numpy as np
import pytest
from localize_models import (
    copy_model,
    node_index,
    perturb_weight,
    set_attr,
    small_source,
)
from onnx import helper, numpy_helper

from difftest.localize.pipeline import localize
from difftest.localize.repair import repair
from difftest.localize.settings import try_settings
from difftest.localize.tolerance import Tolerance


@pytest.fixture(scope="module")
def case(localized_export):
    return localized_export(small_source())


def test_healthy_conversion_agrees_and_batchnorm_is_recognised_as_folded(case):
    _, model, _, healthy = case
    assert healthy.agrees
    assert not healthy.divergences
    assert "BatchNormalization" not in {n.op_type for n in model.graph.node}
    kinds = {p.source: p.kind for p in healthy.parameters}
    assert kinds["conv.weight"] == "folded"
    assert kinds["fc.weight"] == "copied"
    assert not [h for h in healthy.hyper if h.diffs]


def test_parameter_fault_is_localized_and_repaired(case):
    source, model, inputs, healthy = case
    faulty = copy_model(model)
    conv = node_index(faulty, "Conv")
    perturb_weight(faulty, conv)
    loc = localize(source, faulty, inputs, trace=healthy.trace)
    assert not loc.agrees
    assert [d.node for d in loc.divergences] == [conv]
    assert loc.divergences[0].cause == "parameter"
    altered = [p for p in loc.parameters if p.kind == "altered"]
    assert [(p.source, p.changed_elements) for p in altered] == [("conv.weight", 1)]
    fixed = repair(source, loc)
    assert fixed.agrees_after and fixed.steps[0].stage == "parameters"


def test_hyperparameter_fault_is_localized_and_repaired(case):
    source, model, inputs, healthy = case
    faulty = copy_model(model)
    leaky = node_index(faulty, "LeakyRelu")
    set_attr(faulty, leaky, "alpha", 0.3)
    loc = localize(source, faulty, inputs, trace=healthy.trace)
    assert [d.node for d in loc.divergences] == [leaky]
    assert loc.divergences[0].cause == "hyper-parameter"
    (finding,) = [h for h in loc.hyper if h.diffs]
    assert finding.source_op == "leaky_relu"
    assert finding.diffs[0].attribute == "alpha"
    assert finding.diffs[0].source_value == pytest.approx(0.1)
    fixed = repair(source, loc)
    assert fixed.agrees_after and fixed.steps[0].stage == "hyper-parameters"


def test_conv_padding_fault_is_a_hyperparameter_fault(case):
    source, model, inputs, healthy = case
    faulty = copy_model(model)
    conv = node_index(faulty, "Conv")
    set_attr(faulty, conv, "pads", [2, 2, 0, 0])
    loc = localize(source, faulty, inputs, trace=healthy.trace)
    assert [d.node for d in loc.divergences] == [conv]
    assert loc.divergences[0].cause == "hyper-parameter"
    assert repair(source, loc).agrees_after


def test_graph_fault_swapped_operator(case):
    source, model, inputs, healthy = case
    faulty = copy_model(model)
    tanh = node_index(faulty, "Tanh")
    faulty.graph.node[tanh].op_type = "Sigmoid"
    loc = localize(source, faulty, inputs, trace=healthy.trace)
    assert [d.node for d in loc.divergences] == [tanh]
    assert loc.divergences[0].cause == "graph"
    fixed = repair(source, loc)
    assert fixed.agrees_after
    assert "Sigmoid -> Tanh" in fixed.steps[0].change


def test_graph_fault_inserted_transpose(case):
    source, model, inputs, healthy = case
    faulty = copy_model(model)
    tanh = node_index(faulty, "Tanh")
    value = faulty.graph.node[tanh].input[0]
    faulty.graph.node[tanh].input[0] = "swapped"
    faulty.graph.node.insert(
        tanh, helper.make_node("Transpose", [value], ["swapped"], perm=[0, 1, 3, 2], name="T")
    )
    loc = localize(source, faulty, inputs, trace=healthy.trace)
    assert [faulty.graph.node[d.node].name for d in loc.divergences] == ["T"]
    fixed = repair(source, loc)
    assert fixed.agrees_after
    assert "Transpose" not in {n.op_type for n in fixed.model.graph.node}


def test_settings_stage_finds_a_conversion_that_agrees(case):
    source, model, inputs, healthy = case
    faulty = copy_model(model)
    perturb_weight(faulty, node_index(faulty, "Gemm"))
    results = try_settings(source, inputs)
    by_setting = {tuple(sorted(r.settings.items())): r for r in results}
    default = (("constant_folding", True), ("exporter", "torchscript"), ("opset", 17))
    assert by_setting[default].outcome == "agrees"
    assert any(r.outcome == "agrees" for r in results)
    loc = localize(source, faulty, inputs, trace=healthy.trace)
    loc.hyper, loc.parameters = [], []  # as if the stages had nothing to offer: settings remain
    working = next(r.model for r in results if r.outcome == "agrees")
    fixed = repair(source, loc, ("exporter=torchscript", working))
    # a re-conversion is a workaround: the converted model itself is not repaired
    assert not fixed.changed and not fixed.agrees_after
    assert fixed.workaround_agrees and fixed.steps[-1].kind == "workaround"


def test_intended_fp16_weights_are_told_apart_from_unintended(case):
    source, model, inputs, healthy = case
    narrowed = copy_model(model)
    gemm = narrowed.graph.node[node_index(narrowed, "Gemm")]
    tensor = next(t for t in narrowed.graph.initializer if t.name == gemm.input[1])
    value = numpy_helper.to_array(tensor).astype(np.float16).astype(np.float32)
    tensor.CopyFrom(numpy_helper.from_array(value, tensor.name))
    unintended = localize(source, narrowed, inputs, trace=healthy.trace)
    (finding,) = [p for p in unintended.parameters if p.kind == "precision"]
    assert finding.detail == "float16" and not finding.intended and finding.faulty
    intended = localize(source, narrowed, inputs, Tolerance("float16"), trace=healthy.trace)
    (finding,) = [p for p in intended.parameters if p.kind == "precision"]
    assert finding.intended and not finding.faulty
    assert intended.agrees
