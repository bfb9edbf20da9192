"""A new study from a list of issues (mined records, a CSV or issue URLs) ▸ its study files.

``mine sample`` draws a seeded sample from timeline evidence; this module is the other door,
for a researcher who already knows which issues to code. Every input line is checked before
anything is written: a URL that is not ``https://github.com/OWNER/REPO/issues/N``, a pull
request, a duplicate or an issue whose repository has no converter each get one line naming
the input line, and the study is written only when no line is wrong (nothing half made).

Mined records are read through :mod:`convfail.issue_records` only, so this stage never imports
the miner. Titles and creation dates come from the records when the repository has been mined;
otherwise they stay empty until ``convfail mine hydrate --study NAME`` fetches them.
"""

from __future__ import annotations

import hashlib
import os
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pandas as pd
import yaml

from convfail.codebook import load_codebook
from convfail.dataset import MINED_FILE, atomic_write_text, csv_text, read_csv
from convfail.errors import DatasetError
from convfail.issue_records import find_path, read_records
from convfail.paths import labels_dir, project_root
from convfail.records import CONVERTER_REPOSITORIES, ISSUE_COLUMNS, ISSUE_KEY

ISSUE_URL = re.compile(r"https://github\.com/([A-Za-z0-9-]+)/([A-Za-z0-9._-]+)/issues/([1-9]\d*)")
PULL_URL = re.compile(r"https://github\.com/[A-Za-z0-9-]+/[A-Za-z0-9._-]+/pull/\d+")
REPOSITORY = re.compile(r"[A-Za-z0-9-]+/[A-Za-z0-9._-]+")
NUMBER_RANGE = re.compile(r"\s*(\d+)\s*(?:-\s*(\d+)\s*)?")
PR_REASON = "a pull request, not an issue"
# Files a study made by ``mine sample`` or ``mine hydrate`` may hold that describe its old issues.
DERIVED_FILES = (MINED_FILE, "population.csv")


@dataclass(frozen=True)
class Candidate:
    """One requested issue and the input line that asked for it."""

    repository: str
    number: int
    where: str
    row: str
    converter: str = ""


class InputProblems(DatasetError):
    """Some input lines are wrong: one line each, nothing written."""

    def __init__(self, problems: Sequence[str]) -> None:
        noun = "line is" if len(problems) == 1 else "lines are"
        super().__init__(
            f"{len(problems)} input {noun} wrong, nothing written:\n  " + "\n  ".join(problems),
            "fix or remove those lines and run the command again",
        )
        self.problems = list(problems)


def parse_numbers(text: str) -> list[int]:
    """``"1,2,5-9"`` ▸ ``[1, 2, 5, 6, 7, 8, 9]`` (in the order given; ranges inclusive)."""
    numbers: list[int] = []
    for part in text.split(","):
        match = NUMBER_RANGE.fullmatch(part)
        if not match:
            raise DatasetError(
                f"--numbers: '{part.strip()}' is not a number or a range",
                "write numbers and ranges separated by commas, e.g. 1,2,5-9",
            )
        low, high = int(match[1]), int(match[2] or match[1])
        if low < 1 or high < low:
            raise DatasetError(
                f"--numbers: '{part.strip()}' is not an increasing range of issue numbers",
                "issue numbers start at 1; write ranges low-high, e.g. 5-9",
            )
        numbers.extend(range(low, high + 1))
    return numbers


def parse_converters(pairs: Iterable[str]) -> dict[str, str]:
    """``--converter REPO=NAME`` options ▸ ``{repository: converter}``."""
    chosen: dict[str, str] = {}
    for pair in pairs:
        repository, _, name = pair.partition("=")
        if not REPOSITORY.fullmatch(repository.strip()) or not name.strip():
            raise DatasetError(
                f"--converter '{pair}' is not REPO=NAME",
                "e.g. --converter PaddlePaddle/Paddle2ONNX=paddle2onnx",
            )
        chosen[repository.strip()] = name.strip()
    return chosen


