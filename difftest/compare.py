"""Compare source and converted outputs: raw differences, NaN/Inf made explicit, a verdict.

The verdict rule and the policies are :mod:`convfail.verdicts` (shared with every reader); this
module measures what they need, output by output:

- outputs are paired by position; a different count, shape or dtype kind is a mismatch by itself
  (``structure`` names which);
- an element pair is a *non-finite match* when both are NaN or both the same infinity, a
  *non-finite mismatch* when otherwise either side is NaN or infinite;
- on finite pairs, ``abs = |converted - source|``; ``max_rel_diff`` leaves out pairs whose source
  value is 0 (the ratio is undefined there); the non-dominated ``[abs, |source|]`` pairs per
  source dtype are kept as ``differences``, which decide any allclose policy exactly;
- ``mismatched_share``: the share of elements the campaign policy, ``default`` and ``paper``
  each reject (non-finite mismatches count).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from convfail.verdicts import DEFAULT, PAPER, Policy, judge, parse_policy


def frontier(diff: np.ndarray, magnitude: np.ndarray) -> np.ndarray:
    """The ``[diff, magnitude]`` rows no other row dominates (larger diff at no larger magnitude);
    rows with a zero difference, which no policy rejects, are dropped."""
    keep = diff > 0
    diff, magnitude = diff[keep], magnitude[keep]
    if not diff.size:
        return np.empty((0, 2))
    order = np.lexsort((-diff, magnitude))
    d, m = diff[order], magnitude[order]
    before = np.concatenate(([-np.inf], np.maximum.accumulate(d)[:-1]))
    top = d > before
    return np.column_stack((d[top], m[top]))


@dataclass
class Comparison:
    """Differences accumulated over every output of every input."""

    policies: tuple[Policy, ...]
    elements: int = 0
    max_abs_diff: float = 0.0
    max_rel_diff: float = 0.0
    nonfinite_mismatches: int = 0
    nonfinite_matches: int = 0
    structure: str = ""  # "" when counts, shapes and dtypes agree
    differences: dict[str, np.ndarray] = field(default_factory=dict)
    rejected: dict[str, int] = field(default_factory=dict)

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
            self._add_pair(e.dtype.name, e.astype(np.float64).ravel(), a.astype(np.float64).ravel())

    def _add_pair(self, dtype: str, e: np.ndarray, a: np.ndarray) -> None:
        self.elements += e.size
        finite = np.isfinite(e) & np.isfinite(a)
        same_nonfinite = (np.isnan(e) & np.isnan(a)) | (np.isinf(e) & np.isinf(a) & (e == a))
        bad = int((~finite & ~same_nonfinite).sum())
        self.nonfinite_matches += int(same_nonfinite.sum())
        self.nonfinite_mismatches += bad
        diff = np.abs(a[finite] - e[finite])
        base = np.abs(e[finite])
        if diff.size:
            self.max_abs_diff = max(self.max_abs_diff, float(diff.max()))
            nonzero = base > 0
            if nonzero.any():
                self.max_rel_diff = max(
                    self.max_rel_diff, float((diff[nonzero] / base[nonzero]).max())
                )
        for policy in self.policies:
            rtol, atol = policy.tolerance_for(dtype)
            beyond = int((diff > atol + rtol * base).sum())
            self.rejected[policy.name] = self.rejected.get(policy.name, 0) + beyond + bad
        old = self.differences.get(dtype, np.empty((0, 2)))
        merged = np.concatenate((old, np.column_stack((diff, base))))
        self.differences[dtype] = frontier(merged[:, 0], merged[:, 1])

    def verdict(self, policy: Policy) -> str:
        """The outcome under ``policy`` (see :func:`convfail.verdicts.judge`)."""
        return judge(self.to_dict(), policy)

    def share(self, policy: Policy) -> float | None:
        """Share of elements ``policy`` (one of :attr:`policies`) rejects; None when nothing
        could be compared."""
        if policy not in self.policies:
            raise ValueError(f"share under {policy.name} was not measured")
        if self.structure or not self.elements:
            return None
        return self.rejected.get(policy.name, 0) / self.elements

    def to_dict(self) -> dict:
        """The ``comparison`` field of a result line (JSON-safe: no NaN, no Infinity)."""
        return {
            "elements": self.elements,
            "max_abs_diff": _finite_or_none(self.max_abs_diff),
            "max_rel_diff": _finite_or_none(self.max_rel_diff),
            "nonfinite_mismatches": self.nonfinite_mismatches,
            "nonfinite_matches": self.nonfinite_matches,
            "structure": self.structure,
            "differences": {
                dtype: [[float(d), float(m)] for d, m in pairs]
                for dtype, pairs in sorted(self.differences.items())
            },
            "mismatched_share": {p.name: _round(self.share(p)) for p in self.policies},
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


def comparison(policy: Policy) -> Comparison:
    """An empty comparison judged under ``policy``, with shares under default and paper too."""
    extra = [p for p in map(parse_policy, (DEFAULT, PAPER)) if p.name != policy.name]
    return Comparison((policy, *extra))


def compare_outputs(
    expected: list[list[np.ndarray]], actual: list[list[np.ndarray]], policy: Policy
) -> Comparison:
    """Compare the outputs of several inputs (outer lists: one entry per input)."""
    result = comparison(policy)
    for e, a in zip(expected, actual, strict=True):
        result.add(e, a)
    return result
