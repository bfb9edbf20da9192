"""Copying source weights back through a hybrid int8 kernel, with the real converters.

TFLite's dynamic-range int8 gives a Dense layer of 2,048 weights a hybrid kernel, which tf2onnx
writes as an int8 weight behind DequantizeLinear plus a DynamicQuantizeLinear -> DequantizeLinear
round trip of the layer's input. The copy-back must leave a graph ONNX Runtime loads, and the
difference must be called int8 precision introduced by the TFLite hop.
"""

from __future__ import annotations

import numpy as np
import onnxruntime as ort
import pytest

from difftest.localize.conversion_path import check_path, localize_path
from difftest.localize.repair import repair
from difftest.localize.repair_candidates import (
    candidates,
    round_trips,
    source_weights,
    with_source_weights,
)
from difftest.localize.report import to_json
from difftest.matrix.hops import Artifact
from difftest.matrix.paths import make_path

pytest.importorskip("tensorflow")
pytest.importorskip("ai_edge_litert")
pytest.importorskip("tf2onnx")

SIZE = 16
IMAGES = np.random.default_rng(5).standard_normal((32, 3, SIZE, SIZE)).astype(np.float32)


def _loads(model) -> bool:
    ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    return True


@pytest.fixture(scope="module")
def hybrid_path(tmp_path_factory):
    import keras  # TensorFlow's Keras is an optional extra and slow to import

    keras.utils.set_random_seed(0)
    image = keras.Input((SIZE, SIZE, 3))
    x = keras.layers.Conv2D(32, 3, activation="relu")(image)
    x = keras.layers.GlobalAveragePooling2D()(x)
    x = keras.layers.Dense(64, activation="relu")(x)  # 2,048 weights: int8 with a hybrid kernel
    model = keras.Model(image, keras.layers.Dense(10)(x))
    source = Artifact("keras", "nhwc", model=model, size=SIZE)
    path = make_path("keras", ["tflite-dynamic-int8", "tflite-tf2onnx"])
    check = check_path(path, source, IMAGES, tmp_path_factory.mktemp("hybrid"))
    return check, *localize_path(check)


@pytest.mark.slow
def test_the_hybrid_kernel_is_int8_precision_from_the_tflite_hop(hybrid_path):
    check, _, loc = hybrid_path
    assert check.culprit is not None and check.culprit.hop == "tflite-dynamic-int8"
    assert "DynamicQuantizeLinear" in {n.op_type for n in loc.model.graph.node}
    assert len(round_trips(loc.model)) == 1
    (first,) = loc.divergences
    assert first.op_type == "MatMul" and first.cause == "precision (intended)"
    assert "int8 per-channel behind DequantizeLinear, 256 levels, 64 scales" in first.detail


@pytest.mark.slow
def test_copy_back_drops_the_round_trip_and_verifies(hybrid_path):
    _, source, loc = hybrid_path
    fixed = repair(source, loc, held_out=source.make_inputs(7, 2))
    assert fixed.agrees_after and fixed.held_out_agrees
    (step,) = fixed.steps
    assert step.stage == "precision" and step.kind == "targeted"
    assert "no longer through DynamicQuantizeLinear" in step.change
    ops = {n.op_type for n in fixed.model.graph.node}
    assert not ops & {"DequantizeLinear", "DynamicQuantizeLinear"} and _loads(fixed.model)
    report = to_json(loc, {"title": "hybrid"}, repair=fixed)
    assert "precision" in str(report["first_divergent"][0]["cause"])


@pytest.mark.slow
def test_every_candidate_of_the_round_trip_nodes_loads(hybrid_path):
    _, _, loc = hybrid_path
    nodes = loc.model.graph.node
    ends = [i for i, n in enumerate(nodes) if n.output[0] in round_trips(loc.model)]
    starts = [i for i, n in enumerate(nodes) if n.op_type == "DynamicQuantizeLinear"]
    offered = [c for i in ends + starts for c in candidates(loc, i)]
    assert offered and all(_loads(c.model) for c in offered)
    assert all("removed the dynamic int8 quantization" in c.change for c in offered)


@pytest.mark.slow
def test_copying_back_a_weight_of_another_node_keeps_the_round_trip(hybrid_path):
    *_, loc = hybrid_path
    (dense,) = [p for p in loc.parameters if p.kind == "precision"]
    plain = [p for p in loc.parameters if not p.quantization]
    assert plain, "the float weights of the conv and the last Dense pair with the source"
    kept = with_source_weights(loc.model, source_weights(loc, plain))
    assert len(round_trips(kept)) == 1 and _loads(kept)
    dropped = with_source_weights(loc.model, source_weights(loc, [dense]))
    assert not round_trips(dropped) and _loads(dropped)