def from_urls(path: Path) -> tuple[list[Candidate], list[str]]:
    """One issue URL a line (blank lines and ``#`` comments skipped); problems by line."""
    candidates, problems = [], []
    for line_no, raw in enumerate(_read_text(path).splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        where = f"{path}:{line_no}"
        match = ISSUE_URL.fullmatch(line)
        if match:
            repository = f"{match[1]}/{match[2]}"
            candidates.append(Candidate(repository, int(match[3]), where, str(line_no)))
        elif PULL_URL.fullmatch(line):
            problems.append(f"{where}: {line} is {PR_REASON}")
        else:
            problems.append(
                f"{where}: '{line[:120]}' is not an issue URL "
                "(expected https://github.com/OWNER/REPO/issues/N)"
            )
    return candidates, problems


def from_csv(path: Path) -> tuple[list[Candidate], list[str]]:
    """Rows of ``repository,number[,converter]``; problems by line (the header is line 1)."""
    frame = read_csv(path, ["repository", "number"])
    has_converter = "converter" in frame.columns
    candidates, problems = [], []
    for index, row in frame.iterrows():
        line_no = int(str(index)) + 2
        where = f"{path}:{line_no}"
        repository, number = row["repository"].strip(), row["number"].strip()
        if not REPOSITORY.fullmatch(repository):
            problems.append(f"{where}: '{repository}' is not a repository (expected OWNER/NAME)")
        elif not number.isdigit() or int(number) < 1:
            problems.append(f"{where}: '{number}' is not an issue number")
        else:
            converter = row["converter"].strip() if has_converter else ""
            candidates.append(Candidate(repository, int(number), where, str(line_no), converter))
    return candidates, problems


def from_mined(
    repository: str,
    numbers: Sequence[int] | None = None,
    query: str | None = None,
    folder: Path | None = None,
) -> tuple[list[Candidate], list[str]]:
    """Issues of a repository's mined records, by number or by a case-free title search."""
    path = find_path(repository, folder)
    records = {r["number"]: r for r in read_records(path)}
    candidates, problems = [], []
    if numbers is not None:
        wanted = [(n, records.get(n)) for n in numbers]
    else:
        needle = (query or "").casefold()
        wanted = [
            (n, r)
            for n, r in sorted(records.items())
            if needle in r["title"].casefold() and not r.get("retired")
        ]
        if not wanted:
            problems.append(f"{path}: no mined title contains '{query}'")
    for number, record in wanted:
        where = f"{repository}#{number}"
        if record is None:
            problems.append(f"{where}: not in the mined records ({path})")
        elif record.get("retired") == PR_REASON or "/pull/" in record.get("url", ""):
            problems.append(f"{where}: {PR_REASON} (the mined record says so)")
        elif record.get("retired"):
            problems.append(f"{where}: the mined record is retired ({record['retired']})")
        else:
            candidates.append(Candidate(record["repository"], number, where, ""))
    return candidates, problems


def _read_text(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise DatasetError(f"file not found: {path}") from None
    except UnicodeDecodeError:
        raise DatasetError(f"{path}: not UTF-8 text", "save the list as UTF-8") from None


def converter_names(overrides: Mapping[str, str]) -> dict[str, str]:
    """Repository ▸ converter: the ISSTA study's converters, then ``--converter`` options."""
    return {repo: name for name, repo in CONVERTER_REPOSITORIES.items()} | dict(overrides)


def check(
    candidates: Sequence[Candidate], converters: Mapping[str, str], records_folder: Path | None
) -> tuple[list[dict], list[str]]:
    """Issue rows of the study, and one problem per duplicate, converter-less or PR input line."""
    seen: dict[tuple[str, int], str] = {}
    rows, problems = [], []
    mined: dict[str, dict[int, dict]] = {}
    for candidate in candidates:
        key = (candidate.repository.casefold(), candidate.number)
        if key in seen:
            problems.append(
                f"{candidate.where}: {candidate.repository}#{candidate.number} again "
                f"(first at {seen[key]})"
            )
            continue
        seen[key] = candidate.where
        converter = candidate.converter or converters.get(candidate.repository, "")
        if not converter:
            problems.append(
                f"{candidate.where}: no converter known for {candidate.repository}; "
                f"pass --converter {candidate.repository}=NAME"
            )
            continue
        if candidate.repository not in mined:
            path = find_path(candidate.repository, records_folder)
            mined[candidate.repository] = {
                r["number"]: r for r in read_records(path, missing_ok=True)
            }
        record = mined[candidate.repository].get(candidate.number) or {}
        if record.get("retired") == PR_REASON:
            problems.append(f"{candidate.where}: {PR_REASON} (the mined record says so)")
            continue
        rows.append(_issue_row(candidate, converter, record))
    return rows, problems


def _issue_row(candidate: Candidate, converter: str, record: Mapping[str, object]) -> dict:
    created = str(record.get("created_at") or "")[:10]
    return {
        "converter": converter,
        "repository": candidate.repository,
        "number": candidate.number,
        "url": f"https://github.com/{candidate.repository}/issues/{candidate.number}",
        "title": str(record.get("title") or ""),
        "in_sample": "true",
        "artifact_id": "",
        "pilot_artifact_id": "",
        "created_at": created,
        "created_at_source": "mined" if created else "",
        "source_file": candidate.where.rsplit(":", 1)[0] if candidate.row else "",
        "source_sheet": "",
        "source_row": candidate.row,
    }


def made_at() -> str:
    """When the study was made: now, or ``SOURCE_DATE_EPOCH`` for byte-identical rebuilds."""
    epoch = os.environ.get("SOURCE_DATE_EPOCH")
    moment = datetime.fromtimestamp(int(epoch), UTC) if epoch else datetime.now(UTC)
    return moment.replace(microsecond=0).isoformat().replace("+00:00", "Z")


def input_provenance(kind: str, source: str, **details: object) -> dict:
    """What the study was made from; a file input is also identified by its SHA-256."""
    described: dict[str, object] = {"kind": kind, "source": source}
    path = find_path(source) if kind == "mined" else Path(source)
    described["sha256"] = hashlib.sha256(path.read_bytes()).hexdigest()
    described["records" if kind == "mined" else "source"] = _shown_path(path)
    return described | {k: v for k, v in details.items() if v is not None}


def _shown_path(path: Path) -> str:
    resolved = path.resolve()
    try:
        return resolved.relative_to(project_root()).as_posix()
    except ValueError:
        return str(resolved)


def write_study(
    folder: Path,
    name: str,
    rows: Sequence[dict],
    provenance: Mapping[str, object],
    title: str | None = None,
    replace: bool = False,
) -> list[Path]:
    """Write ``issues.csv`` and ``study.yaml``; never over a study that has labels."""
    issues_file, settings_file = folder / "issues.csv", folder / "study.yaml"
    labelled = sorted(p.name for p in labels_dir(folder).glob("*.csv"))
    if labelled:
        raise DatasetError(
            f"study '{name}' already has labels ({', '.join(labelled)}); nothing written",
            "choose a new study name (labels must keep the issues they were made for)",
        )
    if issues_file.is_file() and not replace:
        raise DatasetError(
            f"study '{name}' already exists ({folder}); nothing written",
            "choose a new name, or pass --replace to rebuild this unlabelled study",
        )
    frame = pd.DataFrame(list(rows), columns=ISSUE_COLUMNS)
    frame = frame.sort_values(ISSUE_KEY, kind="stable").reset_index(drop=True)
    repositories: dict[str, set[str]] = {}
    for row in rows:
        repositories.setdefault(row["converter"], set()).add(row["repository"])
    converters = {
        name: repos.pop() if len(repos) == 1 else sorted(repos)
        for name, repos in sorted(repositories.items())
    }
    settings = {
        "name": name,
        "title": title or f"{len(frame)} issues chosen from a {provenance['input']['kind']} list",
        "codebook_version": load_codebook().version,
        "converters": converters,
        "provenance": dict(provenance),
    }
    for derived in DERIVED_FILES:
        (folder / derived).unlink(missing_ok=True)
    atomic_write_text(issues_file, csv_text(frame, ISSUE_COLUMNS))
    atomic_write_text(settings_file, yaml.safe_dump(settings, sort_keys=False, allow_unicode=True))
    labels_dir(folder).mkdir(parents=True, exist_ok=True)
    return [issues_file, settings_file]
