"""Conversion hops: one converter taking a model from one framework to another, as plug-ins.

A :class:`Hop` reads an :class:`Artifact` (a model in a framework, in memory or on disk) and
writes the next one into a work folder. The ONNX exporters are the project's existing
converters (:data:`difftest.converters.CONVERTERS`), reached through their interface; the other
hops are added here. Frameworks: ``torch``, ``keras`` (Keras 3), ``tflite``, ``onnx``.

``precision`` is the setting the hop is *asked* for. What the converter really did is observed
afterwards and kept apart (:func:`observed_precision`): TF's dynamic-range quantization, for
instance, leaves every weight tensor under 1,024 elements in float, so a small model asked for
int8 can come out all float32.

A hop whose tool does not import here says why in :meth:`Hop.missing`; the matrix records that
as data. A hop whose tool conflicts with the project's pins names an ``environment`` of its own;
the runner starts the units of its paths with that environment's interpreter when it exists.
To add a hop, subclass :class:`Hop` and list it in :data:`HOPS`.
"""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np

from difftest.matrix.torch_archs import import_torchvision
from difftest.sources import InputSpec, SourceModel

OPSET = 17
FLOAT32, FLOAT16, DYNAMIC_INT8 = "float32", "float16", "dynamic-int8"


@dataclass(frozen=True)
class Artifact:
    """A model in ``framework``; ``layout`` of its image input (``nchw`` or ``nhwc``)."""

    framework: str
    layout: str
    model: object = None  # in-memory model (torch module, Keras model)
    path: Path | None = None  # file on disk (.onnx, .tflite)
    size: int = 32
    info: dict = field(default_factory=dict)


@dataclass(frozen=True)
class Hop:
    """One conversion step: ``name`` in results, from ``source`` to ``target`` with ``tool``."""

    name: str
    source: str
    target: str
    tool: str
    precision: str = FLOAT32
    needs: tuple[str, ...] = ()  # importable modules the tool needs
    why_missing: str = ""  # what to do when one of them is missing
    # an environment of its own (a folder inside the running venv, made by `make matrix-envs`)
    # for a tool whose dependencies conflict with the project's pins
    environment: str = ""

    def missing(self) -> str | None:
        """Why this hop cannot run in this environment, or ``None`` when it can."""
        absent = [m for m in self.needs if importlib.util.find_spec(m) is None]
        if not absent:
            return None
        return (
            f"{', '.join(absent)} not installed ({self.why_missing or 'install the matrix extra'})"
        )

    def convert(self, artifact: Artifact, workdir: Path) -> Artifact:
        raise NotImplementedError


def _sample(artifact: Artifact) -> np.ndarray:
    shape = (1, 3, artifact.size, artifact.size)
    if artifact.layout == "nhwc":
        shape = (1, artifact.size, artifact.size, 3)
    return np.random.default_rng(0).standard_normal(shape).astype(np.float32)


class OnnxExporterHop(Hop):
    """An ONNX exporter of :mod:`difftest.converters`, called through its own interface."""

    def convert(self, artifact: Artifact, workdir: Path) -> Artifact:
        # onnx is heavy, and so are the project's converters, which load it; import on use
        import onnx

        from difftest.converters import get_converter  # loads onnx

        sample = _sample(artifact)
        spec = InputSpec("x", sample.shape, dynamic_batch=True)
        framework = "torch" if artifact.framework == "torch" else "tensorflow"
        source = SourceModel(framework, artifact.model, [spec], lambda a: a)
        proto = get_converter(self.tool_converter).convert(source, OPSET)
        path = workdir / f"{self.name}.onnx"
        onnx.save(proto, path)
        return Artifact("onnx", artifact.layout, path=path, size=artifact.size)

    @property
    def tool_converter(self) -> str:
        return self.name.removesuffix("-onnx")


class TfliteConverterHop(Hop):
    """TF's own ``TFLiteConverter.from_keras_model`` at one named precision setting."""

    def convert(self, artifact: Artifact, workdir: Path) -> Artifact:
        # TensorFlow is an optional extra; import on use
        import tensorflow as tf

        converter = tf.lite.TFLiteConverter.from_keras_model(artifact.model)
        if self.precision in (FLOAT16, DYNAMIC_INT8):
            converter.optimizations = [tf.lite.Optimize.DEFAULT]
        if self.precision == FLOAT16:
            converter.target_spec.supported_types = [tf.float16]
        path = workdir / f"{self.name}.tflite"
        path.write_bytes(converter.convert())
        return Artifact(
            "tflite", artifact.layout, path=path, size=artifact.size, info=observed_precision(path)
        )


