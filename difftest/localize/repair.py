"""Repair: apply the fixes the stages suggest, keep one only when it verifiably helps, and say
exactly what was done.

A greedy loop in the spirit of Louloudakis et al., but each candidate is checked against the
source values it should reproduce (the node's output must align again), not against the order
of layers. *Targeted* repairs change the converted model itself, for the first divergent node
(the candidates of :mod:`.repair_candidates`; the record of :mod:`.repair_record`):

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

import numpy as np
import onnx

from difftest.localize.align import Alignment, align
from difftest.localize.parameters import is_precision
from difftest.localize.pipeline import Localization, localize, trace_source
from difftest.localize.repair_candidates import (
    Candidate,
    candidates,
    source_weights,
    weight_change,
    with_source_weights,
)
from difftest.localize.repair_record import TARGETED, WORKAROUND, RepairResult, RepairStep
from difftest.localize.source_ops import is_kind

MAX_ROUNDS = 6


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
        candidate = with_source_weights(current.model, source_weights(current, [p]))
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
            weight_change(p, current.model),
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
        for candidate in candidates(current, index):
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
