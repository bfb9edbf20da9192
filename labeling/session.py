"""What one rater's labelling session knows: the study's issues, the rater's labels, the queue.

The web app asks this object everything (which issue comes next under a filter, how far the rater
got, which issues another rater coded differently) and never touches files itself. The rater's
file is re-read only when it changed on disk (every save replaces it: a new inode and times), so
a second tab or a second server is seen at once and a page costs no CSV parse otherwise.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from convfail.codebook import Codebook
from convfail.dataset import FINAL_RATER, Study
from convfail.paths import labels_dir
from convfail.records import LABEL_DIMENSIONS
from labeling.history import Change, read_history
from labeling.issue_texts import IssueText, load_issue_texts
from labeling.store import LabelStore

FILTERS = ("all", "unlabelled", "labelled", "disagreements")
Key = tuple[str, int]
REFERENCE = re.compile(
    r"^(?:https://github\.com/)?(?:(?P<repo>[\w.-]+/[\w.-]+)(?:#|/(?:issues|pull)/))?#?(?P<n>\d+)/?$"
)


def is_complete(label: dict[str, str] | None, codebook: Codebook) -> bool:
    """Location, symptom and cause chosen, and a sub-cause when the cause has sub-causes."""
    if not label or not all(label.get(d) for d in ("location", "symptom", "cause")):
        return False
    return bool(label.get("subcause")) or not codebook.subcauses(label["cause"])


@dataclass(frozen=True)
class QueueFilter:
    name: str = "all"
    converter: str = ""

    def query(self) -> str:
        parts = [f"filter={self.name}"] if self.name != "all" else []
        if self.converter:
            parts.append(f"converter={self.converter}")
        return ("?" + "&".join(parts)) if parts else ""


class LabelingSession:
    """One rater in one study."""

    def __init__(self, study: Study, rater: str, codebook: Codebook, data_dir: Path) -> None:
        self.study = study
        self.rater = rater
        self.codebook = codebook
        self.store = LabelStore(study.path, rater, codebook)
        self.issues: list[IssueText] = load_issue_texts(study.issues, data_dir)
        self.position: dict[Key, int] = {t.key: i for i, t in enumerate(self.issues)}
        self.converters = sorted({t.converter for t in self.issues})
        self._cache: tuple[tuple[int, ...], dict[Key, dict[str, str]]] | None = None
        self._progress: tuple[int, tuple[int, int]] | None = None
        self._history: tuple[tuple[int, ...], dict[Key, list[Change]]] | None = None

    def labels(self) -> dict[Key, dict[str, str]]:
        """The rater's labels, re-read when the file changed (inode, times or size)."""
        try:
            stat = self.store.path.stat()
        except FileNotFoundError:
            return {}
        stamp = (stat.st_ino, stat.st_mtime_ns, stat.st_ctime_ns, stat.st_size)
        if self._cache is None or self._cache[0] != stamp:
            self._cache = (stamp, self.store.read())
        return self._cache[1]

    def history(self, key: Key) -> list[Change]:
        """The rater's own recorded changes of one issue, oldest first (re-read when changed)."""
        path = self.store.history_path
        try:
            stat = path.stat()
        except FileNotFoundError:
            return []
        stamp = (stat.st_ino, stat.st_mtime_ns, stat.st_size)
        if self._history is None or self._history[0] != stamp:
            self._history = (stamp, read_history(path))
        return self._history[1].get(key, [])

    def first_unlabelled(self) -> IssueText | None:
        """Where the rater stopped: the first issue in study order that is not complete."""
        labels = self.labels()
        return next(
            (t for t in self.issues if not is_complete(labels.get(t.key), self.codebook)), None
        )

    def search(self, query: str) -> tuple[IssueText | None, list[IssueText]]:
        """An issue named exactly (``123``, ``#123``, ``owner/repo#123``, its GitHub URL), or
        the issues whose title contains every word of ``query`` (case-insensitive)."""
        query = query.strip()
        match = REFERENCE.match(query)
        if match:
            number = int(match.group("n"))
            found = [
                t
                for t in self.issues
                if t.number == number and match.group("repo") in (None, t.repository)
            ]
            if len(found) == 1:
                return found[0], found
            if found:
                return None, found
        words = query.lower().split()
        if not words:
            return None, []
        return None, [t for t in self.issues if all(w in t.title.lower() for w in words)]

    def issue(self, repository: str, number: int) -> IssueText | None:
        index = self.position.get((repository, number))
        return None if index is None else self.issues[index]

    def other_raters(self) -> list[str]:
        folder = labels_dir(self.study.path)
        return sorted(
            p.stem for p in folder.glob("*.csv") if p.stem not in (self.rater, FINAL_RATER)
        )

    def disagreements(self) -> dict[Key, list[str]]:
        """Issues where another rater chose differently, with the dimensions that differ.

        Only the fact of a disagreement is told, never the other rater's choice.
        """
        mine = self.labels()
        out: dict[Key, set[str]] = {}
        for rater in self.other_raters():
            theirs = LabelStore(self.study.path, rater, self.codebook).read()
            for key, label in mine.items():
                other = theirs.get(key)
                if other is None:
                    continue
                for dim in LABEL_DIMENSIONS:
                    if label.get(dim) and other.get(dim) and label[dim] != other[dim]:
                        out.setdefault(key, set()).add(dim)
        return {k: sorted(v, key=LABEL_DIMENSIONS.index) for k, v in out.items()}

    def matches(self, issue: IssueText, queue: QueueFilter, labels, disagreements) -> bool:
        if queue.converter and issue.converter != queue.converter:
            return False
        if queue.name == "unlabelled":
            return not is_complete(labels.get(issue.key), self.codebook)
        if queue.name == "labelled":
            return is_complete(labels.get(issue.key), self.codebook)
        if queue.name == "disagreements":
            return issue.key in disagreements
        return True

    def queue(self, queue: QueueFilter) -> list[IssueText]:
        labels = self.labels()
        disagreements = self.disagreements() if queue.name == "disagreements" else {}
        return [t for t in self.issues if self.matches(t, queue, labels, disagreements)]

    def neighbours(self, key: Key, queue: QueueFilter) -> tuple[IssueText | None, IssueText | None]:
        """The previous and next issue around ``key`` in study order that match the filter."""
        labels = self.labels()
        disagreements = self.disagreements() if queue.name == "disagreements" else {}
        here = self.position[key]
        previous = next(
            (
                t
                for t in reversed(self.issues[:here])
                if self.matches(t, queue, labels, disagreements)
            ),
            None,
        )
        following = next(
            (t for t in self.issues[here + 1 :] if self.matches(t, queue, labels, disagreements)),
            None,
        )
        return previous, following

    def upcoming(self, key: Key, queue: QueueFilter, count: int) -> list[IssueText]:
        """The next ``count`` issues after ``key`` in study order that match the filter (the
        ones a rater moving forward opens next, worth preparing before they are asked for)."""
        labels = self.labels()
        disagreements = self.disagreements() if queue.name == "disagreements" else {}
        found: list[IssueText] = []
        for issue in self.issues[self.position[key] + 1 :]:
            if len(found) == count:
                break
            if self.matches(issue, queue, labels, disagreements):
                found.append(issue)
        return found

    def progress(self) -> tuple[int, int]:
        """(complete issues, all issues); recounted only when the label file changed."""
        labels = self.labels()
        if self._progress is None or self._progress[0] != id(labels):
            done = sum(1 for t in self.issues if is_complete(labels.get(t.key), self.codebook))
            self._progress = (id(labels), (done, len(self.issues)))
        return self._progress[1]


__all__ = ["FILTERS", "LabelingSession", "QueueFilter", "is_complete"]
