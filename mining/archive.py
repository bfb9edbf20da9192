"""The raw-response archive: every HTTP exchange with GitHub, kept in SQLite for offline replay.

An exchange is keyed by what identifies the request (method, URL, body, ``If-None-Match``) so a
replay answers the same request with the same response, including 304s. The token never gets
here: the transport drops the ``Authorization`` header and scrubs the token from anything it
archives. The archive lives in the git-ignored cache and can grow without bound; delete it to
start afresh (replay then needs a new live run).
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
from dataclasses import dataclass
from pathlib import Path

SCHEMA = """
CREATE TABLE IF NOT EXISTS exchanges (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    request_key TEXT NOT NULL,
    method TEXT NOT NULL,
    url TEXT NOT NULL,
    request_body TEXT NOT NULL,
    if_none_match TEXT NOT NULL,
    status INTEGER NOT NULL,
    headers TEXT NOT NULL,
    body TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS exchanges_key ON exchanges (request_key, id);
"""


def request_key(method: str, url: str, body: str, if_none_match: str) -> str:
    return hashlib.sha256("\n".join([method, url, body, if_none_match]).encode()).hexdigest()


@dataclass(frozen=True)
class Exchange:
    status: int
    headers: dict[str, str]
    body: str


class Archive:
    """Append-only store of exchanges; the latest answer to a request wins on replay."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self.db = sqlite3.connect(path)
        self.db.executescript(SCHEMA)

    def close(self) -> None:
        self.db.close()

    def add(self, method: str, url: str, body: str, if_none_match: str, exchange: Exchange) -> None:
        with self.db:
            self.db.execute(
                "INSERT INTO exchanges (request_key, method, url, request_body, if_none_match,"
                " status, headers, body) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    request_key(method, url, body, if_none_match),
                    method,
                    url,
                    body,
                    if_none_match,
                    exchange.status,
                    json.dumps(exchange.headers, sort_keys=True),
                    exchange.body,
                ),
            )

    def find(self, method: str, url: str, body: str, if_none_match: str) -> Exchange | None:
        row = self.db.execute(
            "SELECT status, headers, body FROM exchanges WHERE request_key = ?"
            " ORDER BY id DESC LIMIT 1",
            (request_key(method, url, body, if_none_match),),
        ).fetchone()
        return Exchange(row[0], json.loads(row[1]), row[2]) if row else None

    def __len__(self) -> int:
        return self.db.execute("SELECT COUNT(*) FROM exchanges").fetchone()[0]
