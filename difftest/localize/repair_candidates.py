"""Repair candidates for a first divergent node: each a changed copy of the converted model.

In order: copy the source weights back (re-folded; a weight behind DequantizeLinear or Cast
becomes a float initializer; when the weight was narrowed, also every weight narrowed the same
way at once), set attributes to the source operator's values, bypass a shape-preserving node
only when the source trace has fewer operators of that kind, and swap the operator for another
of its family only when the source computes that one (the caller then checks that the node's
output matches a source value of it).
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


def with_source_weights(
    model: onnx.ModelProto, fixes: list[tuple[ParameterFinding, np.ndarray]]
) -> onnx.ModelProto:
    """A copy of ``model`` whose weights ``finding.initializer`` hold the given values; a weight
    stored behind DequantizeLinear or Cast becomes a float initializer of that name (the chain's
    node and its now unread initializers go)."""
    fixed = _copy(model)
    values = {finding.initializer: np.asarray(value) for finding, value in fixes}
    chained = {f.initializer for f, _ in fixes if f.quantization}
    for tensor in fixed.graph.initializer:
        if tensor.name in values and tensor.name not in chained:
            tensor.CopyFrom(numpy_helper.from_array(values[tensor.name], tensor.name))
    if not chained:
        return fixed
    kept_nodes = [n for n in fixed.graph.node if not set(n.output) & chained]
    del fixed.graph.node[:]
    fixed.graph.node.extend(kept_nodes)
    read = {i for n in fixed.graph.node for i in n.input} | {o.name for o in fixed.graph.output}
    kept = [t for t in fixed.graph.initializer if t.name in read]
    del fixed.graph.initializer[:]
    fixed.graph.initializer.extend(kept)
    fixed.graph.initializer.extend(numpy_helper.from_array(values[n], n) for n in sorted(chained))
    return fixed


def source_weights(
    loc: Localization, findings: list[ParameterFinding]
) -> list[tuple[ParameterFinding, np.ndarray]]:
    """Each finding with the value its weight should hold (the source parameter, arranged)."""
    wanted = {f.initializer for f in findings}
    weights = {w.name: w.array for w in stored_weights(loc.model) if w.name in wanted}
    scales = loc.trace.fold_scales()
    return [
        (f, source_value_for(f, weights[f.initializer], loc.trace.parameters, scales))
        for f in findings
    ]


def _weight_stage(finding: ParameterFinding) -> str:
    return "precision" if is_precision(finding) else "parameters"


def weight_change(finding: ParameterFinding) -> str:
    """The change of copying a source parameter back, in words."""
    into = finding.initializer
    if finding.quantization:
        into += f" (replacing the {finding.quantization['via']} of {finding.dtype} values)"
    return f"copied source parameter {finding.source} into {into}"


def candidates(loc: Localization, index: int) -> Iterator[Candidate]:
    """Every candidate repair of node ``index`` of ``loc.model``, in the order above."""
    model = loc.model
    node = model.graph.node[index]
    for p in loc.parameters:  # a narrowed weight is a candidate even when it was asked for
        if (p.faulty or p.kind == "precision") and p.initializer in node.input:
            fixed = with_source_weights(model, source_weights(loc, [p]))
            yield Candidate(_weight_stage(p), weight_change(p), fixed)
            same = [q for q in loc.parameters if is_precision(q) and q.detail == p.detail]
            if is_precision(p) and len(same) > 1:  # the paper's repair: every narrowed weight
                fixed = with_source_weights(model, source_weights(loc, same))
                change = (
                    f"copied the source parameters into all {len(same)} {p.detail} weights "
                    f"(replacing their {p.quantization.get('via', 'narrow storage')})"
                )
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
    live = [i for i in node.input if i in loc.alignment.values]
    out = loc.alignment.values.get(node.output[0])
    if len(live) == 1 and out is not None and loc.alignment.values[live[0]].shape == out.shape:
        why = lacks(loc.trace, model, node.op_type)
        if why:
            yield Candidate("graph", f"bypassed {node.op_type} ({why})", bypass(model, index))
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
