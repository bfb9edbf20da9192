"""Stages 2-4 on a path that ends in a TFLite file or in onnx2torch's PyTorch module.

The stages read an ONNX structure; only where the values come from changes. A ``.tflite`` is
read into ONNX by the matrix's own TFLite reader hop (tf2onnx) and its values come from LiteRT
(:mod:`.litert_values`); an onnx2torch module keeps the ONNX model it was built from as its
structure and gives its values through ``torch.fx`` (:mod:`.onnx2torch_values`), its parameters
compared with that model's initializers. The first divergent nodes are then told in the target's
own terms: the TFLite operator (index, builtin, output tensor), or the module tensor onnx2torch
changed. Repairs stay ONNX files: of the TFLite reading, never of the ``.tflite`` itself.
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass, replace
from pathlib import Path

import onnx

from difftest.localize.litert_values import LitertValues, tflite_ops
from difftest.localize.onnx2torch_values import Onnx2TorchValues, compare_module_parameters
from difftest.localize.pipeline import Localization
from difftest.matrix.hops import HOPS, Artifact


@dataclass
class Target:
    """A non-ONNX target as the localizer reads it: an ONNX ``model`` for the structure and a
    values provider ``values`` of the target's own runtime."""

    runtime: str
    model: onnx.ModelProto
    values: LitertValues | Onnx2TorchValues
    artifact: Artifact

    def annotate(self, loc: Localization) -> None:
        """Say in ``loc.target`` which runtime gave the values, and tell each first divergent
        node as the target's own operator or tensor."""
        report = {
            "runtime": self.runtime,
            "values": self.values.summary(),
            "supplied": len(self.values.supplied),
            "from_onnxruntime": len(self.values.from_onnxruntime),
        }
        if isinstance(self.values, LitertValues):
            report["file"] = str(self.artifact.path)
            report["first_divergent_ops"] = self._tflite_ops(loc)
        else:
            findings = compare_module_parameters(self.artifact.model, self.model)
            report["module_parameters"] = [f.to_dict() for f in findings]
            blamed = {f.node: f for f in findings}
            loc.divergences = [
                replace(d, cause="parameter", detail=blamed[d.node].describe())
                if d.node in blamed
                else d
                for d in loc.divergences
            ]
        loc.target = report

    def _tflite_ops(self, loc: Localization) -> list[dict]:
        writers = tflite_ops(self.artifact.path)
        out = []
        for d in loc.divergences:
            node = self.model.graph.node[d.node]
            # an output before a fused activation is named after the activated TFLite tensor
            tensors = [self.values.mapping.get(o, o) for o in node.output]
            ops = [writers[t] for t in tensors if t in writers]
            entry = {"node": d.node, "onnx_node": d.name, "tflite_op": None}
            if ops:
                entry["tflite_op"] = dict(ops[0].__dict__)
                entry["describe"] = ops[0].describe()
            out.append(entry)
        return out


def read_target(artifacts: list[Artifact]) -> Target:
    """The target at the end of ``artifacts`` (the path's source first) as :class:`Target`; one
    clear error for a target neither TFLite nor onnx2torch's module."""
    final = artifacts[-1]
    if final.framework == "tflite" and final.path is not None:
        with tempfile.TemporaryDirectory(prefix="tflite-reading-") as folder:
            reading = HOPS["tflite-tf2onnx"].convert(final, Path(folder))
            model = onnx.load(reading.path)
        return Target("litert", model, LitertValues(final.path, model), final)
    before = artifacts[-2] if len(artifacts) > 1 else None
    if final.framework == "torch" and before is not None and before.framework == "onnx":
        model = onnx.load(before.path)
        return Target("torch", model, Onnx2TorchValues(final.model, model), final)
    raise ValueError(
        f"the path ends in {final.framework}; stages 2-4 read an ONNX file, a .tflite, or "
        "onnx2torch's module"
    )
