"""Inter-rater agreement of the study's pilot and drift check (Cohen's kappa, % agreement)."""

from __future__ import annotations

import pandas as pd

from convfail.agreement import cohen_kappa, paired, percent_agreement
from convfail.dataset import Study

TOTAL = "total"


def agreement_table(
    study: Study, rater_a: str, rater_b: str, dimensions: list[str]
) -> pd.DataFrame:
    """Kappa and percent agreement per dimension, per converter and pooled (``total``)."""
    converters = study.issues[["repository", "number", "converter"]]
    rows = []
    for dimension in dimensions:
        both = paired(study.labels[rater_a], study.labels[rater_b], dimension)
        both = both.merge(converters, on=["repository", "number"], how="left")
        groups = [(c, both[both["converter"] == c]) for c in sorted(both["converter"].unique())]
        for converter, part in [*groups, (TOTAL, both)]:
            rows.append(
                {
                    "dimension": dimension,
                    "converter": converter,
                    "kappa": round(cohen_kappa(part["a"], part["b"]), 4),
                    "percent_agreement": round(percent_agreement(part["a"], part["b"]), 2),
                    "n": len(part),
                    "rater_a": rater_a,
                    "rater_b": rater_b,
                }
            )
    return pd.DataFrame(rows)
