"""The issue-records border file: ``data/issues/<owner>__<repo>.jsonl``, defined once.

The miner (``mining/``) writes these files and the labelling tool (``labeling/``) reads them;
both go through this module, so neither restates the file's name, encoding or line format.

A file holds one JSON object per line, one line per issue, sorted by issue number, keys sorted,
UTF-8 with ``\\n`` line ends: the same records always give the same bytes. Records written by
this version carry ``"schema": "issue-record/2"``; a record without the key is read as is (a
hand-made or older file), one with another value is refused, since its fields may mean
something else. The fields are described in ``data/issues/README.md``.

**A torn or bad line is an error, never skipped.** The writer replaces the file in one step
(temporary file, fsync, rename), so a crawl killed at any instant leaves the old file or the new
one, never a torn last line. A line that does not parse, wherever it is, therefore means the
file was damaged by something else; the reader stops with one line naming ``path:line`` instead
of silently dropping issues (the miner's state in ``.cache/mining/`` can rebuild the file).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from convfail.dataset import atomic_write_text
from convfail.errors import DatasetError
from convfail.paths import issues_dir, project_root

VERSION = "issue-record/2"
SUFFIX = ".jsonl"
# The keys every record written by the miner has (the reader checks only what a caller needs).
FIELDS = (
    "schema",
    "repository",
    "number",
    "url",
    "title",
    "body",
    "state",
    "state_reason",
    "retired",
    "aliases",
    "labels",
    "author",
    "author_association",
    "closed_by",
    "closed_by_bot",
    "created_at",
    "updated_at",
    "closed_at",
    "comment_count",
    "comments",
    "events",
    "fix_rules",
)
MINED_FIELDS = ("repository", "number", "state", "updated_at", "events")

Record = dict[str, Any]


def file_name(repository: str) -> str:
    """``owner/name`` ▸ ``owner__name.jsonl``."""
    return repository.replace("/", "__") + SUFFIX


def record_path(repository: str, folder: Path | None = None) -> Path:
    """Where the records of ``repository`` live (``folder`` defaults to ``data/issues``)."""
    return (folder or issues_dir()) / file_name(repository)


def find_path(repository: str, folder: Path | None = None) -> Path:
    """The file holding ``repository``'s records, also under the name it has now.

    A renamed repository's records live under its new name and list the old one in
    ``aliases``; the first line of each file says which names it answers to.
    """
    direct = record_path(repository, folder)
    if direct.is_file():
        return direct
    for path in sorted((folder or issues_dir()).glob(f"*{SUFFIX}")):
        with path.open(encoding="utf-8") as handle:
            first = handle.readline()
        try:
            aliases = json.loads(first).get("aliases") or []
        except (ValueError, AttributeError):
            continue
        if repository in aliases:
            return path
    return direct


def project_path(repository: str) -> str:
    """The records' path relative to the project root, as study files cite it."""
    return record_path(repository).relative_to(project_root()).as_posix()


def record_line(record: Record) -> str:
    """One record as its line in the file (the same record always gives the same bytes)."""
    return json.dumps(record, sort_keys=True, ensure_ascii=False, separators=(",", ":")) + "\n"


def _parse(path: Path, line_no: int, line: str, required: Sequence[str], last: bool) -> Record:
    where = f"{path}:{line_no}"
    try:
        record = json.loads(line)
    except ValueError:
        if last and not line.endswith("\n"):
            raise DatasetError(
                f"{where}: the last line is cut short (the file was truncated)",
                "restore the file from git, or re-run `convfail mine issues` to rewrite it",
            ) from None
        raise DatasetError(
            f"{where}: not a JSON issue record",
            "restore the file from git, or re-run `convfail mine issues` to rewrite it",
        ) from None
    if not isinstance(record, dict):
        raise DatasetError(f"{where}: a line must hold one JSON object", "restore the file")
    version = record.get("schema", VERSION)
    if version != VERSION:
        raise DatasetError(
            f"{where}: record format {version!r}, this convfail reads {VERSION!r}",
            "re-run `convfail mine issues` with this version to rewrite the file",
        )
    missing = [key for key in required if key not in record]
    if missing or not isinstance(record.get("number"), int):
        raise DatasetError(
            f"{where}: not an issue record (missing {', '.join(missing) or 'an integer number'})",
            "restore the file from git, or re-run `convfail mine issues` to rewrite it",
        )
    return record


def read_records(
    path: Path, required: Sequence[str] = ("number",), *, missing_ok: bool = False
) -> list[Record]:
    """Every record of a file in file order; one ``path:line`` error on the first bad line.

    A number seen twice is an error too (the writer never writes one twice). ``missing_ok``
    gives ``[]`` for a file that does not exist yet instead of an error.
    """
    if not path.is_file():
        if missing_ok:
            return []
        raise DatasetError(
            f"no mined issue records at {path}",
            "run `convfail mine issues` for this repository first",
        )
    lines = path.read_text(encoding="utf-8").splitlines(keepends=True)
    records: list[Record] = []
    seen: dict[int, int] = {}
    for line_no, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        record = _parse(path, line_no, line, required, last=line_no == len(lines))
        number = record["number"]
        if number in seen:
            raise DatasetError(
                f"{path}:{line_no}: issue {number} again (first on line {seen[number]})",
                "keep one line per issue; re-run `convfail mine issues` to rewrite the file",
            )
        seen[number] = line_no
        records.append(record)
    return records


def write_records(path: Path, records: Iterable[Record]) -> Path:
    """Replace ``path`` with ``records`` sorted by number, atomically and deterministically."""
    ordered = sorted(records, key=lambda r: r["number"])
    atomic_write_text(path, "".join(record_line(r) for r in ordered))
    return path
