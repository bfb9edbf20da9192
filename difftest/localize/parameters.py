"""Stage 2: align ONNX initializers with source parameters by value and report what changed.

Exporters rename parameters, transpose them (TensorFlow HWIO kernels become OIHW, ``Gemm`` may
take a transposed matrix) and fold BatchNorm into the preceding Conv (each output channel
scaled). So an initializer is paired with the source parameter of the same size that explains
it best, trying every axis permutation that gives the initializer's shape:

- ``copied``: equal within tolerance;
- ``folded``: equal after one scale per output channel (BatchNorm folding);
- ``precision``: equal within the narrow format's tolerance and every value is exactly
  representable in float16 / bfloat16 or takes at most 256 levels (int8): the weights went
  through a narrower type. *Intended* when the user asked for that precision;
- ``altered``: strongly correlated (cosine >= 0.9) but neither of the above: a parameter fault.

Initializers that pair with nothing (folded biases, shape constants) are not reported.
"""

from __future__ import annotations

import itertools
from dataclasses import asdict, dataclass

import numpy as np
import onnx
from onnx import numpy_helper

from difftest.localize.tolerance import Tolerance, scaled_error

MIN_COSINE = 0.9
MAX_CHANGED_SHARE = 0.5  # or: at most half the elements differ (a few elements corrupted)
MAX_PERMUTED_RANK = 4


@dataclass
class ParameterFinding:
    initializer: str
    source: str
    kind: str  # copied | folded | precision | altered
    max_abs_diff: float
    changed_elements: int
    dtype: str
    permutation: list[int]
    detail: str = ""
    intended: bool = False

    def to_dict(self) -> dict:
        return asdict(self)

    @property
    def faulty(self) -> bool:
        return self.kind == "altered" or (self.kind == "precision" and not self.intended)


def _narrow_format(values: np.ndarray) -> str:
    v = values.astype(np.float32)
    if np.array_equal(v.astype(np.float16).astype(np.float32), v, equal_nan=True):
        return "float16"
    if np.array_equal((v.view(np.uint32) & 0xFFFF), np.zeros_like(v.view(np.uint32))):
        return "bfloat16"
    if np.unique(v).size <= 256 and v.size > 1024:
        return "int8"
    return ""


