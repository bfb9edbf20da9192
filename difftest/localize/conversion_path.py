"""Stage 1 along a conversion path: which hop introduces the difference, then stages 2-4 on the
final model.

A path of the matrix (``tflite-dynamic-int8 > tflite-tf2onnx``) is converted hop by hop; every
intermediate model runs in its own runtime (LiteRT for a .tflite, ONNX Runtime, PyTorch, Keras)
on the same images and is compared with the source's logits under the localizer's scaled
tolerance. The *culprit* is the first hop whose model differs while every model before it
agrees. The precision the path asked for (``dynamic-int8`` -> int8) is what the parameter stage
calls intended. :func:`localize_path` runs the other stages on the final model against the
source, the Keras model through its TensorFlow graph (NHWC) or the torch module: an ONNX file
directly, a .tflite or onnx2torch's module through :mod:`.targets` (an ONNX structure, the
values of the target's own runtime).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import onnx
from google.protobuf.message import DecodeError

from convfail.errors import ConvfailError
from difftest.localize.pipeline import Localization, localize
from difftest.localize.targets import read_target
from difftest.localize.tolerance import Tolerance
from difftest.matrix.hops import DYNAMIC_INT8, FLOAT16, FLOAT32, Artifact, Hop, observed_precision
from difftest.matrix.labels import top1_discrepancy_pct
from difftest.matrix.paths import ConversionPath
from difftest.matrix.runtimes import RUNTIMES
from difftest.sources import InputSpec, SourceModel, _tf_model, _torch_model

# the matrix's precision settings -> the localizer's precision names
INTENDED = {FLOAT32: "float32", FLOAT16: "float16", DYNAMIC_INT8: "int8"}
RUNTIME_OF = {"torch": "torch", "keras": "keras", "onnx": "onnxruntime", "tflite": "litert"}


@dataclass
class HopCheck:
    """One hop's model against the source on the same images."""

    hop: str
    tool: str
    framework: str
    asked: str  # precision the hop was asked for
    observed: dict  # what the hop's own file holds (tensor dtypes), when the hop says
    scaled_error: float
    max_abs_diff: float
    discrepancy_pct: float  # images whose top-1 label differs from the source's
    agrees: bool

    def to_dict(self) -> dict:
        out = dict(self.__dict__)
        out["scaled_error"] = round(self.scaled_error, 6)
        return out


@dataclass
class PathCheck:
    path: ConversionPath
    hops: list[HopCheck]
    artifacts: list[Artifact]  # the source first, then each hop's model
    reference: np.ndarray  # the source's logits

    @property
    def culprit(self) -> HopCheck | None:
        """The first hop whose model differs while every one before it agrees."""
        for check in self.hops:
            if not check.agrees:
                return check
        return None

    @property
    def intended(self) -> str:
        return INTENDED.get(self.path.precision, self.path.precision)

    def summary(self) -> str:
        culprit = self.culprit
        if culprit is None:
            return f"{self.path.name}: every hop agrees with the source"
        asked = f", asked for {culprit.asked}" if culprit.asked != FLOAT32 else ""
        return (
            f"{self.path.name}: the difference starts at hop {culprit.hop} ({culprit.tool}"
            f"{asked}): scaled error {culprit.scaled_error:.3g}, max |diff| "
            f"{culprit.max_abs_diff:.3g}, top-1 discrepancy {culprit.discrepancy_pct:.1f} %"
        )


def predict(artifact: Artifact, images_nchw: np.ndarray) -> np.ndarray:
    """Logits of ``artifact`` in the runtime of its framework."""
    return RUNTIMES[RUNTIME_OF[artifact.framework]].predict(artifact, images_nchw)


def reused(hop: Hop, artifact: Artifact, folder: Path) -> Artifact | None:
    """What ``hop`` makes of ``artifact``, read from an earlier run's ``folder`` (the matrix
    runner saves each hop's file there, named after the hop), or ``None`` when it is not there.
    Only file-producing hops (a .tflite or an .onnx) are reused; the others convert again. A
    file that cannot be read as its format is refused in one line before anything runs on it."""
    tflite, onnx_file = folder / f"{hop.name}.tflite", folder / f"{hop.name}.onnx"
    found = tflite if tflite.exists() else onnx_file if onnx_file.exists() else None
    try:
        if found == tflite:
            info = observed_precision(tflite)
            return replace(artifact, framework="tflite", path=tflite, model=None, info=info)
        if found == onnx_file:
            onnx.load(str(onnx_file), load_external_data=False)
            return replace(artifact, framework="onnx", path=onnx_file, model=None)
    except (ValueError, RuntimeError, DecodeError) as exc:
        raise ConvfailError(
            f"{found}: not a readable {found.suffix} file ({str(exc).splitlines()[0]})",
            hint="delete it to convert that hop again, or run without --reuse",
        ) from exc
    return None


def check_path(
    path: ConversionPath,
    source: Artifact,
    images_nchw: np.ndarray,
    workdir: Path,
    tolerance: Tolerance | None = None,
    reuse: Path | None = None,
) -> PathCheck:
    """Convert ``source`` along ``path`` and compare every hop's model with the source; with
    ``reuse``, a hop whose file that folder already holds is read instead of converted."""
    tolerance = tolerance or Tolerance()
    reference = predict(source, images_nchw)
    artifact, artifacts, checks = source, [source], []
    for hop in path.steps():
        before = artifact
        artifact = (reuse is not None and reused(hop, before, reuse)) or hop.convert(
            before, workdir
        )
        artifacts.append(artifact)
        observed = dict(artifact.info) if artifact.info != before.info else {}
        logits = predict(artifact, images_nchw)
        error = tolerance.scaled_error(reference, logits)
        checks.append(
            HopCheck(
                hop.name,
                hop.tool,
                artifact.framework,
                hop.precision,
                observed,
                float(error),
                float(np.abs(logits - reference).max()),
                top1_discrepancy_pct(reference, logits),
                bool(error <= 1.0),
            )
        )
    return PathCheck(path, checks, artifacts, reference)


def source_model(artifact: Artifact, batch: int = 2) -> SourceModel:
    """The path's source as the localizer's source model: a Keras model takes NHWC images."""
    size = artifact.size
    if artifact.framework == "keras":
        return _tf_model(artifact.model, [InputSpec("x", (batch, size, size, 3))], {})
    return _torch_model(artifact.model, [InputSpec("x", (batch, 3, size, size))], {})


def localize_path(
    check: PathCheck,
    n_inputs: int = 2,
    seed: int = 0,
    tolerance: Tolerance | None = None,
) -> tuple[SourceModel, Localization]:
    """Stages 2-4 on the path's final model against its source (seeded random inputs);
    weights narrowed to the precision the path asked for are intended. A TFLite or onnx2torch
    target is read as ONNX for its structure; its own runtime supplies the values."""
    final = check.artifacts[-1]
    source = source_model(check.artifacts[0])
    samples = source.make_inputs(seed, n_inputs)
    if final.framework == "onnx" and final.path is not None:
        model = onnx.load(final.path)
        return source, localize(source, model, samples, tolerance, intended=check.intended)
    target = read_target(check.artifacts)
    loc = localize(
        source, target.model, samples, tolerance, intended=check.intended, values_of=target.values
    )
    target.annotate(loc)
    return source, loc
