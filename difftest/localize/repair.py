"""Repair: apply the fixes the stages suggest, keep one only when it verifiably helps.

A greedy loop in the spirit of Louloudakis et al., but each candidate is checked against the
source values it should reproduce (the node's output must align again), not against the order
of layers. Candidates for the first divergent node, in order:

1. parameters: copy the source parameter back (re-folded for BatchNorm-folded weights);
2. hyper-parameters: set the attribute to the source operator's value;
3. graph: bypass a shape-preserving node the source does not have (an inserted Transpose), or
   swap the operator for another of its family (Add/Sub/Mul/Div..., Relu/Sigmoid/Tanh...).

The loop stops when the outputs agree or no candidate helps; ``settings`` (if given) adds a last
resort: the model re-converted with settings that agree.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field

import numpy as np
import onnx
from onnx import helper, numpy_helper

from difftest.localize.align import align
from difftest.localize.hyperparams import apply_diff
from difftest.localize.parameters import source_value_for
from difftest.localize.pipeline import Localization, localize

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
MAX_ROUNDS = 6
# attributes that mean the same for every member of a family (kept on a swap)
SHARED_ATTRIBUTES = {"axis", "axes", "keepdims", "kernel_shape", "strides", "pads", "ceil_mode"}


@dataclass
class RepairStep:
    stage: str
    node: str
    change: str
    accepted: bool


@dataclass
class RepairResult:
    model: onnx.ModelProto
    steps: list[RepairStep] = field(default_factory=list)
    agrees_before: bool = False
    agrees_after: bool = False
    output_errors_after: list[float] = field(default_factory=list)

    def to_dict(self) -> dict:
        return {
            "agrees_before": self.agrees_before,
            "agrees_after": self.agrees_after,
            "steps": [s.__dict__ for s in self.steps],
            "output_errors_after": [
                e if np.isfinite(e) else "inf" for e in self.output_errors_after
            ],
        }


def _candidates(loc: Localization, index: int) -> Iterator[tuple[str, str, onnx.ModelProto]]:
    model = loc.model
    node = model.graph.node[index]
    inits = {t.name: t for t in model.graph.initializer}
    for p in loc.parameters:
        if p.faulty and p.initializer in node.input:
            fixed = _copy(model)
            tensor = next(t for t in fixed.graph.initializer if t.name == p.initializer)
            value = source_value_for(
                p,
                numpy_helper.to_array(inits[p.initializer]),
                loc.trace.parameters,
                loc.trace.fold_scales(),
            )
            tensor.CopyFrom(numpy_helper.from_array(value, p.initializer))
            yield "parameters", f"copied source parameter {p.source} into {p.initializer}", fixed
    for h in loc.hyper:
        if h.node == index and h.diffs:
            fixed = _copy(model)
            for d in h.diffs:
                apply_diff(fixed, h, d)
            change = ", ".join(
                f"{d.attribute}: {d.onnx_value} -> {d.source_value}" for d in h.diffs
            )
            yield "hyper-parameters", change, fixed
    live = [i for i in node.input if i in loc.alignment.values]
    out = loc.alignment.values.get(node.output[0])
    if len(live) == 1 and out is not None and loc.alignment.values[live[0]].shape == out.shape:
        yield "graph", f"bypassed {node.op_type} (source has no such node)", _bypass(model, index)
    for family in FAMILIES:
        if node.op_type in family:
            for op in family:
                if op != node.op_type and op != "Identity":
                    fixed = _copy(model)
                    target = fixed.graph.node[index]
                    target.op_type = op
                    for attribute in list(target.attribute):
                        if attribute.name not in SHARED_ATTRIBUTES:
                            target.attribute.remove(attribute)
                    yield "graph", f"operator {node.op_type} -> {op}", fixed


def _copy(model: onnx.ModelProto) -> onnx.ModelProto:
    out = onnx.ModelProto()
    out.CopyFrom(model)
    return out


def _bypass(model: onnx.ModelProto, index: int) -> onnx.ModelProto:
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


def _score(loc: Localization, candidate: onnx.ModelProto) -> tuple[int, int] | None:
    """(0, 0) when the candidate's outputs agree; (1, bad values) when its divergence starts
    elsewhere with fewer bad values than before; None when it does not help."""
    try:
        after = align(candidate, loc.trace, loc.samples, loc.expected, loc.tolerance)
    except Exception:
        return None
    if after.outputs_agree:
        return (0, 0)
    before_names = {loc.model.graph.node[i].output[0] for i in loc.alignment.first_divergent}
    after_names = {candidate.graph.node[i].output[0] for i in after.first_divergent}
    if not after_names & before_names and len(after.bad) < len(loc.alignment.bad):
        return (1, len(after.bad))
    return None


def repair(
    source, loc: Localization, settings_model: onnx.ModelProto | None = None
) -> RepairResult:
    """Greedy repair of ``loc.model``; the result says what changed and whether it agrees now."""
    result = RepairResult(loc.model, agrees_before=loc.agrees)
    current = loc
    for _ in range(MAX_ROUNDS):
        if current.agrees or not current.divergences:
            break
        index = current.divergences[0].node
        node_name = (
            current.model.graph.node[index].name or current.model.graph.node[index].output[0]
        )
        best = None
        for stage, change, candidate in _candidates(current, index):
            score = _score(current, candidate)
            if score is not None and (best is None or score < best[0]):
                best = (score, stage, change, candidate)
            if score == (0, 0):
                break
        if best is None:
            break
        _, stage, change, accepted = best
        result.steps.append(RepairStep(stage, node_name, change, True))
        current = localize(
            source, accepted, current.samples, current.tolerance, trace=current.trace
        )
    if not current.agrees and settings_model is not None:
        result.steps.append(
            RepairStep("settings", "", "re-converted with settings that agree", True)
        )
        current = localize(
            source, settings_model, current.samples, current.tolerance, trace=current.trace
        )
    result.model = current.model
    result.agrees_after = current.agrees
    result.output_errors_after = current.alignment.output_errors
    return result