def _channel_scale(init: np.ndarray, src: np.ndarray) -> np.ndarray:
    """Robust per-output-channel scale (median of ratios; few faulty elements do not move it)."""
    i = init.reshape(init.shape[0], -1).astype(np.float64)
    s = src.reshape(src.shape[0], -1).astype(np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = np.where(np.abs(s) > 1e-12, i / s, np.nan)
    scale = np.nanmedian(ratio, axis=1)
    return np.nan_to_num(scale, nan=1.0).reshape((-1,) + (1,) * (init.ndim - 1))


def _shaped(scale: np.ndarray, like: np.ndarray) -> np.ndarray:
    return np.asarray(scale).reshape((-1,) + (1,) * (like.ndim - 1))


def _permutations(src: np.ndarray, shape: tuple[int, ...]):
    if src.shape == shape:
        yield list(range(src.ndim)), src
        return
    if src.ndim <= MAX_PERMUTED_RANK:
        for perm in itertools.permutations(range(src.ndim)):
            if list(perm) != list(range(src.ndim)) and tuple(src.shape[p] for p in perm) == shape:
                yield list(perm), src.transpose(perm)
    if src.size == int(np.prod(shape)) and src.shape != shape and src.ndim != len(shape):
        yield [], src.reshape(shape)


def _cosine(a: np.ndarray, b: np.ndarray) -> float:
    a, b = a.ravel().astype(np.float64), b.ravel().astype(np.float64)
    denominator = np.linalg.norm(a) * np.linalg.norm(b)
    return float(a @ b / denominator) if denominator else 0.0


def classify(
    init: np.ndarray,
    src: np.ndarray,
    tolerance: Tolerance,
    foldable: bool = True,
    fold_scale: np.ndarray | None = None,
) -> tuple[str, float, int, str] | None:
    """(kind, max abs diff, changed elements, detail) of ``init`` against an aligned ``src``."""
    diff = np.abs(init.astype(np.float64) - src.astype(np.float64))
    if scaled_error(src, init, tolerance.relative) <= 1.0:
        narrow = _narrow_format(init) if diff.max(initial=0) > 0 else ""
        if narrow and not _narrow_format(src):
            return "precision", float(diff.max()), int(np.count_nonzero(diff)), narrow
        return "copied", float(diff.max(initial=0)), 0, ""
    narrow = _narrow_format(init)
    if narrow and not _narrow_format(src):
        loose = {"float16": 2e-3, "bfloat16": 1e-2, "int8": 5e-2}[narrow]
        if scaled_error(src, init, loose) <= 1.0:
            return "precision", float(diff.max()), int(np.count_nonzero(diff)), narrow
    plain_off = diff > tolerance.relative * (np.abs(src) + 1e-2)
    if foldable and init.ndim >= 1 and init.shape[0] > 1 and init.size > init.shape[0]:
        scale = _channel_scale(init, src) if fold_scale is None else _shaped(fold_scale, init)
        folded = src * scale
        if scaled_error(folded, init, tolerance.relative) <= 1.0:
            return "folded", float(diff.max()), 0, "one scale per output channel (BatchNorm fold)"
        off = np.abs(init - folded) > tolerance.relative * (np.abs(folded) + 1e-2)
        if foldable and (_cosine(init, folded) >= MIN_COSINE or off.mean() <= MAX_CHANGED_SHARE):
            return "altered", float(np.abs(init - folded).max()), int(off.sum()), "folded"
    if _cosine(init, src) >= MIN_COSINE or plain_off.mean() <= MAX_CHANGED_SHARE:
        return "altered", float(diff.max()), int(plain_off.sum()), ""
    return None


SUBSAMPLE = 512


def _plausible(init: np.ndarray, src: np.ndarray) -> bool:
    """Cheap pre-check on a fixed subsample: correlated, or mostly equal."""
    flat_i, flat_s = init.ravel(), src.ravel()
    if flat_i.size > SUBSAMPLE:
        picks = np.linspace(0, flat_i.size - 1, SUBSAMPLE).astype(np.int64)
        flat_i, flat_s = flat_i[picks], flat_s[picks]
    equal = np.isclose(flat_i, flat_s, rtol=1e-3, atol=1e-6).mean()
    return equal >= MAX_CHANGED_SHARE or abs(_cosine(flat_i, flat_s)) >= 0.5


RANK = {"copied": 0, "precision": 1, "folded": 2, "altered": 3}


def compare_parameters(
    model: onnx.ModelProto,
    parameters: dict[str, np.ndarray],
    tolerance: Tolerance,
    intended_precision: str = "float32",
    foldable: set[str] | None = None,
    fold_scales: dict[str, np.ndarray] | None = None,
) -> list[ParameterFinding]:
    """One finding per initializer that pairs with a source parameter. ``foldable`` names the
    source parameters whose layer feeds a BatchNorm (None: any may be folded)."""
    by_size: dict[int, list[tuple[str, np.ndarray]]] = {}
    for name, value in parameters.items():
        value = np.asarray(value)
        if value.dtype.kind == "f" and value.size >= 2:
            by_size.setdefault(value.size, []).append((name, value))
    findings = []
    used = {name for node in model.graph.node for name in node.input}
    for tensor in model.graph.initializer:
        if tensor.name not in used:
            continue
        init = numpy_helper.to_array(tensor)
        if init.dtype.kind != "f" or init.size < 2:
            continue
        best = None
        for name, src in by_size.get(init.size, []):
            for perm, arranged in _permutations(src, init.shape):
                if not _plausible(init, arranged):
                    continue
                fold = foldable is None or name in foldable
                known = (fold_scales or {}).get(name)
                if known is not None and known.size != init.shape[0]:
                    known = None
                verdict = classify(init.astype(np.float32), arranged, tolerance, fold, known)
                if verdict is None:
                    continue
                key = (RANK[verdict[0]], verdict[1])
                if best is None or key < best[0]:
                    best = (key, name, perm, verdict)
        if best is None:
            continue
        _, name, perm, (kind, max_diff, changed, detail) = best
        findings.append(
            ParameterFinding(
                tensor.name,
                name,
                kind,
                max_diff,
                changed,
                str(init.dtype),
                perm,
                detail,
                intended=kind == "precision" and detail == intended_precision,
            )
        )
    return findings


def source_value_for(
    finding: ParameterFinding,
    init: np.ndarray,
    parameters: dict[str, np.ndarray],
    fold_scales: dict[str, np.ndarray] | None = None,
) -> np.ndarray:
    """What the initializer should hold: the source parameter, arranged (and re-folded)."""
    src = np.asarray(parameters[finding.source])
    arranged = (
        src.transpose(finding.permutation) if finding.permutation else src.reshape(init.shape)
    )
    if finding.detail == "folded":
        known = (fold_scales or {}).get(finding.source)
        if known is not None and known.size == init.shape[0]:
            arranged = arranged * _shaped(known, init)
        else:
            arranged = arranged * _channel_scale(init, arranged)
    return arranged.astype(init.dtype)
