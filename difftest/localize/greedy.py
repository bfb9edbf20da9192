"""FetaFix's label-driven repair: greedy changes to the converted model, judged on images.

The alignment-driven repair (:mod:`.repair`) asks whether a node's values realign with the
source; this loop asks what the paper asked: how many images change their top-1 label
(discrepancy) and how far the worst image's top-5 ranking is from the source's (the minimum
over images of the top-5 Kendall tau of :mod:`difftest.matrix.labels`). Each round proposes
the candidate changes of :mod:`.repair_candidates` for the first divergent nodes, in FetaFix's
order of fault types (weights and their precision, then hyper-parameters, then the graph);
a candidate is refused when the worst tau drops, or when it improves neither the discrepancy
nor the taus. Of the admissible candidates the one with the lowest discrepancy is kept, the
model is localized again, and the loop stops at 0 % discrepancy or when no candidate is
admissible. Every candidate tried is recorded, accepted or refused, with the discrepancy and
the worst tau before and after, so the report reads as the paper's step tables did.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import onnx

from difftest.localize.conversion_path import predict as predict_artifact
from difftest.localize.pipeline import Localization, localize
from difftest.localize.repair_candidates import Candidate, candidates
from difftest.matrix.hops import Artifact
from difftest.matrix.labels import top1_discrepancy_pct, top5_kendall_tau

# FetaFix's order of the fault types the localizer proposes changes for
STAGE_ORDER = ("precision", "parameters", "hyper-parameters", "graph")
MAX_ROUNDS = 8
TAU_SLACK = 1e-9  # float noise in a recomputed tau is no drop

# the converted model's logits on the images (same order as the reference logits)
Predict = Callable[[onnx.ModelProto], np.ndarray]
# the candidate changes for a localization, in the order they are tried
Propose = Callable[[Localization], Iterator[Candidate]]


@dataclass(frozen=True)
class LabelScore:
    """The labels of a converted model against the source's on the same images."""

    discrepancy_pct: float
    worst_tau: float
    mean_tau: float

    @classmethod
    def of(cls, reference: np.ndarray, logits: np.ndarray) -> LabelScore:
        tau = top5_kendall_tau(reference, logits)
        return cls(top1_discrepancy_pct(reference, logits), float(tau.min()), float(tau.mean()))

    def better_than(self, other: LabelScore) -> bool:
        """Fewer changed labels, or as few with a better worst (then mean) tau."""
        mine = (self.discrepancy_pct, -self.worst_tau, -self.mean_tau)
        theirs = (other.discrepancy_pct, -other.worst_tau, -other.mean_tau)
        return mine < theirs


@dataclass
class GreedyStep:
    """One candidate tried: accepted, or refused and why."""

    round: int
    stage: str
    node: str
    change: str
    accepted: bool
    reason: str
    before: LabelScore
    after: LabelScore

    def to_dict(self) -> dict:
        out = asdict(self)
        out["before"], out["after"] = asdict(self.before), asdict(self.after)
        return out


@dataclass
class GreedyResult:
    """The model after the accepted steps (the input model when none was), every step tried."""

    model: onnx.ModelProto
    images: int
    start: LabelScore
    end: LabelScore
    steps: list[GreedyStep] = field(default_factory=list)

    @property
    def accepted(self) -> list[GreedyStep]:
        return [s for s in self.steps if s.accepted]

    @property
    def changed(self) -> bool:
        return bool(self.accepted)

    def summary(self) -> str:
        """One line: discrepancy before and after, and how many steps were kept."""
        refused = len(self.steps) - len(self.accepted)
        return (
            f"label-driven repair on {self.images} images: top-1 discrepancy "
            f"{self.start.discrepancy_pct:.1f} % -> {self.end.discrepancy_pct:.1f} %, worst top-5 "
            f"tau {self.start.worst_tau:.3f} -> {self.end.worst_tau:.3f}; "
            f"{len(self.accepted)} step(s) accepted, {refused} refused"
        )

    def to_dict(self) -> dict:
        return {
            "images": self.images,
            "changed": self.changed,
            "summary": self.summary(),
            "start": asdict(self.start),
            "end": asdict(self.end),
            "steps": [s.to_dict() for s in self.steps],
        }


