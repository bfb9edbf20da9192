"""The three architectures in PyTorch, from torchvision, with the import made to work on CPU.

The torchvision wheels reachable here are CUDA builds: their ``_C.so`` links the CUDA libraries
of torch, so its operators never register, and ``import torchvision`` fails in
``torchvision/_meta_registrations.py`` (``operator torchvision::nms does not exist``). The two
modules that register fake and autograd kernels for those C++ operators are replaced by empty
modules before the first import; the model builders need none of the C++ operators (only
``torchvision.ops`` such as ``nms`` do, and they still raise a clear error). Everything that
imports torchvision, onnx2torch included, must go through :func:`import_torchvision`.
"""

from __future__ import annotations

import sys
import types
from dataclasses import dataclass

_REGISTRATIONS = ("torchvision._meta_registrations", "torchvision._autograd_registrations")


def import_torchvision():
    """``torchvision``, imported with its CUDA-only kernel registrations left out."""
    for name in _REGISTRATIONS:
        sys.modules.setdefault(name, types.ModuleType(name))
    import torchvision  # optional extra `matrix`; must come after the stand-ins above

    return torchvision


@dataclass(frozen=True)
class Architecture:
    """A model of the matrix: its torchvision builder and the input size it is trained at."""

    name: str
    size: int
    max_epochs: int

    def build(self, n_classes: int = 10):
        """A freshly initialized torch module (torch seeds decide the weights)."""
        models = import_torchvision().models
        if self.name == "inception_v3":
            return models.inception_v3(
                weights=None, num_classes=n_classes, aux_logits=False, init_weights=True
            )
        return getattr(models, self.name)(weights=None, num_classes=n_classes)


ARCHITECTURES: dict[str, Architecture] = {
    a.name: a
    for a in [
        Architecture("mobilenet_v2", 32, 8),
        Architecture("resnet101", 32, 6),
        Architecture("inception_v3", 75, 5),
    ]
}


def tiny_model(seed: int = 0):
    """A seeded, untrained small CNN for tests: conv-BN-ReLU6, a stride-2 depthwise conv, and a
    3x3 conv with 4,608 weights, the one layer large enough for dynamic-range int8 to touch."""
    # torch is an optional extra; import on use
    import torch
    from torch import nn

    class Tiny(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.stem = nn.Sequential(
                nn.Conv2d(3, 16, 3, padding=1, bias=False), nn.BatchNorm2d(16), nn.ReLU6()
            )
            self.down = nn.Sequential(
                nn.Conv2d(16, 16, 3, 2, 1, groups=16, bias=False), nn.BatchNorm2d(16), nn.ReLU()
            )
            self.wide = nn.Conv2d(16, 32, 3, padding=1)
            self.pool = nn.AdaptiveAvgPool2d(1)
            self.fc = nn.Linear(32, 10)

        def forward(self, x):
            x = torch.relu(self.wide(self.down(self.stem(x))))
            return self.fc(torch.flatten(self.pool(x), 1))

    torch.manual_seed(seed)
    model = Tiny()
    generator = torch.Generator().manual_seed(seed)
    for module in model.modules():
        if isinstance(module, nn.BatchNorm2d):
            module.running_mean.copy_(torch.rand(16, generator=generator) * 0.2 - 0.1)
            module.running_var.copy_(torch.rand(16, generator=generator) + 0.5)
    return model.eval()


TINY = "tiny"
TINY_SIZE = 16
