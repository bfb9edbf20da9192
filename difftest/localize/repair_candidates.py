"""Repair candidates for a first divergent node: each a changed copy of the converted model.

In order: copy the source weights back (re-folded; a weight behind DequantizeLinear or Cast
becomes a float initializer, and its node reads its activations without the dynamic int8
quantization a hybrid TFLite kernel adds; when the weight was narrowed, also every weight
narrowed the same way at once), remove such a quantization round trip where it starts, set
attributes to the source operator's values, bypass a shape-preserving node only when the source
trace has fewer operators of that kind (also a chain of them that changes the shape and restores
it, such as a resampling down and back up), and swap the operator for another of its family only
when the source computes that one (the caller then checks that the node's output matches a
source value of it).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import onnx
from onnx import helper, numpy_helper

from difftest.localize.hyperparams import apply_diff
from difftest.localize.parameters import (
    ParameterFinding,
    is_precision,
    source_value_for,
    stored_weights,
)
from difftest.localize.pipeline import Localization
from difftest.localize.source_ops import computes, lacks

FAMILIES = [
    [
        "Relu",
        "Sigmoid",
        "Tanh",
        "Abs",
        "Neg",
        "Exp",
        "Log",
        "Sqrt",
        "Sin",
        "Cos",
        "Floor",
        "Ceil",
        "Softplus",
        "Erf",
        "Reciprocal",
        "Sign",
        "Elu",
        "LeakyRelu",
        "Identity",
    ],
    ["Add", "Sub", "Mul", "Div", "Max", "Min", "Pow"],
    ["ReduceMean", "ReduceSum", "ReduceMax", "ReduceMin"],
    ["MaxPool", "AveragePool"],
    ["Softmax", "LogSoftmax"],
]
# attributes that mean the same for every member of a family (kept on a swap)
SHARED_ATTRIBUTES = {"axis", "axes", "keepdims", "kernel_shape", "strides", "pads", "ceil_mode"}


@dataclass
class Candidate:
    """One changed copy of the model, the stage it belongs to and the change in words."""

    stage: str
    change: str
    model: onnx.ModelProto
    expect_op: str | None = None  # a swap: the node's output must match a source value of it


def _copy(model: onnx.ModelProto) -> onnx.ModelProto:
    out = onnx.ModelProto()
    out.CopyFrom(model)
    return out


# nodes a copy-back may drop once nothing reads them: the storage of a weight, and the dynamic
# int8 quantization of an activation that a hybrid TFLite kernel turns into (tf2onnx)
CHAIN_OPS = {"DequantizeLinear", "Cast", "DynamicQuantizeLinear"}


def round_trips(model: onnx.ModelProto) -> dict[str, str]:
    """Each value that is an activation's dynamic int8 round trip (DequantizeLinear of every
    output of a DynamicQuantizeLinear, as tf2onnx writes TFLite's hybrid kernels) mapped to the
    float value it was quantized from."""
    quantizers = {
        o: n for n in model.graph.node if n.op_type == "DynamicQuantizeLinear" for o in n.output
    }
    trips = {}
    for node in model.graph.node:
        if node.op_type != "DequantizeLinear" or len(node.input) < 3:
            continue
        producer = quantizers.get(node.input[0])
        if producer is not None and list(node.input[:3]) == list(producer.output[:3]):
            trips[node.output[0]] = producer.input[0]
    return trips


def _read_names(model: onnx.ModelProto) -> set[str]:
    """The values something reads: a node's input or a graph output."""
    return {i for n in model.graph.node for i in n.input} | {o.name for o in model.graph.output}


def _unread_chains_dropped(model: onnx.ModelProto) -> None:
    """Drop storage and quantization nodes nothing reads any more, then unread initializers."""
    while True:
        read = _read_names(model)
        dead = [
            k
            for k, n in enumerate(model.graph.node)
            if n.op_type in CHAIN_OPS and not set(n.output) & read
        ]
        if not dead:
            break
        for k in reversed(dead):
            del model.graph.node[k]
    read = _read_names(model)
    kept = [t for t in model.graph.initializer if t.name in read]
    del model.graph.initializer[:]
    model.graph.initializer.extend(kept)