class LitertTorchHop(Hop):
    """litert-torch (PyTorch -> TFLite): traces the module and writes a .tflite, NCHW input."""

    def convert(self, artifact: Artifact, workdir: Path) -> Artifact:
        # litert-torch is optional (it needs its own environment here); import on use
        import litert_torch
        import torch

        edge = litert_torch.convert(artifact.model.eval(), (torch.from_numpy(_sample(artifact)),))
        path = workdir / f"{self.name}.tflite"
        edge.export(str(path))
        return Artifact(
            "tflite", "nchw", path=path, size=artifact.size, info=observed_precision(path)
        )


class TfliteToOnnxHop(Hop):
    """tf2onnx's TFLite reader, through its command line: the Python ``from_tflite`` has no
    ``dequantize`` option. Quantized weights stay ``DequantizeLinear`` nodes (no --dequantize),
    as a user of the tool gets by default."""

    def convert(self, artifact: Artifact, workdir: Path) -> Artifact:
        path = workdir / f"{self.name}.onnx"
        command = [
            sys.executable,
            "-m",
            "tf2onnx.convert",
            "--tflite",
            str(artifact.path),
            "--opset",
            str(OPSET),
            "--output",
            str(path),
        ]
        done = subprocess.run(command, capture_output=True, text=True, check=False)
        if done.returncode != 0 or not path.exists():
            lines = [line for line in done.stderr.splitlines() if line.strip()]
            raise RuntimeError(lines[-1] if lines else f"tf2onnx exited {done.returncode}")
        return replace(artifact, framework="onnx", path=path, model=None)


class Onnx2TorchHop(Hop):
    """onnx2torch (ONNX -> PyTorch); torchvision goes through the CPU import first."""

    def convert(self, artifact: Artifact, workdir: Path) -> Artifact:
        import_torchvision()
        import onnx2torch  # optional extra `matrix`; needs torchvision imported first

        module = onnx2torch.convert(str(artifact.path)).eval()
        return replace(artifact, framework="torch", model=module, path=None)


def observed_precision(path: Path) -> dict:
    """What a .tflite file really holds: its tensor dtypes, counted."""
    from ai_edge_litert.interpreter import Interpreter  # optional extra `matrix`

    counts: dict[str, int] = {}
    for tensor in Interpreter(model_path=str(path)).get_tensor_details():
        name = np.dtype(tensor["dtype"]).name
        counts[name] = counts.get(name, 0) + 1
    return {"tensor_dtypes": dict(sorted(counts.items())), "int8_tensors": counts.get("int8", 0)}


_TF = ("tensorflow",)
_LITERT = ("tensorflow", "ai_edge_litert")
HOPS: dict[str, Hop] = {
    h.name: h
    for h in [
        OnnxExporterHop("torchscript-onnx", "torch", "onnx", "torch.onnx (TorchScript)"),
        OnnxExporterHop(
            "dynamo-onnx", "torch", "onnx", "torch.onnx (dynamo)", needs=("onnxscript",)
        ),
        OnnxExporterHop("tf2onnx-onnx", "keras", "onnx", "tf2onnx", needs=("tf2onnx",)),
        TfliteConverterHop(
            "tflite-float32", "keras", "tflite", "TFLiteConverter", FLOAT32, _LITERT
        ),
        TfliteConverterHop(
            "tflite-float16", "keras", "tflite", "TFLiteConverter", FLOAT16, _LITERT
        ),
        TfliteConverterHop(
            "tflite-dynamic-int8", "keras", "tflite", "TFLiteConverter", DYNAMIC_INT8, _LITERT
        ),
        LitertTorchHop(
            "litert-torch",
            "torch",
            "tflite",
            "litert-torch",
            needs=("litert_torch",),
            why_missing="its dependency xdsl needs typing_extensions<4.13, below the project's "
            "pin, so it has an environment of its own: run `make matrix-envs`",
            environment="litert-torch",
        ),
        TfliteToOnnxHop(
            "tflite-tf2onnx", "tflite", "onnx", "tf2onnx (TFLite reader)", needs=("tf2onnx",)
        ),
        Onnx2TorchHop(
            "onnx2torch", "onnx", "torch", "onnx2torch", needs=("onnx2torch", "torchvision")
        ),
    ]
}

# Conversions tried here for which no converter works, with the reason (recorded as data).
NO_CONVERTER: dict[tuple[str, str], str] = {
    ("torch", "keras"): "nobuco, the PyTorch -> Keras converter, imports keras.src.engine "
    "(Keras 2); it needs a Keras 2 environment and shims, and no converter targets Keras 3",
    ("onnx", "keras"): "onnx2tf writes a tf_keras (Keras 2) .keras file that Keras 3 cannot load "
    "(Could not locate class 'Functional'); onnx-tf imports onnx.mapping, removed in onnx 1.16",
}


def get_hop(name: str) -> Hop:
    try:
        return HOPS[name]
    except KeyError:
        raise ValueError(f"unknown hop {name!r}; choose from {', '.join(HOPS)}") from None
