"""A TensorFlow source's image input is a source value: the layout Transpose tf2onnx puts in
front of the first Conv aligns with it, so a fault in that Conv is blamed on the Conv itself (it
was blamed on the Transpose when the trace left the input out)."""

from __future__ import annotations

import numpy as np
import onnx
import pytest

from difftest.localize.conversion_path import source_model
from difftest.localize.inject import perturbed_weight
from difftest.localize.matrix_eval import converted_model
from difftest.localize.pipeline import localize
from difftest.matrix.sources import source_artifact
from difftest.matrix.torch_archs import TINY

pytest.importorskip("tensorflow")
pytest.importorskip("tf2onnx")


@pytest.mark.slow
def test_a_fault_in_the_first_conv_after_the_input_transpose_is_blamed_on_the_conv(tmp_path):
    path = converted_model(TINY, "keras", ("tf2onnx-onnx",), tmp_path, None)
    model = onnx.load(path)
    source = source_model(source_artifact(TINY, "keras"))
    samples = source.make_inputs(0, 2)
    healthy = localize(source, model, samples)
    assert healthy.agrees
    assert [v.op for v in healthy.trace.values].count("input") == 1
    transpose = next(i for i, n in enumerate(model.graph.node) if n.op_type == "Transpose")
    assert healthy.alignment.values[model.graph.node[transpose].output[0]].matched
    first_conv = next(i for i, n in enumerate(model.graph.node) if n.op_type == "Conv")
    fault = perturbed_weight(model, first_conv, np.random.default_rng(0))
    loc = localize(source, fault.model, samples, trace=healthy.trace)
    assert not loc.agrees
    first = loc.divergences[0]
    assert (first.op_type, first.cause) == ("Conv", "parameter")
    assert first.name == model.graph.node[first_conv].name


@pytest.mark.slow
def test_conv_pads_of_a_keras_source_are_compared_and_set_back(tmp_path):
    """Keras pads with ZeroPadding2D before a VALID Conv2D; tf2onnx folds the Pad into the
    Conv's pads, so the source's pads are the Pad's zeros plus the Conv2D's own padding."""
    path = converted_model(TINY, "keras", ("tf2onnx-onnx",), tmp_path, None)
    model = onnx.load(path)
    source = source_model(source_artifact(TINY, "keras"))
    samples = source.make_inputs(0, 2)
    healthy = localize(source, model, samples)
    convs = [h for h in healthy.hyper if h.op_type == "Conv"]
    assert healthy.agrees and convs and not any(h.diffs for h in convs)
    index = next(
        i
        for i, n in enumerate(model.graph.node)
        if n.op_type == "Conv" and any(a.name == "pads" and any(a.ints) for a in n.attribute)
    )
    faulty = onnx.ModelProto()
    faulty.CopyFrom(model)
    (pads,) = [a for a in faulty.graph.node[index].attribute if a.name == "pads"]
    original = list(pads.ints)
    pads.ints[:] = [original[0] + original[2], original[1] + original[3], 0, 0]
    loc = localize(source, faulty, samples, trace=healthy.trace)
    assert loc.divergences[0].name == faulty.graph.node[index].name
    (finding,) = [h for h in loc.hyper if h.node == index and h.diffs]
    (diff,) = finding.diffs
    assert diff.attribute == "pads" and diff.source_value == original
