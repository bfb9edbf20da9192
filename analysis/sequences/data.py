"""Read a difftest campaign's files: outcomes from its results file, op graphs from its graphs.

Only converted models that ran (their outputs were compared) take part in the micro analysis, as
in the paper. Each verdict policy of :data:`POLICIES` gives a label column ``mismatch:<policy>``:
a model is *mismatching* under a policy when its verdict there
(:func:`convfail.verdicts.verdict`, from the raw differences the record keeps) is ``mismatch``
or ``nonfinite_mismatch`` (an allclose test fails on a one-sided NaN, as the paper's did), and
*correct* when it is ``success``; ``nonfinite:<policy>`` says which of the mismatching ones are
non-finite only. Graph files a result names but that are missing are counted, not fatal. The
files are read through :mod:`convfail.campaign_files`, which defines them for difftest and for
us.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd
from tqdm import tqdm

from analysis.sequences.kgrams import OpGraph, op_graph
from convfail.campaign_files import (
    GRAPHS_DIR,
    NONFINITE_MISMATCH,
    RAN,
    RESULTS_FILE,
    SUCCESS,
    finished_campaigns,
    read_graph,
    read_results,
    result_key,
)
from convfail.errors import DatasetError
from convfail.verdicts import REPORTED_POLICIES as POLICIES
from convfail.verdicts import parse_policy, rejudgeable, verdict


@dataclass
class CampaignModels:
    """The models of one campaign that ran, their labels and op graphs."""

    campaign: str
    frame: pd.DataFrame
    graphs: dict[str, OpGraph]
    policies: list[str]
    missing_graphs: int = 0
    notes: list[str] = field(default_factory=list)


def label_column(policy: str) -> str:
    return f"mismatch:{policy}"


def nonfinite_column(policy: str) -> str:
    return f"nonfinite:{policy}"


def graph_campaigns(root: Path) -> list[Path]:
    """Finished campaign folders under ``root`` that hold graph files (a campaign still running
    is left out: see :func:`convfail.campaign_files.finished_campaigns`)."""
    finished, _ = finished_campaigns(root)
    return [f for f in finished if any((f / GRAPHS_DIR).glob("*.json"))]


def load_campaign_models(folder: Path, progress: bool = False) -> CampaignModels:
    """Every ran model of the campaign in ``folder`` with its op graph and mismatch labels."""
    folder = Path(folder)
    results = folder / RESULTS_FILE
    if not results.is_file():
        raise DatasetError(f"{results} is missing", "run `convfail difftest run` first")
    records = read_results(results).records
    ran = [r for r in records if r["outcome"] in RAN and r.get("graph_file")]
    policies = {name: parse_policy(name) for name in POLICIES}
    rows, graphs, missing = [], {}, 0
    for r in tqdm(ran, desc=f"graphs of {folder.name}", unit="model", disable=not progress):
        path = folder / r["graph_file"]
        if not path.is_file():
            missing += 1
            continue
        key = result_key(r["model_id"], r["converter"])
        graph = op_graph(read_graph(path), key)
        graphs[key] = graph
        row = {
            "key": key,
            "model_id": r["model_id"],
            "converter": r["converter"],
            "outcome": r["outcome"],
            "nodes": graph.n_nodes,
        }
        for name, policy in policies.items():
            outcome = verdict(r, policy)
            row[label_column(name)] = outcome != SUCCESS
            row[nonfinite_column(name)] = outcome == NONFINITE_MISMATCH
        rows.append(row)
    labels = [c for name in POLICIES for c in (label_column(name), nonfinite_column(name))]
    kept = sum(not rejudgeable(r) for r in ran)
    notes = []
    if kept:
        notes.append(
            f"{folder.name}: {kept} of {len(ran)} compared records have no raw differences (an "
            "older format) and keep their recorded verdict under every policy"
        )
    columns = ["key", "model_id", "converter", "outcome", "nodes", *labels]
    frame = pd.DataFrame(rows, columns=columns).sort_values("key", ignore_index=True)
    return CampaignModels(folder.name, frame, graphs, list(POLICIES), missing, notes)
