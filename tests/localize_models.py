"""Small PyTorch models and helpers shared by the localization tests."""

from __future__ import annotations

import io
import warnings

import numpy as np
import onnx
import torch
import torch.nn.functional as F
from torch import nn

from difftest.sources import InputSpec, _torch_model


class Small(nn.Module):
    """Conv + BatchNorm (folded by exporters) + LeakyReLU + GELU + Linear + Softmax."""

    def __init__(self) -> None:
        super().__init__()
        torch.manual_seed(0)
        self.conv = nn.Conv2d(3, 8, 3, padding=1)
        self.bn = nn.BatchNorm2d(8)
        self.bn.running_mean.uniform_(-0.5, 0.5)
        self.bn.running_var.uniform_(0.5, 2.0)
        self.bn.weight.data.uniform_(0.5, 1.5)
        self.fc = nn.Linear(8 * 6 * 6, 10)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = F.leaky_relu(self.bn(self.conv(x)), 0.1)
        y = F.gelu(torch.tanh(y))
        return torch.softmax(self.fc(torch.flatten(y, 1)), dim=1) * 10 + self.fc(
            torch.flatten(y, 1)
        )


class Norms(nn.Module):
    """Two LayerNorms in a row: bypassing the second one barely changes the output, the trap a
    repair must not fall into when the source has both."""

    def __init__(self) -> None:
        super().__init__()
        torch.manual_seed(0)
        self.fc = nn.Linear(8, 8)
        self.first = nn.LayerNorm(8)
        self.second = nn.LayerNorm(8)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.second(self.first(self.fc(x)))


class Upsampler(nn.Module):
    """Conv + ReLU6 (a Clip with both bounds), bilinear upsampling, LayerNorm over channels
    last, a Linear head: one node for each hyper-parameter a converter can lose."""

    def __init__(self) -> None:
        super().__init__()
        torch.manual_seed(0)
        self.conv = nn.Conv2d(3, 4, 3, padding=1)
        self.relu6 = nn.ReLU6()
        self.norm = nn.LayerNorm(8)
        self.fc = nn.Linear(4 * 8 * 8, 5)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.relu6(self.conv(x) * 20.0)
        y = F.interpolate(y, scale_factor=2, mode="bilinear", align_corners=False)
        y = self.norm(y)
        return self.fc(torch.flatten(y, 1))


def norms_source():
    return _torch_model(Norms().eval(), [InputSpec("x", (2, 4, 8))], {})


def upsampler_source(inplace: bool = False):
    """The Upsampler; ``inplace``: its ReLU6 in place, as torchvision builds it (hardtanh_)."""
    module = Upsampler().eval()
    module.relu6.inplace = inplace
    return _torch_model(module, [InputSpec("x", (2, 3, 4, 4))], {})


def small_source():
    return _torch_model(Small().eval(), [InputSpec("x", (2, 3, 6, 6))], {})


def export(source, dynamo: bool = False) -> onnx.ModelProto:
    from difftest.converters import get_converter

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return get_converter("dynamo" if dynamo else "torchscript").convert(source, 17)


def copy_model(model: onnx.ModelProto) -> onnx.ModelProto:
    """A copy to plant a fault in, the healthy model left as it was."""
    out = onnx.ModelProto()
    out.CopyFrom(model)
    return out


def node_index(model: onnx.ModelProto, op_type: str, k: int = 0) -> int:
    return [i for i, n in enumerate(model.graph.node) if n.op_type == op_type][k]


def set_attr(model: onnx.ModelProto, index: int, name: str, value) -> None:
    node = model.graph.node[index]
    for a in list(node.attribute):
        if a.name == name:
            node.attribute.remove(a)
    node.attribute.append(onnx.helper.make_attribute(name, value))


def perturb_weight(
    model: onnx.ModelProto, index: int, delta: float = 0.5, position: int = 1
) -> None:
    """Move one element of the node's input ``position`` (1: the weight, 2: a Conv's bias)."""
    from onnx import numpy_helper

    name = model.graph.node[index].input[position]
    tensor = next(t for t in model.graph.initializer if t.name == name)
    array = numpy_helper.to_array(tensor).copy()
    array.flat[3] += delta
    tensor.CopyFrom(numpy_helper.from_array(array, name))


def save_faulty_small_case(folder):
    """The CLI tests' case: the small source saved as model.pt and its export, with a
    perturbed Conv weight, as model.onnx in ``folder``; returns the source."""
    source = small_source()
    model = export(source)
    perturb_weight(model, node_index(model, "Conv"))
    torch.save(source.model, folder / "model.pt")
    onnx.save(model, folder / "model.onnx")
    return source


def to_bytes(model: onnx.ModelProto) -> bytes:
    buffer = io.BytesIO()
    onnx.save(model, buffer)
    return buffer.getvalue()


def samples(source, n: int = 2) -> list[list[np.ndarray]]:
    return source.make_inputs(0, n)
