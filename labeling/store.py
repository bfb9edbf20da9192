"""One rater's label file, ``data/studies/NAME/labels/<rater>.csv``, changed one field at a time.

Every save is a read-modify-write of the whole file under a lock: a lock held by this process
(threads of the web server) and an advisory ``flock`` on ``labels/.<rater>.lock`` (other
processes, e.g. a second server of the same rater). The write itself is
:func:`convfail.dataset.atomic_write_text`, so a killed process leaves the old file or the new
one, never half of one; two browser tabs that change different fields or issues both keep their
change, because each save merges into what is on disk at that moment.
"""

from __future__ import annotations

import csv
import fcntl
import io
import re
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

from convfail.codebook import Codebook
from convfail.dataset import atomic_write_text, label_frame, validate_labels
from convfail.errors import ConvfailError, DatasetError
from convfail.paths import label_file
from convfail.records import LABEL_COLUMNS, LABEL_DIMENSIONS

EDITABLE_FIELDS = (*LABEL_DIMENSIONS, "note")
RATER_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
NOTE_LIMIT = 5000

_process_locks: dict[Path, threading.Lock] = {}
_process_locks_guard = threading.Lock()


class LabelError(ConvfailError):
    """A label that the codebook or the study does not allow."""


def check_rater_name(rater: str) -> str:
    """Rater names become file names: letters, digits, ``_ . -`` only."""
    if not RATER_NAME.match(rater) or rater.endswith(".csv"):
        raise LabelError(
            f"'{rater}' is not a usable rater name",
            "use letters, digits, '_', '.' or '-' (it becomes labels/<rater>.csv)",
        )
    return rater


def _thread_lock(path: Path) -> threading.Lock:
    with _process_locks_guard:
        return _process_locks.setdefault(path.resolve(), threading.Lock())


def now_utc() -> str:
    return datetime.now(UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z")


class LabelStore:
    """Reads and changes the labels of one rater in one study."""

    def __init__(self, study_path: Path, rater: str, codebook: Codebook) -> None:
        self.rater = check_rater_name(rater)
        self.codebook = codebook
        self.path = label_file(study_path, rater)
        self._lock_path = self.path.parent / f".{rater}.lock"

    @contextmanager
    def locked(self) -> Iterator[None]:
        """Hold the file for a read-modify-write (threads and processes alike)."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with _thread_lock(self.path), open(self._lock_path, "a") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)

    def read(self) -> dict[tuple[str, int], dict[str, str]]:
        """The rater's labels by issue key (empty when the rater has not saved anything).

        Read with the ``csv`` module rather than pandas: this runs on every save and page.
        """
        try:
            with self.path.open(encoding="utf-8", newline="") as handle:
                reader = csv.DictReader(handle)
                missing = [c for c in LABEL_COLUMNS if c not in (reader.fieldnames or [])]
                if missing:
                    raise DatasetError(
                        f"{self.path}: missing column(s) {', '.join(missing)}",
                        f"expected columns: {', '.join(LABEL_COLUMNS)}",
                    )
                rows = {}
                for line, record in enumerate(reader, start=2):
                    try:
                        key = (record["repository"], int(record["number"]))
                    except (TypeError, ValueError):
                        raise DatasetError(f"{self.path}: line {line}: no issue number") from None
                    rows[key] = {c: record.get(c) or "" for c in LABEL_COLUMNS}
                return rows
        except FileNotFoundError:
            return {}

    def validate_value(self, field: str, value: str, cause: str) -> None:
        """Refuse a value the codebook does not define (with the valid ones in the message)."""
        if field not in EDITABLE_FIELDS:
            raise LabelError(
                f"'{field}' is not a label field", f"use one of: {', '.join(EDITABLE_FIELDS)}"
            )
        if field == "note":
            if len(value) > NOTE_LIMIT:
                raise LabelError(f"note is longer than {NOTE_LIMIT} characters", "shorten the note")
            return
        if not value:
            return
        if field == "subcause":
            valid = self.codebook.valid_names("subcause", cause or None)
            if value not in valid:
                raise LabelError(
                    f"'{value}' is not a sub-cause of cause '{cause or '(none)'}' in codebook "
                    f"{self.codebook.version}",
                    f"valid values: {', '.join(valid) or 'none (this cause has no sub-causes)'}",
                )
            return
        valid = self.codebook.valid_names(field)
        if value not in valid:
            raise LabelError(
                f"'{value}' is not a {field} of codebook {self.codebook.version}",
                f"valid values: {', '.join(valid)}",
            )

    def save(self, repository: str, number: int, changes: dict[str, str]) -> dict[str, str]:
        """Apply ``changes`` (field -> value) to one issue's row and write the file atomically.

        Changing the cause drops a sub-cause that does not belong to the new cause. Returns the
        row as saved.
        """
        with self.locked():
            labels = self.read()
            key = (repository, int(number))
            row = labels.get(key) or {c: "" for c in LABEL_COLUMNS}
            row.update(repository=repository, number=str(int(number)))
            cause = changes.get("cause", row["cause"])
            for field in ("cause", *[f for f in changes if f != "cause"]):
                if field in changes:
                    value = str(changes[field]).strip() if field != "note" else str(changes[field])
                    self.validate_value(field, value, cause)
                    row[field] = value
            if row["subcause"] and row["subcause"] not in self.codebook.valid_names(
                "subcause", row["cause"] or None
            ):
                row["subcause"] = ""
            row.update(
                codebook_version=self.codebook.version,
                labelled_at=now_utc(),
                source_file="",
                source_sheet="",
                source_row="",
            )
            labels[key] = row
            self._write(labels.values())
            return row

    def write_all(self, rows) -> None:
        """Write every row (validated first: nothing is written when one row is invalid)."""
        rows = list(rows)
        frame = label_frame([{**row, "number": int(row["number"])} for row in rows])
        validate_labels(frame, self.codebook, self.path)
        self._write(rows)

    def _write(self, rows) -> None:
        """The canonical file: fixed columns, sorted by issue, ``\\n`` line ends, atomic."""
        ordered = sorted(rows, key=lambda r: (r["repository"], int(r["number"])))
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(LABEL_COLUMNS)
        writer.writerows([[str(row.get(c, "")) for c in LABEL_COLUMNS] for row in ordered])
        atomic_write_text(self.path, out.getvalue())
