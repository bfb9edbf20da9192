"""Reading and writing the project's text datasets, deterministically and atomically.

Files are CSV with a fixed column order, rows sorted by key, ``\\n`` line ends and UTF-8, so the
same content always gives the same bytes (git diffs stay meaningful and re-imports are
byte-identical). Every write goes to a temporary file that is fsynced and renamed over the
target, so a killed process leaves either the old or the new file, never half of one.
"""

from __future__ import annotations

import io
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd
import yaml

from convfail.atomic import atomic_write_text
from convfail.codebook import Codebook
from convfail.config import reject_unknown_keys
from convfail.errors import DatasetError, StudyNotFoundError
from convfail.paths import labels_dir, studies_dir, study_dir
from convfail.records import (
    ISSUE_COLUMNS,
    ISSUE_KEY,
    LABEL_COLUMNS,
    LABEL_DIMENSIONS,
    STUDY_SETTINGS_KEYS,
)

FINAL_RATER = "final"
MINED_FILE = "mined.csv"


def csv_text(frame: pd.DataFrame, columns: list[str] | None = None) -> str:
    """The canonical CSV rendering of a frame (fixed columns, ``\\n`` line ends)."""
    out = io.StringIO()
    (frame[columns] if columns else frame).to_csv(out, index=False, lineterminator="\n")
    return out.getvalue()


def write_csv(path: Path, frame: pd.DataFrame, columns: list[str] | None = None) -> None:
    atomic_write_text(path, csv_text(frame, columns))


def read_csv(path: Path, required: list[str] | None = None) -> pd.DataFrame:
    """Read a project CSV as strings (no type guessing), checking required columns."""
    try:
        frame = pd.read_csv(path, dtype=str, keep_default_na=False, na_values=[])
    except FileNotFoundError:
        raise DatasetError(f"file not found: {path}") from None
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as exc:
        raise DatasetError(f"{path}: not a readable CSV file ({exc})") from None
    missing = [c for c in required or [] if c not in frame.columns]
    if missing:
        raise DatasetError(
            f"{path}: missing column(s) {', '.join(missing)}",
            f"expected columns: {', '.join(required or [])}",
        )
    return frame


@dataclass
class Study:
    """A study folder: its settings, its issues and each rater's labels."""

    name: str
    path: Path
    settings: dict = field(default_factory=dict)
    issues: pd.DataFrame = field(default_factory=pd.DataFrame)
    labels: dict[str, pd.DataFrame] = field(default_factory=dict)

    @property
    def primary_rater(self) -> str:
        """Whose labels the analysis uses: the adjudicated ``final`` file when there is one."""
        if FINAL_RATER in self.labels:
            return FINAL_RATER
        rater = self.settings.get("primary_rater")
        if rater in self.labels:
            return rater
        if len(self.labels) == 1:
            return next(iter(self.labels))
        raise DatasetError(
            f"study '{self.name}' has labels from {sorted(self.labels)} but no final.csv",
            "adjudicate into labels/final.csv or set primary_rater in study.yaml",
        )

    def labelled_issues(self, rater: str | None = None) -> pd.DataFrame:
        """Issues joined with one rater's labels (the primary rater by default)."""
        rater = rater or self.primary_rater
        labels = self.labels[rater].drop(columns=["source_file", "source_sheet", "source_row"])
        issues = self.issues[["converter", *ISSUE_KEY, "url", "title", "created_at"]]
        return issues.merge(labels, on=ISSUE_KEY, how="inner", validate="one_to_one")


def list_studies() -> list[str]:
    root = studies_dir()
    return (
        sorted(p.name for p in root.iterdir() if (p / "issues.csv").is_file())
        if root.is_dir()
        else []
    )


