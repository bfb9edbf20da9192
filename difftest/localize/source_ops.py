"""Which source operators compute what an ONNX operator computes, and how many the source has.

A repair that bypasses a node claims the source has no such node; a swap claims the source
computes the other operator. Both claims are checked here against the source trace's operator
names (PyTorch ATen names, TensorFlow op types, or module class names in a hook trace), which
are compared after lower-casing and dropping underscores. A trace that does not record every
operator (forward hooks see modules, not functional calls) cannot support such a claim.
"""

from __future__ import annotations

import onnx

from difftest.localize.source_trace import SourceTrace

# ONNX op -> further source operator names that compute it (beyond its own name)
ALIASES: dict[str, set[str]] = {
    "Transpose": {"permute", "t", "numpy_t", "conjugatetranspose"},
    "LayerNormalization": {"layer_norm", "native_layer_norm"},
    "Softmax": {"_softmax", "safe_softmax"},
    "LogSoftmax": {"_log_softmax"},
    "Clip": {"clamp", "hardtanh", "relu6", "clipbyvalue", "clamp_min", "clamp_max"},
    "Conv": {"conv1d", "conv2d", "conv3d", "convolution", "_convolution", "depthwiseconv2dnative"},
    "Gemm": {"linear", "addmm", "matmul", "mm", "batchmatmulv2"},
    "MatMul": {"linear", "addmm", "matmul", "mm", "bmm", "batchmatmulv2"},
    "Relu": {"relu_"},
    "Identity": set(),
    "Reshape": {"view", "flatten", "_unsafe_view"},
    "ReduceMean": {"mean"},
    "ReduceSum": {"sum"},
    "ReduceMax": {"amax", "max"},
    "ReduceMin": {"amin", "min"},
    "MaxPool": {"max_pool2d", "max_pool2d_with_indices"},
    "AveragePool": {"avg_pool2d"},
    "Gelu": {"gelu"},
    "Pow": {"pow"},
    "Sub": {"sub", "rsub"},
    "Add": {"add", "addv2", "biasadd"},
    "Mul": {"mul"},
    "Div": {"div", "realdiv"},
    "Max": {"maximum"},
    "Min": {"minimum"},
}


def _normal(name: str) -> str:
    return name.split(".")[0].replace("_", "").lower()


def source_names(op_type: str) -> set[str]:
    """Normalised names of the source operators that compute ``op_type``."""
    return {_normal(n) for n in ALIASES.get(op_type, set())} | {_normal(op_type)}


def source_count(trace: SourceTrace, op_type: str) -> int:
    """How many source operators compute ``op_type``."""
    names = source_names(op_type)
    return sum(_normal(v.op) in names for v in trace.values if v.op != "input")


def onnx_count(model: onnx.ModelProto, op_type: str) -> int:
    return sum(n.op_type == op_type for n in model.graph.node)


def lacks(trace: SourceTrace, model: onnx.ModelProto, op_type: str) -> str | None:
    """Why the source lacks one of the model's ``op_type`` nodes (it has fewer of them), or
    ``None`` when it does not or when the trace cannot tell."""
    if not trace.complete:
        return None
    ours, theirs = onnx_count(model, op_type), source_count(trace, op_type)
    if theirs >= ours:
        return None
    if theirs == 0:
        return f"source has no {op_type}"
    return f"the ONNX model has {ours} {op_type} nodes, the source {theirs}"


def computes(trace: SourceTrace, op_type: str) -> bool:
    """Whether the (complete) source trace has an operator computing ``op_type``."""
    return trace.complete and source_count(trace, op_type) > 0


def is_kind(source_op: str, op_type: str) -> bool:
    """Whether the source operator ``source_op`` computes ``op_type``."""
    return _normal(source_op) in source_names(op_type)
