"""Read a campaign's outcomes: one row per ``results.jsonl`` record, the columns Table 11 needs.

Reads the *files* difftest writes, through :mod:`convfail.campaign_files` (record keys, outcome
names) and :mod:`convfail.verdicts` (the verdict of a record under a policy), never difftest's
code. ``outcome`` is the verdict under the ``default`` policy; ``outcome:<policy>`` columns give
it under the others of :data:`POLICIES`. Records without raw differences (the imported
published results) keep their recorded verdict under every policy. A torn last line (a campaign
still running or killed) is left out by the reader.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from convfail.campaign_files import RAN, read_results
from convfail.errors import DatasetError
from convfail.verdicts import DEFAULT, parse_policy, rejudgeable, verdict
from convfail.verdicts import REPORTED_POLICIES as POLICIES


def outcome_column(policy: str) -> str:
    return "outcome" if policy == DEFAULT else f"outcome:{parse_policy(policy).name}"


def load_results(path: Path) -> pd.DataFrame:
    """One row per result record, with the columns the tables need."""
    policies = {name: parse_policy(name) for name in POLICIES}
    rows = []
    for r in read_results(path).records:
        row = {
            "campaign": r["campaign"],
            "model_id": r["model_id"],
            "framework": r["framework"],
            "converter": r["converter"],
            "nodes": r["nodes"],
            "signature": r.get("signature") or "",
            "rejudged": rejudgeable(r),
            "kept_verdict": r["outcome"] in RAN and not rejudgeable(r),
        }
        for name, policy in policies.items():
            row[outcome_column(name)] = verdict(r, policy)
        rows.append(row)
    if not rows:
        raise DatasetError(
            f"no results in {path}", "run `convfail data import-artifact --only difftest`"
        )
    return pd.DataFrame(rows)
