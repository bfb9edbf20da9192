"""Align the values of a converted ONNX model with the source model's, and find where they part.

Names are useless across a conversion (exporters rename, fold BatchNorm into Conv, split GELU
into Erf arithmetic, insert layout transposes), so values are aligned by *shape and value*: an
ONNX value is *matched* when some source value of the same shape (NHWC sources: also the NCHW
transpose) agrees within the scaled tolerance of :mod:`.tolerance`. Graph outputs are compared
with the source outputs by position.

A value is *bad* when it is a diverging graph output, or unmatched and feeding a bad value
(unmatched internal values of a decomposition that ends in a matched value are not bad). The
*first divergent nodes* produce a bad value from inputs none of which is bad: that is where the
conversion starts to go wrong, whatever happens downstream.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

import numpy as np
import onnx

from difftest.localize.graph_trace import DEFAULT_BUDGET_MB, runtime_values, trace_onnx
from difftest.localize.source_trace import SourceTrace
from difftest.localize.tolerance import Tolerance, mismatched_share, rms

MAX_CANDIDATES = 16
MAX_KEPT = 8  # matching candidates kept per value (ties are common in tiny tensors)
KEPT_MB = 256.0
# where the converted model's values come from: (model, samples, value names, budget in MB) ->
# chunks of {value name: [array per sample]}; ONNX Runtime on the model unless a target says
ValuesProvider = Callable[
    [onnx.ModelProto, list[list[np.ndarray]], list[str], float],
    Iterator[dict[str, list[np.ndarray]]],
]


@dataclass
class ValueMatch:
    """What one ONNX value aligned to: best source candidates and their scaled errors."""

    name: str
    node: int  # index of the producing node (-1: graph input)
    shape: tuple[int, ...]
    rms: float
    operand_scale: float
    candidates: list[tuple[str, float]] = field(default_factory=list)  # (source, error) best first
    output_error: float | None = None  # graph outputs: error against the source output
    share: float = 0.0  # share of elements beyond tolerance against the best counterpart

    @property
    def error(self) -> float:
        """Scaled error of the best source counterpart (inf when none has the shape)."""
        if self.output_error is not None:
            return self.output_error
        return self.candidates[0][1] if self.candidates else math.inf

    @property
    def matched(self) -> bool:
        return self.error <= 1.0

    @property
    def source(self) -> str | None:
        return self.candidates[0][0] if self.candidates else None


@dataclass
class Alignment:
    values: dict[str, ValueMatch]
    bad: set[str]
    first_divergent: list[int]  # node indices, topological order
    outputs_agree: bool
    output_errors: list[float]
    # converted values (stacked over samples) of the likely first divergent nodes' outputs and
    # inputs, kept from the alignment's own run so the stages after it need not run the model
    # again (bounded by KEPT_MB; a value not here is traced again)
    arrays: dict[str, np.ndarray] = field(default_factory=dict)
    values_of: ValuesProvider = trace_onnx  # what supplied the converted values

    def node_error(self, model: onnx.ModelProto, index: int) -> float:
        errors = [self.values[o].error for o in model.graph.node[index].output if o in self.values]
        return max(errors) if errors else math.nan


def _layouts(array: np.ndarray, layout: str) -> list[tuple[str, np.ndarray]]:
    out = [("", array)]
    if layout == "NHWC" and array.ndim == 5:  # (samples, N, H, W, C) -> (samples, N, C, H, W)
        out.append(("nchw", array.transpose(0, 1, 4, 2, 3)))
    return out


class SourceIndex:
    """Source values by shape (each stacked over samples), for candidate lookup."""

    def __init__(self, trace: SourceTrace) -> None:
        self.by_shape: dict[tuple[int, ...], list[tuple[str, np.ndarray, float]]] = {}
        self.order = {v.name: v.order for v in trace.values}
        self.arrays: dict[str, np.ndarray] = {}
        for v in trace.values:
            stacked = np.stack(v.arrays)
            for tag, array in _layouts(stacked, trace.layout):
                name = f"{v.name}@{tag}" if tag else v.name
                self.by_shape.setdefault(array.shape, []).append((name, array, rms(array)))
                self.arrays[name] = array

    def array(self, name: str) -> np.ndarray | None:
        return self.arrays.get(name)

    def candidates(
        self, array: np.ndarray, tolerance: Tolerance, operand_scale: float
    ) -> list[tuple[str, float]]:
        pool = self.by_shape.get(array.shape, [])
        if not pool:
            return []
        level = math.log10(rms(array) + 1e-30)
        pool = sorted(pool, key=lambda c: abs(math.log10(c[2] + 1e-30) - level))[:MAX_CANDIDATES]
        scored: list[tuple[str, float]] = []
        best = math.inf
        for name, candidate, candidate_rms in pool:
            # a candidate whose error bound already passes the tolerance and the best so far is
            # neither kept nor best
            bound = tolerance.error_bound(candidate, array, operand_scale, candidate_rms)
            if bound > 1.0 and bound > best:
                continue
            error = tolerance.scaled_error(candidate, array, operand_scale, candidate_rms)
            best = min(best, error)
            scored.append((name, error))
        return sorted(scored, key=lambda c: (c[1], self.order.get(c[0].split("@")[0], 0)))


def _sets_operand_scale(array: np.ndarray) -> bool:
    return array.dtype != np.int64 and array.dtype != bool


def align(
    model: onnx.ModelProto,
    trace: SourceTrace,
    samples: list[list[np.ndarray]],
    expected_outputs: list[list[np.ndarray]],
    tolerance: Tolerance,
    budget_mb: float = DEFAULT_BUDGET_MB,
    values_of: ValuesProvider = trace_onnx,
) -> Alignment:
    """Trace ``model`` on ``samples`` chunk by chunk and align every value with ``trace``;
    ``values_of`` supplies the converted model's values (another runtime's, for a TFLite or
    PyTorch target read as ONNX for its structure)."""
    index = SourceIndex(trace)
    producer = {o: i for i, n in enumerate(model.graph.node) for o in n.output}
    initializers = {t.name for t in model.graph.initializer}
    graph_inputs = [i.name for i in model.graph.input if i.name not in initializers]
    output_names = [o.name for o in model.graph.output]
    output_pos = {n: k for k, n in enumerate(output_names)}
    values: dict[str, ValueMatch] = {}
    # an operand's scale bounds the round-off of what is computed from it. Shapes, indices
    # (int64, the type ONNX gives them) and masks are not computed with: a runtime shape
    # [batch, 32] widened a Reshape's allowance a hundredfold. Quantized data (8-bit, int32
    # accumulators) is, so it keeps its scale.
    scaled_values: set[str] = set()

    source_inputs = [v.name for v in trace.values if v.op == "input"]
    for k, name in enumerate(graph_inputs[: len(samples[0])]):
        stacked = np.stack([s[k] for s in samples])
        source = source_inputs[k] if k < len(source_inputs) else "input"
        values[name] = ValueMatch(name, -1, stacked.shape, rms(stacked), 0.0, [(source, 0.0)])
        if _sets_operand_scale(stacked):
            scaled_values.add(name)
    names = runtime_values(model)
    kept: dict[str, np.ndarray] = {}
    for chunk in values_of(model, samples, names, budget_mb):
        for name in names:
            if name not in chunk:
                continue
            arrays = chunk[name]
            stacked = np.stack(arrays)
            node = model.graph.node[producer[name]]
            scale = max(
                [
                    values[i].rms
                    for i in node.input
                    if i in scaled_values and math.isfinite(values[i].rms)
                ]
                or [0.0]
            )
            match = ValueMatch(name, producer[name], stacked.shape, rms(stacked), scale)
            ranked = index.candidates(stacked, tolerance, scale)
            match.candidates = [c for c in ranked if c[1] <= 1.0][:MAX_KEPT] or ranked[:1]
            best = index.array(match.source) if match.source else None
            if name in output_pos and expected_outputs:
                k = output_pos[name]
                best = np.stack([np.asarray(e[k]) for e in expected_outputs])
                match.output_error = tolerance.scaled_error(best, stacked, scale)
            if best is not None and best.shape == stacked.shape:
                match.share = mismatched_share(best, stacked, tolerance.relative, scale)
            values[name] = match
            if _sets_operand_scale(stacked):
                scaled_values.add(name)
            if not match.matched:
                _keep_if_first(kept, node, name, stacked, values, chunk)

    consumers: dict[str, list[int]] = {}
    for i, node in enumerate(model.graph.node):
        for name in node.input:
            consumers.setdefault(name, []).append(i)
    bad: set[str] = set()
    for name in reversed(names):
        match = values.get(name)
        if match is None:
            continue
        if match.output_error is not None:
            is_bad = not match.matched
        elif match.matched:
            is_bad = False
        else:
            is_bad = any(
                o in bad for c in consumers.get(name, []) for o in model.graph.node[c].output
            )
        if is_bad:
            bad.add(name)
    first = [
        i
        for i, node in enumerate(model.graph.node)
        if any(o in bad for o in node.output) and not any(n in bad for n in node.input)
    ]
    consumers_of = trace.consumers()
    partial = Alignment(values, bad, first, False, [], kept, values_of)
    for i in first:
        node = model.graph.node[i]
        _structural_counterpart(node, partial, index, consumers_of, tolerance, samples, model)
    errors = [values[o].error if o in values else math.inf for o in output_names]
    return Alignment(values, bad, first, all(e <= 1.0 for e in errors), errors, kept, values_of)


def _keep_if_first(kept, node, name, stacked, values, chunk) -> None:
    """Keep a diverging value and the node's inputs when every input agrees with the source:
    the node is then likely a first divergent node, whose values the later stages read."""
    inputs = [i for i in node.input if i in values]
    if not all(values[i].matched for i in inputs):
        return
    wanted = {name: stacked}
    for i in inputs:
        if i not in kept and i in chunk:
            wanted[i] = np.stack(chunk[i])
    used = sum(a.nbytes for a in kept.values()) + sum(a.nbytes for a in wanted.values())
    if used <= KEPT_MB * 1024 * 1024:
        kept.update(wanted)


def traced_values(
    model: onnx.ModelProto, alignment: Alignment, samples, names: list[str]
) -> dict[str, np.ndarray]:
    """The converted values ``names`` (stacked over samples): kept by the alignment, or from
    one more run of the model when one is missing."""
    if all(n in alignment.arrays for n in names):
        return {n: alignment.arrays[n] for n in names}
    traced: dict[str, list[np.ndarray]] = {}
    for chunk in alignment.values_of(model, samples, names, DEFAULT_BUDGET_MB):
        traced.update(chunk)
    return {n: np.stack(traced[n]) for n in names}


def _structural_counterpart(
    node, alignment, index, consumers_of, tolerance, samples, model
) -> None:
    """Re-pair a first divergent node with a source operator consuming the source values its
    inputs matched (the nearest value anywhere in the source may be an unrelated tensor)."""
    values = alignment.values
    out = node.output[0]
    match = values.get(out)
    if match is None or match.output_error is not None:
        return
    sources = {
        c[0].split("@")[0]
        for name in node.input
        if name in values
        for c in values[name].candidates
        if c[1] <= 1.0
    }
    pool = [v.name for s in sources for v in consumers_of.get(s, [])]
    stacked = traced_values(model, alignment, samples, [out])[out]
    scored = []
    for name in dict.fromkeys(pool):
        array = index.array(name)
        if array is not None and array.shape == stacked.shape:
            scored.append((name, tolerance.scaled_error(array, stacked, match.operand_scale)))
    if scored:
        scored.sort(key=lambda c: c[1])
        match.candidates = scored[:MAX_KEPT]
        best = index.array(scored[0][0])
        match.share = mismatched_share(best, stacked, tolerance.relative, match.operand_scale)
