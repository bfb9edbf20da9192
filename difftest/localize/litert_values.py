"""A TFLite model's own intermediate tensors, for the alignment of its ONNX reading.

The localizer's stages work on an ONNX graph. A ``.tflite`` target is read into ONNX by
tf2onnx's TFLite front end for its *structure* (nodes, initializers, attributes); the values the
alignment judges come from LiteRT running the ``.tflite`` itself, every intermediate tensor kept
(``experimental_preserve_all_tensors``). tf2onnx names an ONNX value after the TFLite tensor it
computes, with two exceptions handled here: a fused activation (``CONV_2D`` with ``RELU6``)
becomes a separate activation node whose output carries a generated name while the TFLite
tensor is the activated one, and values tf2onnx adds (layout transposes, the MatMul before a
bias Add) have no TFLite tensor at all; those few come from ONNX Runtime on the reading. A TFLite
tensor is NHWC where the reading's value may be NCHW: the layout whose shape fits, and when both
fit the one nearer ONNX Runtime's value of the same reading, is taken.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import onnx

from difftest.localize.graph_trace import trace_onnx

# activations tf2onnx splits off a TFLite op's fused_activation_function
FUSED_ACTIVATIONS = {"Relu", "Clip", "Tanh"}
LAYOUTS = [None, (0, 3, 1, 2), (0, 2, 3, 1)]  # as stored, NHWC -> NCHW, NCHW -> NHWC


@dataclass(frozen=True)
class TfliteOp:
    """The TFLite operator that writes one tensor."""

    index: int
    builtin: str
    tensor: str

    def describe(self) -> str:
        return f"TFLite op {self.index} {self.builtin} (output tensor {self.tensor})"


def preserving_interpreter(path: Path):
    """A LiteRT interpreter of ``path`` that keeps every intermediate tensor readable."""
    # LiteRT is an optional extra (`matrix`); import on use
    from ai_edge_litert.interpreter import Interpreter

    with warnings.catch_warnings():  # keeping every tensor is the point here, not a mistake
        warnings.filterwarnings("ignore", message=".*experimental_preserve_all_tensors")
        return Interpreter(model_path=str(path), experimental_preserve_all_tensors=True)


def tflite_ops(path: Path) -> dict[str, TfliteOp]:
    """Tensor name -> the operator that writes it, for every operator of the main graph."""
    interpreter = preserving_interpreter(path)
    names = {d["index"]: d["name"] for d in interpreter.get_tensor_details()}
    writers: dict[str, TfliteOp] = {}
    for op in interpreter._get_ops_details():  # the only reader of the op list LiteRT offers
        if op["op_name"] == "DELEGATE":
            continue
        for out in op["outputs"]:
            writers[names[int(out)]] = TfliteOp(int(op["index"]), op["op_name"], names[int(out)])
    return writers


def tensor_of_value(reading: onnx.ModelProto, tensors: set[str]) -> dict[str, str]:
    """The reading's value name -> the TFLite tensor holding the same value."""
    consumers: dict[str, list[onnx.NodeProto]] = {}
    for node in reading.graph.node:
        for name in node.input:
            consumers.setdefault(name, []).append(node)
    produced = {o for node in reading.graph.node for o in node.output}
    mapping: dict[str, str] = {}
    for tensor in tensors & produced:
        value = tensor
        while True:
            after = consumers.get(value, [])
            if len(after) != 1 or after[0].op_type not in FUSED_ACTIVATIONS:
                break
            if after[0].input[0] != value or after[0].output[0] in tensors:
                break
            value = after[0].output[0]
        mapping[value] = tensor
    return mapping


