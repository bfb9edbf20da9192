"""The miner's state: issue records, crawl cursors, watermarks and ETags in one SQLite file.

Each page of a crawl is saved with its cursor in the same transaction, so a process killed at
any instant (even ``kill -9``) leaves either the page and its cursor or neither; the next run
continues after the last saved page. Upserts are idempotent: fetching an issue twice stores it
once. The committed dataset, ``data/issues/<owner>__<repo>.jsonl``, is exported from here in a
deterministic order; a fresh checkout without the state file seeds it from that JSONL.

A full crawl also notes which issues it saw (``seen``), in the same transaction as each page, so
that at its end the records it did not see can be checked and retired. ``aliases`` maps every
name a repository was asked for to its canonical (current) name.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from convfail import issue_records
from convfail.issue_records import record_line

SCHEMA = """
CREATE TABLE IF NOT EXISTS issues (
    repository TEXT NOT NULL,
    number INTEGER NOT NULL,
    updated_at TEXT NOT NULL,
    record TEXT NOT NULL,
    PRIMARY KEY (repository, number)
);
CREATE TABLE IF NOT EXISTS crawls (
    crawl_key TEXT PRIMARY KEY,
    cursor TEXT,
    pages INTEGER NOT NULL DEFAULT 0,
    max_updated TEXT NOT NULL DEFAULT '',
    finished INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS watermarks (
    scope_key TEXT PRIMARY KEY,
    updated_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS etags (
    target TEXT PRIMARY KEY,
    etag TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS aliases (
    name TEXT PRIMARY KEY,
    canonical TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS seen (
    crawl_key TEXT NOT NULL,
    number INTEGER NOT NULL,
    PRIMARY KEY (crawl_key, number)
);
"""


class Store:
    """Records and crawl progress of every repository the miner has seen."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self.db = sqlite3.connect(path)
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute("PRAGMA synchronous=FULL")
        self.db.executescript(SCHEMA)

    def close(self) -> None:
        self.db.close()

    # -- records --------------------------------------------------------------------------
    def _upsert(self, records: Iterable[dict[str, Any]]) -> None:
        for record in records:
            key = (record["repository"], record["number"])
            if record.get("comments") is None:
                old = self.get(*key)
                if old is not None and old.get("comments") is not None:
                    record = {**record, "comments": old["comments"]}
            self.db.execute(
                "INSERT INTO issues (repository, number, updated_at, record) VALUES (?, ?, ?, ?)"
                " ON CONFLICT (repository, number) DO UPDATE SET updated_at = excluded.updated_at,"
                " record = excluded.record",
                (*key, record["updated_at"], record_line(record)),
            )

    def upsert(self, records: Iterable[dict[str, Any]]) -> None:
        with self.db:
            self._upsert(records)

    def get(self, repository: str, number: int) -> dict[str, Any] | None:
        row = self.db.execute(
            "SELECT record FROM issues WHERE repository = ? AND number = ?", (repository, number)
        ).fetchone()
        return json.loads(row[0]) if row else None

    def records(self, repository: str) -> list[dict[str, Any]]:
        rows = self.db.execute(
            "SELECT record FROM issues WHERE repository = ? ORDER BY number", (repository,)
        ).fetchall()
        return [json.loads(r[0]) for r in rows]

    def count(self, repository: str) -> int:
        return self.db.execute(
            "SELECT COUNT(*) FROM issues WHERE repository = ?", (repository,)
        ).fetchone()[0]

    def seed(self, repository: str, dataset: Path, *, former: str | None = None) -> int:
        """Load a committed JSONL into an empty store (a fresh checkout can then go incremental).

        ``former``: the file holds the records under a repository's old name; they are loaded
        under ``repository``, the name it has now.
        """
        if self.count(repository) or not dataset.is_file():
            return 0
        records = issue_records.read_records(dataset, issue_records.MINED_FIELDS)
        mine = [r for r in records if r.get("repository") == (former or repository)]
        self.upsert({**r, "repository": repository} for r in mine)
        return len(mine)

    def export(self, repository: str, folder: Path) -> Path:
        """Write ``<folder>/<owner>__<repo>.jsonl``: one record per line, sorted by number.

        Each record lists the other names the repository was asked for (``aliases``).
        """
        aliases = self.aliases_of(repository)
        return issue_records.write_records(
            issue_records.record_path(repository, folder),
            ({**r, "aliases": aliases} for r in self.records(repository)),
        )

    # -- names -----------------------------------------------------------------------------
    def alias(self, name: str) -> str | None:
        row = self.db.execute("SELECT canonical FROM aliases WHERE name = ?", (name,)).fetchone()
        return row[0] if row else None

    def aliases_of(self, canonical: str) -> list[str]:
        rows = self.db.execute(
            "SELECT name FROM aliases WHERE canonical = ? AND name != ? ORDER BY name",
            (canonical, canonical),
        ).fetchall()
        return [r[0] for r in rows]

    def set_alias(self, name: str, canonical: str) -> None:
        """Record ``name`` ▸ ``canonical`` and move whatever was kept under the old name."""
        with self.db:
            self.db.execute(
                "INSERT INTO aliases (name, canonical) VALUES (?, ?)"
                " ON CONFLICT (name) DO UPDATE SET canonical = excluded.canonical",
                (name, canonical),
            )
            self.db.execute(
                "UPDATE aliases SET canonical = ? WHERE canonical = ?", (canonical, name)
            )
            if name == canonical:
                return
            rows = self.db.execute(
                "SELECT number, record FROM issues WHERE repository = ?", (name,)
            ).fetchall()
            for number, text in rows:
                record = json.loads(text) | {"repository": canonical}
                self.db.execute(
                    "INSERT OR REPLACE INTO issues (repository, number, updated_at, record)"
                    " VALUES (?, ?, ?, ?)",
                    (canonical, number, record["updated_at"], record_line(record)),
                )
            self.db.execute("DELETE FROM issues WHERE repository = ?", (name,))

    # -- what a full crawl saw -----------------------------------------------------------
    def unseen(self, crawl_key: str, repository: str) -> list[dict[str, Any]]:
        """Live records of ``repository`` that the crawl ``crawl_key`` did not save."""
        rows = self.db.execute(
            "SELECT record FROM issues WHERE repository = ? AND number NOT IN"
            " (SELECT number FROM seen WHERE crawl_key = ?) ORDER BY number",
            (repository, crawl_key),
        ).fetchall()
        records = [json.loads(r[0]) for r in rows]
        return [r for r in records if not r.get("retired")]

    def forget_seen(self, crawl_key: str) -> None:
        with self.db:
            self.db.execute("DELETE FROM seen WHERE crawl_key = ?", (crawl_key,))

    # -- crawl progress -------------------------------------------------------------------
    def crawl(self, crawl_key: str) -> tuple[str | None, int, str, bool] | None:
        row = self.db.execute(
            "SELECT cursor, pages, max_updated, finished FROM crawls WHERE crawl_key = ?",
            (crawl_key,),
        ).fetchone()
        return (row[0], row[1], row[2], bool(row[3])) if row else None

    def forget_crawl(self, crawl_key: str) -> None:
        with self.db:
            self.db.execute("DELETE FROM crawls WHERE crawl_key = ?", (crawl_key,))

    def save_page(
        self,
        crawl_key: str,
        cursor: str | None,
        records: list[dict[str, Any]],
        finished: bool,
        scope_key: str,
        newest: str = "",
    ) -> None:
        """Store a page's records and advance the crawl's cursor in one transaction.

        The last page also moves the scope's watermark to the newest ``updated_at`` the crawl
        saw (``newest``: of items it read but did not keep) and forgets the crawl, in the same
        transaction.
        """
        newest = max([newest, *(r["updated_at"] for r in records)])
        with self.db:
            self._upsert(records)
            self.db.executemany(
                "INSERT OR IGNORE INTO seen (crawl_key, number) VALUES (?, ?)",
                [(crawl_key, r["number"]) for r in records],
            )
            self.db.execute(
                "INSERT INTO crawls (crawl_key, cursor, pages, max_updated, finished)"
                " VALUES (?, ?, 1, ?, ?) ON CONFLICT (crawl_key) DO UPDATE SET"
                " cursor = excluded.cursor, pages = pages + 1,"
                " max_updated = MAX(max_updated, excluded.max_updated),"
                " finished = excluded.finished",
                (crawl_key, cursor, newest, int(finished)),
            )
            if finished:
                (seen,) = self.db.execute(
                    "SELECT max_updated FROM crawls WHERE crawl_key = ?", (crawl_key,)
                ).fetchone()
                if seen:
                    self.db.execute(
                        "INSERT INTO watermarks (scope_key, updated_at) VALUES (?, ?)"
                        " ON CONFLICT (scope_key)"
                        " DO UPDATE SET updated_at = MAX(updated_at, excluded.updated_at)",
                        (scope_key, seen),
                    )
                self.db.execute("DELETE FROM crawls WHERE crawl_key = ?", (crawl_key,))

    # -- watermarks and ETags ------------------------------------------------------------
    def watermark(self, scope_key: str) -> str | None:
        row = self.db.execute(
            "SELECT updated_at FROM watermarks WHERE scope_key = ?", (scope_key,)
        ).fetchone()
        return row[0] if row else None

    def set_watermark(self, scope_key: str, updated_at: str) -> None:
        with self.db:
            self.db.execute(
                "INSERT INTO watermarks (scope_key, updated_at) VALUES (?, ?)"
                " ON CONFLICT (scope_key)"
                " DO UPDATE SET updated_at = MAX(updated_at, excluded.updated_at)",
                (scope_key, updated_at),
            )

    def etag(self, target: str) -> str | None:
        row = self.db.execute("SELECT etag FROM etags WHERE target = ?", (target,)).fetchone()
        return row[0] if row else None

    def set_etag(self, target: str, etag: str | None) -> None:
        if not etag:
            return
        with self.db:
            self.db.execute(
                "INSERT INTO etags (target, etag) VALUES (?, ?)"
                " ON CONFLICT (target) DO UPDATE SET etag = excluded.etag",
                (target, etag),
            )
