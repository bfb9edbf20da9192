"""Wiring a :class:`~mining.miner.Miner` from the command line's choices.

The token decides the API (GraphQL needs one), the cache folder holds the archive and the
state, and a replay starts from a fresh state so that it rebuilds the records from the archive
alone. Commands open a session, call one miner method, and print what it returns.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from convfail.errors import ConvfailError
from convfail.paths import cache_dir, issues_dir
from mining.archive import Archive
from mining.auth import ANONYMOUS_WARNING, find_token
from mining.miner import Miner
from mining.store import Store
from mining.transport import GITHUB_API, Transport

API_CHOICES = ("auto", "graphql", "rest")


def mining_cache() -> Path:
    return cache_dir() / "mining"


@contextmanager
def open_miner(
    api: str,
    api_url: str | None,
    no_wait: bool,
    replay: bool,
    quiet: bool,
    warn: Callable[[str], None],
) -> Iterator[Miner]:
    """A miner wired to the archive and the state (a fresh one for replays)."""
    token = find_token()
    use_graphql = {"auto": bool(token), "graphql": True, "rest": False}[api]
    if use_graphql and not token and not replay:
        raise ConvfailError(
            "the GraphQL API needs a token",
            "set GITHUB_TOKEN, run `gh auth login`, or use --api rest",
        )
    if not token and not replay:
        warn(ANONYMOUS_WARNING)
    folder = mining_cache()
    state_path = folder / ("replay-state.sqlite" if replay else "state.sqlite")
    if replay:
        for suffix in ("", "-wal", "-shm"):
            Path(f"{state_path}{suffix}").unlink(missing_ok=True)
        if not (folder / "archive.sqlite").is_file():
            raise ConvfailError(
                f"no archive to replay at {folder / 'archive.sqlite'}",
                "run the command once without --replay",
            )
    archive = Archive(folder / "archive.sqlite")
    store = Store(state_path)
    transport = Transport(
        api_url or os.environ.get("CONVFAIL_GITHUB_API", GITHUB_API),
        token,
        archive,
        replay=replay,
        no_wait=no_wait,
    )
    try:
        yield Miner(transport, store, issues_dir(), use_graphql=use_graphql, progress=not quiet)
    finally:
        transport.close()
        store.close()
        archive.close()
