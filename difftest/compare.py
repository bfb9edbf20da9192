"""Compare source and converted outputs: differences, mismatched share, NaN/Inf made explicit.

Rules (the paper only said "maximum absolute difference above 1e-7"):

- outputs are paired by position; a different count, shape or dtype kind is a mismatch by itself
  (``structure`` names which);
- an element pair is *equal* when both are NaN, or both are the same infinity; it is a
  *non-finite mismatch* when exactly one side is NaN, or the sides are different infinities or
  one infinite and one finite. Non-finite mismatches count as mismatched at every tolerance;
- on finite pairs, ``abs = |converted - source|`` and ``rel = abs / |source|`` (pairs whose
  source value is 0 are left out of the relative difference, which would be infinite or
  undefined there); an element mismatches when ``abs > tolerance``;
- a model mismatches at a tolerance when any element of any input mismatches; the result is
  reported at the campaign tolerance and always at :data:`REPORT_TOLERANCES` too.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from convfail.campaign_files import tolerance_key

DEFAULT_TOLERANCE = 1e-7
REPORT_TOLERANCES = (1e-7, 1e-3)


@dataclass
class Comparison:
    """Differences accumulated over every output of every input."""

    tolerances: tuple[float, ...]
    elements: int = 0
    max_abs_diff: float = 0.0
    max_rel_diff: float = 0.0
    nonfinite_mismatches: int = 0
    nonfinite_matches: int = 0
    structure: str = ""  # "" when counts, shapes and dtypes agree
    mismatched: dict[float, int] = field(default_factory=dict)

    def add(self, expected: list[np.ndarray], actual: list[np.ndarray]) -> None:
        """Fold in the outputs of one input."""
        if len(expected) != len(actual):
            self.structure = self.structure or f"output count {len(expected)} vs {len(actual)}"
            return
        for i, (e, a) in enumerate(zip(expected, actual, strict=True)):
            e, a = np.asarray(e), np.asarray(a)
            if e.shape != a.shape:
                self.structure = (
                    self.structure or f"output {i} shape {list(e.shape)} vs {list(a.shape)}"
                )
                continue
            if _kind(e) != _kind(a):
                self.structure = self.structure or f"output {i} dtype {e.dtype} vs {a.dtype}"
                continue
            self._add_pair(e.astype(np.float64).ravel(), a.astype(np.float64).ravel())

    def _add_pair(self, e: np.ndarray, a: np.ndarray) -> None:
        self.elements += e.size
        finite = np.isfinite(e) & np.isfinite(a)
        same_nonfinite = (np.isnan(e) & np.isnan(a)) | (np.isinf(e) & np.isinf(a) & (e == a))
        bad = ~finite & ~same_nonfinite
        self.nonfinite_matches += int(same_nonfinite.sum())
        self.nonfinite_mismatches += int(bad.sum())
        diff = np.abs(a[finite] - e[finite])
        if diff.size:
            self.max_abs_diff = max(self.max_abs_diff, float(diff.max()))
            base = np.abs(e[finite])
            nonzero = base > 0
            if nonzero.any():
                self.max_rel_diff = max(
                    self.max_rel_diff, float((diff[nonzero] / base[nonzero]).max())
                )
        for tol in self.tolerances:
            self.mismatched[tol] = (
                self.mismatched.get(tol, 0) + int((diff > tol).sum()) + int(bad.sum())
            )

    def mismatch_at(self, tolerance: float) -> bool:
        return bool(self.structure) or self.mismatched.get(tolerance, 0) > 0

    def share_at(self, tolerance: float) -> float | None:
        if self.structure or not self.elements:
            return None
        return self.mismatched.get(tolerance, 0) / self.elements

    def to_dict(self) -> dict:
        """The ``comparison`` field of a result line (JSON-safe: no NaN, no Infinity)."""
        return {
            "elements": self.elements,
            "max_abs_diff": _finite_or_none(self.max_abs_diff),
            "max_rel_diff": _finite_or_none(self.max_rel_diff),
            "nonfinite_mismatches": self.nonfinite_mismatches,
            "nonfinite_matches": self.nonfinite_matches,
            "structure": self.structure,
            "mismatch": {tolerance_key(t): self.mismatch_at(t) for t in self.tolerances},
            "mismatched_share": {
                tolerance_key(t): _round(self.share_at(t)) for t in self.tolerances
            },
        }


def _kind(array: np.ndarray) -> str:
    return (
        "bool"
        if array.dtype == bool
        else "int"
        if np.issubdtype(array.dtype, np.integer)
        else "float"
    )


def _finite_or_none(value: float) -> float | None:
    return value if math.isfinite(value) else None


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 6)


def comparison(tolerance: float = DEFAULT_TOLERANCE) -> Comparison:
    """An empty comparison at ``tolerance`` plus the always-reported tolerances."""
    return Comparison(tuple(sorted({float(tolerance), *REPORT_TOLERANCES})))


def compare_outputs(
    expected: list[list[np.ndarray]],
    actual: list[list[np.ndarray]],
    tolerance: float = DEFAULT_TOLERANCE,
) -> Comparison:
    """Compare the outputs of several inputs (outer lists: one entry per input)."""
    result = comparison(tolerance)
    for e, a in zip(expected, actual, strict=True):
        result.add(e, a)
    return result