def onnx_predictor(images_nchw: np.ndarray, final: Artifact, workdir: Path) -> Predict:
    """Run a candidate ONNX model in ONNX Runtime on the images, as the matrix runs ``final``
    (same layout and size); each candidate is written to one scratch file in ``workdir``."""
    scratch = workdir / "candidate.onnx"

    def run(model: onnx.ModelProto) -> np.ndarray:
        workdir.mkdir(parents=True, exist_ok=True)
        onnx.save(model, scratch)
        artifact = Artifact("onnx", final.layout, path=scratch, size=final.size)
        return predict_artifact(artifact, images_nchw)

    return run


def localizer_candidates(loc: Localization) -> Iterator[Candidate]:
    """The repair candidates of every first divergent node, weights first (FetaFix's order)."""
    found = [c for d in loc.divergences for c in candidates(loc, d.node)]
    rank = {stage: k for k, stage in enumerate(STAGE_ORDER)}
    yield from sorted(found, key=lambda c: rank.get(c.stage, len(rank)))


def _node_of(loc: Localization) -> str:
    if not loc.divergences:
        return ""
    node = loc.model.graph.node[loc.divergences[0].node]
    return node.name or node.output[0]


def _verdict(before: LabelScore, after: LabelScore) -> tuple[bool, str]:
    if after.worst_tau < before.worst_tau - TAU_SLACK:
        drop = f"{before.worst_tau:.3f} -> {after.worst_tau:.3f}"
        return False, f"refused: worst top-5 tau drops {drop}"
    if not after.better_than(before):
        return False, "refused: neither fewer changed labels nor better taus"
    return True, "admissible"


def greedy_repair(
    source,
    loc: Localization,
    reference: np.ndarray,
    predict: Predict,
    propose: Propose = localizer_candidates,
    max_rounds: int = MAX_ROUNDS,
) -> GreedyResult:
    """Repair ``loc.model`` greedily against the source's ``reference`` logits; ``predict`` runs
    a candidate model on the same images. Stops at 0 % discrepancy."""
    score = LabelScore.of(reference, predict(loc.model))
    result = GreedyResult(loc.model, len(reference), score, score)
    current = loc
    for round_no in range(1, max_rounds + 1):
        if score.discrepancy_pct == 0.0:
            break
        best: tuple[LabelScore, Candidate, GreedyStep] | None = None
        node = _node_of(current)
        for candidate in propose(current):
            try:
                after = LabelScore.of(reference, predict(candidate.model))
            except Exception as exc:  # a candidate ONNX Runtime rejects is refused, not fatal
                first_line = str(exc).strip().splitlines()[0][:160] if str(exc).strip() else ""
                reason = f"refused: the changed model does not run ({type(exc).__name__}: "
                result.steps.append(
                    GreedyStep(
                        round_no,
                        candidate.stage,
                        node,
                        candidate.change,
                        False,
                        reason + first_line + ")",
                        score,
                        score,
                    )
                )
                continue
            admissible, reason = _verdict(score, after)
            step = GreedyStep(
                round_no, candidate.stage, node, candidate.change, False, reason, score, after
            )
            result.steps.append(step)
            if admissible and (best is None or after.better_than(best[0])):
                best = (after, candidate, step)
            if admissible and after.discrepancy_pct == 0.0:
                break
        if best is None:
            break
        score, candidate, step = best
        step.accepted, step.reason = True, "accepted"
        current = localize(
            source,
            candidate.model,
            current.samples,
            current.tolerance,
            trace=current.trace,
            intended=current.intended,
        )
    result.model, result.end = current.model, score
    return result


def step_table(report: dict) -> list[str]:
    """The steps of a :meth:`GreedyResult.to_dict` as a Markdown table: the discrepancy and the
    worst tau before and after each candidate tried."""
    lines = [
        "| round | stage | node | change | discrepancy | worst top-5 tau | outcome |",
        "|---|---|---|---|---|---|---|",
    ]
    for s in report["steps"]:
        before, after = s["before"], s["after"]
        lines.append(
            f"| {s['round']} | {s['stage']} | `{s['node']}` | {s['change']} | "
            f"{before['discrepancy_pct']:.1f} % -> {after['discrepancy_pct']:.1f} % | "
            f"{before['worst_tau']:.3f} -> {after['worst_tau']:.3f} | {s['reason']} |"
        )
    return lines
