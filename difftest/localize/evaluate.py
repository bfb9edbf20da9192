"""Fault-injection evaluation: does the localizer name the injected node, does repair fix it?

For each difftest source model and converter, the healthy conversion is aligned, faults are
planted (:mod:`.inject`), and each *effective* fault (one that makes the outputs disagree) is
localized and repaired. Localization is a hit when the injected node is among the reported
first divergent nodes; precision = hits / reported nodes, recall = hits / effective faults.
A repair counts when the repaired model agrees with the source on *held-out* inputs (a
different seed than the ones used to localize and repair); repair precision = verified repairs
/ repairs claimed, recall = verified repairs / effective faults. :func:`write_evaluation` writes
the rows and the summary.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import asdict, dataclass
from pathlib import Path

import pandas as pd

from convfail.dataset import atomic_write_text, csv_text
from difftest.converters import get_converter
from difftest.jobs import Job
from difftest.localize.inject import EXPECTED_CAUSE, inject_faults
from difftest.localize.pipeline import localize
from difftest.localize.repair import repair
from difftest.localize.tolerance import Tolerance
from difftest.sources import build_source

ROWS_FILE = "fault_injection.csv"
SUMMARY_FILE = "fault_injection_summary.json"

COLUMNS = [
    "model",
    "converter",
    "fault",
    "node",
    "op_type",
    "description",
    "effective",
    "reported",
    "hit",
    "rank",
    "cause",
    "cause_correct",
    "repair_claimed",
    "repair_verified",
    "repair_steps",
]  # times are left out: the file must not change between identical runs

# (model id, source, name, seed, nodes)
DEFAULT_MODELS = [
    *[(f"syn-n030-s{seed}", "synthetic", "", seed, 30) for seed in (1, 2, 3, 5, 6, 7, 8, 9, 10)],
    ("zoo-resnet18-tiny", "zoo", "resnet18-tiny", 0, 0),
]


@dataclass
class Row:
    """One planted fault; the defaults are those of a fault the outputs do not show."""

    model: str
    converter: str
    fault: str
    node: str
    op_type: str
    description: str
    effective: bool = False
    reported: int = 0
    hit: bool = False
    rank: int = -1
    cause: str = ""
    cause_correct: bool = False
    repair_claimed: bool = False
    repair_verified: bool = False
    repair_steps: int = 0
    localize_s: float = 0.0
    repair_s: float = 0.0


def evaluate(
    models=DEFAULT_MODELS,
    converters=("torchscript",),
    per_type: int = 2,
    samples: int = 2,
) -> Iterator[Row]:
    """One row per planted fault, model by model, as each is localized and repaired."""
    tolerance = Tolerance()
    for model_id, source_kind, name, seed, nodes in models:
        for converter in converters:
            job = Job(
                "eval", model_id, source_kind, name, "torch", converter, seed=seed, nodes=nodes
            )
            try:
                source = build_source(job)
            except ValueError:  # the generator cannot build every seed (seed 4 at 30 nodes)
                continue
            inputs = source.make_inputs(seed, samples)
            held_out = source.make_inputs(seed + 1000, samples)
            try:
                healthy = get_converter(converter).convert(source, 17)
            except Exception:
                continue
            base = localize(source, healthy, inputs, tolerance)
            if not base.agrees:
                continue  # the conversion itself differs: not a clean base for injection
            for fault in inject_faults(healthy, base.alignment, seed, per_type):
                start = time.perf_counter()
                loc = localize(source, fault.model, inputs, tolerance, trace=base.trace)
                localize_s = time.perf_counter() - start
                what = (model_id, converter, fault.kind, fault.node_name, fault.op_type)
                if loc.agrees:  # the fault changed nothing the outputs show
                    yield Row(*what, fault.description, localize_s=localize_s)
                    continue
                reported = [d.node for d in loc.divergences]
                hit = fault.node in reported
                cause = next((d.cause for d in loc.divergences if d.node == fault.node), "")
                start = time.perf_counter()
                fixed = repair(source, loc)
                repair_s = time.perf_counter() - start
                verified = False
                if fixed.agrees_after:
                    check = localize(source, fixed.model, held_out, tolerance)
                    verified = check.agrees
                yield Row(
                    *what,
                    fault.description,
                    effective=True,
                    reported=len(reported),
                    hit=hit,
                    rank=reported.index(fault.node) if hit else -1,
                    cause=cause,
                    cause_correct=cause == EXPECTED_CAUSE[fault.kind],
                    repair_claimed=fixed.agrees_after,
                    repair_verified=verified,
                    repair_steps=len(fixed.steps),
                    localize_s=round(localize_s, 3),
                    repair_s=round(repair_s, 3),
                )


def summarise(rows: list[Row]) -> dict:
    """Precision/recall of localization and repair, overall and per fault type."""
    out = {}
    groups = {"all": rows}
    for row in rows:
        groups.setdefault(row.fault, []).append(row)
    for key, group in groups.items():
        effective = [r for r in group if r.effective]
        reported = sum(r.reported for r in effective)
        hits = sum(r.hit for r in effective)
        claimed = sum(r.repair_claimed for r in effective)
        verified = sum(r.repair_verified for r in effective)
        out[key] = {
            "injected": len(group),
            "effective": len(effective),
            "localization_precision": _ratio(hits, reported),
            "localization_recall": _ratio(hits, len(effective)),
            "cause_accuracy": _ratio(sum(r.cause_correct for r in effective), len(effective)),
            "repair_precision": _ratio(verified, claimed),
            "repair_recall": _ratio(verified, len(effective)),
        }
    return out


def _ratio(a: int, b: int) -> float | None:
    return round(a / b, 3) if b else None


def row_dict(row: Row) -> dict:
    return asdict(row)


def write_evaluation(
    out_dir: Path,
    n_models: int,
    converters: Iterable[str],
    per_type: int,
    progress: Callable[[Iterator[Row]], Iterable[Row]] = iter,
) -> dict:
    """Evaluate on the first ``n_models`` models, write the rows and their summary into
    ``out_dir``, return the summary. ``progress`` wraps the stream of rows (a progress bar)."""
    rows = list(progress(evaluate(DEFAULT_MODELS[:n_models], tuple(converters), per_type)))
    frame = pd.DataFrame([row_dict(r) for r in rows], columns=COLUMNS)
    atomic_write_text(out_dir / ROWS_FILE, csv_text(frame, COLUMNS))
    summary = summarise(rows)
    text = json.dumps(summary, indent=2, sort_keys=True) + "\n"
    atomic_write_text(out_dir / SUMMARY_FILE, text)
    return summary
