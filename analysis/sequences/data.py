"""Read a difftest campaign's files: outcomes from ``results.jsonl``, graphs from ``graphs/``.

Only converted models that ran (outcome ``mismatch`` or ``success``) take part in the micro
analysis, as in the paper: a model is *mismatching* at a tolerance when its comparison says so,
*correct* otherwise. difftest records the mismatch verdict at several tolerances
(``comparison.mismatch``: tolerance text -> bool); each becomes a label column ``mismatch:<tol>``.
Graph files a result names but that are missing are counted, not fatal.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd
from tqdm import tqdm

from analysis.sequences.kgrams import OpGraph, load_structure, op_graph
from convfail.errors import DatasetError

RAN = ("mismatch", "success")


@dataclass
class CampaignModels:
    """The models of one campaign that ran, their labels and op graphs."""

    campaign: str
    frame: pd.DataFrame
    graphs: dict[str, OpGraph]
    tolerances: list[str]
    missing_graphs: int = 0
    notes: list[str] = field(default_factory=list)


def label_column(tolerance: str) -> str:
    return f"mismatch:{tolerance}"


def graph_campaigns(root: Path) -> list[Path]:
    """Campaign folders (a ``campaign.yaml`` and ``results.jsonl``) that hold graph files."""
    return sorted(
        p.parent
        for p in root.glob("*/campaign.yaml")
        if (p.parent / "results.jsonl").is_file() and any((p.parent / "graphs").glob("*.json"))
    )


def _records(path: Path) -> list[dict]:
    records = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if line.strip():
            try:
                records.append(json.loads(line))
            except json.JSONDecodeError as exc:
                raise DatasetError(f"{path}:{number}: not JSON ({exc.msg})") from None
    return records


def load_campaign_models(folder: Path, progress: bool = False) -> CampaignModels:
    """Every ran model of the campaign in ``folder`` with its op graph and mismatch labels."""
    folder = Path(folder)
    results = folder / "results.jsonl"
    if not results.is_file():
        raise DatasetError(f"{results} is missing", "run `convfail difftest run` first")
    ran = [r for r in _records(results) if r.get("outcome") in RAN and r.get("graph_file")]
    tolerances = sorted(
        {t for r in ran for t in ((r.get("comparison") or {}).get("mismatch") or {})}, key=float
    )
    rows, graphs, missing = [], {}, 0
    for r in tqdm(ran, desc=f"graphs of {folder.name}", unit="model", disable=not progress):
        path = folder / r["graph_file"]
        if not path.is_file():
            missing += 1
            continue
        key = f"{r['model_id']}/{r['converter']}"
        graph = op_graph(load_structure(path), key)
        graphs[key] = graph
        verdicts = (r.get("comparison") or {}).get("mismatch") or {}
        row = {
            "key": key,
            "model_id": r["model_id"],
            "converter": r["converter"],
            "outcome": r["outcome"],
            "nodes": graph.n_nodes,
        }
        for t in tolerances:
            row[label_column(t)] = bool(verdicts.get(t, r["outcome"] == "mismatch"))
        rows.append(row)
    columns = ["key", "model_id", "converter", "outcome", "nodes", *map(label_column, tolerances)]
    frame = pd.DataFrame(rows, columns=columns).sort_values("key", ignore_index=True)
    return CampaignModels(folder.name, frame, graphs, tolerances, missing)