def with_source_weights(
    model: onnx.ModelProto, fixes: list[tuple[ParameterFinding, np.ndarray]]
) -> onnx.ModelProto:
    """A copy of ``model`` whose weights ``finding.initializer`` hold the given values. A weight
    stored behind DequantizeLinear or Cast becomes a float initializer of that name; a node that
    reads a copied-back int8 weight also reads its other inputs unquantized (a hybrid kernel's
    dynamic round trip of the activation is part of the same int8 computation). The storage and
    quantization nodes nothing reads then go, so every remaining input is still defined."""
    fixed = _copy(model)
    values = {finding.initializer: np.asarray(value) for finding, value in fixes}
    chained = {f.initializer for f, _ in fixes if f.quantization}
    for tensor in fixed.graph.initializer:
        if tensor.name in values and tensor.name not in chained:
            tensor.CopyFrom(numpy_helper.from_array(values[tensor.name], tensor.name))
    if not chained:
        return fixed
    trips = round_trips(fixed)
    for node in fixed.graph.node:
        if set(node.input) & chained:
            for k, name in enumerate(node.input):
                node.input[k] = trips.get(name, name)
    storage = [n for n in fixed.graph.node if n.op_type in ("DequantizeLinear", "Cast")]
    for node in storage:
        if node.output[0] in chained:
            fixed.graph.node.remove(node)
    fixed.graph.initializer.extend(numpy_helper.from_array(values[n], n) for n in sorted(chained))
    _unread_chains_dropped(fixed)
    return fixed


def without_round_trip(model: onnx.ModelProto, value: str) -> onnx.ModelProto:
    """A copy of ``model`` whose readers of the round-tripped ``value`` read the float value it
    was quantized from (both nodes of the round trip go; a graph output keeps its name)."""
    fixed = _copy(model)
    origin = round_trips(fixed)[value]
    if value in {o.name for o in fixed.graph.output}:
        node = next(n for n in fixed.graph.node if value in n.output)
        node.CopyFrom(helper.make_node("Identity", [origin], [value], name=node.name))
    for node in fixed.graph.node:
        for k, name in enumerate(node.input):
            if name == value:
                node.input[k] = origin
    _unread_chains_dropped(fixed)
    return fixed


def source_weights(
    loc: Localization, findings: list[ParameterFinding]
) -> list[tuple[ParameterFinding, np.ndarray]]:
    """Each finding with the value its weight should hold (the source parameter, arranged)."""
    wanted = {f.initializer for f in findings}
    weights = {w.name: w.array for w in stored_weights(loc.model) if w.name in wanted}
    scales, parameters = loc.trace.fold_scales(), loc.trace.comparable_parameters()
    return [(f, source_value_for(f, weights[f.initializer], parameters, scales)) for f in findings]


def _weight_stage(finding: ParameterFinding) -> str:
    return "precision" if is_precision(finding) else "parameters"


def unquantized_inputs(model: onnx.ModelProto, weights: set[str]) -> list[str]:
    """The round-tripped activations (see :func:`round_trips`) that readers of ``weights`` read:
    copying those weights back reads them unquantized too."""
    trips = round_trips(model)
    readers = [n for n in model.graph.node if set(n.input) & weights]
    return sorted({i for n in readers for i in n.input if i in trips})


def weight_change(finding: ParameterFinding, model: onnx.ModelProto | None = None) -> str:
    """The change of copying a source parameter back, in words (with ``model``: also the
    activations its node then reads without their dynamic int8 quantization)."""
    into = finding.initializer
    if finding.quantization:
        into += f" (replacing the {finding.quantization['via']} of {finding.dtype} values)"
    inputs = unquantized_inputs(model, {finding.initializer}) if model is not None else []
    if inputs:
        into += f", its node's input {', '.join(inputs)} no longer through DynamicQuantizeLinear"
    return f"copied source parameter {finding.source} into {into}"


