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

Stored weights are also found behind a ``DequantizeLinear`` (int8/uint8 initializers with a
per-tensor or per-channel scale, as tf2onnx writes a TFLite model's dynamic-range weights) or a
``Cast`` of a float16/bfloat16 initializer: the value the consuming node sees is paired, and the
finding keeps how it was stored (:class:`StoredWeight.quantization`: levels, scales, axis).
Initializers that pair with nothing (shape constants; folded biases of TensorFlow sources, whose
fold the trace does not see) are not reported; a PyTorch BatchNorm's folded bias is paired through
:meth:`SourceTrace.folded_biases`.
"""

from __future__ import annotations

import itertools
from dataclasses import asdict, dataclass, field

import numpy as np
import onnx
from onnx import numpy_helper

from difftest.localize.tolerance import Tolerance, error_bound, rms, scaled_error

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
    folded: bool = False  # the source parameter was scaled per channel (BatchNorm folded in)
    quantization: dict = field(default_factory=dict)  # how the value is stored (see StoredWeight)

    def to_dict(self) -> dict:
        return asdict(self)

    @property
    def faulty(self) -> bool:
        return self.kind == "altered" or (self.kind == "precision" and not self.intended)


def _is_float16(v: np.ndarray) -> bool:
    return np.array_equal(v.astype(np.float16).astype(np.float32), v, equal_nan=True)


def _is_bfloat16(v: np.ndarray) -> bool:
    return not np.any(v.view(np.uint32) & 0xFFFF)


def _narrow_format(values: np.ndarray) -> str:
    v = values.astype(np.float32)
    if v.size > SUBSAMPLE:
        part = v.ravel()[:: v.size // SUBSAMPLE]
        if not (_is_float16(part) or _is_bfloat16(part) or np.unique(part).size <= 256):
            return ""  # no narrow format fits a part, so none fits the whole
    if _is_float16(v):
        return "float16"
    if _is_bfloat16(v):
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


LOOSE = {"float16": 2e-3, "bfloat16": 1e-2, "int8": 5e-2}


def classify(
    init: np.ndarray,
    src: np.ndarray,
    tolerance: Tolerance,
    foldable: bool = True,
    fold_scale: np.ndarray | None = None,
    stored: str = "",
) -> tuple[str, float, int, str] | None:
    """(kind, max abs diff, changed elements, detail) of ``init`` against an aligned ``src``.
    ``stored`` names the narrow format the value is known to be stored in (int8 behind a
    DequantizeLinear, float16 behind a Cast); otherwise it is guessed from the values. A folded
    value's detail starts with ``folded``."""
    if init.shape == src.shape and np.array_equal(init, src):
        # what the float64 comparison below finds for a bit-identical copy, at a tenth of its cost
        return "copied", 0.0, 0, ""
    diff = np.subtract(init, src, dtype=np.float64)
    np.abs(diff, out=diff)
    narrow = stored or (_narrow_format(init) if diff.max(initial=0) > 0 else "")
    if narrow and not stored and _narrow_format(src):
        narrow = ""
    if _within(src, init, tolerance.relative):
        if narrow and diff.max(initial=0) > 0:
            return "precision", float(diff.max()), int(np.count_nonzero(diff)), narrow
        return "copied", float(diff.max(initial=0)), 0, ""
    if narrow and scaled_error(src, init, LOOSE.get(narrow, LOOSE["int8"])) <= 1.0:
        return "precision", float(diff.max()), int(np.count_nonzero(diff)), narrow
    if foldable and init.ndim >= 1 and init.shape[0] > 1 and init.size > init.shape[0]:
        scale = _channel_scale(init, src) if fold_scale is None else _shaped(fold_scale, init)
        folded = src * scale
        if _within(folded, init, tolerance.relative):
            return (
                "folded",
                float(diff.max()),
                0,
                "folded: one scale per output channel",
            )
        folded_diff = np.abs(init - folded)
        if narrow and scaled_error(folded, init, LOOSE.get(narrow, LOOSE["int8"])) <= 1.0:
            changed = int(np.count_nonzero(folded_diff > 1e-7 * (np.abs(folded) + 1e-2)))
            return "precision", float(folded_diff.max()), changed, f"folded {narrow}"
        off = folded_diff > tolerance.relative * (np.abs(folded) + 1e-2)
        if foldable and (_cosine(init, folded) >= MIN_COSINE or off.mean() <= MAX_CHANGED_SHARE):
            return "altered", float(folded_diff.max()), int(off.sum()), "folded"
    plain_off = diff > tolerance.relative * (np.abs(src) + 1e-2)
    if _cosine(init, src) >= MIN_COSINE or plain_off.mean() <= MAX_CHANGED_SHARE:
        return "altered", float(diff.max()), int(plain_off.sum()), ""
    return None


SUBSAMPLE = 512


def _within(source: np.ndarray, converted: np.ndarray, rtol: float) -> bool:
    """``scaled_error(...) <= 1``, refused first by the subsample bound when that exceeds it."""
    scale = rms(source)
    if error_bound(source, converted, rtol, 0.0, scale) > 1.0:
        return False
    return scaled_error(source, converted, rtol, 0.0, scale) <= 1.0


def _plausible(init: np.ndarray, src: np.ndarray) -> bool:
    """Cheap pre-check on a fixed subsample: correlated, or mostly equal."""
    flat_i, flat_s = init.ravel(), src.ravel()
    if flat_i.size > SUBSAMPLE:
        picks = np.linspace(0, flat_i.size - 1, SUBSAMPLE).astype(np.int64)
        flat_i, flat_s = flat_i[picks], flat_s[picks]
    equal = np.isclose(flat_i, flat_s, rtol=1e-3, atol=1e-6).mean()
    return equal >= MAX_CHANGED_SHARE or abs(_cosine(flat_i, flat_s)) >= 0.5


RANK = {"copied": 0, "precision": 1, "folded": 2, "altered": 3}
EXACT = (RANK["copied"], 0.0)  # the best a pairing can rank: a bit-identical copy


@dataclass
class StoredWeight:
    """A weight as a node consumes it: ``name`` is the value the node reads, ``array`` its float
    value; ``quantization`` says how it is stored when a DequantizeLinear or Cast node turns a
    narrow initializer into it (empty for a plain float initializer)."""

    name: str
    array: np.ndarray
    dtype: str
    quantization: dict = field(default_factory=dict)
    narrow: str = ""  # the narrow format the stored value implies (int8, float16, bfloat16)


def _dequantized(node, inits: dict[str, np.ndarray]) -> StoredWeight | None:
    if len(node.input) < 2 or node.input[0] not in inits or node.input[1] not in inits:
        return None
    q, scale = inits[node.input[0]], inits[node.input[1]].astype(np.float64)
    if q.dtype.kind not in "iu" or q.ndim == 0:
        return None
    zero = (
        inits[node.input[2]].astype(np.float64)
        if len(node.input) > 2 and node.input[2] in inits
        else np.zeros_like(scale)
    )
    axis = next((a.i for a in node.attribute if a.name == "axis"), 1) % q.ndim
    shape = [1] * q.ndim
    if scale.size > 1:
        shape[axis] = scale.size
    value = (q.astype(np.float64) - zero.reshape(shape)) * scale.reshape(shape)
    bits = q.dtype.itemsize * 8
    info = {
        "via": "DequantizeLinear",
        "node": node.name or node.output[0],
        "stored": str(q.dtype),
        "levels": 2**bits,
        "granularity": "per-channel" if scale.size > 1 else "per-tensor",
        "axis": axis if scale.size > 1 else None,
        "scales": int(scale.size),
        "scale_min": float(scale.min()),
        "scale_max": float(scale.max()),
        "initializers": [n for n in node.input if n in inits],
    }
    narrow = "int8" if bits == 8 else f"int{bits}"
    return StoredWeight(node.output[0], value.astype(np.float32), str(q.dtype), info, narrow)


def _cast(node, inits: dict[str, np.ndarray]) -> StoredWeight | None:
    if not node.input or node.input[0] not in inits:
        return None
    stored = inits[node.input[0]]
    narrow = {"float16": "float16", "bfloat16": "bfloat16"}.get(str(stored.dtype), "")
    to = next((a.i for a in node.attribute if a.name == "to"), 0)
    if not narrow or to != onnx.TensorProto.FLOAT:
        return None
    info = {
        "via": "Cast",
        "node": node.name or node.output[0],
        "stored": narrow,
        "initializers": [node.input[0]],
    }
    return StoredWeight(node.output[0], stored.astype(np.float32), narrow, info, narrow)


# float inputs that say how to compute, not what to compute with (Resize's roi and scales)
STRUCTURAL = {"Resize": (1, 2), "Upsample": (1,)}


def stored_weights(model: onnx.ModelProto) -> list[StoredWeight]:
    """Every float weight the graph's nodes consume: plain float initializers, and narrow
    initializers behind DequantizeLinear or Cast (reported once, as the dequantized value);
    Resize scales and the like are not weights."""
    inits = {t.name: numpy_helper.to_array(t) for t in model.graph.initializer}
    chains = {"DequantizeLinear": _dequantized, "Cast": _cast}
    out, hidden = [], set()
    for node in model.graph.node:
        if node.op_type in chains:
            weight = chains[node.op_type](node, inits)
            if weight is not None:
                out.append(weight)
                hidden.update(weight.quantization["initializers"])
    readers: dict[str, set[str]] = {}
    for node in model.graph.node:
        for position, name in enumerate(node.input):
            if position not in STRUCTURAL.get(node.op_type, ()):
                readers.setdefault(name, set()).add(node.op_type)
    for tensor in model.graph.initializer:
        ops = readers.get(tensor.name, set())
        if not ops or (tensor.name in hidden and ops <= set(chains)):
            continue
        init = inits[tensor.name]
        if init.dtype.kind == "f" and init.size >= 2:
            out.append(StoredWeight(tensor.name, init, str(init.dtype)))
    return out


def compare_parameters(
    model: onnx.ModelProto,
    parameters: dict[str, np.ndarray],
    tolerance: Tolerance,
    intended_precision: str = "float32",
    foldable: set[str] | None = None,
    fold_scales: dict[str, np.ndarray] | None = None,
) -> list[ParameterFinding]:
    """One finding per stored weight that pairs with a source parameter. ``foldable`` names the
    source parameters whose layer feeds a BatchNorm (None: any may be folded)."""
    by_size: dict[int, list[tuple[str, np.ndarray]]] = {}
    for name, value in parameters.items():
        value = np.asarray(value)
        if value.dtype.kind == "f" and value.size >= 2:
            by_size.setdefault(value.size, []).append((name, value))
    findings = []
    for weight in stored_weights(model):
        init = weight.array
        best = None
        for name, src in by_size.get(init.size, []):
            for perm, arranged in _permutations(src, init.shape):
                if not _plausible(init, arranged):
                    continue
                fold = foldable is None or name in foldable
                known = (fold_scales or {}).get(name)
                if known is not None and known.size != init.shape[0]:
                    known = None
                verdict = classify(
                    init.astype(np.float32, copy=False),
                    arranged,
                    tolerance,
                    fold,
                    known,
                    weight.narrow,
                )
                if verdict is None:
                    continue
                key = (RANK[verdict[0]], verdict[1])
                if best is None or key < best[0]:
                    best = (key, name, perm, verdict)
            if best is not None and best[0] == EXACT:
                break  # an exact copy: no other source parameter can rank above it
        if best is None:
            continue
        _, name, perm, (kind, max_diff, changed, detail) = best
        folded = detail.startswith("folded")
        if kind == "precision":
            detail = detail.split()[-1]
        findings.append(
            ParameterFinding(
                weight.name,
                name,
                kind,
                max_diff,
                changed,
                weight.dtype,
                perm,
                detail,
                intended=kind == "precision" and detail == intended_precision,
                folded=folded,
                quantization=weight.quantization,
            )
        )
    return findings


def is_precision(finding: ParameterFinding) -> bool:
    """A narrowed weight, known to be narrow from how it is stored (behind DequantizeLinear or
    Cast, or a float16/bfloat16 initializer), not only guessed from a few distinct values."""
    return finding.kind == "precision" and (
        bool(finding.quantization) or finding.detail in ("float16", "bfloat16")
    )


def storage(finding: ParameterFinding) -> str:
    """How a narrowed weight is stored, in words: format, levels and scales."""
    q = finding.quantization
    if q.get("via") == "DequantizeLinear":
        scales = (
            f"{q['scales']} scales {q['scale_min']:.3g}..{q['scale_max']:.3g} on axis {q['axis']}"
            if q["scales"] > 1
            else f"scale {q['scale_min']:.3g}"
        )
        return (
            f"{q['stored']} {q['granularity']} behind DequantizeLinear, {q['levels']} levels, "
            f"{scales}"
        )
    if q.get("via") == "Cast":
        return f"{q['stored']} initializer behind Cast"
    return f"values fit {finding.detail}"


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
    if finding.folded:
        known = (fold_scales or {}).get(finding.source)
        if known is not None and known.size == init.shape[0]:
            arranged = arranged * _shaped(known, init)
        else:
            arranged = arranged * _channel_scale(init, arranged)
    return arranged.astype(np.float32 if finding.quantization else init.dtype)
