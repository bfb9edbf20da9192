"""Faults of FetaFix's six types planted in a converted image classifier (ONNX).

Louloudakis et al. group conversion faults as preprocessing, input dimensions/layout, tensor
shape, weights and biases, hyper-parameters and graph. Each :class:`PlantedFault` here is one of
them, with the node the localizer should name and the stage it should give:

- ``preprocessing``: nodes inserted at the image input, as a deployment that prepares images
  differently from training would do: a second per-channel normalization (``normalization``),
  the channels reversed (``channel-order``), images at half the resolution resized up to the
  input size (``input-size``). The graph itself is untouched, so the right answer is the first
  inserted node and the stage ``preprocessing``.
- ``input-layout``: the image's height and width swapped at the input (NHWC read as NWHC).
- ``tensor-shape``: the last two axes of an inner square activation swapped.
- ``weights``: a few elements of a weight, or of a bias, moved by 2-3x its RMS.
- ``hyper-parameters``: an attribute changed (pads moved, a Clip bound, epsilon, alpha).
- ``graph``: an operator swapped for another of its family.

Faults other than preprocessing and layout are planted only at nodes whose output aligns with a
source value in the healthy model (via :mod:`.inject`), so the right node is unambiguous.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import onnx
from onnx import helper, numpy_helper, shape_inference

from difftest.localize.align import Alignment
from difftest.localize.inject import (
    Fault,
    aligned_sites,
    attribute_fault,
    operator_fault,
    perturbed_weight,
)

FETAFIX_TYPES = (
    "preprocessing",
    "input-layout",
    "tensor-shape",
    "weights",
    "hyper-parameters",
    "graph",
)
# the stage the localizer should report for each type (its causes; input faults: see
# :mod:`.input_faults`)
EXPECTED_STAGE = {
    "preprocessing": "preprocessing",
    "input-layout": "input layout",
    "tensor-shape": "graph",
    "weights": "parameter",
    "hyper-parameters": "hyper-parameter",
    "graph": "graph",
}
# a second normalization with ImageNet's statistics, on images already normalized
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


@dataclass
class PlantedFault:
    """One fault: its FetaFix type, a finer kind, the node to name (its name in ``model``)."""

    fetafix_type: str
    kind: str
    node_name: str
    op_type: str
    description: str
    model: onnx.ModelProto

    @property
    def expected_stage(self) -> str:
        return EXPECTED_STAGE[self.fetafix_type]


def _copy(model: onnx.ModelProto) -> onnx.ModelProto:
    out = onnx.ModelProto()
    out.CopyFrom(model)
    return out


def channel_axis(model: onnx.ModelProto) -> int:
    """1 for an NCHW image input, 3 for NHWC (the axis of size 3)."""
    dims = [d.dim_value for d in model.graph.input[0].type.tensor_type.shape.dim]
    return 3 if len(dims) == 4 and dims[3] == 3 and dims[1] != 3 else 1


def _at_input(model: onnx.ModelProto, nodes: list[onnx.NodeProto], inits: list) -> None:
    """Put ``nodes`` between the graph input and its consumers (in place): the first reads the
    input, the last writes the value every former consumer now reads."""
    name = model.graph.input[0].name
    last = nodes[-1].output[0]
    for node in model.graph.node:
        for k, value in enumerate(node.input):
            if value == name:
                node.input[k] = last
    for output in model.graph.output:
        if output.name == name:
            raise ValueError("the graph input is also an output")
    for k, node in enumerate(nodes):
        model.graph.node.insert(k, node)
    model.graph.initializer.extend(inits)


def _per_channel(values: tuple[float, ...], axis: int, name: str) -> onnx.TensorProto:
    shape = [1, 1, 1, 1]
    shape[axis] = len(values)
    return numpy_helper.from_array(np.array(values, np.float32).reshape(shape), name)


def preprocessing_faults(model: onnx.ModelProto) -> list[PlantedFault]:
    """Normalization applied twice, channels reversed, half resolution: one fault each."""
    axis = channel_axis(model)
    x = model.graph.input[0].name
    out = []

    faulty = _copy(model)
    sub = helper.make_node("Sub", [x, "pre_mean"], ["pre_centred"], name="injected_pre_sub")
    div = helper.make_node("Div", ["pre_centred", "pre_std"], ["pre_out"], name="injected_pre_div")
    inits = [
        _per_channel(IMAGENET_MEAN, axis, "pre_mean"),
        _per_channel(IMAGENET_STD, axis, "pre_std"),
    ]
    _at_input(faulty, [sub, div], inits)
    out.append(
        PlantedFault(
            "preprocessing",
            "normalization",
            sub.name,
            "Sub",
            "ImageNet mean/std applied to already normalized images",
            faulty,
        )
    )

    faulty = _copy(model)
    index = numpy_helper.from_array(np.array([2, 1, 0], np.int64), "pre_bgr")
    gather = helper.make_node("Gather", [x, "pre_bgr"], ["pre_out"], axis=axis, name="injected_bgr")
    _at_input(faulty, [gather], [index])
    out.append(
        PlantedFault(
            "preprocessing", "channel-order", gather.name, "Gather", "RGB read as BGR", faulty
        )
    )

    faulty = _copy(model)
    spatial = (1, 2) if axis == 3 else (2, 3)
    down, up = _half_and_back(model, spatial)
    inits = [
        numpy_helper.from_array(down, "pre_down_scales"),
        numpy_helper.from_array(up, "pre_up_scales"),
    ]
    shrink = helper.make_node(
        "Resize", [x, "", "pre_down_scales"], ["pre_small"], mode="linear", name="injected_down"
    )
    grow = helper.make_node(
        "Resize", ["pre_small", "", "pre_up_scales"], ["pre_out"], mode="linear", name="injected_up"
    )
    _at_input(faulty, [shrink, grow], inits)
    out.append(
        PlantedFault(
            "preprocessing",
            "input-size",
            shrink.name,
            "Resize",
            "images at half the resolution, resized up to the input size",
            faulty,
        )
    )
    return out


def _half_and_back(model: onnx.ModelProto, spatial: tuple[int, int]) -> tuple:
    """Resize scales to half the side and back to exactly the side (floor(half * up) = side).
    A single Resize to the same size would not do: ONNX Runtime copies it whatever the roi."""
    dims = [d.dim_value for d in model.graph.input[0].type.tensor_type.shape.dim]
    down, up = np.ones(4, np.float32), np.ones(4, np.float32)
    for a in spatial:
        down[a] = 0.5
        up[a] = (dims[a] + 0.5) / (dims[a] // 2)
    return down, up


def layout_fault(model: onnx.ModelProto) -> PlantedFault:
    """Height and width of the image swapped at the input."""
    axis = channel_axis(model)
    perm = [0, 2, 1, 3] if axis == 3 else [0, 1, 3, 2]
    faulty = _copy(model)
    x = faulty.graph.input[0].name
    node = helper.make_node("Transpose", [x], ["pre_out"], perm=perm, name="injected_layout")
    _at_input(faulty, [node], [])
    what = "NHWC read as NWHC" if axis == 3 else "NCHW read as NCWH"
    return PlantedFault("input-layout", "height-width", node.name, "Transpose", what, faulty)


def _square_values(model: onnx.ModelProto) -> dict[str, int]:
    """Rank-4 values whose last two axes are equal and > 1, with their side."""
    inferred = shape_inference.infer_shapes(model)
    out = {}
    for info in inferred.graph.value_info:
        dims = [d.dim_value for d in info.type.tensor_type.shape.dim]
        if len(dims) == 4 and dims[2] == dims[3] > 1:
            out[info.name] = dims[2]
    return out


def tensor_shape_faults(
    model: onnx.ModelProto, alignment: Alignment, order: list[int], count: int
) -> list[PlantedFault]:
    """Up to ``count`` Transposes of the last two axes inserted before aligned nodes whose
    input is a square activation (``order``: node indices to try, in turn)."""
    square = _square_values(model)
    out = []
    for index in order:
        node = model.graph.node[index]
        for k, name in enumerate(node.input):
            match = alignment.values.get(name)
            if name not in square or match is None or not match.matched:
                continue
            faulty = _copy(model)
            new_value = f"{name}__swapped_{index}"
            inserted = helper.make_node(
                "Transpose", [name], [new_value], perm=[0, 1, 3, 2], name=f"injected_swap_{index}"
            )
            faulty.graph.node[index].input[k] = new_value
            faulty.graph.node.insert(index, inserted)
            what = f"last two axes of {name} swapped before {node.op_type}"
            out.append(
                PlantedFault(
                    "tensor-shape", "axes-swapped", inserted.name, "Transpose", what, faulty
                )
            )
            break
        if len(out) == count:
            break
    return out


def _from_fault(fetafix_type: str, fault: Fault) -> PlantedFault:
    return PlantedFault(
        fetafix_type, fault.kind, fault.node_name, fault.op_type, fault.description, fault.model
    )


def plant_faults(
    model: onnx.ModelProto, alignment: Alignment, seed: int, per_type: int
) -> list[PlantedFault]:
    """The three preprocessing faults, the layout fault, and up to ``per_type`` faults of each
    other type at nodes (seeded order) whose output aligns with the source."""
    rng = np.random.default_rng(seed)
    order = aligned_sites(model, alignment, rng)
    faults = [*preprocessing_faults(model), layout_fault(model)]
    faults += tensor_shape_faults(model, alignment, order, per_type)
    found: dict[str, list[PlantedFault]] = {"weights": [], "hyper-parameters": [], "graph": []}
    for index in order:
        weight = perturbed_weight(model, index, rng, bias=len(found["weights"]) % 2 == 1)
        attribute = attribute_fault(model, index, 4)
        operator = operator_fault(model, index)
        for kind, fault in (
            ("weights", weight),
            ("hyper-parameters", attribute),
            ("graph", operator),
        ):
            if fault is not None and len(found[kind]) < per_type:
                found[kind].append(_from_fault(kind, fault))
    return faults + [f for kind in found for f in found[kind]]
