"""The reproduction report: every published number beside ours, with match or mismatch.

``REPORT.md`` is for people, ``reproduction.json`` for tools (CI checks, comparisons across
runs). Both are deterministic: artifacts in id order, checks in the order the artifact made them.
"""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from pathlib import Path

import pandas as pd

from analysis.registry import AnalysisContext, ArtifactResult, Outcome
from convfail.dataset import atomic_write_text

# Inconsistencies inside the paper (shared/docs/study.md); artifacts add their own notes.
PAPER_INCONSISTENCIES = [
    "Table 4: 13 of 32 coded answers is printed as 35%; 13/32 is 41%.",
    "Table 10: the torch.onnx 'other' column total is printed as 9; its own cells sum to 8.",
    "RQ4 micro analysis: 330 vs 320 mismatching models in different places of the paper.",
    "RQ4 macro analysis: 1,605 vs 1,761 real models.",
    "RQ4 macro analysis: 100 vs 10 random inputs per model.",
    "RQ3: the published Spearman value 0.34 matches the binning without merging releases 2-7, "
    "although the text says they were merged; the 0.33 beside it comes from the merged bins "
    "(on the subset's share).",
    "Drift check: 18 issues in the spreadsheet (9 + 9) vs 20 in the text.",
]


def only_suffix(ids: list[str]) -> str:
    """The report suffix of a partial run (``--only``): its own files beside the full report.

    Up to three ids are spelled out; more get a digest of the sorted ids (the report lists them).
    """
    if not ids:
        return ""
    chosen = sorted(set(ids))
    if len(chosen) <= 3:
        return "-only-" + "+".join(chosen)
    digest = hashlib.sha1(" ".join(chosen).encode()).hexdigest()[:8]
    return f"-only-{len(chosen)}-artifacts-{digest}"


def report_paths(out: Path, suffix: str = "") -> tuple[Path, Path]:
    """``REPORT<suffix>.md`` and ``reproduction<suffix>.json`` in ``out``."""
    return out / f"REPORT{suffix}.md", out / f"reproduction{suffix}.json"


def _fmt(value: object) -> str:
    if value is None:
        return "–"
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)


def checks_frame(result: ArtifactResult) -> pd.DataFrame:
    """An artifact's checks as a table: cell, published, ours, status and the reason given."""
    rows = [
        {
            "cell": c.cell,
            "published": c.published,
            "ours": c.ours,
            "status": c.status,
            "reason": c.note,
        }
        for c in result.checks
    ]
    return pd.DataFrame(rows, columns=["cell", "published", "ours", "status", "reason"])


def summary(outcomes: list[Outcome]) -> Counter:
    return Counter(check.status for o in outcomes for check in o.result.checks)


def write_report(
    ctx: AnalysisContext, outcomes: list[Outcome], out: Path, suffix: str = ""
) -> None:
    """Write the report pair; ``suffix`` (a partial run) keeps the full report untouched."""
    counts = summary(outcomes)
    labels = ctx.label_source() if any(o.artifact.per_study for o in outcomes) else ""
    lines = [
        f"# Reproduction report: study `{ctx.study_name}`",
        "",
        f"Codebook {ctx.codebook.version}. Published numbers checked: "
        f"{sum(counts.values())}; match {counts.get('match', 0)}, "
        f"explained {counts.get('explained', 0)} (a known quirk of the paper, reason given), "
        f"mismatch {counts.get('mismatch', 0)}, missing {counts.get('missing', 0)}.",
    ]
    if labels:
        lines += ["", f"Labels of the failure analysis: {labels}."]
    if suffix:
        ids = ", ".join(f"`{o.artifact.id}`" for o in outcomes)
        lines += ["", f"A partial run (`--only`): {ids}. The full report is `REPORT.md`."]
    lines += ["", "| artifact | paper | files |", "|---|---|---|"]
    for o in outcomes:
        files = ", ".join(f"`{p.relative_to(out)}`" for p in o.files) or o.result.skipped or "–"
        lines.append(f"| `{o.artifact.id}` {o.artifact.title} | {o.artifact.paper_ref} | {files} |")
    for o in outcomes:
        if not o.result.checks and not o.result.notes:
            continue
        lines += ["", f"## {o.artifact.id} — {o.artifact.title} ({o.artifact.paper_ref})", ""]
        if o.result.checks:
            lines += ["| cell | published | ours | status |", "|---|---:|---:|---|"]
            for c in o.result.checks:
                mark = c.status if c.status in {"match", "explained"} else f"**{c.status}**"
                note = f" ({c.note})" if c.note else ""
                lines.append(f"| {c.cell}{note} | {_fmt(c.published)} | {_fmt(c.ours)} | {mark} |")
        for note in o.result.notes:
            lines.append(f"- {note}")
    if ctx.is_reference_study:
        lines += ["", "## Known inconsistencies inside the paper", ""]
        lines += [f"- {item}" for item in PAPER_INCONSISTENCIES]
    markdown, machine = report_paths(out, suffix)
    atomic_write_text(markdown, "\n".join(lines) + "\n")
    payload = {
        "study": ctx.study_name,
        "codebook_version": ctx.codebook.version,
        "labels": labels,
        "summary": dict(sorted(counts.items())),
        "artifacts": [
            {
                "id": o.artifact.id,
                "title": o.artifact.title,
                "paper_ref": o.artifact.paper_ref,
                "files": [str(p.relative_to(out)) for p in o.files],
                "skipped": o.result.skipped,
                "checks": [
                    {
                        "cell": c.cell,
                        "published": c.published,
                        "ours": c.ours,
                        "tolerance": c.tolerance,
                        "status": c.status,
                        "note": c.note,
                        "expected_discrepancy": c.expected_discrepancy,
                    }
                    for c in o.result.checks
                ],
                "notes": o.result.notes,
            }
            for o in outcomes
        ],
        "paper_inconsistencies": PAPER_INCONSISTENCIES if ctx.is_reference_study else [],
    }
    atomic_write_text(machine, json.dumps(payload, indent=2, sort_keys=False) + "\n")