def load_study(name: str, codebook: Codebook | None = None, root: Path | None = None) -> Study:
    """Load a study folder, validating its labels against the codebook when one is given."""
    path = root or study_dir(name)
    if not (path / "issues.csv").is_file():
        known = ", ".join(list_studies()) or "none"
        raise StudyNotFoundError(
            f"no study '{name}' at {path}",
            f"known studies: {known}; import one with 'convfail data import-artifact'",
        )
    settings_file = path / "study.yaml"
    settings = (
        yaml.safe_load(settings_file.read_text(encoding="utf-8")) if settings_file.is_file() else {}
    ) or {}
    if not isinstance(settings, dict):
        raise DatasetError(f"{settings_file}: not a mapping of settings")
    reject_unknown_keys(settings, STUDY_SETTINGS_KEYS, settings_file, error=DatasetError)
    issues = read_csv(path / "issues.csv", ISSUE_COLUMNS)
    issues["number"] = issues["number"].astype(int)
    issues = apply_mined_dates(issues, path / MINED_FILE)
    duplicated = issues[issues.duplicated(ISSUE_KEY, keep=False)]
    if not duplicated.empty:
        first = duplicated.iloc[0]
        raise DatasetError(
            f"{path / 'issues.csv'}: issue {first.repository}#{first.number} appears twice"
        )
    labels = {}
    for file in sorted(labels_dir(path).glob("*.csv")):
        frame = read_csv(file, LABEL_COLUMNS)
        frame["number"] = frame["number"].astype(int)
        if codebook is not None:
            validate_labels(frame, codebook, file)
        unknown = frame.merge(issues[ISSUE_KEY], on=ISSUE_KEY, how="left", indicator=True)
        unknown = unknown[unknown["_merge"] == "left_only"]
        if not unknown.empty:
            first = unknown.iloc[0]
            raise DatasetError(
                f"{file}: labels issue {first.repository}#{first.number}, "
                "which is not in issues.csv"
            )
        labels[file.stem] = frame
    return Study(name=name, path=path, settings=settings or {}, issues=issues, labels=labels)


def apply_mined_dates(issues: pd.DataFrame, mined_file: Path) -> pd.DataFrame:
    """Creation dates from a study's ``mined.csv`` (written by ``convfail mine``) win.

    A date read from GitHub's API supersedes the one shipped in ``issues.csv``; the file itself
    is never rewritten, so labels and provenance stay as imported.
    """
    if not mined_file.is_file():
        return issues
    mined = read_csv(mined_file, [*ISSUE_KEY, "created_at"])
    rows = zip(mined["repository"], mined["number"], mined["created_at"], strict=True)
    dates = {(repo, int(number)): created[:10] for repo, number, created in rows if created}
    issues = issues.copy()
    for index, key in enumerate(zip(issues["repository"], issues["number"], strict=True)):
        if key in dates:
            issues.iloc[index, issues.columns.get_loc("created_at")] = dates[key]
            issues.iloc[index, issues.columns.get_loc("created_at_source")] = "mined"
    return issues


def validate_labels(frame: pd.DataFrame, codebook: Codebook, file: Path | str) -> None:
    """Every label must be a canonical codebook name; sub-causes must fit their cause."""
    for index, row in frame.iterrows():
        where = f"{file}: row {int(str(index)) + 2} ({row['repository']}#{row['number']})"
        for dim in ("location", "symptom", "cause"):
            value = row[dim]
            if value and value not in codebook.valid_names(dim):
                raise DatasetError(
                    f"{where}: '{value}' is not a {dim} of codebook {codebook.version}",
                    f"valid values: {', '.join(codebook.valid_names(dim))}",
                )
        sub = row["subcause"]
        valid = codebook.valid_names("subcause", row["cause"] or None)
        if sub and sub not in valid:
            raise DatasetError(
                f"{where}: '{sub}' is not a sub-cause of cause '{row['cause']}'",
                f"valid values: {', '.join(valid) or 'none'}",
            )


def label_frame(rows: list[Mapping[str, object]]) -> pd.DataFrame:
    """Rows of label dicts as a frame in file order, sorted by issue."""
    frame = pd.DataFrame(rows, columns=LABEL_COLUMNS).fillna("")
    return frame.sort_values(ISSUE_KEY, kind="stable").reset_index(drop=True)


__all__ = [
    "FINAL_RATER",
    "LABEL_DIMENSIONS",
    "MINED_FILE",
    "Study",
    "apply_mined_dates",
    "atomic_write_text",
    "csv_text",
    "label_frame",
    "list_studies",
    "load_study",
    "read_csv",
    "validate_labels",
    "write_csv",
]
