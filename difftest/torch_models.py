"""PyTorch source models: synthetic graphs, small real architectures, purpose-built probes.

Everything is built from a seed with random weights; nothing is downloaded. Real architectures
are compact re-implementations (a ResNet-18 and a MobileNetV2 of the usual layout, a Transformer
encoder from a configuration) — torchvision is not installable beside the local torch wheel.
Probes are tiny models built to produce one outcome class each; the tests use them.
"""

from __future__ import annotations

import ctypes
from collections.abc import Callable

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from difftest.synthetic import GraphSpec

_UNARY: dict[str, Callable[[torch.Tensor], torch.Tensor]] = {
    "relu": torch.relu,
    "sigmoid": torch.sigmoid,
    "tanh": torch.tanh,
    "abs": torch.abs,
    "neg": torch.neg,
    "exp": torch.exp,
    "log": torch.log,
    "sqrt": torch.sqrt,
    "sin": torch.sin,
    "cos": torch.cos,
    "floor": torch.floor,
    "ceil": torch.ceil,
    "softplus": F.softplus,
    "elu": F.elu,
    "leaky_relu": lambda x: F.leaky_relu(x, 0.01),
    "gelu": F.gelu,
    "erf": torch.erf,
    "reciprocal": torch.reciprocal,
    "sign": torch.sign,
}
_BINARY: dict[str, Callable[[torch.Tensor, torch.Tensor], torch.Tensor]] = {
    "add": torch.add,
    "sub": torch.sub,
    "mul": torch.mul,
    "div": torch.div,
    "maximum": torch.maximum,
    "minimum": torch.minimum,
    "pow": torch.pow,
    "where_gt": lambda a, b: torch.where(a > b, a, b),
}
_REDUCE = {"reduce_mean": torch.mean, "reduce_sum": torch.sum}


class SyntheticNet(nn.Module):
    """Interprets a :class:`GraphSpec`; tracing records only the tensor operations."""

    def __init__(self, spec: GraphSpec) -> None:
        super().__init__()
        self.spec = spec
        for i, node in enumerate(spec.nodes):
            for name, value in node.params.items():
                self.register_buffer(f"n{i}_{name}", torch.from_numpy(np.array(value)))

    def _param(self, i: int, name: str) -> torch.Tensor:
        return getattr(self, f"n{i}_{name}")

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, ...]:
        values = {0: x}
        for i, node in enumerate(self.spec.nodes):
            args = [values[t] for t in node.inputs]
            values[node.output] = self._apply(i, node.op, node.attrs, args)
        return tuple(values[t] for t in self.spec.outputs)

    def _apply(self, i: int, op: str, attrs: dict, args: list[torch.Tensor]) -> torch.Tensor:
        x = args[0]
        if op in _UNARY:
            return _UNARY[op](x)
        if op == "clip":
            return torch.clamp(x, attrs["min"], attrs["max"])
        if op in _BINARY:
            if len(args) == 2:
                return _BINARY[op](x, args[1])
            const = self._param(i, "const")
            return _BINARY[op](const, x) if attrs["const_first"] else _BINARY[op](x, const)
        if op in _REDUCE:
            return _REDUCE[op](x, dim=attrs["axis"], keepdim=True)
        if op == "reduce_max":
            return torch.amax(x, dim=attrs["axis"], keepdim=True)
        if op == "reduce_min":
            return torch.amin(x, dim=attrs["axis"], keepdim=True)
        if op == "softmax":
            return torch.softmax(x, dim=attrs["axis"])
        if op == "log_softmax":
            return torch.log_softmax(x, dim=attrs["axis"])
        if op == "concat":
            return torch.cat([x, args[1]], dim=1)
        if op == "slice":
            return x[:, attrs["start"] : attrs["stop"]]
        if op == "conv2d":
            return F.conv2d(
                x,
                self._param(i, "weight"),
                self._param(i, "bias"),
                stride=attrs["stride"],
                padding=attrs["pad"],
            )
        if op == "max_pool2d":
            return F.max_pool2d(x, attrs["kernel"], attrs["stride"])
        if op == "avg_pool2d":
            return F.avg_pool2d(x, attrs["kernel"], attrs["stride"])
        if op == "batch_norm":
            p = lambda n: self._param(i, n)  # noqa: E731
            return F.batch_norm(
                x, p("mean"), p("var"), p("gamma"), p("beta"), False, 0.0, attrs["eps"]
            )
        if op == "pad":
            return F.pad(x, [attrs["pad"]] * 4)
        if op == "transpose_hw":
            return x.transpose(2, 3)
        if op == "upsample2":
            return F.interpolate(x, scale_factor=attrs["scale"], mode="nearest")
        if op == "flatten":
            return torch.flatten(x, 1)
        if op == "linear":
            return F.linear(x, self._param(i, "weight"), self._param(i, "bias"))
        raise ValueError(f"operator {op!r} has no PyTorch implementation")


