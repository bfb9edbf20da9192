"""Who changed what and when: an append-only log of every label change, one file per rater.

The label file holds only the current answer; the history keeps each change (the field, the old
and the new value, the UTC time, the seconds the rater had spent on the issue, and whether it was
an undo) in ``labels/history/<rater>.jsonl``. It lives in a sub-folder so that nothing reading
``labels/*.csv`` mistakes it for a rater. Lines are appended whole under the store's lock; a
line cut short by a crash is skipped when read, never fatal.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass
from pathlib import Path

from convfail.paths import labels_dir

Key = tuple[str, int]


@dataclass(frozen=True)
class Change:
    at: str
    rater: str
    repository: str
    number: int
    field: str
    old: str
    new: str
    seconds: float | None = None
    undo: bool = False


def history_file(study_path: Path, rater: str) -> Path:
    return labels_dir(study_path) / "history" / f"{rater}.jsonl"


def append_changes(path: Path, changes: list[Change]) -> None:
    """Append ``changes`` in one write and make them durable."""
    if not changes:
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    text = "".join(json.dumps(asdict(c), ensure_ascii=False) + "\n" for c in changes)
    with path.open("a", encoding="utf-8") as handle:
        handle.write(text)
        handle.flush()
        os.fsync(handle.fileno())


def read_history(path: Path) -> dict[Key, list[Change]]:
    """Every recorded change by issue, oldest first (unreadable lines are skipped)."""
    out: dict[Key, list[Change]] = {}
    try:
        lines = path.read_text(encoding="utf-8", errors="replace").splitlines()
    except FileNotFoundError:
        return out
    for line in lines:
        try:
            change = Change(**json.loads(line))
        except (ValueError, TypeError):
            continue
        out.setdefault((change.repository, int(change.number)), []).append(change)
    return out
