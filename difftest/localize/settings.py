"""Stage 1: re-convert with alternative settings and see which remove or change the difference.

PyTorch sources: TorchScript exporter with constant folding on and off, the dynamo exporter, at
a few opsets. TensorFlow sources: tf2onnx through ``from_function`` and through a SavedModel, at
a few opsets (tf2onnx exposes no switch for its graph optimisers in its Python API, so those are
not varied). Each variant is converted, run in ONNX Runtime on the same inputs, and its outputs
compared with the source's under the scaled tolerance.
"""

from __future__ import annotations

import io
import warnings
from dataclasses import asdict, dataclass, field

import numpy as np
import onnx

from difftest.converters import _torch_args, get_converter
from difftest.localize.graph_trace import session
from difftest.localize.tolerance import Tolerance

OPSETS = (13, 17, 18)


@dataclass
class SettingResult:
    settings: dict
    outcome: str  # agrees | differs | fails
    error: float | None = None
    message: str = ""
    model: onnx.ModelProto | None = field(default=None, repr=False)

    def to_dict(self) -> dict:
        out = asdict(self)
        out.pop("model")
        if out["error"] is not None and not np.isfinite(out["error"]):
            out["error"] = "inf"
        return out


def _torchscript(source, opset: int, folding: bool) -> onnx.ModelProto:
    import torch  # torch is an optional extra; import on use

    buffer = io.BytesIO()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(
            source.model,
            _torch_args(source),
            buffer,
            dynamo=False,
            opset_version=opset,
            do_constant_folding=folding,
            input_names=[s.name for s in source.inputs],
        )
    return onnx.load_from_string(buffer.getvalue())


def variants(source) -> list[tuple[dict, object]]:
    """(settings, converter function) pairs for the source's framework."""
    out: list[tuple[dict, object]] = []
    if source.framework == "torch":
        for opset in OPSETS:
            for folding in (True, False):
                out.append(
                    (
                        {"exporter": "torchscript", "opset": opset, "constant_folding": folding},
                        lambda s, o=opset, f=folding: _torchscript(s, o, f),
                    )
                )
        for opset in (18,):
            out.append(
                (
                    {"exporter": "dynamo", "opset": opset},
                    lambda s, o=opset: get_converter("dynamo").convert(s, o),
                )
            )
    else:
        for name in ("tf2onnx", "tf2onnx-savedmodel"):
            for opset in OPSETS:
                out.append(
                    (
                        {"exporter": name, "opset": opset},
                        lambda s, n=name, o=opset: get_converter(n).convert(s, o),
                    )
                )
    return out


def run_model(model: onnx.ModelProto, samples: list[list[np.ndarray]]) -> list[list[np.ndarray]]:
    sess = session(model, [])
    names = [i.name for i in sess.get_inputs()]
    return [sess.run(None, dict(zip(names, s, strict=True))) for s in samples]


def output_error(
    expected: list[list[np.ndarray]], actual: list[list[np.ndarray]], tolerance: Tolerance
) -> float:
    worst = 0.0
    for e, a in zip(expected, actual, strict=True):
        if len(e) != len(a):
            return float("inf")
        for x, y in zip(e, a, strict=True):
            worst = max(worst, tolerance.scaled_error(np.asarray(x), np.asarray(y)))
    return worst


def try_settings(
    source, samples: list[list[np.ndarray]], tolerance: Tolerance | None = None
) -> list[SettingResult]:
    """Convert with every variant and compare; the first agreeing model is kept for repair."""
    tolerance = tolerance or Tolerance()
    expected = [source.run(s) for s in samples]
    results = []
    for settings, convert in variants(source):
        try:
            model = convert(source)
            error = output_error(expected, run_model(model, samples), tolerance)
        except Exception as exc:
            results.append(
                SettingResult(settings, "fails", None, f"{type(exc).__name__}: {exc}"[:300])
            )
            continue
        outcome = "agrees" if error <= 1.0 else "differs"
        results.append(SettingResult(settings, outcome, error, "", model))
    return results
