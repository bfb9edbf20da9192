"""The RQ4 micro analysis of one campaign: operators, sequences and their tests, as tables.

For every group of models (each converter, and all converters together) and every verdict
policy of :data:`analysis.sequences.data.POLICIES`, :func:`analyse` computes

- the operator sets of mismatching, correct and test-suite models and their differences
  (Table 15 of the paper),
- the sequence questions of Table 12 with k-gram sets (:mod:`analysis.sequences.groups`),
- per converter, Fisher tests per operator and per sequence and a Firth logistic regression on
  model size plus the top sequences; over all converters, Cochran-Mantel-Haenszel tests
  stratified by converter and no regression, because the same generated graph is one model of
  every converter and must not be counted twice in one test (:mod:`analysis.sequences.stats`).

The descriptive counts of the ``all`` group (Tables 12 and 15) count converted models, so a graph
is in them once per converter. Every table is tidy and carries ``campaign``, ``group`` and
``policy`` columns.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from analysis.sequences.data import CampaignModels, label_column
from analysis.sequences.groups import GroupComparison
from analysis.sequences.kgrams import (
    KMAX,
    KMIN,
    PATH_CAP,
    OpGraph,
    SequenceIndex,
    count_paths,
    fmt,
    kgrams,
)
from analysis.sequences.setcounts import SequenceSets
from analysis.sequences.stats import ALPHA, MIN_SUPPORT, cmh_tests, fisher_tests, size_logit

ALL = "all"
TOP_SEQUENCES_KEPT = 20
TOP_SEQUENCES_IN_LOGIT = 3
MIN_GROUP = 5


@dataclass(frozen=True)
class Settings:
    kmin: int = KMIN
    kmax: int = KMAX
    path_cap: int = PATH_CAP
    min_support: int = MIN_SUPPORT
    alpha: float = ALPHA


@dataclass
class SuiteSequences:
    """Operators and k-grams of a test-suite corpus (``None`` members when there is none)."""

    name: str
    models: int
    ops: set[str] | None
    grams: set | None

    @classmethod
    def from_graphs(
        cls, name: str, graphs: dict[str, OpGraph], settings: Settings
    ) -> SuiteSequences:
        ops: set[str] = set()
        grams: set = set()
        for g in graphs.values():
            ops.update(g.ops)
            grams |= kgrams(g, settings.kmin, settings.kmax)
        return cls(name, len(graphs), ops, grams)

    @classmethod
    def absent(cls, reason: str) -> SuiteSequences:
        return cls(reason, 0, None, None)


@dataclass
class MicroResult:
    table12: pd.DataFrame
    table15: pd.DataFrame
    tests: pd.DataFrame
    notes: list[str] = field(default_factory=list)


@dataclass
class _Features:
    """Per-model operator and k-gram sets and path counts of a campaign."""

    keys: list[str]
    ops: SequenceIndex
    grams: SequenceIndex
    sequences: SequenceSets
    paths: np.ndarray
    op_names: list[str]
    gram_names: list[str]
    gram_column: dict[str, int]


def _features(models: CampaignModels, suite: SuiteSequences, settings: Settings) -> _Features:
    keys = list(models.frame["key"])
    graphs = [models.graphs[k] for k in keys]
    ops = SequenceIndex.build(keys, [set(g.ops) for g in graphs])
    grams = SequenceIndex.build(keys, [kgrams(g, settings.kmin, settings.kmax) for g in graphs])
    sequences = SequenceSets.build(grams, suite.grams, settings.kmin)
    paths = np.array([count_paths(g) for g in graphs], dtype=object)
    gram_names = [fmt(f) for f in grams.features]
    column = {name: j for j, name in enumerate(gram_names)}
    return _Features(keys, ops, grams, sequences, paths, list(ops.features), gram_names, column)


def _groups(frame: pd.DataFrame) -> list[tuple[str, np.ndarray]]:
    converters = sorted(frame["converter"].unique())
    groups = [(c, (frame["converter"] == c).to_numpy()) for c in converters]
    if len(converters) > 1:
        groups.append((ALL, np.ones(len(frame), dtype=bool)))
    return groups


def _names(features: list, indices: np.ndarray) -> list[str]:
    return sorted(
        fmt(features[i]) if isinstance(features[i], tuple) else features[i] for i in indices
    )


def _table15_rows(
    index: SequenceIndex, mis: np.ndarray, cor: np.ndarray, suite: SuiteSequences
) -> list[tuple[str, int | None, str]]:
    in_mis = set(_names(index.features, np.flatnonzero(index.counts(mis) > 0)))
    in_cor = set(_names(index.features, np.flatnonzero(index.counts(cor) > 0)))
    sets: dict[str, set[str] | None] = {
        "mismatching": in_mis,
        "correct": in_cor,
        "both": in_mis & in_cor,
        "only_mismatching": in_mis - in_cor,
        "only_correct": in_cor - in_mis,
        "test_suite": suite.ops,
        "mismatching_not_in_test_suite": None if suite.ops is None else in_mis - suite.ops,
        "correct_not_in_test_suite": None if suite.ops is None else in_cor - suite.ops,
    }
    return [
        (name, None if ops is None else len(ops), "" if ops is None else " ".join(sorted(ops)))
        for name, ops in sets.items()
    ]


def _table12_rows(
    features: _Features, mis: np.ndarray, cor: np.ndarray, suite: SuiteSequences, settings: Settings
) -> list[tuple[str, str, float | None]]:
    counts = features.sequences.compare(mis, cor)
    chosen = mis | cor
    totals = features.paths[chosen]
    rows: list[tuple[str, str, float | None]] = [
        ("models_mismatching", "count", int(mis.sum())),
        ("models_correct", "count", int(cor.sum())),
        ("paths", "count", int(sum(totals))),
        ("paths_beyond_cap", "count", int(sum(max(0, t - settings.path_cap) for t in totals))),
        ("models_beyond_cap", "count", int(sum(t > settings.path_cap for t in totals))),
    ]
    for name in GroupComparison.SETS:
        unknown = name == "shared_with_tests" and suite.grams is None
        rows.append((name, "full", None if unknown else counts.full[name]))
        rows.append((name, "minimal", None if unknown else counts.minimal[name]))
    n_mis = int(mis.sum())
    for name in ("models_with_unseen", "models_sharing_unseen"):
        count = getattr(counts, name)
        rows.append((name, "count", count))
        rows.append((name, "percent", round(100 * count / n_mis, 1) if n_mis else None))
    return rows


def _tests_rows(
    features: _Features,
    frame: pd.DataFrame,
    mis: np.ndarray,
    cor: np.ndarray,
    group: str,
    settings: Settings,
) -> tuple[pd.DataFrame, str]:
    parts = []
    n_mis, n_cor = int(mis.sum()), int(cor.sum())
    tested_sequences = pd.DataFrame()
    kinds = (
        ("operator", features.ops, features.op_names),
        ("sequence", features.grams, features.gram_names),
    )
    strata = [(frame["converter"] == c).to_numpy() for c in sorted(frame["converter"].unique())]
    for kind, index, names in kinds:
        if group == ALL:
            result = cmh_tests(
                np.column_stack([index.counts(mis & s) for s in strata]),
                np.column_stack([index.counts(cor & s) for s in strata]),
                np.array([int((mis & s).sum()) for s in strata]),
                np.array([int((cor & s).sum()) for s in strata]),
                names,
                settings.min_support,
                settings.alpha,
            )
        else:
            result = fisher_tests(
                index.counts(mis),
                index.counts(cor),
                n_mis,
                n_cor,
                names,
                settings.min_support,
                settings.alpha,
            )
        result.insert(0, "kind", kind)
        result.insert(0, "test", "cmh" if group == ALL else "fisher")
        result["n_tested"] = len(result)
        if kind == "sequence":
            tested_sequences = result
            keep = result["significant"].astype(bool) | (result.index < TOP_SEQUENCES_KEPT)
            result = result[keep]
        parts.append(result)
    note = ""
    if group == ALL:  # no pooled regression: each graph is one model of every converter
        return pd.concat([p for p in parts if not p.empty], ignore_index=True), note
    if min(n_mis, n_cor) < MIN_GROUP:
        note = (
            f"{group}: logistic regression skipped ({n_mis} mismatching, {n_cor} correct; "
            f"needs at least {MIN_GROUP} of each)"
        )
    else:
        chosen = mis | cor
        top = tested_sequences["feature"].head(TOP_SEQUENCES_IN_LOGIT).tolist()
        rows = np.flatnonzero(chosen)
        sub = features.grams.matrix[rows]
        covariates = pd.DataFrame(
            {f"seq {name}": sub[:, features.gram_column[name]].toarray().ravel() for name in top}
        )
        logit = size_logit(mis[rows], frame.loc[chosen, "nodes"].to_numpy(), covariates)
        logit = logit.rename(columns={"term": "feature", "warning": "note"})
        logit.insert(0, "kind", "model")
        logit.insert(0, "test", "logit")
        parts.append(logit)
    table = pd.concat([p for p in parts if not p.empty], ignore_index=True)
    return table, note


def analyse(
    models: CampaignModels, suite: SuiteSequences, settings: Settings | None = None
) -> MicroResult:
    """Tables 12, 15 and the tests for every group and policy of one campaign."""
    settings = settings or Settings()
    frame = models.frame
    features = _features(models, suite, settings)
    t12, t15, tests, notes = [], [], [], list(models.notes)
    for policy in models.policies:
        label = frame[label_column(policy)].to_numpy(dtype=bool)
        for group, members in _groups(frame):
            mis, cor = members & label, members & ~label
            key = {"campaign": models.campaign, "group": group, "policy": policy}
            t12 += [
                {**key, "metric": m, "form": f, "ours": v}
                for m, f, v in _table12_rows(features, mis, cor, suite, settings)
            ]
            t15 += [
                {**key, "set": s, "count": n, "operators": ops}
                for s, n, ops in _table15_rows(features.ops, mis, cor, suite)
            ]
            if mis.any() and cor.any():
                table, note = _tests_rows(features, frame, mis, cor, group, settings)
                tests.append(table.assign(**key))
                if note:
                    notes.append(f"{models.campaign} under policy {policy}: {note}")
    leading = ["campaign", "group", "policy"]
    tests_frame = pd.concat(tests, ignore_index=True) if tests else pd.DataFrame(columns=leading)
    tests_frame = tests_frame[leading + [c for c in tests_frame.columns if c not in leading]]
    return MicroResult(pd.DataFrame(t12), pd.DataFrame(t15), tests_frame, notes)