def layout_of(array: np.ndarray, like: np.ndarray) -> tuple[int, ...] | None:
    """The permutation taking a TFLite tensor to the reading's value ``like`` (``()``: as
    stored), or ``None`` when no layout fits its shape."""
    perms = [p for p in LAYOUTS if p is None or array.ndim == 4]
    fitting = [p for p in perms if (array if p is None else array.transpose(p)).shape == like.shape]
    if not fitting:
        return None

    def gap(perm: tuple[int, ...] | None) -> float:
        moved = array if perm is None else array.transpose(perm)
        return float(np.abs(moved.astype(np.float64) - like).max()) if moved.size else 0.0

    best = min(fitting, key=gap)
    return best or ()


@dataclass
class LitertValues:
    """A values provider for :func:`difftest.localize.align.align`: LiteRT's tensors of the
    ``.tflite`` at ``path`` under the value names of its ONNX ``reading``. ``supplied`` and
    ``from_onnxruntime`` count, over the values asked for, where each came from."""

    path: Path
    reading: onnx.ModelProto
    mapping: dict[str, str] = field(default_factory=dict)
    supplied: set[str] = field(default_factory=set)
    from_onnxruntime: set[str] = field(default_factory=set)

    def __post_init__(self) -> None:
        tensors = {d["name"] for d in preserving_interpreter(self.path).get_tensor_details()}
        self.mapping = tensor_of_value(self.reading, tensors)

    def run(self, samples: list[list[np.ndarray]], wanted: set[str]) -> dict[str, list]:
        """LiteRT's value of every tensor in ``wanted``, one array per sample."""
        interpreter = preserving_interpreter(self.path)
        inputs = interpreter.get_input_details()
        graph_inputs = [i.name for i in self.reading.graph.input]
        order = [
            graph_inputs.index(d["name"]) if d["name"] in graph_inputs else k
            for k, d in enumerate(inputs)
        ]
        index = {d["name"]: d["index"] for d in interpreter.get_tensor_details()}
        out: dict[str, list] = {t: [] for t in wanted}
        for sample in samples:
            for detail, k in zip(inputs, order, strict=True):
                interpreter.resize_tensor_input(detail["index"], sample[k].shape)
            interpreter.allocate_tensors()
            for detail, k in zip(inputs, order, strict=True):
                interpreter.set_tensor(detail["index"], np.ascontiguousarray(sample[k]))
            interpreter.invoke()
            for tensor in wanted:
                out[tensor].append(np.array(interpreter.get_tensor(index[tensor])))
        return out

    def __call__(
        self,
        model: onnx.ModelProto,
        samples: list[list[np.ndarray]],
        names: list[str],
        budget_mb: float,
    ) -> Iterator[dict[str, list[np.ndarray]]]:
        for chunk in trace_onnx(model, samples, names, budget_mb):
            wanted = {self.mapping[n] for n in chunk if n in self.mapping}
            litert = self.run(samples, wanted)
            for name, arrays in chunk.items():
                tensor = self.mapping.get(name)
                perm = layout_of(litert[tensor][0], arrays[0]) if tensor is not None else None
                if perm is not None:
                    chunk[name] = [
                        (a.transpose(perm) if perm else a).astype(like.dtype)
                        for a, like in zip(litert[tensor], arrays, strict=True)
                    ]
                    self.supplied.add(name)
                    self.from_onnxruntime.discard(name)
                elif name not in self.supplied:
                    self.from_onnxruntime.add(name)
            yield chunk

    def summary(self) -> str:
        total = len(self.supplied) + len(self.from_onnxruntime)
        kinds: dict[str, int] = {}
        for node in self.reading.graph.node:
            if any(o in self.from_onnxruntime for o in node.output):
                kinds[node.op_type] = kinds.get(node.op_type, 0) + 1
        text = f"values from LiteRT ({len(self.supplied)} of {total} tensors)"
        if not kinds:
            return text
        added = ", ".join(f"{n} {op}" for op, n in sorted(kinds.items()))
        return (
            f"{text}, {len(self.from_onnxruntime)} from ONNX Runtime on tf2onnx's reading "
            f"({added}: values with no TFLite tensor, e.g. layout transposes and outputs before "
            "a fused activation)"
        )
