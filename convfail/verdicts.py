"""Verdict policies: when do a source output and its converted output count as the same?

One comparator rule for every command (campaign, ``status``, ``localize``, ``repair``) and for
the analysis: an element pair agrees when

    |converted - source| <= atol + rtol * |source|

(``numpy.isclose`` / ``torch.testing`` form; the source is the reference). A policy gives
``(rtol, atol)`` per dtype of the source output:

- ``default``: dtype-aware, ``torch.testing.assert_close``'s defaults (float32: rtol 1.3e-6,
  atol 1e-5; float16: 1e-3, 1e-5; bfloat16: 1.6e-2, 1e-5; float64: 1e-7, 1e-7); integers and
  booleans must be equal;
- ``paper``: the torch criterion of Jajal et al. (``find_mismatch``: rtol 1e-3, atol 1e-7) for
  every dtype;
- ``RTOL,ATOL``: any pair the user gives, for every dtype (``0,1e-7`` is the bare absolute 1e-7
  of the earlier campaigns).

Non-finite values are judged apart: NaN against NaN and an infinity against the same infinity
agree; any other pair with a NaN or an infinity is a *non-finite disagreement*. Verdicts, in
order: a structure difference (output count, shape, dtype kind) or a finite pair beyond the
policy is ``mismatch``; else any non-finite disagreement is ``nonfinite_mismatch``; else
``success``.

Raw differences: a record keeps, per source dtype, the pairs ``[|converted - source|,
|source|]`` that no other pair dominates (none has a larger difference at a smaller or equal
magnitude). If any pair fails ``d > atol + rtol * m``, one of these does too, so they decide
every policy exactly; there are few of them (the staircase of the worst differences).
"""

from __future__ import annotations

from dataclasses import dataclass

from convfail.campaign_files import MISMATCH, NONFINITE_MISMATCH, RAN, SUCCESS
from convfail.errors import ConvfailError

DEFAULT = "default"
PAPER = "paper"
# torch.testing.assert_close's defaults; dtypes not listed (integers, bool) must be equal
DEFAULT_TOLERANCES = {
    "float16": (1e-3, 1e-5),
    "bfloat16": (1.6e-2, 1e-5),
    "float32": (1.3e-6, 1e-5),
    "float64": (1e-7, 1e-7),
    "complex64": (1.3e-6, 1e-5),
    "complex128": (1e-7, 1e-7),
}
PAPER_TOLERANCE = (1e-3, 1e-7)
# what the analyses report side by side: the default, the paper's allclose, and the bare
# absolute 1e-7 of the earlier campaigns (a mismatch "means" something different under each)
REPORTED_POLICIES = (DEFAULT, PAPER, "0,1e-7")


@dataclass(frozen=True)
class Policy:
    """A verdict policy: ``rtol``/``atol`` for every dtype, or dtype-aware when both are None."""

    name: str
    rtol: float | None = None
    atol: float | None = None

    def tolerance_for(self, dtype: str) -> tuple[float, float]:
        """``(rtol, atol)`` for a source output of ``dtype`` (a numpy dtype name)."""
        if self.rtol is None or self.atol is None:
            return DEFAULT_TOLERANCES.get(dtype, (0.0, 0.0))
        return self.rtol, self.atol

    def describe(self) -> str:
        """One phrase for messages: the name and what it allows."""
        if self.name == DEFAULT:
            return "default (dtype-aware allclose: float32 rtol 1.3e-6, atol 1e-5; ints exact)"
        return f"{self.name} (allclose rtol {self.rtol:g}, atol {self.atol:g})"


def parse_policy(text: str) -> Policy:
    """``default``, ``paper`` or ``RTOL,ATOL`` -> a policy; anything else is one clear error."""
    name = str(text).strip()
    if name == DEFAULT:
        return Policy(DEFAULT)
    if name == PAPER:
        return Policy(PAPER, *PAPER_TOLERANCE)
    rtol_text, comma, atol_text = name.partition(",")
    try:
        rtol, atol = float(rtol_text), float(atol_text)
    except ValueError:
        rtol = atol = float("nan")
    if not comma or not (rtol >= 0 and atol >= 0):
        raise ConvfailError(
            f"unknown verdict policy {text!r}",
            "use default, paper, or RTOL,ATOL with two non-negative numbers (e.g. 0,1e-7)",
        )
    return Policy(f"{rtol:g},{atol:g}", rtol, atol)


def rejudgeable(record: dict) -> bool:
    """True when the record keeps the raw differences a policy needs."""
    return isinstance((record.get("comparison") or {}).get("differences"), dict)


def judge(comparison: dict, policy: Policy) -> str:
    """The verdict of a ``comparison`` (with raw differences) under ``policy``."""
    if comparison.get("structure"):
        return MISMATCH
    for dtype, pairs in comparison["differences"].items():
        rtol, atol = policy.tolerance_for(dtype)
        if any(diff > atol + rtol * magnitude for diff, magnitude in pairs):
            return MISMATCH
    return NONFINITE_MISMATCH if comparison.get("nonfinite_mismatches") else SUCCESS


def verdict(record: dict, policy: Policy) -> str:
    """The outcome of ``record`` under ``policy``.

    Failures, hangs and crashes have no verdict to re-judge and keep their outcome; so do records
    without raw differences (imported published results), which keep the verdict they came
    with."""
    if record["outcome"] not in RAN or not rejudgeable(record):
        return record["outcome"]
    return judge(record["comparison"], policy)
