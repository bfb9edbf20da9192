"""Repair: apply the fixes the stages suggest, keep one only when it verifiably helps, and say
exactly what was done.

A greedy loop in the spirit of Louloudakis et al., but each candidate is checked against the
source values it should reproduce (the node's output must align again), not against the order
of layers. *Targeted* repairs change the converted model itself, for the first divergent node:

1. parameters / precision: copy the source parameter back (re-folded for BatchNorm-folded
   weights; a weight stored narrow behind DequantizeLinear or Cast becomes a float initializer);
2. hyper-parameters: set the attribute to the source operator's value;
3. graph: bypass a shape-preserving node only when the source has fewer nodes of that kind
   (checked in the source trace), or swap the operator for another of its family only when the
   source computes that operator and the node's output then matches a source value of it.

Narrowed weights the user did not ask for are copied back even when their effect stays inside
the tolerance, as long as the outputs get no worse. Each step records the fault, the change,
how it was verified and on how many inputs; with ``held_out`` inputs (another seed) each step
and the final model are checked on those too. A *workaround* (the model re-converted with
settings that agree) is reported apart and never counts as a repair of the converted model.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import asdict, dataclass, field

import numpy as np
import onnx
from onnx import helper, numpy_helper

from difftest.localize.align import Alignment, align
from difftest.localize.hyperparams import apply_diff
from difftest.localize.parameters import (
    ParameterFinding,
    is_precision,
    source_value_for,
    stored_weights,
)
from difftest.localize.pipeline import Localization, localize, trace_source
from difftest.localize.source_ops import computes, is_kind, lacks

TARGETED, WORKAROUND = "targeted", "workaround"

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
    """One accepted change: the fault it addresses, what was changed, how it was checked."""

    stage: str  # parameters | precision | hyper-parameters | graph | settings
    node: str
    fault: str
    change: str
    kind: str  # targeted | workaround
    verified: str
    inputs: int
    held_out: bool | None = None  # also holds on fresh inputs (None: not checked)
    held_out_inputs: int = 0


@dataclass
class RepairResult:
    """``model`` is the converted model after the targeted repairs (the input model itself when
    none was accepted); a workaround model is kept apart in ``workaround``."""

    model: onnx.ModelProto
    steps: list[RepairStep] = field(default_factory=list)
    agrees_before: bool = False
    agrees_after: bool = False
    output_errors_after: list[float] = field(default_factory=list)
    held_out_agrees: bool | None = None
    held_out_inputs: int = 0
    workaround: onnx.ModelProto | None = None
    workaround_agrees: bool | None = None

    @property
    def targeted(self) -> list[RepairStep]:
        return [s for s in self.steps if s.kind == TARGETED]

    @property
    def changed(self) -> bool:
        """Whether the converted model itself was changed."""
        return bool(self.targeted)

    def summary(self) -> str:
        """One line: what the targeted repairs achieved, and the workaround apart."""
        if not self.changed:
            line = "no targeted repair: the converted model is unchanged"
        else:
            verdict = "outputs agree" if self.agrees_after else "outputs still differ"
            line = f"{len(self.targeted)} targeted repair(s), {verdict}"
            if self.held_out_agrees is not None:
                held = "agree" if self.held_out_agrees else "DIFFER"
                line += f"; on {self.held_out_inputs} fresh input(s) they {held}"
        if self.workaround is not None:
            how = "agrees" if self.workaround_agrees else "still differs"
            line += f"; workaround (not a repair of this model): a re-conversion that {how}"
        return line

    def to_dict(self) -> dict:
        return {
            "agrees_before": self.agrees_before,
            "agrees_after": self.agrees_after,
            "changed": self.changed,
            "targeted_steps": len(self.targeted),
            "summary": self.summary(),
            "held_out_agrees": self.held_out_agrees,
            "held_out_inputs": self.held_out_inputs,
            "workaround_agrees": self.workaround_agrees,
            "steps": [asdict(s) for s in self.steps],
            "output_errors_after": [
                e if np.isfinite(e) else "inf" for e in self.output_errors_after
            ],
        }


@dataclass
class Candidate:
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


def _source_weights(
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


def _weight_change(finding: ParameterFinding) -> str:
    into = finding.initializer
    if finding.quantization:
        into += f" (replacing the {finding.quantization['via']} of {finding.dtype} values)"
    return f"copied source parameter {finding.source} into {into}"


def _candidates(loc: Localization, index: int) -> Iterator[Candidate]:
    model = loc.model
    node = model.graph.node[index]
    for p in loc.parameters:  # a narrowed weight is a candidate even when it was asked for
        if (p.faulty or p.kind == "precision") and p.initializer in node.input:
            fixed = with_source_weights(model, _source_weights(loc, [p]))
            yield Candidate(_weight_stage(p), _weight_change(p), fixed)
            same = [q for q in loc.parameters if is_precision(q) and q.detail == p.detail]
            if is_precision(p) and len(same) > 1:  # the paper's repair: every narrowed weight
                fixed = with_source_weights(model, _source_weights(loc, same))
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
            yield Candidate("graph", f"bypassed {node.op_type} ({why})", _bypass(model, index))
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


def _realign(loc: Localization, model: onnx.ModelProto) -> Alignment | None:
    try:
        return align(model, loc.trace, loc.samples, loc.expected, loc.tolerance)
    except Exception:
        return None


def _score(loc: Localization, candidate: Candidate, output: str) -> tuple | None:
    """((0, 0), alignment) when the candidate's outputs agree; ((1, bad values), alignment) when
    its divergence starts elsewhere with fewer bad values than before; None when it does not
    help (or a swap's output matches no source value of the operator it swapped in)."""
    after = _realign(loc, candidate.model)
    if after is None:
        return None
    if candidate.expect_op is not None and not _matches_op(loc, after, output, candidate.expect_op):
        return None
    if after.outputs_agree:
        return (0, 0), after
    before_names = {loc.model.graph.node[i].output[0] for i in loc.alignment.first_divergent}
    after_names = {candidate.model.graph.node[i].output[0] for i in after.first_divergent}
    if not after_names & before_names and len(after.bad) < len(loc.alignment.bad):
        return (1, len(after.bad)), after
    return None


def _matches_op(loc: Localization, after: Alignment, output: str, op: str) -> bool:
    match = after.values.get(output)
    by_name = loc.trace.by_name()
    if match is None:
        return False
    return any(
        error <= 1.0 and is_kind(by_name[name.split("@")[0]].op, op)
        for name, error in match.candidates
        if name.split("@")[0] in by_name
    )


def _verification(loc: Localization, after: Alignment, model: onnx.ModelProto, output: str) -> str:
    n = len(loc.samples)
    if after.outputs_agree:
        text = f"outputs agree with the source on {n} input(s)"
    else:
        now = [
            model.graph.node[i].name or model.graph.node[i].op_type for i in after.first_divergent
        ]
        text = (
            f"divergence no longer starts here ({len(loc.alignment.bad)} -> {len(after.bad)} "
            f"diverging values; first divergent now {', '.join(now) or 'none'}) on {n} input(s)"
        )
    match = after.values.get(output)
    if match is not None and match.matched and match.source:
        text += f"; {output} matches source value {match.source} (scaled error {match.error:.2g})"
    return text


class HeldOut:
    """Fresh inputs (another seed) to check repairs on: the source traced once on them."""

    def __init__(self, source, loc: Localization, samples: list[list[np.ndarray]]) -> None:
        self.samples = samples
        self.expected = [source.run(s) for s in samples]
        self.trace = trace_source(source, samples)
        self.tolerance = loc.tolerance
        self.bad = len(self.alignment(loc.model).bad)

    def alignment(self, model: onnx.ModelProto) -> Alignment:
        return align(model, self.trace, self.samples, self.expected, self.tolerance)

    def step_holds(self, model: onnx.ModelProto, outputs: set[str]) -> bool:
        """The repaired node no longer diverges on the fresh inputs, and fewer values do."""
        after = self.alignment(model)
        holds = after.outputs_agree or (not outputs & after.bad and len(after.bad) < self.bad)
        if holds:
            self.bad = len(after.bad)
        return holds

    def agrees(self, model: onnx.ModelProto) -> bool:
        return self.alignment(model).outputs_agree


def _accept(
    result: RepairResult,
    held: HeldOut | None,
    step: RepairStep,
    model: onnx.ModelProto,
    outputs: set[str],
) -> None:
    if held is not None:
        step.held_out = held.step_holds(model, outputs)
        step.held_out_inputs = len(held.samples)
    result.steps.append(step)


def _node_name(model: onnx.ModelProto, index: int) -> str:
    node = model.graph.node[index]
    return node.name or node.output[0]


def _restore_precision(
    source, current: Localization, result: RepairResult, held: HeldOut | None
) -> Localization:
    """Copy back narrowed weights nobody asked for, kept when the outputs get no worse."""
    for p in [p for p in current.parameters if p.faulty and is_precision(p)]:
        before = max(current.alignment.output_errors, default=0.0)
        candidate = with_source_weights(current.model, _source_weights(current, [p]))
        after = _realign(current, candidate)
        if after is None or max(after.output_errors, default=0.0) > before:
            continue
        if current.agrees and not after.outputs_agree:
            continue
        verified = (
            f"max output scaled error {before:.3g} -> {max(after.output_errors):.3g} "
            f"on {len(current.samples)} input(s)"
        )
        fault = f"precision (unintended): {p.initializer} narrowed ({p.detail})"
        step = RepairStep(
            "precision",
            p.initializer,
            fault,
            _weight_change(p),
            TARGETED,
            verified,
            len(current.samples),
        )
        _accept(result, held, step, candidate, set())
        current = _relocalize(source, current, candidate)
    return current


def _relocalize(source, loc: Localization, model: onnx.ModelProto) -> Localization:
    return localize(
        source, model, loc.samples, loc.tolerance, trace=loc.trace, intended=loc.intended
    )


def repair(
    source,
    loc: Localization,
    workaround: tuple[str, onnx.ModelProto] | None = None,
    held_out: list[list[np.ndarray]] | None = None,
) -> RepairResult:
    """Greedy targeted repair of ``loc.model``; ``workaround`` = (settings, re-converted model)
    is tried, and reported apart, only when the targeted repairs leave the outputs differing."""
    result = RepairResult(loc.model, agrees_before=loc.agrees)
    held = HeldOut(source, loc, held_out) if held_out else None
    current = loc
    for _ in range(MAX_ROUNDS):
        if current.agrees or not current.divergences:
            break
        divergence = current.divergences[0]
        index = divergence.node
        output = current.model.graph.node[index].output[0]
        best = None
        for candidate in _candidates(current, index):
            scored = _score(current, candidate, output)
            if scored is not None and (best is None or scored[0] < best[0]):
                best = (scored[0], candidate, scored[1])
            if scored is not None and scored[0] == (0, 0):
                break
        if best is None:
            break
        _, candidate, after = best
        step = RepairStep(
            candidate.stage,
            _node_name(current.model, index),
            f"{divergence.cause}: {divergence.detail}",
            candidate.change,
            TARGETED,
            _verification(current, after, candidate.model, output),
            len(current.samples),
        )
        _accept(result, held, step, candidate.model, set(current.model.graph.node[index].output))
        current = _relocalize(source, current, candidate.model)
    current = _restore_precision(source, current, result, held)
    result.model = current.model
    result.agrees_after = current.agrees
    result.output_errors_after = current.alignment.output_errors
    if held is not None and result.changed:
        result.held_out_agrees = held.agrees(current.model)
        result.held_out_inputs = len(held.samples)
    if not current.agrees and workaround is not None:
        settings, model = workaround
        check = _relocalize(source, current, model)
        result.workaround, result.workaround_agrees = model, check.agrees
        verdict = "agree" if check.agrees else "differ"
        step = RepairStep(
            "settings",
            "",
            "the converter's output differs and the targeted repairs did not fix it",
            f"re-converted with {settings} (a workaround: the converted model is not repaired)",
            WORKAROUND,
            f"outputs of the re-converted model {verdict} on {len(current.samples)} input(s)",
            len(current.samples),
        )
        if held is not None:
            step.held_out = held.agrees(model)
            step.held_out_inputs = len(held.samples)
        result.steps.append(step)
    return result
