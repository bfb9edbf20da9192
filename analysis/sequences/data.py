"""Read a difftest campaign's files: outcomes from its results file, op graphs from its graphs.

Only converted models that ran (outcome ``mismatch`` or ``success``) take part in the micro
analysis, as in the paper: a model is *mismatching* at a tolerance when its comparison says so,
*correct* otherwise. difftest records the mismatch verdict at several tolerances
(``comparison.mismatch``: tolerance key -> bool); each becomes a label column ``mismatch:<tol>``.
Graph files a result names but that are missing are counted, not fatal. The files are read
through :mod:`convfail.campaign_files`, which defines them for difftest and for us.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd
from tqdm import tqdm

from analysis.sequences.kgrams import OpGraph, op_graph
from convfail.campaign_files import (
    GRAPHS_DIR,
    MISMATCH,
    RAN,
    RESULTS_FILE,
    campaign_folders,
    read_graph,
    read_results,
    result_key,
)
from convfail.errors import DatasetError


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
    """Campaign folders under ``root`` that hold graph files."""
    return [f for f in campaign_folders(root) if any((f / GRAPHS_DIR).glob("*.json"))]


def load_campaign_models(folder: Path, progress: bool = False) -> CampaignModels:
    """Every ran model of the campaign in ``folder`` with its op graph and mismatch labels."""
    folder = Path(folder)
    results = folder / RESULTS_FILE
    if not results.is_file():
        raise DatasetError(f"{results} is missing", "run `convfail difftest run` first")
    records = read_results(results).records
    ran = [r for r in records if r["outcome"] in RAN and r.get("graph_file")]
    tolerances = sorted(
        {t for r in ran for t in ((r.get("comparison") or {}).get("mismatch") or {})}, key=float
    )
    rows, graphs, missing = [], {}, 0
    for r in tqdm(ran, desc=f"graphs of {folder.name}", unit="model", disable=not progress):
        path = folder / r["graph_file"]
        if not path.is_file():
            missing += 1
            continue
        key = result_key(r["model_id"], r["converter"])
        graph = op_graph(read_graph(path), key)
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
            row[label_column(t)] = bool(verdicts.get(t, r["outcome"] == MISMATCH))
        rows.append(row)
    columns = ["key", "model_id", "converter", "outcome", "nodes", *map(label_column, tolerances)]
    frame = pd.DataFrame(rows, columns=columns).sort_values("key", ignore_index=True)
    return CampaignModels(folder.name, frame, graphs, tolerances, missing)
