"""An onnx2torch module's own intermediate values and parameters, for the alignment of the ONNX
model it was built from.

onnx2torch turns every ONNX node into one submodule of a ``torch.fx.GraphModule``, named by its
own rule (:class:`onnx2torch.onnx_graph.OnnxGraph`), in graph order. The localizer keeps the
ONNX model as the structure and takes the values from the module: it runs under a
``torch.fx.Interpreter`` that records each submodule's output, mapped onto the ONNX node's
output names. The module's parameters and buffers are compared with the initializers they were
built from: a difference there is onnx2torch's doing, and names the node to blame.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field

import numpy as np
import onnx

from difftest.localize.graph_trace import trace_onnx
from difftest.matrix.torch_archs import import_torchvision


def module_names(model: onnx.ModelProto) -> list[str]:
    """The submodule name onnx2torch gives each ONNX node, in graph order."""
    import_torchvision()  # onnx2torch imports torchvision, which needs its CPU-only import
    # onnx2torch is an optional extra (`matrix`); its naming rule is the one to follow
    from onnx2torch.onnx_graph import OnnxGraph

    return list(OnnxGraph(model.graph).nodes)


@dataclass(frozen=True)
class ModuleParameterFinding:
    """A module tensor that differs from the ONNX initializer it was built from."""

    node: int
    initializer: str
    tensor: str  # the module's parameter or buffer
    changed_elements: int
    max_abs_diff: float

    def describe(self) -> str:
        return (
            f"onnx2torch's module tensor {self.tensor} differs from ONNX initializer "
            f"{self.initializer} it was built from: {self.changed_elements} element(s), "
            f"max |diff| {self.max_abs_diff:.3g}"
        )

    def to_dict(self) -> dict:
        return dict(self.__dict__)


def _forms(array: np.ndarray, shape: tuple[int, ...]) -> list[np.ndarray]:
    """``array`` as an initializer of ``shape`` may have been stored: reshaped or transposed."""
    forms = []
    if array.size == int(np.prod(shape)):
        forms.append(array.reshape(shape))
    if array.ndim == 2 and array.T.shape == shape:
        forms.append(array.T)
    return forms


def compare_module_parameters(module, model: onnx.ModelProto) -> list[ModuleParameterFinding]:
    """Each node's float initializers against the tensors of its submodule (and the buffers the
    module reads for it); an initializer with no equal tensor is paired with the nearest one."""
    initializers = {t.name: onnx.numpy_helper.to_array(t) for t in model.graph.initializer}
    submodules = dict(module.named_modules())
    attrs = {n.target: n for n in module.graph.nodes if n.op == "get_attr"}
    calls = {n.target: n for n in module.graph.nodes if n.op == "call_module"}
    findings = []
    for index, (node, name) in enumerate(zip(model.graph.node, module_names(model), strict=True)):
        weights = [i for i in node.input if i in initializers]
        weights = [i for i in weights if np.issubdtype(initializers[i].dtype, np.floating)]
        if not weights or name not in submodules or name not in calls:
            continue
        own = {f"{name}.{k}": v for k, v in submodules[name].state_dict().items()}
        read = [a.target for a in calls[name].args if getattr(a, "target", None) in attrs]
        tensors = {**own, **{t: module.get_buffer(t) for t in read}}
        arrays = {k: v.detach().cpu().numpy() for k, v in tensors.items()}
        for weight in weights:
            want = initializers[weight].astype(np.float64)
            scored = [
                (float(np.abs(form - want).max()) if want.size else 0.0, key, form)
                for key, array in arrays.items()
                for form in _forms(array.astype(np.float64), want.shape)
            ]
            if not scored:
                continue
            gap, key, form = min(scored, key=lambda s: s[0])
            if gap > 0.0:
                changed = int(np.count_nonzero(form != want))
                findings.append(ModuleParameterFinding(index, weight, key, changed, gap))
    return findings


@dataclass
class Onnx2TorchValues:
    """A values provider for :func:`difftest.localize.align.align`: the values of the
    onnx2torch ``module`` under the value names of ``model``, the ONNX file it was built from.
    One module run per sample gives every value at once (no chunks under a memory budget)."""

    module: object
    model: onnx.ModelProto
    supplied: set[str] = field(default_factory=set)
    from_onnxruntime: set[str] = field(default_factory=set)
    outputs_of: dict[str, list[str]] = field(default_factory=dict)  # submodule -> ONNX outputs

    def __post_init__(self) -> None:
        names = module_names(self.model)
        self.outputs_of = {
            name: list(node.output) for node, name in zip(self.model.graph.node, names, strict=True)
        }

    def run(self, sample: list[np.ndarray]) -> dict[str, np.ndarray]:
        """Every ONNX node output the module computes, for one sample."""
        # torch is an optional extra; import on use
        import torch

        outputs_of = self.outputs_of
        recorded: dict[str, np.ndarray] = {}

        class Recorder(torch.fx.Interpreter):
            def run_node(self, n):
                result = super().run_node(n)
                if n.op == "call_module" and n.target in outputs_of:
                    results = result if isinstance(result, tuple | list) else (result,)
                    for value, out in zip(results, outputs_of[n.target], strict=False):
                        if isinstance(value, torch.Tensor) and out:
                            recorded[out] = value.detach().cpu().numpy().copy()
                return result

        with torch.no_grad():
            Recorder(self.module).run(*[torch.from_numpy(np.asarray(a)) for a in sample])
        return recorded

    def __call__(
        self,
        model: onnx.ModelProto,
        samples: list[list[np.ndarray]],
        names: list[str],
        budget_mb: float,
    ) -> Iterator[dict[str, list[np.ndarray]]]:
        runs = [self.run(sample) for sample in samples]
        missing = [n for n in names if any(n not in r for r in runs)]
        chunk = {n: [r[n] for r in runs] for n in names if n not in missing}
        self.supplied.update(chunk)
        if missing:
            for part in trace_onnx(model, samples, missing, budget_mb):
                chunk.update(part)
                self.from_onnxruntime.update(part)
        yield chunk

    def summary(self) -> str:
        total = len(self.supplied) + len(self.from_onnxruntime)
        return (
            f"values from PyTorch (onnx2torch's module, {len(self.supplied)} of {total} "
            f"tensors), {len(self.from_onnxruntime)} from ONNX Runtime"
        )
