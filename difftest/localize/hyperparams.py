"""Stage 3: compare the attributes of ONNX nodes with the arguments of their source operators.

The counterpart of an ONNX node is found through the graph alignment, not by name or order: a
source operator of a compatible kind that consumes the source value the node's input aligned
with (for Conv/Gemm also: whose weight the node's initializer aligned with). When several source
operators qualify, the one that agrees best is taken, so ambiguity never causes a false alarm.
Each rule maps ONNX attributes and the source operator's named arguments (defaults filled in) to
comparable values and knows the ONNX value that would repair a difference.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass, field

import numpy as np
import onnx
from onnx import helper, numpy_helper

from difftest.localize.align import Alignment
from difftest.localize.source_trace import SourceTrace, SourceValue


@dataclass
class AttributeDiff:
    attribute: str
    onnx_value: object
    source_value: object
    repair: object  # the ONNX attribute value (or initializer value) that would agree


@dataclass
class HyperFinding:
    node: int
    node_name: str
    op_type: str
    source: str
    source_op: str
    diffs: list[AttributeDiff] = field(default_factory=list)

    def to_dict(self) -> dict:
        out = asdict(self)
        out["diffs"] = [
            {k: _json(v) for k, v in asdict(d).items() if k != "repair"} for d in self.diffs
        ]
        return out


def _json(value):
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, np.generic):
        return value.item()
    return value


def _attrs(node: onnx.NodeProto) -> dict:
    return {a.name: helper.get_attribute_value(a) for a in node.attribute}


def _pair(value, n: int = 2) -> list[int]:
    if value is None:
        return [1] * n
    if isinstance(value, int):
        return [value] * n
    value = list(value)
    return value * n if len(value) == 1 else value


def _conv(node, attrs, args, rank, init) -> list[AttributeDiff]:
    k = len(attrs.get("kernel_shape", [])) or 2
    padding = args.get("padding", [0] * k)
    if isinstance(padding, str):
        return []
    pads = _pair(padding, k)
    rules = [
        ("strides", attrs.get("strides", [1] * k), _pair(args.get("stride"), k)),
        ("pads", attrs.get("pads", [0] * 2 * k), pads + pads),
        ("dilations", attrs.get("dilations", [1] * k), _pair(args.get("dilation"), k)),
        ("group", attrs.get("group", 1), args.get("groups", 1)),
    ]
    return [AttributeDiff(n, list(o) if isinstance(o, list) else o, s, s) for n, o, s in rules]


def _pool(node, attrs, args, rank, init) -> list[AttributeDiff]:
    kernel = _pair(args.get("kernel_size"))
    stride = args.get("stride") or kernel
    pads = _pair(args.get("padding", 0))
    rules = [
        ("kernel_shape", attrs.get("kernel_shape"), kernel),
        ("strides", attrs.get("strides", [1, 1]), _pair(stride)),
        ("pads", attrs.get("pads", [0, 0, 0, 0]), pads + pads),
    ]
    if node.op_type == "AveragePool" and any(pads):
        rules.append(
            (
                "count_include_pad",
                attrs.get("count_include_pad", 0),
                int(args.get("count_include_pad", True)),
            )
        )
    return [AttributeDiff(n, o, s, s) for n, o, s in rules]


def _scalar(name: str, arg: str, default: float) -> Callable:
    def rule(node, attrs, args, rank, init) -> list[AttributeDiff]:
        source = float(args.get(arg, default))
        return [AttributeDiff(name, float(attrs.get(name, default)), source, source)]

    return rule


def _axis(node, attrs, args, rank, init) -> list[AttributeDiff]:
    dim = args.get("dim", -1)
    onnx_axis = attrs.get("axis", -1)
    return [AttributeDiff("axis", onnx_axis % rank, dim % rank, dim % rank)]


def _clip(node, attrs, args, rank, init) -> list[AttributeDiff]:
    out = []
    for position, name, keys in ((1, "min", ("min", "min_val")), (2, "max", ("max", "max_val"))):
        source = next((args[k] for k in keys if args.get(k) is not None), None)
        if source is None or len(node.input) <= position or node.input[position] not in init:
            continue
        onnx_value = float(init[node.input[position]])
        out.append(AttributeDiff(f"input:{name}", onnx_value, float(source), float(source)))
    return out


def _resize(node, attrs, args, rank, init) -> list[AttributeDiff]:
    mode = attrs.get("mode", b"nearest")
    mode = mode.decode() if isinstance(mode, bytes) else mode
    wanted = "nearest"
    return [AttributeDiff("mode", mode, wanted, wanted.encode())]


def _gelu(node, attrs, args, rank, init) -> list[AttributeDiff]:
    onnx_value = attrs.get("approximate", b"none")
    onnx_value = onnx_value.decode() if isinstance(onnx_value, bytes) else onnx_value
    source = args.get("approximate", "none")
    return [AttributeDiff("approximate", onnx_value, source, source.encode())]


# ONNX op -> (source operator names, rule)
RULES: dict[str, tuple[set[str], Callable]] = {
    "Conv": ({"conv2d", "conv1d", "convolution", "_convolution"}, _conv),
    "MaxPool": ({"max_pool2d", "max_pool2d_with_indices"}, _pool),
    "AveragePool": ({"avg_pool2d"}, _pool),
    "LeakyRelu": ({"leaky_relu"}, _scalar("alpha", "negative_slope", 0.01)),
    "Elu": ({"elu"}, _scalar("alpha", "alpha", 1.0)),
    "Softmax": ({"softmax", "_softmax"}, _axis),
    "LogSoftmax": ({"log_softmax", "_log_softmax"}, _axis),
    "Clip": ({"clamp", "hardtanh", "clip"}, _clip),
    "Resize": ({"upsample_nearest2d"}, _resize),
    "Gelu": ({"gelu"}, _gelu),
    "BatchNormalization": (
        {"batch_norm", "_native_batch_norm_legit_no_training"},
        _scalar("epsilon", "eps", 1e-5),
    ),
}


def _counterparts(
    node: onnx.NodeProto,
    alignment: Alignment,
    trace: SourceTrace,
    param_source: dict[str, str],
    kinds: set[str],
) -> list[SourceValue]:
    consumers = trace.consumers()
    by_name = trace.by_name()
    found: list[SourceValue] = []
    for name in node.input:
        match = alignment.values.get(name)
        if match is not None:
            for source, error in match.candidates:
                if error <= 1.0:
                    found += [c for c in consumers.get(source.split("@")[0], []) if c.op in kinds]
        if name in param_source:
            found += [
                v for v in by_name.values() if param_source[name] in v.params and v.op in kinds
            ]
    unique = {v.name: v for v in found}
    return list(unique.values())


def compare_hyperparameters(
    model: onnx.ModelProto,
    alignment: Alignment,
    trace: SourceTrace,
    param_source: dict[str, str],
) -> list[HyperFinding]:
    """Attribute differences of every ONNX node that has a source counterpart."""
    init = {
        t.name: numpy_helper.to_array(t)
        for t in model.graph.initializer
        if t.dims == [] or int(np.prod(t.dims)) == 1
    }
    for node in model.graph.node:  # Constant nodes feeding Clip bounds
        if node.op_type == "Constant" and node.attribute and node.attribute[0].name == "value":
            init[node.output[0]] = numpy_helper.to_array(node.attribute[0].t)
    findings = []
    for index, node in enumerate(model.graph.node):
        if node.op_type not in RULES:
            continue
        kinds, rule = RULES[node.op_type]
        out = alignment.values.get(node.output[0])
        rank = len(out.shape) - 1 if out is not None else 4
        best = None
        for source in _counterparts(node, alignment, trace, param_source, kinds):
            diffs = [
                d
                for d in rule(node, _attrs(node), source.args, rank, init)
                if not _equal(d.onnx_value, d.source_value)
            ]
            if best is None or len(diffs) < len(best.diffs):
                best = HyperFinding(index, node.name, node.op_type, source.name, source.op, diffs)
        if best is not None:
            findings.append(best)
    return findings


def _equal(a, b) -> bool:
    if isinstance(a, float | int) and isinstance(b, float | int):
        return abs(float(a) - float(b)) <= 1e-6 * max(1.0, abs(float(b)))
    if isinstance(a, list | tuple) and isinstance(b, list | tuple):
        return len(a) == len(b) and all(_equal(x, y) for x, y in zip(a, b, strict=True))
    return a == b


def apply_diff(model: onnx.ModelProto, finding: HyperFinding, diff: AttributeDiff) -> None:
    """Set the ONNX attribute (or scalar initializer input) to the repaired value, in place."""
    node = model.graph.node[finding.node]
    if diff.attribute.startswith("input:"):
        position = 1 if diff.attribute == "input:min" else 2
        name = node.input[position]
        for tensor in model.graph.initializer:
            if tensor.name == name:
                old = numpy_helper.to_array(tensor)
                tensor.CopyFrom(numpy_helper.from_array(np.asarray(diff.repair, old.dtype), name))
                return
        for other in model.graph.node:
            if other.op_type == "Constant" and other.output[0] == name:
                old = numpy_helper.to_array(other.attribute[0].t)
                other.attribute[0].t.CopyFrom(
                    numpy_helper.from_array(np.asarray(diff.repair, old.dtype), name)
                )
                return
        return
    for attribute in list(node.attribute):
        if attribute.name == diff.attribute:
            node.attribute.remove(attribute)
    node.attribute.append(helper.make_attribute(diff.attribute, diff.repair))
