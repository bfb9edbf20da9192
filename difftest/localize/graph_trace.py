"""Every intermediate value of an ONNX model from ONNX Runtime, a few runs at most.

ONNX Runtime only returns graph outputs, so the value names are added to the graph outputs and
the model runs once per input sample. For big models the values are split into chunks whose
estimated size stays under a memory budget; each chunk is one more run, handed to the caller
and dropped before the next one (bounded memory). Values that depend on no graph input
(constants, shape arithmetic on initializers) are left out: they cannot diverge at run time.
"""

from __future__ import annotations

import math
from collections.abc import Iterator

import numpy as np
import onnx
from onnx import helper

DEFAULT_BUDGET_MB = 512.0


def runtime_values(model: onnx.ModelProto) -> list[str]:
    """Node outputs that depend on a graph input, in graph (topological) order."""
    initializers = {i.name for i in model.graph.initializer}
    live = {i.name for i in model.graph.input if i.name not in initializers}
    ordered: list[str] = []
    for node in model.graph.node:
        if any(name in live for name in node.input if name):
            for out in node.output:
                if out:
                    live.add(out)
                    ordered.append(out)
    return ordered


# initializers above this many elements are weights, never shape arguments shape inference reads
SHAPE_DATA_MAX = 1024


def _without_weights(model: onnx.ModelProto) -> onnx.ModelProto:
    """A copy whose large initializers keep their type and dims but not their values: shape
    inference reads the values of small shape arguments only, but serializes the whole model
    both ways (on a 50 MB ResNet-18: 0.28 s of CPU with the weights, 0.05 s without)."""
    light = onnx.ModelProto()
    light.CopyFrom(model)
    for tensor in light.graph.initializer:
        if math.prod(tensor.dims) > SHAPE_DATA_MAX:
            for name in ("raw_data", "float_data", "double_data", "int32_data", "int64_data"):
                tensor.ClearField(name)
    return light


def _value_types(model: onnx.ModelProto) -> dict[str, onnx.ValueInfoProto]:
    try:
        inferred = onnx.shape_inference.infer_shapes(_without_weights(model), strict_mode=False)
    except Exception:
        inferred = model
    graph = inferred.graph
    return {v.name: v for v in [*graph.value_info, *graph.output, *graph.input]}


def _size(info: onnx.ValueInfoProto | None, batch_guess: int) -> int:
    if info is None or not info.type.tensor_type.HasField("shape"):
        return 4 * 1024 * 1024  # unknown: assume 4 MB
    n = 1
    for d in info.type.tensor_type.shape.dim:
        n *= d.dim_value if d.HasField("dim_value") else batch_guess
    item = helper.tensor_dtype_to_np_dtype(info.type.tensor_type.elem_type or 1).itemsize
    return n * item


def session(
    model: onnx.ModelProto,
    extra_outputs: list[str],
    types: dict[str, onnx.ValueInfoProto] | None = None,
):
    """An ORT session of ``model`` whose outputs include ``extra_outputs``. Declaring them needs
    their types (``types``, or shape inference here: a second of CPU on a 50 MB model, so a
    caller making several sessions of one model infers once and passes them)."""
    # ONNX Runtime is an optional extra; import on use
    import onnxruntime as ort

    present = {o.name for o in model.graph.output}
    wanted = [name for name in extra_outputs if name not in present]
    copy = model
    if wanted:  # the outputs are declared on a copy; the caller's model stays as it is
        copy = onnx.ModelProto()
        copy.CopyFrom(model)
        types = _value_types(model) if types is None else types
    for name in wanted:
        info = types.get(name)
        if info is None or not info.type.tensor_type.elem_type:
            continue  # untyped values cannot be declared as outputs; they stay unaligned
        copy.graph.output.append(
            helper.make_tensor_value_info(name, info.type.tensor_type.elem_type, None)
        )
    options = ort.SessionOptions()
    options.log_severity_level = 3
    # idle pool threads sleep instead of spinning: the same values, without the CPU that
    # spinning burns between the runs of a localization (documented ORT session option)
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    return ort.InferenceSession(
        copy.SerializeToString(), options, providers=["CPUExecutionProvider"]
    )


def chunks(
    model: onnx.ModelProto,
    names: list[str],
    budget_mb: float,
    samples: int,
    types: dict[str, onnx.ValueInfoProto] | None = None,
) -> list[list[str]]:
    """Split ``names`` so that each chunk's values for all samples fit in ``budget_mb``."""
    types = _value_types(model) if types is None else types
    budget = budget_mb * 1024 * 1024
    out: list[list[str]] = [[]]
    used = 0
    for name in names:
        size = _size(types.get(name), 1) * max(1, samples)
        if out[-1] and used + size > budget:
            out.append([])
            used = 0
        out[-1].append(name)
        used += size
    return out


def trace_onnx(
    model: onnx.ModelProto,
    samples: list[list[np.ndarray]],
    names: list[str] | None = None,
    budget_mb: float = DEFAULT_BUDGET_MB,
) -> Iterator[dict[str, list[np.ndarray]]]:
    """Yield ``{value name: [array per sample]}`` chunk by chunk (graph outputs included)."""
    names = runtime_values(model) if names is None else names
    graph_inputs = [
        i.name for i in model.graph.input if i.name not in {t.name for t in model.graph.initializer}
    ]
    types = _value_types(model)
    for chunk in chunks(model, names, budget_mb, len(samples), types):
        sess = session(model, chunk, types)
        wanted = [o.name for o in sess.get_outputs()]
        result: dict[str, list[np.ndarray]] = {n: [] for n in wanted}
        for sample in samples:
            feeds = dict(zip(graph_inputs, sample, strict=True))
            for n, array in zip(wanted, sess.run(wanted, feeds), strict=True):
                result[n].append(np.asarray(array))
        del sess
        yield result
