"""Every intermediate value of the *source* model, with the operator and arguments behind it.

PyTorch (:mod:`.eager_trace`): the ATen operators an eager run dispatches (the graph the dynamo
exporter translates), each tensor they produce once per input, plus their non-tensor arguments
(strides, pads, slopes, axes: the hyper-parameters).

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

    def _folds(self):
        """(layer value, its BatchNorm's gamma, beta, mean, var, eps) for every layer whose only
        normalisation consumer is a BatchNorm with all four parameters known."""
        consumers = self.consumers()
        for v in self.values:
            norms = [c for c in consumers.get(v.name, []) if "batch_norm" in c.op]
            if len(norms) != 1 or len(norms[0].params) < 4 or not v.params:
                continue
            found = [self.parameters.get(p) for p in norms[0].params[:4]]
            if any(a is None for a in found):
                continue
            gamma, beta, mean, var = (np.asarray(a, np.float64) for a in found)
            yield v, norms[0], gamma, beta, mean, var, float(norms[0].args.get("eps", 1e-5))

    def fold_scales(self) -> dict[str, np.ndarray]:
        """Parameter -> per-channel scale gamma / sqrt(var + eps) of the BatchNorm it feeds:
        what an exporter multiplies the weights by when it folds the BatchNorm."""
        return {
            v.params[0]: gamma / np.sqrt(var + eps) for v, _, gamma, _, _, var, eps in self._folds()
        }

    def folded_biases(self) -> dict[str, np.ndarray]:
        """The bias an exporter computes when it folds a BatchNorm into the layer before it,
        beta + (bias - mean) * gamma / sqrt(var + eps) (bias 0 when the layer has none), keyed
        ``"<beta> (folded into <weight>)"``: a folded bias is computed, never copied, so without
        it no source parameter explains the converted model's bias."""
        out: dict[str, np.ndarray] = {}
        for v, norm, gamma, beta, mean, var, eps in self._folds():
            bias = self.parameters.get(v.params[1]) if len(v.params) > 1 else None
            shifted = (0.0 if bias is None else np.asarray(bias, np.float64)) - mean
            folded = beta + shifted * gamma / np.sqrt(var + eps)
            out[f"{norm.params[1]} (folded into {v.params[0]})"] = folded.astype(np.float32)
        return out

    def comparable_parameters(self) -> dict[str, np.ndarray]:
        """The parameters a converted model's weights are paired with: the source's own and the
        biases of folded BatchNorms."""
        return {**self.parameters, **self.folded_biases()}

    def consumers(self) -> dict[str, list[SourceValue]]:
        out: dict[str, list[SourceValue]] = {}
        for v in self.values:
            for i in v.inputs:
                out.setdefault(i, []).append(v)
        return out


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
