"""Mined records ▸ studies: the seeded sample of a new study, and hydration of an existing one.

A study folder gets (besides the core's ``study.yaml`` and ``issues.csv``):

- ``population.csv`` — the snapshot the sample was drawn from: every issue in scope (after the
  excluded labels) with the firing fix rules and whether the rule set keeps it;
- ``mined.csv`` — one row per study issue that has a mined record: where the record is
  (``data/issues/<owner>__<repo>.jsonl``) and its dates, state and fix rules. The core's
  ``load_study`` takes ``created_at`` from here when present (a mined creation date supersedes
  the shipped one), so hydration never rewrites ``issues.csv`` or a rater's labels.
"""

from __future__ import annotations

import hashlib
import zlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import yaml

from convfail import issue_records
from convfail.codebook import load_codebook
from convfail.dataset import atomic_write_text, csv_text, read_csv
from convfail.errors import ConvfailError, DatasetError
from convfail.issue_records import MINED_FIELDS, project_path
from convfail.paths import labels_dir
from convfail.records import ISSUE_COLUMNS, ISSUE_KEY
from mining import rules
from mining.miner import Miner
from mining.scope import Scope

POPULATION_COLUMNS = [
    "repository",
    "number",
    "created_at",
    "closed_at",
    "updated_at",
    "state_reason",
    "labels",
    "fixed",
    "issta24_rules",
    "strict_rules",
]
MINED_COLUMNS = [
    "repository",
    "number",
    "record",
    "created_at",
    "closed_at",
    "updated_at",
    "state",
    "state_reason",
    "comment_count",
    "hydrated",
    "issta24_rules",
    "strict_rules",
]


def _flag(value: bool) -> str:
    return "true" if value else "false"


def population(records: Iterable[dict[str, Any]], scope: Scope, rule_set: str) -> pd.DataFrame:
    """Every record in the scope's population, with its fix rules and the ``fixed`` verdict."""
    rows = [
        {
            "repository": r["repository"],
            "number": r["number"],
            "created_at": r["created_at"],
            "closed_at": r["closed_at"] or "",
            "updated_at": r["updated_at"],
            "state_reason": r["state_reason"] or "",
            "labels": ";".join(r["labels"]),
            "fixed": _flag(rules.is_fixed(r, rule_set)),
            "issta24_rules": ";".join(rules.firing(r, "issta24")),
            "strict_rules": ";".join(rules.firing(r, "strict")),
        }
        for r in records
        if scope.in_population(r) and not r.get("retired")
    ]
    frame = pd.DataFrame(rows, columns=POPULATION_COLUMNS)
    return frame.sort_values(ISSUE_KEY, kind="stable").reset_index(drop=True)


def draw(frame: pd.DataFrame, n: int, seed: int) -> pd.DataFrame:
    """``n`` fixed issues per repository, drawn without replacement; same inputs, same sample.

    Each repository gets its own generator seeded by ``(seed, crc32(repository))``, so adding a
    repository to a study does not change the sample of the others.
    """
    picked = []
    for repository, group in frame[frame["fixed"] == "true"].groupby("repository", sort=True):
        group = group.sort_values("number", kind="stable")
        rng = np.random.default_rng([seed, zlib.crc32(str(repository).encode())])
        index = rng.choice(len(group), size=min(n, len(group)), replace=False)
        picked.append(group.iloc[np.sort(index)])
    if not picked:
        return frame.iloc[0:0]
    return pd.concat(picked).sort_values(ISSUE_KEY, kind="stable").reset_index(drop=True)


