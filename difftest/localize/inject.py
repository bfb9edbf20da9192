"""Fault injection into converted models, to measure localization and repair.

Each :class:`Fault` changes one node of a healthy converted model the way a converter bug would:
``weight-perturbed`` (a few elements of a weight moved by a multiple of its RMS),
``weight-rounded`` (a weight rounded to one decimal, as a lossy precision change would),
``attribute`` (pads shifted, slope/alpha/epsilon/axis changed, Clip bound moved),
``operator`` (the op type swapped for another of its family) and ``transpose`` (a Transpose of
the last two axes inserted before a node whose input is square in them). Faults are planted only
at nodes whose output aligns with a source value in the healthy model (nodes the source has), so
the right answer is unambiguous: the injected node (for ``transpose``: the inserted node).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import onnx
from onnx import helper, numpy_helper

from difftest.localize.align import Alignment

FAULT_TYPES = ("weight-perturbed", "weight-rounded", "attribute", "operator", "transpose")
EXPECTED_CAUSE = {
    "weight-perturbed": "parameter",
    "weight-rounded": "parameter",
    "attribute": "hyper-parameter",
    "operator": "graph",
    "transpose": "graph",
}
SWAPS = {
    "Relu": "Sigmoid",
    "Sigmoid": "Tanh",
    "Tanh": "Sigmoid",
    "Abs": "Neg",
    "Neg": "Abs",
    "Exp": "Softplus",
    "Sin": "Cos",
    "Cos": "Sin",
    "Floor": "Ceil",
    "Ceil": "Floor",
    "Add": "Sub",
    "Sub": "Add",
    "Mul": "Add",
    "Div": "Mul",
    "Max": "Min",
    "Min": "Max",
    "ReduceMean": "ReduceSum",
    "ReduceSum": "ReduceMean",
    "ReduceMax": "ReduceMin",
    "ReduceMin": "ReduceMax",
    "MaxPool": "AveragePool",
    "AveragePool": "MaxPool",
    "Softmax": "LogSoftmax",
    "LogSoftmax": "Softmax",
    "Erf": "Tanh",
    "Softplus": "Relu",
}


@dataclass
class Fault:
    kind: str
    node: int  # index of the faulty node in the faulty model
    node_name: str
    op_type: str
    description: str
    model: onnx.ModelProto


def _copy(model: onnx.ModelProto) -> onnx.ModelProto:
    out = onnx.ModelProto()
    out.CopyFrom(model)
    return out


def _attr(node: onnx.NodeProto, name: str):
    for a in node.attribute:
        if a.name == name:
            return helper.get_attribute_value(a)
    return None


def _set_attr(node: onnx.NodeProto, name: str, value) -> None:
    for a in list(node.attribute):
        if a.name == name:
            node.attribute.remove(a)
    node.attribute.append(helper.make_attribute(name, value))


def perturbed_weight(model, index: int, rng, bias: bool = False) -> Fault | None:
    """A few elements of the node's first weight (``bias``: its last 1-D one, when it has
    one besides) moved by 2-3x the weight's RMS; ``None`` when the node has no float weight."""
    node = model.graph.node[index]
    weights = _float_weights(model, node)
    if not weights:
        return None
    name = weights[0]
    if bias and len(weights) > 1 and len(_initializer(model, weights[-1]).dims) == 1:
        name = weights[-1]
    value = numpy_helper.to_array(_initializer(model, name)).astype(np.float32)
    scale = float(np.sqrt(np.mean(value.astype(np.float64) ** 2))) or 1.0
    faulty = _copy(model)
    v = value.copy()
    picks = rng.choice(v.size, size=min(3, v.size), replace=False)
    v.flat[picks] += (2.0 + rng.random(picks.size)) * scale * rng.choice([-1, 1], picks.size)
    _replace_initializer(faulty, name, v, node_index=index)
    return Fault(
        "weight-perturbed",
        index,
        node.name,
        node.op_type,
        f"{picks.size} element(s) of {name} moved by 2-3x its RMS",
        faulty,
    )


def _initializer(model, name: str) -> onnx.TensorProto:
    return next(t for t in model.graph.initializer if t.name == name)


def _float_weights(model, node) -> list[str]:
    inits = {t.name: t for t in model.graph.initializer}
    return [
        n
        for n in node.input
        if n in inits
        and len(inits[n].dims) >= 1
        and int(np.prod(inits[n].dims)) >= 4
        and numpy_helper.to_array(inits[n]).dtype.kind == "f"
    ]


def _weight_faults(model, index, rng) -> Iterator[Fault]:
    perturbed = perturbed_weight(model, index, rng)
    if perturbed is None:
        return
    yield perturbed
    node = model.graph.node[index]
    name = _float_weights(model, node)[0]
    value = numpy_helper.to_array(_initializer(model, name)).astype(np.float32)
    scale = float(np.sqrt(np.mean(value.astype(np.float64) ** 2))) or 1.0
    rounded = np.round(value, 1)
    if not np.allclose(rounded, value, rtol=1e-3, atol=1e-3 * scale):
        faulty = _copy(model)
        _replace_initializer(faulty, name, rounded, node_index=index)
        yield Fault(
            "weight-rounded",
            index,
            node.name,
            node.op_type,
            f"{name} rounded to one decimal",
            faulty,
        )


