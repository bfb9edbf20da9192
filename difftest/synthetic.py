"""Seeded random graphs that PyTorch and TensorFlow build identically.

A :class:`GraphSpec` is a framework-neutral list of operator nodes over float32 tensors in one
canonical layout (batch first; 4-D tensors are NCHW). Parameters (weights, constants) are drawn
from the same seed, so :mod:`difftest.torch_models` and :mod:`difftest.tf_models` build the same
function and the two converters can be compared on identical models, which the ISSTA study could
not do (its NNSmith graphs differed per framework).

The generator grows a graph node by node: pick an operator, pick inputs among the tensors made
so far (recent ones preferred), sample attributes that keep shapes valid and small. Tensors that
no node consumes become graph outputs (as in NNSmith), so every node influences an output.
``force`` places a chosen operator as early as the shapes allow: a campaign cycles it through
:data:`CATALOGUE`, so every operator is used at least once per framework family when the
campaign has at least as many models as the catalogue has operators.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from dataclasses import dataclass, field

import numpy as np

UNARY = [
    "relu",
    "sigmoid",
    "tanh",
    "abs",
    "neg",
    "exp",
    "log",
    "sqrt",
    "sin",
    "cos",
    "floor",
    "ceil",
    "softplus",
    "elu",
    "leaky_relu",
    "gelu",
    "erf",
    "reciprocal",
    "sign",
    "clip",
]
BINARY = ["add", "sub", "mul", "div", "maximum", "minimum", "pow", "where_gt"]
REDUCE = ["reduce_mean", "reduce_sum", "reduce_max", "reduce_min"]
AXIS = ["softmax", "log_softmax", "concat", "slice"]
SPATIAL = [
    "conv2d",
    "max_pool2d",
    "avg_pool2d",
    "batch_norm",
    "pad",
    "transpose_hw",
    "upsample2",
    "flatten",
]
DENSE = ["linear"]
CATALOGUE: list[str] = [*UNARY, *BINARY, *REDUCE, *AXIS, *SPATIAL, *DENSE]

MAX_CHANNELS = 32
MAX_FEATURES = 64
MAX_FLAT = 1024
MAX_SPATIAL = 32


@dataclass
class Node:
    """One operator application: ``op`` on tensor ids ``inputs`` giving tensor ``output``."""

    op: str
    inputs: list[int]
    output: int
    attrs: dict = field(default_factory=dict)
    params: dict[str, np.ndarray] = field(default_factory=dict)


@dataclass
class GraphSpec:
    """A generated graph: tensor 0 is the input; ``shapes`` maps every tensor id to its shape."""

    seed: int
    input_shape: tuple[int, ...]
    nodes: list[Node]
    shapes: dict[int, tuple[int, ...]]
    outputs: list[int]

    def op_counts(self) -> dict[str, int]:
        return dict(sorted(Counter(n.op for n in self.nodes).items()))

    def describe(self) -> dict:
        """A JSON-able summary (no weights): what the results file says about the model."""
        return {
            "generator": "difftest.synthetic",
            "seed": self.seed,
            "input_shape": list(self.input_shape),
            "n_nodes": len(self.nodes),
            "n_outputs": len(self.outputs),
            "op_counts": self.op_counts(),
        }


def model_seed(campaign_seed: int, nodes: int, index: int) -> int:
    """A stable 31-bit seed for model ``index`` of size ``nodes`` (independent of Python's hash)."""
    digest = hashlib.sha256(f"{campaign_seed}/{nodes}/{index}".encode()).digest()
    return int.from_bytes(digest[:4], "little") & 0x7FFFFFFF


class _Builder:
    def __init__(self, seed: int) -> None:
        self.rng = np.random.default_rng(seed)
        self.shapes: dict[int, tuple[int, ...]] = {}
        self.nodes: list[Node] = []
        self.consumed: set[int] = set()

    def new_tensor(self, shape: tuple[int, ...]) -> int:
        tid = len(self.shapes)
        self.shapes[tid] = tuple(int(s) for s in shape)
        return tid

    def pick(self, predicate=lambda s: True) -> int | None:
        """A tensor satisfying ``predicate``; recent tensors are preferred, unconsumed first."""
        ids = [t for t, s in self.shapes.items() if predicate(s)]
        if not ids:
            return None
        fresh = [t for t in ids if t not in self.consumed]
        if fresh and self.rng.random() < 0.7:
            return int(fresh[-1 - int(self.rng.integers(0, min(3, len(fresh))))])
        return int(ids[int(self.rng.integers(0, len(ids)))])

    def weights(self, *shape: int, fan_in: int = 1) -> np.ndarray:
        scale = 1.0 / np.sqrt(max(fan_in, 1))
        return (self.rng.standard_normal(shape) * scale).astype(np.float32)

    def add(self, op: str, inputs: list[int], shape, attrs=None, params=None) -> None:
        out = self.new_tensor(shape)
        self.nodes.append(Node(op, inputs, out, dict(attrs or {}), dict(params or {})))
        self.consumed.update(inputs)

    def try_op(self, op: str) -> bool:
        """Append one ``op`` node if some tensor admits it; return whether it did."""
        rank4 = lambda s: len(s) == 4  # noqa: E731
        if op in UNARY:
            x = self.pick()
            attrs = {}
            if op == "clip":
                low = float(np.round(self.rng.uniform(-2.0, 0.0), 3))
                attrs = {"min": low, "max": float(np.round(low + self.rng.uniform(0.5, 3.0), 3))}
            self.add(op, [x], self.shapes[x], attrs)
            return True
        if op in BINARY:
            a = self.pick()
            shape = self.shapes[a]
            partners = [t for t, s in self.shapes.items() if s == shape and t != a]
            if partners and self.rng.random() < 0.6:
                b = int(partners[int(self.rng.integers(0, len(partners)))])
                self.add(op, [a, b], shape)
            else:
                # broadcast a constant over the batch dimension (and over singleton dims at random)
                cshape = tuple(
                    1 if i == 0 or self.rng.random() < 0.3 else d for i, d in enumerate(shape)
                )
                const = self.weights(*cshape)
                if op in ("div", "pow"):
                    const = np.abs(const) + np.float32(0.5)
                self.add(
                    op, [a], shape, {"const_first": bool(self.rng.random() < 0.3)}, {"const": const}
                )
            return True
        if op in REDUCE:
            x = self.pick(lambda s: len(s) >= 2)
            axis = int(self.rng.integers(1, len(self.shapes[x])))
            shape = list(self.shapes[x])
            shape[axis] = 1
            self.add(op, [x], shape, {"axis": axis})
            return True
        if op in ("softmax", "log_softmax"):
            x = self.pick(lambda s: len(s) >= 2)
            self.add(op, [x], self.shapes[x], {"axis": len(self.shapes[x]) - 1})
            return True
        if op == "concat":
            a = self.pick(lambda s: len(s) >= 2)
            if a is None:
                return False
            sa = self.shapes[a]
            mates = [
                t
                for t, s in self.shapes.items()
                if len(s) == len(sa)
                and s[0] == sa[0]
                and s[2:] == sa[2:]
                and s[1] + sa[1] <= MAX_CHANNELS * 2
            ]
            if not mates:  # every candidate would push the channels past the cap
                return False
            b = int(mates[int(self.rng.integers(0, len(mates)))])
            self.add(op, [a, b], (sa[0], sa[1] + self.shapes[b][1], *sa[2:]), {"axis": 1})
            return True
        if op == "slice":
            x = self.pick(lambda s: len(s) >= 2 and s[1] >= 2)
            if x is None:
                return False
            s = self.shapes[x]
            start = int(self.rng.integers(0, s[1] // 2 + 1))
            stop = int(self.rng.integers(start + 1, s[1] + 1))
            self.add(
                op, [x], (s[0], stop - start, *s[2:]), {"axis": 1, "start": start, "stop": stop}
            )
            return True
        if op == "conv2d":
            x = self.pick(lambda s: rank4(s) and s[2] >= 3 and s[3] >= 3)
            if x is None:
                return False
            n, c, h, w = self.shapes[x]
            k = int(self.rng.choice([1, 3]))
            stride = int(self.rng.choice([1, 2]))
            pad = int(self.rng.integers(0, 2)) if k == 3 else 0
            out_c = int(self.rng.integers(1, 9))
            oh, ow = (h + 2 * pad - k) // stride + 1, (w + 2 * pad - k) // stride + 1
            params = {
                "weight": self.weights(out_c, c, k, k, fan_in=c * k * k),
                "bias": self.weights(out_c),
            }
            attrs = {"kernel": k, "stride": stride, "pad": pad}
            self.add(op, [x], (n, out_c, oh, ow), attrs, params)
            return True
        if op in ("max_pool2d", "avg_pool2d"):
            x = self.pick(lambda s: rank4(s) and s[2] >= 2 and s[3] >= 2)
            if x is None:
                return False
            n, c, h, w = self.shapes[x]
            self.add(op, [x], (n, c, h // 2, w // 2), {"kernel": 2, "stride": 2})
            return True
        if op == "batch_norm":
            x = self.pick(rank4)
            if x is None:
                return False
            c = self.shapes[x][1]
            params = {
                "mean": self.weights(c),
                "var": (self.rng.uniform(0.5, 2.0, c)).astype(np.float32),
                "gamma": self.weights(c) + np.float32(1.0),
                "beta": self.weights(c),
            }
            self.add(op, [x], self.shapes[x], {"eps": 1e-5}, params)
            return True
        if op == "pad":
            x = self.pick(lambda s: rank4(s) and max(s[2:]) + 2 <= MAX_SPATIAL)
            if x is None:
                return False
            n, c, h, w = self.shapes[x]
            self.add(op, [x], (n, c, h + 2, w + 2), {"pad": 1})
            return True
        if op == "transpose_hw":
            x = self.pick(rank4)
            if x is None:
                return False
            n, c, h, w = self.shapes[x]
            self.add(op, [x], (n, c, w, h))
            return True
        if op == "upsample2":
            x = self.pick(lambda s: rank4(s) and 2 * max(s[2:]) <= MAX_SPATIAL)
            if x is None:
                return False
            n, c, h, w = self.shapes[x]
            self.add(op, [x], (n, c, 2 * h, 2 * w), {"scale": 2})
            return True
        if op == "flatten":
            x = self.pick(lambda s: rank4(s) and int(np.prod(s[1:])) <= MAX_FLAT)
            if x is None:
                return False
            s = self.shapes[x]
            self.add(op, [x], (s[0], int(np.prod(s[1:]))))
            return True
        if op == "linear":
            x = self.pick(lambda s: len(s) == 2)
            if x is None:
                return False
            n, f = self.shapes[x]
            out_f = int(self.rng.integers(1, MAX_FEATURES + 1))
            params = {"weight": self.weights(out_f, f, fan_in=f), "bias": self.weights(out_f)}
            self.add(op, [x], (n, out_f), {}, params)
            return True
        raise ValueError(f"unknown operator {op!r}")


def generate(seed: int, n_nodes: int, force: str | None = None) -> GraphSpec:
    """A random valid graph of exactly ``n_nodes`` operator nodes, the same for every call."""
    if n_nodes < 1:
        raise ValueError("a graph needs at least one node")
    if force is not None and force not in CATALOGUE:
        raise ValueError(f"unknown operator {force!r}; choose from {', '.join(CATALOGUE)}")
    b = _Builder(seed)
    rng = b.rng
    input_shape = (
        int(rng.integers(1, 3)),
        int(rng.integers(1, 5)),
        int(rng.integers(4, 17)),
        int(rng.integers(4, 17)),
    )
    b.new_tensor(input_shape)
    pending = force
    while len(b.nodes) < n_nodes:
        if pending is not None and b.try_op(pending):
            pending = None  # placed at the first tensor that admits it
            continue
        if pending == "linear" and b.try_op("flatten"):
            continue  # linear needs a 2-D tensor
        op = CATALOGUE[int(rng.integers(0, len(CATALOGUE)))]
        b.try_op(op)
    consumed = {i for n in b.nodes for i in n.inputs}
    outputs = [n.output for n in b.nodes if n.output not in consumed]
    return GraphSpec(seed, input_shape, b.nodes, b.shapes, outputs)
