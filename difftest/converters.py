"""The converter interface and the converters under test.

A converter takes a :class:`~difftest.sources.SourceModel` of its framework and an opset and
returns an ``onnx.ModelProto``; it raises whatever the converter raises (the runner classifies
it). To add one, subclass :class:`Converter` and list it in :data:`CONVERTERS`.

- ``torchscript``: ``torch.onnx.export(..., dynamo=False)``, the exporter the ISSTA study used;
- ``dynamo``: ``torch.onnx.export(..., dynamo=True)`` (torch.export + onnxscript), the default
  since torch 2.9;
- ``tf2onnx``: tf2onnx ``from_function`` on a ``tf.function`` with a fixed input signature;
- ``tf2onnx-savedmodel``: save a SavedModel, then tf2onnx's SavedModel loader — the route the
  tf2onnx command line takes. (``from_keras`` is not offered: it fails on Keras 3 models.)
"""

from __future__ import annotations

import io
import tempfile
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import onnx

from difftest.sources import SourceModel


@dataclass(frozen=True)
class Converter:
    """Base class: ``name`` as used in results, ``framework`` it accepts, ``tool`` it tests."""

    name: str
    framework: str
    tool: str

    def convert(self, source: SourceModel, opset: int) -> onnx.ModelProto:
        raise NotImplementedError


def _torch_args(source: SourceModel):
    # torch is an optional extra; import on use
    import torch

    rng = np.random.default_rng(0)
    return tuple(torch.from_numpy(spec.sample(rng, 0)) for spec in source.inputs)


def _dynamic_axes(source: SourceModel) -> dict:
    return {spec.name: {0: "batch"} for spec in source.inputs if spec.dynamic_batch}


class TorchScriptExporter(Converter):
    def convert(self, source: SourceModel, opset: int) -> onnx.ModelProto:
        # torch is an optional extra; import on use
        import torch

        buffer = io.BytesIO()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            torch.onnx.export(
                source.model,
                _torch_args(source),
                buffer,
                dynamo=False,
                opset_version=opset,
                input_names=[spec.name for spec in source.inputs],
                dynamic_axes=_dynamic_axes(source) or None,
            )
        return onnx.load_from_string(buffer.getvalue())


class DynamoExporter(Converter):
    def convert(self, source: SourceModel, opset: int) -> onnx.ModelProto:
        # torch is an optional extra; import on use
        import torch

        dynamic = None
        if _dynamic_axes(source):
            batch = torch.export.Dim("batch", min=1)
            dynamic = {
                spec.name: ({0: batch} if spec.dynamic_batch else None) for spec in source.inputs
            }
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            program = torch.onnx.export(
                source.model,
                _torch_args(source),
                dynamo=True,
                opset_version=opset,
                input_names=[spec.name for spec in source.inputs],
                dynamic_shapes=dynamic,
                verbose=False,
            )
        return program.model_proto


def _signature(source: SourceModel):
    # TensorFlow is an optional extra; import on use
    import tensorflow as tf

    return [
        tf.TensorSpec(
            [None, *s.shape[1:]] if s.dynamic_batch else list(s.shape), s.dtype, name=s.name
        )
        for s in source.inputs
    ]


class Tf2onnxFunction(Converter):
    def convert(self, source: SourceModel, opset: int) -> onnx.ModelProto:
        # TensorFlow is an optional extra; import on use
        import tensorflow as tf
        import tf2onnx

        signature = _signature(source)
        function = tf.function(source.model, input_signature=signature, autograph=False)
        proto, _ = tf2onnx.convert.from_function(function, input_signature=signature, opset=opset)
        return proto


class Tf2onnxSavedModel(Converter):
    def convert(self, source: SourceModel, opset: int) -> onnx.ModelProto:
        # TensorFlow is an optional extra; import on use
        import tensorflow as tf
        import tf2onnx

        if source.info.get("saved_model"):  # already a SavedModel: convert it as it is
            return _from_saved_model(tf2onnx, source.info["saved_model"], opset)
        module = tf.Module()
        module.model = source.model
        module.serve = tf.function(
            source.model, input_signature=_signature(source), autograph=False
        )
        with tempfile.TemporaryDirectory() as tmp:
            path = str(Path(tmp) / "saved")
            tf.saved_model.save(module, path, signatures=module.serve)
            return _from_saved_model(tf2onnx, path, opset)


def _from_saved_model(tf2onnx, path: str, opset: int) -> onnx.ModelProto:
    graph_def, inputs, outputs = tf2onnx.tf_loader.from_saved_model(path, None, None)
    proto, _ = tf2onnx.convert.from_graph_def(
        graph_def, input_names=inputs, output_names=outputs, opset=opset
    )
    return proto


CONVERTERS: dict[str, Converter] = {
    c.name: c
    for c in [
        TorchScriptExporter("torchscript", "torch", "torch.onnx"),
        DynamoExporter("dynamo", "torch", "torch.onnx"),
        Tf2onnxFunction("tf2onnx", "tensorflow", "tf2onnx"),
        Tf2onnxSavedModel("tf2onnx-savedmodel", "tensorflow", "tf2onnx"),
    ]
}


def get_converter(name: str) -> Converter:
    try:
        return CONVERTERS[name]
    except KeyError:
        raise ValueError(
            f"unknown converter {name!r}; choose from {', '.join(CONVERTERS)}"
        ) from None
