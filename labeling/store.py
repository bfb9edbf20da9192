"""One rater's label file, ``data/studies/NAME/labels/<rater>.csv``, changed one field at a time.

Every save is a read-modify-write of the whole file under a lock: a lock held by this process
(threads of the web server) and an advisory ``flock`` on ``labels/.<rater>.lock`` (other
processes, e.g. a second server of the same rater). The write itself is
:func:`convfail.dataset.atomic_write_text`, so a killed process leaves the old file or the new
one, never half of one.

A save may carry the version of the row it was based on (:func:`row_version`, what the page
showed). When the row on disk has changed since, because another tab or server saved first, the
save is refused with :class:`LabelConflict`, which carries both answers, instead of silently
overwriting the other one. Every change is also appended to the rater's history
(:mod:`labeling.history`).
"""

from __future__ import annotations

import csv
import fcntl
import hashlib
import io
import os
import re
import tempfile
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
from labeling.history import Change, append_changes, history_file

EDITABLE_FIELDS = (*LABEL_DIMENSIONS, "note")
RATER_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
NOTE_LIMIT = 5000

_process_locks: dict[Path, threading.Lock] = {}
_process_locks_guard = threading.Lock()


class LabelError(ConvfailError):
    """A label that the codebook or the study does not allow."""


class LabelConflict(ConvfailError):
    """The row changed on disk since the page that asks for a save was shown."""

    def __init__(self, theirs: dict[str, str], version: str, yours: dict[str, str]) -> None:
        super().__init__(
            "this issue was changed in another tab or window since this page was shown",
            "compare the two answers and choose which one to keep",
        )
        self.theirs, self.version, self.yours = theirs, version, yours


class HistoryNotWritten(ConvfailError):
    """The label was saved but its history line could not be appended (e.g. the disk is full)."""

    def __init__(self, row: dict[str, str], cause: OSError) -> None:
        super().__init__(
            f"saved, but the history could not be written ({cause.strerror or cause})",
            "free some disk space; the label itself is safe",
        )
        self.row = row


def check_name(name: str, what: str, becomes: str) -> str:
    """Names that become file or folder names: letters, digits, ``_ . -`` only."""
    if not RATER_NAME.match(name) or name.endswith(".csv"):
        raise LabelError(
            f"'{name}' is not a usable {what} name",
            f"use letters, digits, '_', '.' or '-', starting with a letter or digit ({becomes})",
        )
    return name


def check_rater_name(rater: str) -> str:
    """Rater names become file names: ``labels/<rater>.csv``."""
    return check_name(rater, "rater", "it becomes labels/<rater>.csv")


def check_writable(folder: Path) -> None:
    """Refuse to start a server whose every save would fail: write, sync and remove a probe."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
        fd, probe = tempfile.mkstemp(prefix=".write-probe.", dir=folder)
        try:
            os.write(fd, b"x" * 4096)
            os.fsync(fd)
        finally:
            os.close(fd)
            Path(probe).unlink(missing_ok=True)
    except OSError as exc:
        raise ConvfailError(
            f"cannot write to {folder} ({exc.strerror or exc}): no label could be saved",
            "make the folder writable (or free disk space) and start again",
        ) from None


def row_version(row: dict[str, str] | None) -> str:
    """A short fingerprint of a row's answers; ``""`` for an issue not labelled at all."""
    if not row:
        return ""
    answers = "\x1f".join(str(row.get(f, "")) for f in EDITABLE_FIELDS)
    return hashlib.sha256(answers.encode("utf-8", "surrogatepass")).hexdigest()[:16]


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
        self.history_path = history_file(study_path, rater)

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

    def save(
        self,
        repository: str,
        number: int,
        changes: dict[str, str],
        base: str | None = None,
        seconds: float | None = None,
        undo: bool = False,
    ) -> dict[str, str]:
        """Apply ``changes`` (field -> value) to one issue's row and write the file atomically.

        ``base`` is the :func:`row_version` the change was made on (``None``: no check); a row
        changed since raises :class:`LabelConflict`. Changing the cause drops a sub-cause that
        does not belong to the new cause. ``seconds`` (time on the issue) and ``undo`` go to
        the history. Returns the row as saved.
        """
        with self.locked():
            labels = self.read()
            key = (repository, int(number))
            current = labels.get(key)
            if base is not None and row_version(current) != base:
                raise LabelConflict(dict(current or {}), row_version(current), dict(changes))
            row = dict(current) if current else {c: "" for c in LABEL_COLUMNS}
            before = dict(row)
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
            changed = [
                Change(
                    row["labelled_at"],
                    self.rater,
                    repository,
                    int(number),
                    f,
                    before[f],
                    row[f],
                    None if seconds is None else round(float(seconds), 1),
                    undo,
                )
                for f in EDITABLE_FIELDS
                if before[f] != row[f]
            ]
            try:
                append_changes(self.history_path, changed)
            except OSError as exc:
                raise HistoryNotWritten(row, exc) from None
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
