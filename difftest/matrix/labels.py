"""Label metrics of one conversion, per image and overall.

- *top-1 discrepancy* (the metric of Louloudakis et al.): the share of images, in %, whose
  top-1 label differs from the source model's;
- *top-5 Kendall tau* (FetaFix's criterion): for each image, the source's five highest classes,
  ranked once by the source's scores and once by the converted model's; tau-b of the two
  rankings, 1 when the order is kept, -1 when it is reversed.

Ties are part of the data, not noise: ``argmax`` takes the lowest class index among equal
scores (NumPy's rule, the same on both sides), and tau-b counts a pair tied in either ranking as
neither concordant nor discordant; a ranking with no untied pair carries no order, and its tau
is 0.
"""

from __future__ import annotations

from itertools import combinations

import numpy as np

TOP_K = 5


def top1(logits: np.ndarray) -> np.ndarray:
    """Top-1 label per image (lowest index among ties)."""
    return np.asarray(logits).argmax(axis=1)


def top1_discrepancy_pct(source: np.ndarray, target: np.ndarray) -> float:
    """% of images whose top-1 label differs between ``source`` and ``target`` logits."""
    _check_pair(source, target)
    return float(100.0 * np.mean(top1(source) != top1(target)))


def top5_kendall_tau(source: np.ndarray, target: np.ndarray, k: int = TOP_K) -> np.ndarray:
    """Per-image tau-b between the two rankings of the source's top-``k`` classes."""
    _check_pair(source, target)
    k = min(k, source.shape[1])
    classes = np.argsort(-source, axis=1, kind="stable")[:, :k]
    s = np.take_along_axis(source, classes, axis=1)
    t = np.take_along_axis(target, classes, axis=1)
    concordant = np.zeros(len(s))
    discordant = np.zeros(len(s))
    untied_s = np.zeros(len(s))
    untied_t = np.zeros(len(s))
    for i, j in combinations(range(k), 2):
        ds, dt = np.sign(s[:, i] - s[:, j]), np.sign(t[:, i] - t[:, j])
        concordant += (ds * dt) > 0
        discordant += (ds * dt) < 0
        untied_s += ds != 0
        untied_t += dt != 0
    denominator = np.sqrt(untied_s * untied_t)
    with np.errstate(invalid="ignore", divide="ignore"):
        tau = np.where(denominator > 0, (concordant - discordant) / denominator, 0.0)
    return tau


def label_metrics(source: np.ndarray, target: np.ndarray) -> dict:
    """The label and tensor numbers of one conversion, ready for a result record."""
    diff = np.abs(np.asarray(source, np.float64) - np.asarray(target, np.float64))
    finite = bool(np.isfinite(diff).all())
    return {
        "images": len(source),
        "top1_discrepancy_pct": round(top1_discrepancy_pct(source, target), 4),
        "top5_tau_mean": round(float(top5_kendall_tau(source, target).mean()), 6),
        "max_abs_diff": float(diff.max()) if finite else None,
        "mean_abs_diff": float(diff.mean()) if finite else None,
        "changed_images": np.flatnonzero(top1(source) != top1(target)).tolist(),
    }


def _check_pair(source: np.ndarray, target: np.ndarray) -> None:
    if source.ndim != 2 or source.shape != target.shape:
        raise ValueError(
            f"logits must be two (images, classes) arrays of one shape, got "
            f"{source.shape} and {target.shape}"
        )