# --- real architectures -------------------------------------------------------------------


class _Basic(nn.Module):
    def __init__(self, cin: int, cout: int, stride: int) -> None:
        super().__init__()
        self.c1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
        self.b1 = nn.BatchNorm2d(cout)
        self.c2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
        self.b2 = nn.BatchNorm2d(cout)
        self.down = None
        if stride != 1 or cin != cout:
            self.down = nn.Sequential(
                nn.Conv2d(cin, cout, 1, stride, bias=False), nn.BatchNorm2d(cout)
            )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.b2(self.c2(torch.relu(self.b1(self.c1(x)))))
        return torch.relu(y + (x if self.down is None else self.down(x)))


class ResNet18(nn.Module):
    """ResNet-18 (He et al. 2016), basic blocks [2, 2, 2, 2]."""

    def __init__(self, classes: int = 1000, width: int = 64) -> None:
        super().__init__()
        self.stem = nn.Sequential(
            nn.Conv2d(3, width, 7, 2, 3, bias=False),
            nn.BatchNorm2d(width),
            nn.ReLU(),
            nn.MaxPool2d(3, 2, 1),
        )
        blocks, cin = [], width
        for i, cout in enumerate([width, 2 * width, 4 * width, 8 * width]):
            stride = 1 if i == 0 else 2
            blocks += [_Basic(cin, cout, stride), _Basic(cout, cout, 1)]
            cin = cout
        self.blocks = nn.Sequential(*blocks)
        self.fc = nn.Linear(cin, classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(torch.flatten(F.adaptive_avg_pool2d(self.blocks(self.stem(x)), 1), 1))


class _InvertedResidual(nn.Module):
    def __init__(self, cin: int, cout: int, stride: int, expand: int) -> None:
        super().__init__()
        hidden = cin * expand
        layers: list[nn.Module] = []
        if expand != 1:
            layers += [nn.Conv2d(cin, hidden, 1, bias=False), nn.BatchNorm2d(hidden), nn.ReLU6()]
        layers += [
            nn.Conv2d(hidden, hidden, 3, stride, 1, groups=hidden, bias=False),
            nn.BatchNorm2d(hidden),
            nn.ReLU6(),
            nn.Conv2d(hidden, cout, 1, bias=False),
            nn.BatchNorm2d(cout),
        ]
        self.body = nn.Sequential(*layers)
        self.residual = stride == 1 and cin == cout

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.body(x) if self.residual else self.body(x)


class MobileNetV2(nn.Module):
    """MobileNetV2 (Sandler et al. 2018) with the paper's inverted-residual settings."""

    SETTINGS: tuple[tuple[int, int, int, int], ...] = (
        (1, 16, 1, 1),
        (6, 24, 2, 2),
        (6, 32, 3, 2),
        (6, 64, 4, 2),
        (6, 96, 3, 1),
        (6, 160, 3, 2),
        (6, 320, 1, 1),
    )

    def __init__(self, classes: int = 1000) -> None:
        super().__init__()
        layers: list[nn.Module] = [
            nn.Conv2d(3, 32, 3, 2, 1, bias=False),
            nn.BatchNorm2d(32),
            nn.ReLU6(),
        ]
        cin = 32
        for t, c, n, s in self.SETTINGS:
            for k in range(n):
                layers.append(_InvertedResidual(cin, c, s if k == 0 else 1, t))
                cin = c
        layers += [nn.Conv2d(cin, 1280, 1, bias=False), nn.BatchNorm2d(1280), nn.ReLU6()]
        self.features = nn.Sequential(*layers)
        self.classifier = nn.Linear(1280, classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(torch.flatten(F.adaptive_avg_pool2d(self.features(x), 1), 1))


class TextEncoder(nn.Module):
    """A BERT-like encoder built from a configuration: embeddings, N post-LN layers, pooler."""

    def __init__(
        self,
        vocab: int = 1000,
        dim: int = 128,
        heads: int = 4,
        layers: int = 2,
        seq: int = 32,
        activation: str = "gelu",
    ) -> None:
        super().__init__()
        self.tokens = nn.Embedding(vocab, dim)
        self.positions = nn.Parameter(torch.randn(1, seq, dim) * 0.02)
        layer = nn.TransformerEncoderLayer(
            dim, heads, 4 * dim, dropout=0.0, activation=activation, batch_first=True
        )
        self.encoder = nn.TransformerEncoder(layer, layers, enable_nested_tensor=False)
        self.pooler = nn.Linear(dim, dim)

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        hidden = self.encoder(self.tokens(ids) + self.positions[:, : ids.shape[1]])
        return torch.tanh(self.pooler(hidden[:, 0]))


# name -> (constructor, input shape, input kind)
ZOO: dict[str, tuple[Callable[[], nn.Module], tuple[int, ...], str]] = {
    "resnet18": (ResNet18, (1, 3, 224, 224), "float"),
    "resnet18-tiny": (lambda: ResNet18(classes=10, width=8), (1, 3, 64, 64), "float"),
    "mobilenet_v2": (MobileNetV2, (1, 3, 224, 224), "float"),
    "text-encoder": (TextEncoder, (1, 32), "tokens:1000"),
    "text-encoder-relu": (lambda: TextEncoder(activation="relu", layers=4), (1, 32), "tokens:1000"),
}


def build_zoo(name: str, seed: int) -> nn.Module:
    torch.manual_seed(seed)
    model = ZOO[name][0]()
    for module in model.modules():
        if isinstance(module, nn.BatchNorm2d):  # non-trivial statistics, as a trained model has
            module.running_mean.uniform_(-0.5, 0.5)
            module.running_var.uniform_(0.5, 2.0)
    return model.eval()


# --- probes: one purpose-built model per outcome class ------------------------------------


class _Lambda(nn.Module):
    def __init__(self, fn: Callable[[torch.Tensor], torch.Tensor]) -> None:
        super().__init__()
        self.fn = fn

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fn(x)


def _segfault(x: torch.Tensor) -> torch.Tensor:
    ctypes.string_at(0)  # reads address 0 in native code: SIGSEGV
    return x


def _spin(x: torch.Tensor) -> torch.Tensor:
    while True:  # never returns: the supervisor's timeout must end it
        x = x + 0


class _MatmulChain(nn.Module):
    """Four 256-wide float32 matmuls: kernels sum in different orders, results differ ~1e-7."""

    def __init__(self) -> None:
        super().__init__()
        gen = torch.Generator().manual_seed(0)
        self.register_buffer("w", torch.randn(4, 256, 256, generator=gen) / 16)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for k in range(4):
            x = torch.tanh(x @ self.w[k])
        return x


# name -> (function or None for a module, input shape, dynamic batch, outcome, why)
PROBES: dict[str, tuple[Callable, tuple[int, ...], bool, str, str]] = {
    "ok-relu": (lambda x: torch.relu(x) * 2, (2, 3, 8), False, "success", "exact in both runtimes"),
    "source-shape-error": (
        lambda x: x @ x,
        (2, 3, 4),
        False,
        "source_failure",
        "matmul of incompatible shapes fails in PyTorch itself",
    ),
    "export-fft": (
        lambda x: torch.fft.fft(x).real,
        (2, 3, 8),
        False,
        "conversion_failure",
        "aten::fft_fft has no ONNX symbolic in the TorchScript exporter",
    ),
    "ort-cumsum-int8": (
        lambda x: (x * 10).to(torch.int8).cumsum(-1).float(),
        (2, 3, 8),
        False,
        "ort_load_failure",
        "the exporter emits CumSum on int8, which ONNX Runtime rejects at load",
    ),
    "ort-frozen-reshape": (
        lambda x: x.view(int(x.shape[0]), int(x[0].numel())) * 2,
        (2, 3, 4),
        True,
        "ort_inference_failure",
        "int() freezes the traced batch size into a Reshape; batch 3 fails",
    ),
    "random-op": (
        lambda x: x + torch.rand_like(x),
        (2, 3, 8),
        False,
        "mismatch",
        "RandomUniformLike draws different numbers than torch.rand_like",
    ),
    "matmul-rounding": (
        None,
        (4, 256),
        False,
        "success",
        "float32 matmul chains differ by ~1e-7 between kernels: round-off, a mismatch only under "
        "a bare absolute 1e-7",
    ),
    "nonfinite-sign": (
        lambda x: torch.sign(torch.log(x)),
        (2, 3, 8),
        False,
        "nonfinite_mismatch",
        "log of a negative input is NaN; torch.sign(NaN) is 0, ONNX Sign keeps the NaN",
    ),
    "native-segfault": (_segfault, (2, 3), False, "crash", "a NULL read in native code"),
    "hang": (_spin, (2, 3), False, "hang", "an endless loop in the source model"),
}


def build_probe(name: str) -> nn.Module:
    fn = PROBES[name][0]
    return (_MatmulChain() if fn is None else _Lambda(fn)).eval()
