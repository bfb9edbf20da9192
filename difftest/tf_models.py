"""TensorFlow source models: the same synthetic graphs, Keras applications, probes.

A synthetic :class:`~difftest.synthetic.GraphSpec` is kept in its canonical NCHW layout; the
spatial operators (convolution, pooling) transpose to NHWC and back because TensorFlow's CPU
kernels only take NHWC. tf2onnx's optimizer removes most of those transposes again. Weights are
``tf.Variable`` objects so that tf2onnx freezes them (captured constants would become graph
inputs). Real architectures are Keras applications with ``weights=None`` (seeded random
weights, no download).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import tensorflow as tf

from difftest.synthetic import GraphSpec

_UNARY: dict[str, Callable] = {
    "relu": tf.nn.relu,
    "sigmoid": tf.sigmoid,
    "tanh": tf.tanh,
    "abs": tf.abs,
    "neg": tf.negative,
    "exp": tf.exp,
    "log": tf.math.log,
    "sqrt": tf.sqrt,
    "sin": tf.sin,
    "cos": tf.cos,
    "floor": tf.floor,
    "ceil": tf.math.ceil,
    "softplus": tf.nn.softplus,
    "elu": tf.nn.elu,
    "leaky_relu": lambda x: tf.nn.leaky_relu(x, 0.01),
    "gelu": lambda x: tf.nn.gelu(x, approximate=False),
    "erf": tf.math.erf,
    "reciprocal": tf.math.reciprocal,
    "sign": tf.sign,
}
_BINARY: dict[str, Callable] = {
    "add": tf.add,
    "sub": tf.subtract,
    "mul": tf.multiply,
    "div": tf.divide,
    "maximum": tf.maximum,
    "minimum": tf.minimum,
    "pow": tf.pow,
    "where_gt": lambda a, b: tf.where(a > b, a, b),
}
_REDUCE = {
    "reduce_mean": tf.reduce_mean,
    "reduce_sum": tf.reduce_sum,
    "reduce_max": tf.reduce_max,
    "reduce_min": tf.reduce_min,
}
_NHWC, _NCHW = [0, 2, 3, 1], [0, 3, 1, 2]


def _tf_param(op: str, name: str, value: np.ndarray) -> np.ndarray:
    """Torch-layout parameters in TensorFlow's layout."""
    if op == "conv2d" and name == "weight":
        return value.transpose(2, 3, 1, 0)  # [O, I, kh, kw] -> [kh, kw, I, O]
    if op == "linear" and name == "weight":
        return value.T
    if op == "batch_norm":
        return value.reshape(1, -1, 1, 1)
    return value


