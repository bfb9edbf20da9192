"""Every ATen operator a PyTorch module runs, recorded while it runs eagerly.

A ``TorchDispatchMode`` sees each ATen call of the forward pass with its tensors and its
non-tensor arguments (strides, pads, slopes, epsilons). That is what a ``torch.export`` trace
gave the localizer, without loading the export machinery (dynamo, functorch: most of the CPU
a localization of a small model used to spend) and without tracing the model symbolically
first. When the recording fails, forward hooks on every submodule record module outputs
instead (coarser, no arguments).

The dispatcher shows operators after their composite decomposition (``conv2d`` arrives as
``convolution``), so names are given back in the form the export trace and the dynamo exporter
use; in-place operators are named after their functional form. Views of parameters (the
transposed weight ``linear`` hands to ``addmm``) count as the parameter, so every operator
lists the parameters it reads.
"""

from __future__ import annotations

import inspect
from typing import TYPE_CHECKING

import numpy as np

from difftest.localize.source_trace import SourceTrace, SourceValue

if TYPE_CHECKING:
    from torch import nn


def plain(value: object) -> object:
    """A non-tensor argument as JSON-able Python (what is neither becomes None)."""
    if isinstance(value, bool | int | float | str) or value is None:
        return value
    if isinstance(value, list | tuple):
        return [plain(v) for v in value]
    name = type(value).__name__
    if name in ("dtype", "device", "layout", "memory_format"):
        return str(value)
    return None


def trace_torch(module: nn.Module, samples: list[list[np.ndarray]]) -> SourceTrace:
    """Trace ``module`` on ``samples`` (each a list of input arrays): every ATen operator of
    an eager run (below); module outputs from forward hooks when that fails."""
    module = module.eval()
    try:
        return trace_eager(module, samples)
    except Exception:
        parameters = {k: v.detach().numpy().copy() for k, v in module.state_dict().items()}
        return _trace_hooks(module, samples, parameters)


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


# dispatcher name -> the name torch.export's graph (and the hyper-parameter rules) use
EXPORT_NAMES = {
    "_softmax": "softmax",
    "_log_softmax": "log_softmax",
    "max_pool2d_with_indices": "max_pool2d",
    "native_batch_norm": "batch_norm",
    "_native_batch_norm_legit_no_training": "batch_norm",
    "native_layer_norm": "layer_norm",
    "addmm": "linear",
}


def _op_name(func, args: tuple) -> str:
    name = func.overloadpacket.__name__
    if name.endswith("_") and not name.endswith("__"):  # relu_ -> relu, add_ -> add
        name = name[:-1]
    if name == "convolution":  # conv1d/2d/3d and their transposes all arrive here
        rank = args[1].dim() - 2
        return f"conv_transpose{rank}d" if args[6] else f"conv{rank}d"
    return EXPORT_NAMES.get(name, name)


def _named_args(func, args: tuple, kwargs: dict) -> dict:
    """Non-tensor arguments by schema name, defaults filled in (an exporter may drop them)."""
    import torch  # torch is an optional extra; import on use

    out = {}
    for i, arg in enumerate(func._schema.arguments):
        if i < len(args):
            value = args[i]
        elif arg.name in kwargs:
            value = kwargs[arg.name]
        elif arg.has_default_value():
            value = arg.default_value
        else:
            continue
        items = value if isinstance(value, list | tuple) else [value]
        if any(isinstance(v, torch.Tensor) for v in items):
            continue
        out[arg.name] = plain(value)
    return out


def _input_names(module, count: int) -> list[str]:
    """The forward arguments' names (what an export trace calls its placeholders)."""
    try:
        names = list(inspect.signature(module.forward).parameters)
    except (TypeError, ValueError):
        names = []
    names = [n for n in names if n not in ("args", "kwargs")][:count]
    return names + [f"input_{k}" for k in range(len(names), count)]


class _Recording:
    """What one forward pass produced: values by name, and which tensor object is which."""

    def __init__(self, module, values: dict[str, SourceValue]) -> None:
        self.values = values
        self.owned = {id(t): n for n, t in [*module.named_parameters(), *module.named_buffers()]}
        self.names: dict[int, str] = {}  # id(tensor) -> source value name
        self.alive: list = []  # keeps recorded tensors alive so that ids are not reused
        self.counts: dict[str, int] = {}

    def parameter(self, tensor) -> str | None:
        return self.owned.get(id(tensor))

    def record(self, func, args: tuple, kwargs: dict, result) -> None:
        # torch is an optional extra; import on use
        import torch
        from torch.utils._pytree import tree_leaves

        tensors = [t for t in tree_leaves((args, kwargs)) if isinstance(t, torch.Tensor)]
        outputs = [o for o in tree_leaves(result) if isinstance(o, torch.Tensor) and o.numel()]
        params = [self.parameter(t) for t in tensors]
        if func.is_view and tensors and all(params) and len(outputs) == 1:
            self.owned[id(outputs[0])] = params[0]
            self.alive.append(outputs[0])
            return
        op = _op_name(func, args)
        inputs = [self.names[id(t)] for t in tensors if id(t) in self.names]
        for k, tensor in enumerate(outputs):
            base = op if k == 0 else f"{op}_out{k}"
            seen = self.counts.get(base, 0)
            self.counts[base] = seen + 1
            name = base if seen == 0 else f"{base}_{seen}"
            value = self.values.get(name)
            if value is None:
                args_by_name = _named_args(func, args, kwargs)
                value = SourceValue(name, op, len(self.values), [], args_by_name, inputs)
                value.params = [p for p in params if p]
                self.values[name] = value
            value.arrays.append(tensor.detach().numpy().copy())
            self.names[id(tensor)] = name
            self.alive.append(tensor)


def trace_eager(module: nn.Module, samples: list[list[np.ndarray]]) -> SourceTrace:
    """Run ``module`` on each sample (a list of input arrays), recording every ATen value."""
    # torch is an optional extra; import on use
    import torch
    from torch.utils._python_dispatch import TorchDispatchMode

    module = module.eval()
    parameters = {k: v.detach().numpy().copy() for k, v in module.state_dict().items()}
    values: dict[str, SourceValue] = {}
    input_names = _input_names(module, len(samples[0]))
    for name in input_names:
        values[name] = SourceValue(name, "input", len(values), [])

    class Recorder(TorchDispatchMode):
        @classmethod
        def _should_skip_dynamo(cls) -> bool:
            # nothing is compiled here; the default wraps the hook in a dynamo guard, and
            # that loads torch._dynamo (seconds of CPU) on the first operator
            return False

        def __torch_dispatch__(self, func, types, args=(), kwargs=None):
            kwargs = kwargs or {}
            result = func(*args, **kwargs)
            recording.record(func, args, kwargs, result)
            return result

    with torch.no_grad():
        for sample in samples:
            recording = _Recording(module, values)
            tensors = [torch.from_numpy(np.asarray(a)) for a in sample]
            for name, tensor, array in zip(input_names, tensors, sample, strict=True):
                values[name].arrays.append(np.asarray(array))
                recording.names[id(tensor)] = name
            with Recorder():
                module(*tensors)
    kept = [v for v in values.values() if _same_every_time(v, len(samples))]
    return SourceTrace(kept, parameters)


def _same_every_time(value: SourceValue, samples: int) -> bool:
    """Whether a value was produced once per sample with one shape (control flow that depends
    on the input can run an operator for some samples only: such a value cannot be aligned)."""
    return len(value.arrays) == samples and len({a.shape for a in value.arrays}) == 1
