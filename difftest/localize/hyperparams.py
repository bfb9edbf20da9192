"""Stage 3: compare the attributes of ONNX nodes with the arguments of their source operators.

The counterpart of an ONNX node is found through the graph alignment, not by name or order: a
source operator of a compatible kind that consumes the source value the node's input aligned
with (for Conv/Gemm also: whose weight the node's initializer aligned with). When several source
operators qualify, the one that agrees best is taken, so ambiguity never causes a false alarm.
Each rule maps ONNX attributes and the source operator's named arguments (defaults filled in) to
comparable values and knows the ONNX value that would repair a difference.

The arguments are PyTorch's (ATen schema names) or TensorFlow's: the op attributes of the frozen
graph (NHWC lists), bounds implied by the op (Relu6), its scalar constant operands, and for a
Keras model the configuration of the layer the op belongs to. A lost bound (a Clip without its
maximum, a Relu where the source has ReLU6), a changed epsilon and a changed resize mode are
hyper-parameter faults, not graph faults.
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


def _tf_pair(value) -> list[int] | None:
    """The spatial part of a TF NHWC list attribute ([1, s, s, 1] -> [s, s])."""
    return list(value[1:-1]) if isinstance(value, list) and len(value) == 4 else None


def _conv(node, attrs, args, rank, init, source_op) -> list[AttributeDiff]:
    k = len(attrs.get("kernel_shape", [])) or 2
    if "padding" in args and isinstance(args["padding"], str):  # TensorFlow: NHWC lists
        rules = [
            ("strides", attrs.get("strides", [1] * k), _tf_pair(args.get("strides"))),
            ("dilations", attrs.get("dilations", [1] * k), _tf_pair(args.get("dilations"))),
        ]
        if args.get("pads") is not None and attrs.get("auto_pad", b"NOTSET") in (b"NOTSET", ""):
            rules.append(("pads", attrs.get("pads", [0] * 2 * k), args["pads"]))
        return [AttributeDiff(n, list(o), s, s) for n, o, s in rules if s is not None]
    pads = _pair(args.get("padding", [0] * k), k)
    rules = [
        ("strides", attrs.get("strides", [1] * k), _pair(args.get("stride"), k)),
        ("pads", attrs.get("pads", [0] * 2 * k), pads + pads),
        ("dilations", attrs.get("dilations", [1] * k), _pair(args.get("dilation"), k)),
        ("group", attrs.get("group", 1), args.get("groups", 1)),
    ]
    return [AttributeDiff(n, list(o) if isinstance(o, list) else o, s, s) for n, o, s in rules]


def _same_pads(size: int, kernel: int, stride: int, dilation: int) -> tuple[int, int]:
    """TensorFlow's SAME padding of one spatial axis (the extra one at the end)."""
    total = max((-(-size // stride) - 1) * stride + (kernel - 1) * dilation + 1 - size, 0)
    return total // 2, total - total // 2


def tf_conv_pads(
    node: onnx.NodeProto, source: SourceValue, alignment: Alignment, trace: SourceTrace
) -> list[int] | None:
    """The ONNX ``pads`` a TensorFlow Conv2D amounts to: its SAME or VALID padding, plus the
    zeros of a Pad op before it when the converter folded that Pad into the Conv (the ONNX
    Conv then reads a value of the Pad's input size). None when it cannot be told."""
    by_name = trace.by_name()
    data = by_name.get(source.inputs[0]) if source.inputs else None
    onnx_in = alignment.values.get(node.input[0])
    kernel = trace.parameters.get(source.params[0]) if source.params else None
    if data is None or onnx_in is None or kernel is None or kernel.ndim != 4:
        return None
    begin, end = [0, 0], [0, 0]
    if source.args["padding"] == "SAME":
        strides = _tf_pair(source.args.get("strides")) or [1, 1]
        dilations = _tf_pair(source.args.get("dilations")) or [1, 1]
        for axis in (0, 1):
            size = data.shape[1 + axis]
            b, e = _same_pads(size, kernel.shape[axis], strides[axis], dilations[axis])
            begin[axis], end[axis] = b, e
    elif source.args["padding"] != "VALID":
        return None
    pad = by_name.get(data.inputs[0]) if data.op in ("Pad", "PadV2") and data.inputs else None
    if pad is not None and list(onnx_in.shape[-2:]) == list(pad.shape[1:3]):
        widths = trace.parameters.get(data.params[0]) if data.params else None
        if widths is None or np.shape(widths) != (4, 2):
            return None
        for axis in (0, 1):
            begin[axis] += int(widths[1 + axis][0])
            end[axis] += int(widths[1 + axis][1])
    return begin + end


def _pool(node, attrs, args, rank, init, source_op) -> list[AttributeDiff]:
    if "ksize" in args:  # TensorFlow: NHWC lists, padding by name
        rules = [
            ("kernel_shape", attrs.get("kernel_shape"), _tf_pair(args.get("ksize"))),
            ("strides", attrs.get("strides", [1, 1]), _tf_pair(args.get("strides"))),
        ]
        return [AttributeDiff(n, o, s, s) for n, o, s in rules if s is not None]
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


def _scalar(name: str, args_names: tuple[str, ...], default: float) -> Callable:
    """An ONNX float attribute against the first source argument (or Keras layer config entry)
    of the given names that is present."""

    def rule(node, attrs, args, rank, init, source_op) -> list[AttributeDiff]:
        layer = args.get("layer") or {}
        found = [args[a] for a in args_names if args.get(a) is not None]
        found += [layer[a] for a in args_names if isinstance(layer.get(a), int | float)]
        source = float(found[0]) if found else default
        return [AttributeDiff(name, float(attrs.get(name, default)), source, source)]

    return rule


def _axis(node, attrs, args, rank, init, source_op) -> list[AttributeDiff]:
    dim = args.get("dim", -1)
    onnx_axis = attrs.get("axis", -1)
    return [AttributeDiff("axis", onnx_axis % rank, dim % rank, dim % rank)]


IMPLIED_BOUNDS = {"relu6": {"min": 0.0, "max": 6.0}, "Relu6": {"min": 0.0, "max": 6.0}}


def _bound(node, position: int, init) -> float | None:
    """A Clip bound: the value of its input at ``position``, None when the input is absent."""
    if len(node.input) <= position or not node.input[position]:
        return None
    value = init.get(node.input[position])
    return None if value is None else float(np.asarray(value).ravel()[0])


def _clip(node, attrs, args, rank, init, source_op) -> list[AttributeDiff]:
    """Clip bounds (inputs 1 and 2) against the source's; a Relu is a Clip without a maximum.
    A bound the ONNX node lacks (``None``) where the source has one is a difference."""
    out = []
    args = {**IMPLIED_BOUNDS.get(source_op, {}), **args}
    for position, name, keys in ((1, "min", ("min", "min_val")), (2, "max", ("max", "max_val"))):
        source = next((args[k] for k in keys if args.get(k) is not None), None)
        if source is None:
            continue
        if node.op_type == "Relu":
            onnx_value = 0.0 if name == "min" else None
        else:
            if (
                len(node.input) > position
                and node.input[position]
                and (node.input[position] not in init)
            ):
                continue  # a computed bound: not comparable
            onnx_value = _bound(node, position, init)
        out.append(AttributeDiff(f"input:{name}", onnx_value, float(source), float(source)))
    return out


# source resize operators -> the ONNX mode they compute
RESIZE_MODES = {
    "upsample_nearest2d": "nearest",
    "upsample_nearest1d": "nearest",
    "upsample_bilinear2d": "linear",
    "upsample_linear1d": "linear",
    "upsample_trilinear3d": "linear",
    "upsample_bicubic2d": "cubic",
    "ResizeNearestNeighbor": "nearest",
    "ResizeBilinear": "linear",
    "ResizeBicubic": "cubic",
}
KERAS_INTERPOLATION = {"nearest": "nearest", "bilinear": "linear", "bicubic": "cubic"}


def _resize(node, attrs, args, rank, init, source_op) -> list[AttributeDiff]:
    mode = attrs.get("mode", b"nearest")
    mode = mode.decode() if isinstance(mode, bytes) else mode
    layer = args.get("layer") or {}
    wanted = KERAS_INTERPOLATION.get(layer.get("interpolation"), RESIZE_MODES.get(source_op))
    return [AttributeDiff("mode", mode, wanted, wanted.encode())]


def _gelu(node, attrs, args, rank, init, source_op) -> list[AttributeDiff]:
    onnx_value = attrs.get("approximate", b"none")
    onnx_value = onnx_value.decode() if isinstance(onnx_value, bytes) else onnx_value
    source = args.get("approximate", "none")
    return [AttributeDiff("approximate", onnx_value, source, source.encode())]


def _operand(node, attrs, args, rank, init, source_op) -> list[AttributeDiff]:
    """A scalar constant operand (an epsilon added, a factor multiplied) against the source
    operator's scalar operand; named after the Keras layer config entry it equals, if any."""
    ours = [
        (k, float(np.asarray(init[n]).ravel()[0])) for k, n in enumerate(node.input) if n in init
    ]
    theirs = [float(args["other"])] if isinstance(args.get("other"), int | float) else []
    theirs += args.get("consts", [])
    if len(ours) != 1 or len(theirs) != 1:
        return []
    position, value = ours[0]
    source = theirs[0]
    layer = args.get("layer") or {}
    named = next(
        (
            f"{k} ({layer['name']})"
            for k, v in layer.items()
            if isinstance(v, float) and abs(v - source) <= 1e-6 * max(1.0, abs(source))
        ),
        "operand",
    )
    return [AttributeDiff(f"input:{position}:{named}", value, source, source)]


# ONNX op -> (source operator names, rule); the rule reads the source operator's arguments
RULES: dict[str, tuple[set[str], Callable]] = {
    "Conv": (
        {"conv2d", "conv1d", "convolution", "_convolution", "Conv2D", "DepthwiseConv2dNative"},
        _conv,
    ),
    "MaxPool": ({"max_pool2d", "max_pool2d_with_indices", "MaxPool"}, _pool),
    "AveragePool": ({"avg_pool2d"}, _pool),
    "LeakyRelu": ({"leaky_relu", "LeakyRelu"}, _scalar("alpha", ("negative_slope", "alpha"), 0.01)),
    "Elu": ({"elu"}, _scalar("alpha", ("alpha",), 1.0)),
    "Softmax": ({"softmax", "_softmax"}, _axis),
    "LogSoftmax": ({"log_softmax", "_log_softmax"}, _axis),
    "Clip": ({"clamp", "hardtanh", "clip", "relu6", "Relu6"}, _clip),
    "Relu": ({"clamp", "hardtanh", "relu", "relu6", "Relu6", "Relu"}, _clip),
    "Resize": (set(RESIZE_MODES), _resize),
    "Gelu": ({"gelu"}, _gelu),
    "BatchNormalization": (
        {"batch_norm", "_native_batch_norm_legit_no_training"},
        _scalar("epsilon", ("eps",), 1e-5),
    ),
    "LayerNormalization": (
        {"layer_norm", "native_layer_norm"},
        _scalar("epsilon", ("eps", "epsilon"), 1e-5),
    ),
    **{
        op: ({"add", "sub", "mul", "div", "pow", "AddV2", "Sub", "Mul", "RealDiv", "Pow"}, _operand)
        for op in ("Add", "Sub", "Mul", "Div", "Pow")
    },
}
# rules compared only where the node's output diverges (elsewhere a mismatch is a decomposition)
WHERE_DIVERGING = {"Add", "Sub", "Mul", "Div", "Pow"}


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
        if node.op_type in WHERE_DIVERGING and (out is None or out.matched):
            continue
        rank = len(out.shape) - 1 if out is not None else 4
        best = None
        for source in _counterparts(node, alignment, trace, param_source, kinds):
            args = source.args
            if node.op_type == "Conv" and isinstance(args.get("padding"), str):
                args = {**args, "pads": tf_conv_pads(node, source, alignment, trace)}
            diffs = [
                d
                for d in rule(node, _attrs(node), args, rank, init, source.op)
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
    """Set the ONNX attribute (or constant input) to the repaired value, in place. A constant
    input gets a new initializer of its own (the old one may be shared with other nodes); a Relu
    given a maximum becomes a Clip from 0."""
    node = model.graph.node[finding.node]
    if diff.attribute.startswith("input:"):
        part = diff.attribute.split(":")[1]
        position = {"min": 1, "max": 2}[part] if part in ("min", "max") else int(part)
        if node.op_type == "Relu":
            node.op_type = "Clip"
            node.input.append(_constant(model, node, "min", 0.0, np.float32))
        while len(node.input) <= position:
            node.input.append("")
        dtype = _input_dtype(model, node.input[position])
        node.input[position] = _constant(model, node, part, diff.repair, dtype)
        return
    for attribute in list(node.attribute):
        if attribute.name == diff.attribute:
            node.attribute.remove(attribute)
    node.attribute.append(helper.make_attribute(diff.attribute, diff.repair))


def _input_dtype(model: onnx.ModelProto, name: str) -> np.dtype:
    for tensor in model.graph.initializer:
        if tensor.name == name:
            return numpy_helper.to_array(tensor).dtype
    for other in model.graph.node:
        if other.op_type == "Constant" and other.output and other.output[0] == name:
            return numpy_helper.to_array(other.attribute[0].t).dtype
    return np.dtype(np.float32)


def _constant(model: onnx.ModelProto, node: onnx.NodeProto, part: str, value, dtype) -> str:
    """A new scalar initializer holding ``value``, named after the node; returns its name."""
    taken = {t.name for t in model.graph.initializer} | {
        o for n in model.graph.node for o in n.output
    }
    base = f"{node.name or node.output[0]}_repaired_{part}"
    name, k = base, 1
    while name in taken:
        name, k = f"{base}_{k}", k + 1
    model.graph.initializer.append(numpy_helper.from_array(np.asarray(value, dtype), name))
    return name