class SyntheticModule(tf.Module):
    """Interprets a :class:`GraphSpec` with TensorFlow operations."""

    def __init__(self, spec: GraphSpec) -> None:
        super().__init__(name="synthetic")
        self.spec = spec
        self.params = {
            f"n{i}_{name}": tf.Variable(
                _tf_param(node.op, name, value), trainable=False, name=f"n{i}_{name}"
            )
            for i, node in enumerate(spec.nodes)
            for name, value in node.params.items()
        }

    def __call__(self, x: tf.Tensor) -> tuple[tf.Tensor, ...]:
        values = {0: x}
        for i, node in enumerate(self.spec.nodes):
            values[node.output] = self._apply(
                i, node.op, node.attrs, [values[t] for t in node.inputs]
            )
        return tuple(values[t] for t in self.spec.outputs)

    def _apply(self, i: int, op: str, attrs: dict, args: list) -> tf.Tensor:
        x = args[0]
        p = lambda name: self.params[f"n{i}_{name}"]  # noqa: E731
        if op in _UNARY:
            return _UNARY[op](x)
        if op == "clip":
            return tf.clip_by_value(x, attrs["min"], attrs["max"])
        if op in _BINARY:
            if len(args) == 2:
                return _BINARY[op](x, args[1])
            return (
                _BINARY[op](p("const"), x) if attrs["const_first"] else _BINARY[op](x, p("const"))
            )
        if op in _REDUCE:
            return _REDUCE[op](x, axis=attrs["axis"], keepdims=True)
        if op == "softmax":
            return tf.nn.softmax(x, axis=attrs["axis"])
        if op == "log_softmax":
            return tf.nn.log_softmax(x, axis=attrs["axis"])
        if op == "concat":
            return tf.concat([x, args[1]], axis=1)
        if op == "slice":
            return x[:, attrs["start"] : attrs["stop"]]
        if op == "conv2d":
            pad = attrs["pad"]
            y = tf.pad(tf.transpose(x, _NHWC), [[0, 0], [pad, pad], [pad, pad], [0, 0]])
            y = tf.nn.conv2d(y, p("weight"), attrs["stride"], "VALID") + p("bias")
            return tf.transpose(y, _NCHW)
        if op in ("max_pool2d", "avg_pool2d"):
            pool = tf.nn.max_pool2d if op == "max_pool2d" else tf.nn.avg_pool2d
            return tf.transpose(
                pool(tf.transpose(x, _NHWC), attrs["kernel"], attrs["stride"], "VALID"), _NCHW
            )
        if op == "batch_norm":
            return tf.nn.batch_normalization(
                x, p("mean"), p("var"), p("beta"), p("gamma"), attrs["eps"]
            )
        if op == "pad":
            k = attrs["pad"]
            return tf.pad(x, [[0, 0], [0, 0], [k, k], [k, k]])
        if op == "transpose_hw":
            return tf.transpose(x, [0, 1, 3, 2])
        if op == "upsample2":
            return tf.repeat(tf.repeat(x, attrs["scale"], axis=2), attrs["scale"], axis=3)
        if op == "flatten":
            return tf.reshape(x, [x.shape[0], -1])
        if op == "linear":
            return tf.matmul(x, p("weight")) + p("bias")
        raise ValueError(f"operator {op!r} has no TensorFlow implementation")


# --- real architectures (Keras applications, random weights) -------------------------------

ZOO: dict[str, tuple[str, tuple[int, ...]]] = {
    "mobilenet_v2": ("MobileNetV2", (1, 224, 224, 3)),
    "resnet50": ("ResNet50", (1, 224, 224, 3)),
    "inception_v3": ("InceptionV3", (1, 299, 299, 3)),
    "mobilenet_v2-tiny": ("MobileNetV2", (1, 96, 96, 3)),
}


def build_zoo(name: str, seed: int) -> Callable:
    # Keras comes with the optional TensorFlow extra; import on use
    import keras

    keras.utils.set_random_seed(seed)
    cls, shape = ZOO[name]
    extra = {"alpha": 0.35} if name.endswith("-tiny") else {}
    model = getattr(keras.applications, cls)(weights=None, input_shape=shape[1:], **extra)
    return lambda x: model(x, training=False)


# --- probes ---------------------------------------------------------------------------------

# name -> (function, input shape, outcome it produces, why)
PROBES: dict[str, tuple[Callable, tuple[int, ...], str, str]] = {
    "ok-relu": (lambda x: tf.nn.relu(x) * 2.0, (2, 3, 8), "success", "exact in both runtimes"),
    "source-bool-sub": (
        lambda x: tf.cast(tf.raw_ops.Sub(x=x > 0, y=x < 0), tf.float32),
        (2, 3),
        "source_failure",
        "Sub on bool: the TensorFlow error the ISSTA data counted 781 times as a converter failure",
    ),
    "ort-erfc": (
        lambda x: tf.math.erfc(x),
        (2, 3),
        "ort_load_failure",
        "tf2onnx emits an Erfc node, which is no ONNX operator (exact GELU lowers to it too)",
    ),
    "random-op": (
        lambda x: x + tf.random.uniform(tf.shape(x)),
        (2, 3, 8),
        "mismatch",
        "RandomUniform draws different numbers in ONNX Runtime",
    ),
}


def build_probe(name: str) -> Callable:
    return PROBES[name][0]
