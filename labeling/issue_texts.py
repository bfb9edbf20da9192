"""The text of a study's issues: title from ``issues.csv``, body and comments from mined records.

The miner writes ``data/issues/<owner>__<repo>.jsonl`` (one JSON record per issue, with at least
``number``; usually ``title``, ``url``, ``body`` and sometimes ``comments``), read here through
:mod:`convfail.issue_records`, which reports a bad line as ``path:line``. Any field may be
missing, and the file itself may not exist yet: the tool then shows the title and the link to
GitHub, and the suggestions learn from titles only.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from convfail import issue_records
from convfail.paths import ISSUES


@dataclass(frozen=True)
class Comment:
    author: str
    created_at: str
    body: str


@dataclass(frozen=True)
class IssueText:
    """What a rater reads about one issue."""

    repository: str
    number: int
    converter: str
    title: str
    url: str
    created_at: str = ""
    body: str | None = None
    comments: tuple[Comment, ...] = ()
    metadata: dict[str, str] = field(default_factory=dict)

    @property
    def key(self) -> tuple[str, int]:
        return (self.repository, self.number)

    @property
    def mined(self) -> bool:
        return self.body is not None or bool(self.comments)

    def document(self) -> str:
        """Title, body and comments as one text (the classifier's input)."""
        parts = [self.title, self.body or "", *(c.body for c in self.comments)]
        return "\n".join(p for p in parts if p)


def _author(raw: Any) -> str:
    if isinstance(raw, dict):
        return str(raw.get("login") or raw.get("name") or "")
    return str(raw or "")


def _comments(raw: Any) -> tuple[Comment, ...]:
    if not isinstance(raw, list):
        return ()
    out = []
    for item in raw:
        if isinstance(item, str):
            out.append(Comment("", "", item))
        elif isinstance(item, dict):
            author = item.get("author", item.get("user", item.get("login", "")))
            created = str(item.get("created_at") or item.get("createdAt") or "")
            out.append(Comment(_author(author), created, str(item.get("body") or "")))
    return tuple(out)


METADATA_FIELDS = {
    "state": "state",
    "state_reason": "state reason",
    "created_at": "created",
    "closed_at": "closed",
    "author_association": "author association",
    "comment_count": "comments",
}


def _metadata(record: dict) -> dict[str, str]:
    meta = {
        label: str(record[key])
        for key, label in METADATA_FIELDS.items()
        if record.get(key) not in (None, "")
    }
    labels = record.get("labels")
    if isinstance(labels, list) and labels:
        names = [str(x.get("name", "")) if isinstance(x, dict) else str(x) for x in labels]
        meta["labels"] = ", ".join(n for n in names if n)
    author = _author(record.get("author") or record.get("user"))
    if author:
        meta["author"] = author
    return meta


def mined_records(data_dir: Path, repository: str, wanted: set[int]) -> dict[int, dict]:
    """Mined records of the wanted issue numbers (none yet when the file does not exist)."""
    path = issue_records.find_path(repository, data_dir / ISSUES)
    return {
        r["number"]: r
        for r in issue_records.read_records(path, missing_ok=True)
        if r["number"] in wanted
    }


def load_issue_texts(issues: pd.DataFrame, data_dir: Path) -> list[IssueText]:
    """Every issue of a study with whatever text is known, in the study's order."""
    texts = []
    for repository, group in issues.groupby("repository", sort=False):
        records = mined_records(data_dir, str(repository), set(group["number"].astype(int)))
        for row in group.to_dict("records"):
            number = int(row["number"])
            record = records.get(number, {})
            body = record.get("body")
            texts.append(
                IssueText(
                    repository=str(repository),
                    number=number,
                    converter=str(row["converter"]),
                    title=str(row["title"] or record.get("title") or ""),
                    url=str(
                        row["url"]
                        or record.get("url")
                        or f"https://github.com/{repository}/issues/{number}"
                    ),
                    created_at=str(row.get("created_at") or record.get("created_at") or ""),
                    body=None if body is None else str(body),
                    comments=_comments(record.get("comments")),
                    metadata=_metadata(record),
                )
            )
    order = {
        key: i
        for i, key in enumerate(
            zip(issues["repository"], issues["number"].astype(int), strict=True)
        )
    }
    return sorted(texts, key=lambda t: order[t.key])
