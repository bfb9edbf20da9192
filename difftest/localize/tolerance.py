"""Tolerances that scale with magnitude and dtype, so values near zero do not false-alarm.

An element pair (source ``s``, converted ``c``) agrees when

    |c - s| <= rtol * |s| + rtol * scale

where ``scale`` is the root-mean-square of the whole source tensor and of the operands that
produced it (a subtraction of two large, nearly equal tensors keeps the error of its operands),
floored at :data:`SCALE_FLOOR`. ``rtol`` comes from the precision the comparison is made at:
float32 by default, float16/bfloat16/int8 when the user asked for that conversion (an
*intended* numeric change). The *scaled error* of a tensor is the largest ratio of difference to
allowance: at most 1 means it agrees.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

SCALE_FLOOR = 1e-2
# relative tolerance per precision: ~1000 float32 ulps; ~10 ulps of the narrow formats
RTOL = {"float32": 1e-4, "float64": 1e-9, "float16": 1e-2, "bfloat16": 5e-2, "int8": 5e-2}


@dataclass(frozen=True)
class Tolerance:
    """Relative tolerance at one precision; ``rtol`` overrides the precision's default."""

    precision: str = "float32"
    rtol: float | None = None

    @property
    def relative(self) -> float:
        return self.rtol if self.rtol is not None else RTOL[self.precision]

    def scaled_error(
        self,
        source: np.ndarray,
        converted: np.ndarray,
        operand_scale: float = 0.0,
        source_rms: float | None = None,
    ) -> float:
        """Largest |difference| / allowance; ``inf`` on a shape or non-finite mismatch."""
        return scaled_error(source, converted, self.relative, operand_scale, source_rms)

    def error_bound(
        self,
        source: np.ndarray,
        converted: np.ndarray,
        operand_scale: float = 0.0,
        source_rms: float | None = None,
    ) -> float:
        """:func:`error_bound` at this tolerance."""
        return error_bound(source, converted, self.relative, operand_scale, source_rms)


def rms(array: np.ndarray) -> float:
    """Root-mean-square of the finite elements (0 for none). All finite, the common case, takes
    one float64 temporary instead of three (a copy, the masked copy, the squares): the same
    elements squared and summed in the same order, the same value."""
    flat = np.asarray(array).ravel()
    if not flat.size:
        return 0.0
    squares = np.square(flat, dtype=np.float64)
    if np.isfinite(squares).all():
        return float(np.sqrt(np.mean(squares)))
    a = flat.astype(np.float64)
    a = a[np.isfinite(a)]
    return float(np.sqrt(np.mean(a * a))) if a.size else 0.0


def _gap(s: np.ndarray, c: np.ndarray, rtol: float, scale: float) -> tuple[np.ndarray, np.ndarray]:
    """``|c - s|`` and the allowance ``rtol * (|s| + scale)`` as float64, for all-finite
    arrays: the common case of :func:`scaled_error` and :func:`mismatched_share`, without the
    masks their general paths need (the same values, a third of the passes)."""
    allowance = np.abs(s, dtype=np.float64)
    allowance += scale
    allowance *= rtol
    diff = np.subtract(c, s, dtype=np.float64)
    np.abs(diff, out=diff)
    return diff, allowance


def scaled_error(
    source: np.ndarray,
    converted: np.ndarray,
    rtol: float,
    operand_scale: float = 0.0,
    source_rms: float | None = None,
) -> float:
    """``source_rms``: :func:`rms` of ``source`` when the caller has it (the alignment scores
    each converted value against up to 16 source values whose RMS it keeps)."""
    s = np.asarray(source)
    c = np.asarray(converted)
    if s.shape != c.shape:
        return float("inf")
    exact = (s.dtype == bool or np.issubdtype(s.dtype, np.integer)) and (
        c.dtype == bool or np.issubdtype(c.dtype, np.integer)
    )
    if exact:
        differ = np.count_nonzero(s != c)
        return 0.0 if differ == 0 else 1.0 + differ / max(1, s.size) * 1e3
    if s.size and np.isfinite(s).all() and np.isfinite(c).all():
        scale = max(rms(s) if source_rms is None else source_rms, operand_scale, SCALE_FLOOR)
        diff, allowance = _gap(s, c, rtol, scale)
        diff /= allowance
        return float(diff.max())
    s = s.astype(np.float64)
    c = c.astype(np.float64)
    nan_s, nan_c = np.isnan(s), np.isnan(c)
    if np.any(nan_s != nan_c):
        return float("inf")
    inf_s, inf_c = np.isinf(s), np.isinf(c)
    if np.any(inf_s != inf_c) or np.any(s[inf_s] != c[inf_c]):
        return float("inf")
    finite = np.isfinite(s)
    if not finite.any():
        return 0.0
    s, c = s[finite], c[finite]
    scale = max(rms(s), operand_scale, SCALE_FLOOR)
    allowance = rtol * (np.abs(s) + scale)
    return float(np.max(np.abs(c - s) / allowance))


BOUND_SAMPLE = 1024  # evenly spread elements that bound a large array's scaled error


def error_bound(
    source: np.ndarray,
    converted: np.ndarray,
    rtol: float,
    operand_scale: float = 0.0,
    source_rms: float | None = None,
) -> float:
    """A lower bound of :func:`scaled_error`, from a fixed subsample (0.0 when the arrays are
    small, not both float or of other shapes): its error never exceeds the whole's when the scale
    is the whole source's RMS, so a bound above 1 refuses a pairing without the full passes. It
    holds for floats only: an integer array's error counts the share of elements that differ."""
    s, c = np.asarray(source), np.asarray(converted)
    if (
        s.shape != c.shape
        or s.size <= 4 * BOUND_SAMPLE
        or s.dtype.kind != "f"
        or c.dtype.kind != "f"
    ):
        return 0.0
    picks = np.linspace(0, s.size - 1, BOUND_SAMPLE).astype(np.int64)
    scale = rms(s) if source_rms is None else source_rms
    return scaled_error(s.ravel()[picks], c.ravel()[picks], rtol, operand_scale, scale)


def mismatched_share(
    source: np.ndarray, converted: np.ndarray, rtol: float, operand_scale: float = 0.0
) -> float:
    """Share of elements beyond the allowance (non-finite disagreements count)."""
    s = np.asarray(source, dtype=np.float64)
    c = np.asarray(converted, dtype=np.float64)
    if s.shape != c.shape:
        return 1.0
    if np.isfinite(s).all() and np.isfinite(c).all():
        diff, allowance = _gap(s, c, rtol, max(rms(s), operand_scale, SCALE_FLOOR))
        return float(np.count_nonzero(diff > allowance)) / max(1, s.size)
    both = np.isfinite(s) & np.isfinite(c)
    same = (np.isnan(s) & np.isnan(c)) | (np.isinf(s) & (s == c))
    scale = max(rms(s[np.isfinite(s)]), operand_scale, SCALE_FLOOR)
    diff = np.where(both, np.abs(c - s), 0.0)
    bad = (diff > rtol * (np.abs(np.where(both, s, 0.0)) + scale)) | (~both & ~same)
    return float(np.count_nonzero(bad)) / max(1, s.size)