def mined_rows(
    records: Iterable[dict[str, Any]], study_names: Mapping[str, str] | None = None
) -> pd.DataFrame:
    """One row per record, keyed by the repository name the study uses.

    A repository renamed since the study was made keeps its old name in ``issues.csv``;
    ``study_names`` maps the record's current name to it, so the study's files still join on
    their own key while ``record`` points at the file under the current name.
    """
    study_names = study_names or {}
    rows = [
        {
            "repository": study_names.get(r["repository"], r["repository"]),
            "number": r["number"],
            "record": project_path(r["repository"]),
            "created_at": r["created_at"],
            "closed_at": r["closed_at"] or "",
            "updated_at": r["updated_at"],
            "state": r["state"],
            "state_reason": r["state_reason"] or "",
            "comment_count": r["comment_count"],
            "hydrated": _flag(r.get("comments") is not None),
            "issta24_rules": ";".join(r["fix_rules"]["issta24"]),
            "strict_rules": ";".join(r["fix_rules"]["strict"]),
        }
        for r in records
    ]
    frame = pd.DataFrame(rows, columns=MINED_COLUMNS)
    return frame.sort_values(ISSUE_KEY, kind="stable").reset_index(drop=True)


def write_mined(
    folder: Path, records: Iterable[dict[str, Any]], study_names: Mapping[str, str] | None = None
) -> Path:
    path = folder / "mined.csv"
    atomic_write_text(path, csv_text(mined_rows(records, study_names)))
    return path


def sample_issues(
    sample: pd.DataFrame, records: dict[tuple[str, int], dict[str, Any]], converters: dict[str, str]
) -> pd.DataFrame:
    rows = []
    for row in sample.itertuples(index=False):
        record = records[(row.repository, row.number)]
        rows.append(
            {
                "converter": converters[row.repository],
                "repository": row.repository,
                "number": row.number,
                "url": record["url"],
                "title": record["title"],
                "in_sample": "true",
                "artifact_id": "",
                "pilot_artifact_id": "",
                "created_at": record["created_at"][:10],
                "created_at_source": "mined",
                "source_file": project_path(row.repository),
                "source_sheet": "",
                "source_row": "",
            }
        )
    return pd.DataFrame(rows, columns=ISSUE_COLUMNS)


def write_sample(
    folder: Path,
    name: str,
    scopes: list[Scope],
    records: dict[str, list[dict[str, Any]]],
    n: int,
    seed: int,
    rule_set: str,
) -> list[Path]:
    """Write a new study: population snapshot, sample (``issues.csv``), ``mined.csv``, settings.

    Refuses to replace the issues of a study that already has labels with a different sample.
    """
    frames = [population(records[s.repository], s, rule_set) for s in scopes]
    snapshot = pd.concat(frames).sort_values(ISSUE_KEY, kind="stable").reset_index(drop=True)
    sample = draw(snapshot, n, seed)
    if sample.empty:
        counts = ", ".join(
            f"{s.repository}: {len(records[s.repository])} record(s), "
            f"{int((snapshot['repository'] == s.repository).sum())} in population"
            for s in scopes
        )
        raise DatasetError(
            f"no issue in scope is closed with a fix by the {rule_set} rules ({counts});"
            " nothing written",
            "mine the issues with their evidence first (convfail mine issues), widen the scope,"
            " or choose other --rules",
        )
    by_key = {(r["repository"], r["number"]): r for rs in records.values() for r in rs}
    converters = {s.repository: s.converter or s.name for s in scopes}
    issues_text = csv_text(sample_issues(sample, by_key, converters))
    issues_file = folder / "issues.csv"
    labelled = sorted(labels_dir(folder).glob("*.csv")) if labels_dir(folder).is_dir() else []
    if (
        labelled
        and issues_file.is_file()
        and issues_file.read_text(encoding="utf-8") != issues_text
    ):
        raise DatasetError(
            f"study '{name}' already has labels for a different sample ({folder})",
            "choose a new study name, or sample with the seed and inputs in its study.yaml",
        )
    population_text = csv_text(snapshot)
    settings = {
        "name": name,
        "title": f"Sample of {n} issues closed with a fix per repository (rule set {rule_set})",
        "codebook_version": load_codebook().version,
        "converters": {converters[s.repository]: s.repository for s in scopes},
        "sampling": {
            "seed": seed,
            "n_per_repository": n,
            "rule_set": rule_set,
            "population_file": "population.csv",
            "population_sha256": hashlib.sha256(population_text.encode()).hexdigest(),
            "scopes": [
                s.describe()
                | {
                    "records": project_path(s.repository),
                    "in_population": int((snapshot["repository"] == s.repository).sum()),
                    "fixed": int(
                        (
                            (snapshot["repository"] == s.repository) & (snapshot["fixed"] == "true")
                        ).sum()
                    ),
                    "sampled": int((sample["repository"] == s.repository).sum()),
                }
                for s in scopes
            ],
        },
    }
    written = [folder / "population.csv", issues_file, folder / "study.yaml"]
    atomic_write_text(written[0], population_text)
    atomic_write_text(issues_file, issues_text)
    atomic_write_text(written[2], yaml.safe_dump(settings, sort_keys=False, allow_unicode=True))
    written.append(
        write_mined(
            folder, (by_key[(r.repository, r.number)] for r in sample.itertuples(index=False))
        )
    )
    return written