def candidates(loc: Localization, index: int) -> Iterator[Candidate]:
    """Every candidate repair of node ``index`` of ``loc.model``, in the order above."""
    model = loc.model
    node = model.graph.node[index]
    for p in loc.parameters:  # a narrowed weight is a candidate even when it was asked for
        if (p.faulty or p.kind == "precision") and p.initializer in node.input:
            fixed = with_source_weights(model, source_weights(loc, [p]))
            yield Candidate(_weight_stage(p), weight_change(p, model), fixed)
            same = [q for q in loc.parameters if is_precision(q) and q.detail == p.detail]
            if is_precision(p) and len(same) > 1:  # the paper's repair: every narrowed weight
                fixed = with_source_weights(model, source_weights(loc, same))
                change = (
                    f"copied the source parameters into all {len(same)} {p.detail} weights "
                    f"(replacing their {p.quantization.get('via', 'narrow storage')})"
                )
                trips = unquantized_inputs(model, {q.initializer for q in same})
                if trips:
                    change += f"; {len(trips)} input(s) no longer through DynamicQuantizeLinear"
                yield Candidate("precision", change, fixed)
    for h in loc.hyper:
        if h.node == index and h.diffs:
            fixed = _copy(model)
            for d in h.diffs:
                apply_diff(fixed, h, d)
            change = ", ".join(
                f"{d.attribute}: {d.onnx_value} -> {d.source_value}" for d in h.diffs
            )
            yield Candidate("hyper-parameters", change, fixed)
    trip = _round_trip_at(model, node)
    if trip is not None:
        change = (
            f"removed the dynamic int8 quantization of {trip} (DynamicQuantizeLinear -> "
            "DequantizeLinear; the source computes it in float)"
        )
        yield Candidate("precision", change, without_round_trip(model, trip))
        return
    live = [i for i in node.input if i in loc.alignment.values]
    out = loc.alignment.values.get(node.output[0])
    single = not set(node.output[1:]) & _read_names(model)  # a bypass rewires the first output only
    if (
        single
        and len(live) == 1
        and out is not None
        and loc.alignment.values[live[0]].shape == out.shape
    ):
        why = lacks(loc.trace, model, node.op_type)
        if why:
            yield Candidate("graph", f"bypassed {node.op_type} ({why})", bypass(model, index))
    detour = _detour(loc, index)
    why = lacks(loc.trace, model, node.op_type) if detour else None
    if detour and why:
        change = (
            f"bypassed {len(detour)} {node.op_type} nodes that restore the input's shape ({why})"
        )
        yield Candidate("graph", change, bypass_detour(model, detour))
    for family in FAMILIES:
        if node.op_type in family:
            for op in family:
                if op != node.op_type and op != "Identity" and computes(loc.trace, op):
                    fixed = _copy(model)
                    target = fixed.graph.node[index]
                    target.op_type = op
                    for attribute in list(target.attribute):
                        if attribute.name not in SHARED_ATTRIBUTES:
                            target.attribute.remove(attribute)
                    yield Candidate("graph", f"operator {node.op_type} -> {op}", fixed, op)


def _round_trip_at(model: onnx.ModelProto, node: onnx.NodeProto) -> str | None:
    """The round-tripped value (see :func:`round_trips`) that ``node`` starts or ends."""
    trips = round_trips(model)
    if node.output[0] in trips:
        return node.output[0]
    if node.op_type == "DynamicQuantizeLinear":
        return next((v for v, origin in trips.items() if origin == node.input[0]), None)
    return None


def _detour(loc: Localization, index: int) -> list[int] | None:
    """The nodes of a detour that starts at node ``index``: a chain of nodes of its kind, each
    the only reader of the one before, whose end has the shape of the chain's first input while
    the values in between have another (a resampling down and back up)."""
    nodes, values = loc.model.graph.node, loc.alignment.values
    first = values.get(nodes[index].input[0]) if nodes[index].input else None
    if first is None:
        return None
    readers: dict[str, list[int]] = {}
    for k, n in enumerate(nodes):
        for name in n.input:
            readers.setdefault(name, []).append(k)
    chain = [index]
    while True:
        out = values.get(nodes[chain[-1]].output[0])
        if out is None:
            return None
        if out.shape == first.shape:
            return chain if len(chain) > 1 else None
        following = readers.get(nodes[chain[-1]].output[0], [])
        if len(following) != 1 or nodes[following[0]].op_type != nodes[index].op_type:
            return None
        chain.append(following[0])


def bypass_detour(model: onnx.ModelProto, chain: list[int]) -> onnx.ModelProto:
    """A copy of ``model`` without the nodes of ``chain`` (see :func:`_detour`): the readers of
    the last one's output read the first one's input."""
    fixed = _copy(model)
    start = fixed.graph.node[chain[0]].input[0]
    end = fixed.graph.node[chain[-1]].output[0]
    drop = list(chain)
    if end in {o.name for o in fixed.graph.output}:
        node = fixed.graph.node[chain[-1]]
        node.CopyFrom(helper.make_node("Identity", [start], [end], name=node.name))
        drop.pop()
    for other in fixed.graph.node:
        for k, name in enumerate(other.input):
            if name == end:
                other.input[k] = start
    for k in sorted(drop, reverse=True):
        del fixed.graph.node[k]
    return fixed


def bypass(model: onnx.ModelProto, index: int) -> onnx.ModelProto:
    """A copy of ``model`` without node ``index``: its consumers read its first input instead."""
    fixed = _copy(model)
    node = fixed.graph.node[index]
    source_name, target_name = node.input[0], node.output[0]
    outputs = {o.name for o in fixed.graph.output}
    if target_name in outputs:
        node.CopyFrom(helper.make_node("Identity", [source_name], [target_name], name=node.name))
        return fixed
    for other in fixed.graph.node:
        for k, name in enumerate(other.input):
            if name == target_name:
                other.input[k] = source_name
    del fixed.graph.node[index]
    return fixed