def _replace_initializer(model, name, value, node_index: int) -> None:
    """Give the node its own faulty copy (the initializer may be shared with other nodes)."""
    new_name = f"{name}__faulty"
    old = next(t for t in model.graph.initializer if t.name == name)
    model.graph.initializer.append(
        numpy_helper.from_array(value.astype(numpy_helper.to_array(old).dtype), new_name)
    )
    node = model.graph.node[node_index]
    for k, n in enumerate(node.input):
        if n == name:
            node.input[k] = new_name


def attribute_fault(model, index: int, rank: int) -> Fault | None:
    """The node's attribute changed as a converter bug would, or ``None`` for other ops."""
    faulty = _copy(model)
    node = faulty.graph.node[index]
    op = node.op_type
    if op in ("Conv", "MaxPool", "AveragePool"):
        pads = _attr(node, "pads")
        if not pads or len(pads) != 4:
            return None
        if any(pads):
            new = [pads[0] + pads[2], pads[1] + pads[3], 0, 0]
        elif op != "Conv":
            return None
        else:
            return None
        if new == list(pads):
            return None
        _set_attr(node, "pads", new)
        what = f"pads {list(pads)} -> {new}"
    elif op == "LeakyRelu":
        _set_attr(node, "alpha", 0.2)
        what = "alpha -> 0.2"
    elif op == "Elu":
        _set_attr(node, "alpha", 0.3)
        what = "alpha -> 0.3"
    elif op == "BatchNormalization":
        _set_attr(node, "epsilon", 0.5)
        what = "epsilon -> 0.5"
    elif op in ("Softmax", "LogSoftmax") and rank >= 2:
        axis = (_attr(node, "axis") if _attr(node, "axis") is not None else -1) % rank
        other = (axis - 1) % rank
        _set_attr(node, "axis", other)
        what = f"axis {axis} -> {other}"
    elif op == "Clip" and len(node.input) >= 3 and node.input[2]:
        new_name = f"{node.input[2]}__faulty"
        faulty.graph.initializer.append(
            numpy_helper.from_array(np.array(0.1, np.float32), new_name)
        )
        node.input[2] = new_name
        what = "max bound -> 0.1"
    else:
        return None
    return Fault("attribute", index, node.name, op, what, faulty)


def operator_fault(model, index: int) -> Fault | None:
    """The node's op type swapped for another of its family, or ``None``."""
    node = model.graph.node[index]
    if node.op_type not in SWAPS:
        return None
    faulty = _copy(model)
    target = faulty.graph.node[index]
    target.op_type = SWAPS[node.op_type]
    keep = {"axis", "axes", "keepdims", "kernel_shape", "strides", "pads"}
    for a in list(target.attribute):
        if a.name not in keep:
            target.attribute.remove(a)
    return Fault(
        "operator", index, node.name, node.op_type, f"{node.op_type} -> {target.op_type}", faulty
    )


def _transpose_fault(model, index, alignment: Alignment) -> Fault | None:
    node = model.graph.node[index]
    for k, name in enumerate(node.input):
        match = alignment.values.get(name)
        if match is None or len(match.shape) < 3:
            continue
        shape = match.shape[1:]  # without the stacked sample axis
        if shape[-1] != shape[-2] or shape[-1] < 2:
            continue
        faulty = _copy(model)
        perm = list(range(len(shape)))
        perm[-1], perm[-2] = perm[-2], perm[-1]
        new_value = f"{name}__transposed_{index}"
        inserted = helper.make_node(
            "Transpose", [name], [new_value], perm=perm, name=f"injected_transpose_{index}"
        )
        faulty.graph.node[index].input[k] = new_value
        faulty.graph.node.insert(index, inserted)
        return Fault(
            "transpose",
            index,
            inserted.name,
            "Transpose",
            f"Transpose{perm} inserted before {node.op_type}",
            faulty,
        )
    return None


def aligned_sites(
    model: onnx.ModelProto, alignment: Alignment, rng: np.random.Generator
) -> list[int]:
    """Indices of the nodes whose first output aligns with the source, in an order drawn from
    ``rng``: the places where a planted fault can be told apart from a converter's rewrite."""
    candidates = [
        i
        for i, node in enumerate(model.graph.node)
        if node.output
        and node.output[0] in alignment.values
        and alignment.values[node.output[0]].matched
    ]
    return [int(i) for i in rng.permutation(candidates)]


def inject_faults(
    model: onnx.ModelProto, alignment: Alignment, seed: int = 0, per_type: int = 2
) -> list[Fault]:
    """Up to ``per_type`` faults of each kind at nodes that align with the source."""
    rng = np.random.default_rng(seed)
    order = aligned_sites(model, alignment, rng)
    faults: dict[str, list[Fault]] = {k: [] for k in FAULT_TYPES}
    for index in order:
        index = int(index)
        rank = len(alignment.values[model.graph.node[index].output[0]].shape) - 1
        found = [
            *_weight_faults(model, index, rng),
            attribute_fault(model, index, rank),
            operator_fault(model, index),
            _transpose_fault(model, index, alignment),
        ]
        for fault in found:
            if fault is not None and len(faults[fault.kind]) < per_type:
                faults[fault.kind].append(fault)
    return [f for kind in FAULT_TYPES for f in faults[kind]]
