"""Every intermediate value of the *source* model, with the operator and arguments behind it.

PyTorch: ``torch.export`` gives the ATen graph the dynamo exporter translates; an
``fx.Interpreter`` runs it once per input and records each tensor a node produces, plus the
node's non-tensor arguments (strides, pads, slopes, axes: the hyper-parameters). When export
fails, forward hooks on every submodule record module outputs instead (coarser, no arguments).

TensorFlow: the function is frozen the way tf2onnx freezes it and every float/int output of
every operation is fetched in one session run.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


@dataclass
class SourceValue:
    """One source tensor: ``arrays`` holds its value for each input sample."""

    name: str
    op: str
    order: int
    arrays: list[np.ndarray]
    args: dict = field(default_factory=dict)  # hyper-parameters (non-tensor arguments)
    inputs: list[str] = field(default_factory=list)  # names of source values it consumed
    params: list[str] = field(default_factory=list)  # names of parameters it consumed

    @property
    def shape(self) -> tuple[int, ...]:
        return tuple(self.arrays[0].shape)


@dataclass
class SourceTrace:
    values: list[SourceValue]
    parameters: dict[str, np.ndarray]
    layout: str = "NCHW"  # TensorFlow traces are NHWC
    complete: bool = True  # every operator recorded (forward hooks see modules only)

    def by_name(self) -> dict[str, SourceValue]:
        return {v.name: v for v in self.values}

    def foldable_parameters(self) -> set[str] | None:
        """Parameters of layers whose output feeds a normalisation (exporters fold those);
        None when the trace has no operator arguments to tell (hook or TF traces)."""
        if self.layout != "NCHW" or not any(v.params for v in self.values):
            return None
        consumers = self.consumers()
        out: set[str] = set()
        for v in self.values:
            if any("norm" in c.op for c in consumers.get(v.name, [])):
                out.update(v.params)
        return out

    def fold_scales(self) -> dict[str, np.ndarray]:
        """Parameter -> per-channel scale gamma / sqrt(var + eps) of the BatchNorm it feeds:
        what an exporter multiplies the weights by when it folds the BatchNorm."""
        consumers = self.consumers()
        out: dict[str, np.ndarray] = {}
        for v in self.values:
            norms = [c for c in consumers.get(v.name, []) if "batch_norm" in c.op]
            if len(norms) != 1 or len(norms[0].params) < 4 or not v.params:
                continue
            gamma, _, _, var = (self.parameters.get(p) for p in norms[0].params[:4])
            if gamma is None or var is None:
                continue
            eps = float(norms[0].args.get("eps", 1e-5))
            out[v.params[0]] = np.asarray(gamma, np.float64) / np.sqrt(
                np.asarray(var, np.float64) + eps
            )
        return out

    def consumers(self) -> dict[str, list[SourceValue]]:
        out: dict[str, list[SourceValue]] = {}
        for v in self.values:
            for i in v.inputs:
                out.setdefault(i, []).append(v)
        return out


def _plain(value):
    """Non-tensor arguments as JSON-able Python (tensors and fx nodes become None)."""
    if isinstance(value, bool | int | float | str) or value is None:
        return value
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    name = type(value).__name__
    if name in ("dtype", "device", "layout", "memory_format"):
        return str(value)
    return None


def trace_torch(module, samples: list[list[np.ndarray]]) -> SourceTrace:
    """Trace ``module`` on ``samples`` (each a list of input arrays)."""
    import torch  # torch is an optional extra; import on use

    module = module.eval()
    parameters = {k: v.detach().numpy().copy() for k, v in module.state_dict().items()}
    first = tuple(torch.from_numpy(a) for a in samples[0])
    try:
        with torch.no_grad():
            program = torch.export.export(module, first)
    except Exception:
        return _trace_hooks(module, samples, parameters)
    graph_module = program.module()
    return SourceTrace(_interpret(graph_module, samples, program), parameters)


def _param_names(program) -> dict[str, str]:
    """fx placeholder/get_attr name -> state_dict key."""
    sig = program.graph_signature
    names = {}
    for spec in sig.input_specs:
        target = getattr(spec, "target", None)
        if target is not None:
            names[spec.arg.name] = target
    return names


def _interpret(graph_module, samples, program) -> list[SourceValue]:
    # torch is an optional extra; import on use
    import torch
    import torch.fx

    records: dict[str, SourceValue] = {}
    order: list[str] = []

    class Recorder(torch.fx.Interpreter):
        def run_node(self, n):
            result = super().run_node(n)
            if n.op in ("call_function", "call_method", "call_module") and isinstance(
                result, torch.Tensor
            ):
                array = result.detach().numpy().copy()
                if n.name not in records:
                    tensor_inputs = [a.name for a in n.all_input_nodes]
                    args = _named_args(n)
                    records[n.name] = SourceValue(
                        n.name, _op_name(n), len(order), [], args, tensor_inputs
                    )
                    order.append(n.name)
                records[n.name].arrays.append(array)
            return result

    recorder = Recorder(graph_module)
    placeholders = [n for n in graph_module.graph.nodes if n.op == "placeholder"]
    for n in placeholders:
        records[n.name] = SourceValue(n.name, "input", len(order), [])
        order.append(n.name)
    with torch.no_grad():
        for sample in samples:
            recorder.run(*[torch.from_numpy(a) for a in sample])
            for n, a in zip(placeholders, sample, strict=False):
                records[n.name].arrays.append(np.asarray(a))
    gets = {
        n.name: n.target for n in graph_module.graph.nodes if n.op == "get_attr"
    }  # lifted parameters appear as get_attr in program.module()
    for v in records.values():
        v.params = [gets[i] for i in v.inputs if i in gets]
        v.inputs = [i for i in v.inputs if i not in gets]
    return [records[n] for n in order]


def _named_args(node) -> dict:
    """Non-tensor arguments by schema name, defaults filled in (an exporter may drop them)."""
    import torch.fx  # torch is an optional extra; import on use

    schema = getattr(node.target, "_schema", None)
    if schema is None:
        return {
            f"arg{i}": _plain(a)
            for i, a in enumerate(node.args)
            if not isinstance(a, torch.fx.Node)
        }
    out = {}
    for i, arg in enumerate(schema.arguments):
        if i < len(node.args):
            value = node.args[i]
        elif arg.name in node.kwargs:
            value = node.kwargs[arg.name]
        elif arg.has_default_value():
            value = arg.default_value
        else:
            continue
        if isinstance(value, torch.fx.Node) or (
            isinstance(value, list | tuple) and any(isinstance(v, torch.fx.Node) for v in value)
        ):
            continue
        out[arg.name] = _plain(value)
    return out


def _op_name(node) -> str:
    target = node.target
    if isinstance(target, str):
        return target
    name = getattr(target, "__name__", str(target))
    return name.split(".")[0] if name.count(".") == 1 else name


def _trace_hooks(module, samples, parameters) -> SourceTrace:
    import torch  # torch is an optional extra; import on use

    records: dict[str, SourceValue] = {}

    def hook(name):
        def record(mod, args, out):
            if isinstance(out, torch.Tensor):
                if name not in records:
                    records[name] = SourceValue(name, type(mod).__name__, len(records), [])
                records[name].arrays.append(out.detach().numpy().copy())

        return record

    handles = [m.register_forward_hook(hook(n)) for n, m in module.named_modules() if n]
    try:
        with torch.no_grad():
            for sample in samples:
                module(*[torch.from_numpy(a) for a in sample])
    finally:
        for h in handles:
            h.remove()
    return SourceTrace(list(records.values()), parameters, complete=False)


TF_ATTRIBUTES = (
    "strides",
    "padding",
    "dilations",
    "alpha",
    "ksize",
    "epsilon",
    "align_corners",
    "half_pixel_centers",
)
# TF ops whose bounds are implied by the op itself
IMPLIED = {"Relu6": {"min": 0.0, "max": 6.0}, "Relu": {"min": 0.0}}


def trace_tensorflow(fn, input_specs, samples: list[list[np.ndarray]]) -> SourceTrace:
    """Freeze ``fn`` like tf2onnx and fetch every operation output in one session run. Each
    value's ``args`` hold the op's attributes, its scalar constant operands (``consts``) and,
    for a Keras model, the configuration of the layer the op belongs to (``layer``)."""
    # TensorFlow and tf2onnx are an optional extra; import on use
    import tensorflow as tf
    from tf2onnx import tf_loader

    signature = [tf.TensorSpec(list(s.shape), s.dtype, name=s.name) for s in input_specs]
    concrete = tf.function(fn, input_signature=signature, autograph=False).get_concrete_function()
    inputs = [t.name for t in concrete.inputs if t.dtype != tf.resource]
    outputs = [t.name for t in concrete.outputs]
    graph_def = tf_loader.from_function(concrete, inputs, outputs)
    configs = _keras_configs(fn)
    parameters: dict[str, np.ndarray] = {}
    graph = tf.Graph()
    with graph.as_default():
        tf.import_graph_def(graph_def, name="")
    fetch, meta = [], []
    for op in graph.get_operations():
        if op.type == "Const":
            value = op.get_attr("value")
            parameters[op.name] = tf.make_ndarray(value)
            continue
        if op.type == "Placeholder":  # the image itself: a converter's input transpose aligns
            fetch.append(op.outputs[0])
            meta.append(SourceValue(op.outputs[0].name, "input", len(meta), []))
            continue
        args = {k: _tf_attr(op, k) for k in TF_ATTRIBUTES if k in op.node_def.attr}
        args.update(IMPLIED.get(op.type, {}))
        consts = [parameters.get(i.op.name) for i in op.inputs if i.op.type == "Const"]
        scalars = [float(c.ravel()[0]) for c in consts if c is not None and c.size == 1]
        if scalars:
            args["consts"] = scalars
        layer = _layer_of(op.name, configs)
        if layer:
            args["layer"] = layer
        for out in op.outputs:
            if out.dtype.is_floating or out.dtype.is_integer or out.dtype == tf.bool:
                fetch.append(out)
                meta.append(
                    SourceValue(
                        out.name,
                        op.type,
                        len(meta),
                        [],
                        args,
                        [i.name for i in op.inputs if i.op.type != "Const"],
                        [i.op.name for i in op.inputs if i.op.type == "Const"],
                    )
                )
    with tf.compat.v1.Session(graph=graph) as session:
        for sample in samples:
            feed = {graph.get_tensor_by_name(n): a for n, a in zip(inputs, sample, strict=True)}
            for value, array in zip(meta, session.run(fetch, feed), strict=True):
                value.arrays.append(np.asarray(array))
    return SourceTrace(meta, parameters, layout="NHWC")


def _keras_configs(fn) -> dict[str, dict]:
    """Layer name -> its class and plain (number, string, bool) configuration entries, for a
    Keras model; empty for a plain function or a SavedModel signature."""
    out = {}
    for layer in getattr(fn, "layers", None) or []:
        try:
            config = layer.get_config()
        except Exception:
            continue
        plain = {
            k: v
            for k, v in config.items()
            if isinstance(v, bool | int | float | str) and k != "name"
        }
        out[layer.name] = {"class": type(layer).__name__, "name": layer.name, **plain}
    return out


def _layer_of(op_name: str, configs: dict[str, dict]) -> dict | None:
    """The Keras layer an op belongs to, from its name scope: Keras 3 scopes a layer ``name``
    as ``name_<k>`` inside a traced function, so the suffix is tried off first."""
    if not configs:
        return None
    for part in op_name.split("/")[:-1]:
        stem, _, digits = part.rpartition("_")
        if digits.isdigit() and stem in configs:
            return configs[stem]
        if part in configs:
            return configs[part]
    return None


def _tf_attr(op, key):
    value = op.get_attr(key)
    if isinstance(value, bytes):
        return value.decode()
    if isinstance(value, list):
        return [v.decode() if isinstance(v, bytes) else v for v in value]
    return value