def study_numbers(folder: Path) -> dict[str, list[int]]:
    """The issue numbers of a study, per repository (read from its ``issues.csv``)."""
    issues = read_csv(folder / "issues.csv", ISSUE_COLUMNS)
    grouped: dict[str, list[int]] = {}
    for row in issues.itertuples(index=False):
        grouped.setdefault(row.repository, []).append(int(row.number))
    return {repo: sorted(numbers) for repo, numbers in sorted(grouped.items())}


def read_records(repository: str) -> list[dict[str, Any]]:
    """The committed records of a repository, also when it was renamed since."""
    path = issue_records.find_path(repository)
    if not path.is_file():
        raise ConvfailError(
            f"no mined records for {repository} ({path})",
            f"run: convfail mine issues --repo {repository} (or a --preset)",
        )
    return issue_records.read_records(path, MINED_FIELDS)


def sample_study(
    folder: Path, name: str, scopes: list[Scope], n: int, seed: int, rule_set: str
) -> tuple[list[Path], list[tuple[str, int, int]]]:
    """Sample the mined records of ``scopes`` into a new study at ``folder``.

    Returns the files written and, per repository (under its current name), how many issues
    were in the population and how many of them are closed with a fix by ``rule_set``.
    """
    current, records = [], {}
    for scope in scopes:
        found = read_records(scope.repository)
        renamed = scope.renamed(found[0]["repository"]) if found else scope
        current.append(renamed)
        records[renamed.repository] = found
    written = write_sample(folder, name, current, records, n, seed, rule_set)
    frame = read_csv(folder / "population.csv")
    counts = []
    for scope in current:
        rows = frame[frame["repository"] == scope.repository]
        counts.append((scope.repository, len(rows), int((rows["fixed"] == "true").sum())))
    return written, counts


@dataclass(frozen=True)
class Hydrated:
    """What ``mine hydrate`` did: per repository (the study's name for it) the issues found,
    the issues asked for, and the ones GitHub no longer has with the reason; the file written."""

    per_repository: list[tuple[str, int, int, dict[int, str]]]
    path: Path


def hydrate_study(miner: Miner, folder: Path, *, refresh: bool) -> Hydrated:
    """Fill the text and evidence of a study's issues and write its ``mined.csv``.

    Records are looked up under the repository's current name; ``mined.csv`` keeps the name
    the study uses, so it still joins ``issues.csv``. Retired records are left out.
    """
    mined, study_names, per_repository = [], {}, []
    for repository, numbers in study_numbers(folder).items():
        missing = miner.hydrate(repository, numbers, refresh=refresh)
        canonical = miner.store.alias(repository) or repository
        study_names[canonical] = repository
        stored = [miner.store.get(canonical, n) for n in numbers if n not in missing]
        found = [r for r in stored if r is not None and not r.get("retired")]
        mined.extend(found)
        per_repository.append((repository, len(found), len(numbers), missing))
    return Hydrated(per_repository, write_mined(folder, mined, study_names))
