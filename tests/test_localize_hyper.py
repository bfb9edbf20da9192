"""Lost or changed hyper-parameters are attributed to the hyper-parameter stage, from PyTorch
arguments and from TensorFlow op attributes and Keras layer configs, and repaired there."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import onnx
import pytest
from localize_models import copy_model, node_index, set_attr, upsampler_source
from onnx import numpy_helper

from difftest.localize.pipeline import localize
from difftest.localize.repair import repair


def _drop_clip_max(model: onnx.ModelProto) -> int:
    index = node_index(model, "Clip")
    del model.graph.node[index].input[2]
    return index


def _clip_to_relu(model: onnx.ModelProto) -> int:
    index = node_index(model, "Clip")
    node = model.graph.node[index]
    node.op_type = "Relu"
    del node.input[1:]
    return index


def _layernorm_epsilon(model: onnx.ModelProto) -> int:
    index = node_index(model, "LayerNormalization")
    set_attr(model, index, "epsilon", 0.5)
    return index


def _resize_nearest(model: onnx.ModelProto) -> int:
    index = node_index(model, "Resize")
    set_attr(model, index, "mode", "nearest")
    return index


@pytest.fixture(scope="module")
def torch_case(localized_export):
    source, model, inputs, healthy = localized_export(upsampler_source())
    assert healthy.agrees and not [h for h in healthy.hyper if h.diffs]
    assert all(p.kind in ("copied", "folded") for p in healthy.parameters)
    return source, model, inputs, healthy


def _planted_hyper_fault(case, plant: Callable, attribute: str, source_op: str):
    """Plant one fault in a copy of the healthy model; it must be localized as that attribute."""
    source, model, inputs, healthy = case
    faulty = copy_model(model)
    index = plant(faulty)
    loc = localize(source, faulty, inputs, trace=healthy.trace)
    assert [d.node for d in loc.divergences] == [index]
    assert loc.divergences[0].cause == "hyper-parameter"
    (finding,) = [h for h in loc.hyper if h.diffs]
    assert finding.source_op == source_op
    assert [d.attribute for d in finding.diffs] == [attribute]
    return source, loc


@pytest.mark.parametrize(
    ("plant", "attribute", "source_op"),
    [
        (_drop_clip_max, "input:max", "hardtanh"),
        (_clip_to_relu, "input:max", "hardtanh"),
        (_layernorm_epsilon, "epsilon", "layer_norm"),
        (_resize_nearest, "mode", "upsample_bilinear2d"),
    ],
)
def test_torch_hyperparameter_faults(torch_case, plant: Callable, attribute: str, source_op: str):
    source, loc = _planted_hyper_fault(torch_case, plant, attribute, source_op)
    fixed = repair(source, loc, held_out=source.make_inputs(7, 2))
    assert fixed.agrees_after and fixed.held_out_agrees
    assert [s.stage for s in fixed.steps] == ["hyper-parameters"]


def test_an_in_place_relu6_is_compared_like_relu6(localized_export):
    """torchvision's MobileNetV2 uses ReLU6(inplace=True): the eager trace records its
    hardtanh_ under the functional name, so the Clip is paired with it like any ReLU6."""
    case = localized_export(upsampler_source(inplace=True))
    assert "hardtanh_" not in {v.op for v in case[3].trace.values}
    source, loc = _planted_hyper_fault(case, _drop_clip_max, "input:max", "hardtanh")
    fixed = repair(source, loc, held_out=source.make_inputs(7, 2))
    assert fixed.agrees_after and [s.stage for s in fixed.steps] == ["hyper-parameters"]


@pytest.fixture(scope="module")
def keras_case():
    pytest.importorskip("tf2onnx")
    import keras
    from keras import layers

    from difftest.converters import get_converter
    from difftest.sources import InputSpec, _tf_model

    keras.utils.set_random_seed(0)
    inputs = keras.Input((8, 8, 4), batch_size=2)
    y = layers.Conv2D(4, 3, name="conv")(inputs)
    y = layers.ReLU(max_value=6, name="relu6")(layers.Rescaling(20.0)(y))
    y = layers.UpSampling2D(2, interpolation="bilinear", name="up")(y)
    y = layers.LayerNormalization(epsilon=1e-3, name="norm")(y)
    y = layers.LeakyReLU(negative_slope=0.2, name="leaky")(y)
    y = layers.Dense(3, name="head")(layers.Flatten()(y))
    source = _tf_model(keras.Model(inputs, y), [InputSpec("x", (2, 8, 8, 4))], {})
    model = get_converter("tf2onnx").convert(source, 17)
    data = source.make_inputs(0, 2)
    healthy = localize(source, model, data)
    assert healthy.agrees and not [h for h in healthy.hyper if h.diffs]
    assert all(p.kind == "copied" for p in healthy.parameters)
    return source, model, data, healthy


def _epsilon_add(model: onnx.ModelProto) -> int:
    """The Add of the decomposed LayerNorm that adds the epsilon (a scalar initializer)."""
    scalars = {
        t.name: float(numpy_helper.to_array(t).ravel()[0])
        for t in model.graph.initializer
        if int(np.prod(t.dims)) == 1
    }
    (index,) = [
        i
        for i, n in enumerate(model.graph.node)
        if n.op_type == "Add" and any(abs(scalars.get(x, 0.0) - 1e-3) < 1e-9 for x in n.input)
    ]
    node = model.graph.node[index]
    name = next(x for x in node.input if x in scalars)
    tensor = next(t for t in model.graph.initializer if t.name == name)
    tensor.CopyFrom(numpy_helper.from_array(np.asarray(0.5, np.float32), name))
    return index


def _leaky_alpha(model: onnx.ModelProto) -> int:
    index = node_index(model, "LeakyRelu")
    set_attr(model, index, "alpha", 0.01)
    return index


@pytest.mark.slow
@pytest.mark.parametrize(
    ("plant", "attribute", "source_op"),
    [
        (_drop_clip_max, "input:max", "Relu6"),
        (_resize_nearest, "mode", "ResizeBilinear"),
        (_leaky_alpha, "alpha", "LeakyRelu"),
        (_epsilon_add, "input:1:epsilon (norm)", "AddV2"),
    ],
)
def test_keras_hyperparameter_faults(keras_case, plant: Callable, attribute: str, source_op: str):
    source, loc = _planted_hyper_fault(keras_case, plant, attribute, source_op)
    fixed = repair(source, loc)
    assert fixed.agrees_after and [s.stage for s in fixed.steps] == ["hyper-parameters"]
