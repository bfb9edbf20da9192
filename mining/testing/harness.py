"""Helpers shared by the mining tests and the benchmark: a miner wired to a fake GitHub."""

from __future__ import annotations

from pathlib import Path

from convfail.paths import ISSUES
from mining.archive import Archive
from mining.miner import Miner
from mining.store import Store
from mining.testing.fakegithub import FakeGitHub
from mining.transport import Transport

TOKEN = "ghp_fake_token_for_tests_only_0123456789"


def make_miner(
    fake: FakeGitHub,
    folder: Path,
    *,
    token: str | None = TOKEN,
    replay: bool = False,
    no_wait: bool = False,
    name: str = "run",
    **kwargs,
) -> Miner:
    """A miner with its own archive and state under ``folder``; fast backoff for tests."""
    archive = Archive(folder / "archive.sqlite")
    transport = Transport(
        fake.url if fake else "http://127.0.0.1:9",
        token,
        archive,
        replay=replay,
        no_wait=no_wait,
        backoff=0.01,
        max_backoff=0.05,
        seed=0,
    )
    return Miner(
        transport,
        Store(folder / f"{name}-state.sqlite"),
        folder / ISSUES,
        progress=False,
        **kwargs,
    )
