"""Run the localization stages on one (source model, converted ONNX model) pair.

The source is anything with ``framework``, ``model``, ``inputs`` and ``run`` (a
:class:`difftest.sources.SourceModel`). The result names the first divergent node(s), classifies
each (parameter, hyper-parameter, intended precision change, rounding amplified at a
discontinuity, or graph/operator semantics), and keeps every stage's findings for the report.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field

import numpy as np
import onnx

from difftest.localize.align import Alignment, ValuesProvider, align
from difftest.localize.eager_trace import trace_torch
from difftest.localize.graph_trace import DEFAULT_BUDGET_MB, session, trace_onnx
from difftest.localize.hyperparams import HyperFinding, compare_hyperparameters
from difftest.localize.parameters import (
    ParameterFinding,
    compare_parameters,
    is_precision,
    storage,
)
from difftest.localize.reproducer import extract_node
from difftest.localize.source_trace import SourceTrace, trace_tensorflow
from difftest.localize.tolerance import Tolerance

# outputs jump on an arbitrarily small input change: a 1-ulp upstream difference can flip them
DISCONTINUOUS = {
    "Floor",
    "Ceil",
    "Round",
    "Sign",
    "Greater",
    "Less",
    "Equal",
    "GreaterOrEqual",
    "LessOrEqual",
    "ArgMax",
    "ArgMin",
    "Where",
    "Cast",
    "Mod",
    "TopK",
}


@dataclass
class Divergence:
    node: int
    name: str
    op_type: str
    error: float
    # parameter | hyper-parameter | precision (intended) | precision (unintended) |
    # amplified rounding | graph
    cause: str
    detail: str
    source_counterpart: str | None = None

    def to_dict(self) -> dict:
        out = dict(self.__dict__)
        out["error"] = self.error if math.isfinite(self.error) else "inf"
        return out


@dataclass
class Localization:
    model: onnx.ModelProto
    tolerance: Tolerance
    alignment: Alignment
    trace: SourceTrace
    parameters: list[ParameterFinding]
    hyper: list[HyperFinding]
    divergences: list[Divergence]
    samples: list[list[np.ndarray]]
    expected: list[list[np.ndarray]]
    timings: dict[str, float] = field(default_factory=dict)
    settings: list = field(default_factory=list)
    intended: str = "float32"  # the precision the conversion was asked for
    # a TFLite or PyTorch target read as ONNX: which runtime supplied the values, its ops
    target: dict = field(default_factory=dict)

    @property
    def agrees(self) -> bool:
        return self.alignment.outputs_agree


def trace_source(source, samples: list[list[np.ndarray]]) -> SourceTrace:
    if source.framework == "torch":
        return trace_torch(source.model, samples)
    return trace_tensorflow(source.model, source.inputs, samples)


def localize(
    source,
    model: onnx.ModelProto,
    samples: list[list[np.ndarray]],
    tolerance: Tolerance | None = None,
    budget_mb: float = DEFAULT_BUDGET_MB,
    trace: SourceTrace | None = None,
    intended: str | None = None,
    values_of: ValuesProvider = trace_onnx,
) -> Localization:
    """Stages 2-4 (parameters, hyper-parameters, graph) on ``model`` against ``source``.
    ``intended`` is the precision the conversion was asked for (default: the tolerance's):
    weights narrowed to it are intended, whatever tolerance they are judged at. ``values_of``
    supplies the converted model's values (default: ONNX Runtime on ``model``)."""
    tolerance = tolerance or Tolerance()
    intended = intended or tolerance.precision
    timings: dict[str, float] = {}
    start = time.perf_counter()
    expected = [source.run(s) for s in samples]
    if trace is None:
        trace = trace_source(source, samples)
    timings["source_trace_s"] = time.perf_counter() - start

    start = time.perf_counter()
    alignment = align(model, trace, samples, expected, tolerance, budget_mb, values_of)
    timings["graph_s"] = time.perf_counter() - start

    start = time.perf_counter()
    parameters = compare_parameters(
        model,
        trace.comparable_parameters(),
        tolerance,
        intended,
        trace.foldable_parameters(),
        trace.fold_scales(),
    )
    timings["parameters_s"] = time.perf_counter() - start

    start = time.perf_counter()
    param_source = {p.initializer: p.source for p in parameters}
    hyper = compare_hyperparameters(model, alignment, trace, param_source)
    timings["hyperparameters_s"] = time.perf_counter() - start

    divergences = [
        _classify(model, alignment, index, parameters, hyper, trace, tolerance, samples)
        for index in alignment.first_divergent
    ]
    return Localization(
        model,
        tolerance,
        alignment,
        trace,
        parameters,
        hyper,
        divergences,
        samples,
        expected,
        timings,
        intended=intended,
    )


def _classify(
    model: onnx.ModelProto,
    alignment: Alignment,
    index: int,
    parameters: list[ParameterFinding],
    hyper: list[HyperFinding],
    trace: SourceTrace,
    tolerance: Tolerance,
    samples: list[list[np.ndarray]],
) -> Divergence:
    node = model.graph.node[index]
    error = alignment.node_error(model, index)
    source = None
    for name in node.output:
        match = alignment.values.get(name)
        if match is not None and match.source:
            source = match.source
    weights = [p for p in parameters if p.initializer in node.input]
    faulty = [p for p in weights if p.faulty]
    if faulty:
        p = faulty[0]
        detail = (
            f"weight {p.initializer} differs from source parameter {p.source}: "
            f"{p.changed_elements} element(s), max |diff| {p.max_abs_diff:.3g}"
        )
        if is_precision(p):
            detail += f"; {storage(p)}, not asked for"
            return Divergence(
                index, node.name, node.op_type, error, "precision (unintended)", detail, source
            )
        if p.kind == "precision":
            detail += f" (values fit {p.detail})"
        return Divergence(index, node.name, node.op_type, error, "parameter", detail, source)
    for h in hyper:
        if h.node == index and h.diffs:
            detail = "; ".join(
                f"{d.attribute}={d.onnx_value} but source {h.source_op} has {d.source_value}"
                for d in h.diffs
            )
            return Divergence(
                index, node.name, node.op_type, error, "hyper-parameter", detail, source
            )
    intended = [p for p in weights if p.kind == "precision" and p.intended]
    if intended:
        detail = f"weights narrowed as requested: {storage(intended[0])}"
        return Divergence(
            index, node.name, node.op_type, error, "precision (intended)", detail, source
        )
    faithful = node_agrees_on_source_inputs(model, alignment, trace, index, tolerance, samples)
    if faithful:
        share = max(
            (alignment.values[o].share for o in node.output if o in alignment.values), default=0.0
        )
        kind = (
            "discontinuous operator"
            if node.op_type in DISCONTINUOUS
            else "ill-conditioned operator"
        )
        detail = (
            f"fed the source's own input values, the ONNX node reproduces the source output: "
            f"rounding-level input differences are amplified by a {kind} "
            f"({share:.1%} of the elements flip) - not a conversion fault"
        )
        return Divergence(
            index, node.name, node.op_type, error, "amplified rounding", detail, source
        )
    detail = (
        "inputs agree with the source but the output does not: the operator's semantics, "
        "its attributes or an inserted/removed node differ"
    )
    if not math.isfinite(error):
        detail += " (non-finite values differ: NaN/Inf handling)"
    return Divergence(index, node.name, node.op_type, error, "graph", detail, source)


def node_agrees_on_source_inputs(
    model: onnx.ModelProto,
    alignment: Alignment,
    trace: SourceTrace,
    index: int,
    tolerance: Tolerance,
    samples: list[list[np.ndarray]],
) -> bool:
    """Run the node alone on the source's values of its inputs: does it give the source output?"""
    node = model.graph.node[index]
    out = alignment.values.get(node.output[0])
    by_name = trace.by_name()
    if out is None or out.source is None or out.source.split("@")[0] not in by_name:
        return False
    try:
        sub, inputs = extract_node(model, index)
    except Exception:
        return False
    feeds_per_sample = [{} for _ in samples]
    dtypes = {i.name: i.type.tensor_type.elem_type for i in sub.graph.input}
    for name in inputs:
        match = alignment.values.get(name)
        if match is None or not match.matched or match.source not in by_name:
            return False
        dtype = onnx.helper.tensor_dtype_to_np_dtype(dtypes[name])
        for k, array in enumerate(by_name[match.source].arrays):
            feeds_per_sample[k][name] = np.asarray(array).astype(dtype)
    expected = by_name[out.source.split("@")[0]].arrays
    sess = session(sub, [])
    for feeds, want in zip(feeds_per_sample, expected, strict=True):
        got = sess.run([sub.graph.output[0].name], feeds)[0]
        if tolerance.scaled_error(want, got) > 1.0:
            return False
    return True
