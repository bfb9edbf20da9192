"""Shared fixtures of the mining tests: a throw-away project and a fake GitHub."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from convfail.paths import shared_reference_dir
from mining.testing.fakegithub import FakeGitHub
from mining.testing.harness import TOKEN
from mining.testing.model import Repo, generate_repo

REPO_ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty convfail project (pyproject.toml, data/codebook.yaml) used as CONVFAIL_HOME."""
    reference = shared_reference_dir()
    root = tmp_path / "project"
    (root / "data").mkdir(parents=True)
    (root / "pyproject.toml").write_text("[project]\nname = 'scratch'\n")
    shutil.copy(REPO_ROOT / "data" / "codebook.yaml", root / "data" / "codebook.yaml")
    monkeypatch.setenv("CONVFAIL_HOME", str(root))
    monkeypatch.setenv("CONVFAIL_REFERENCE", str(reference))
    monkeypatch.delenv("GITHUB_TOKEN", raising=False)
    monkeypatch.setenv(
        "PATH", "/usr/bin:/bin"
    )  # no `gh` on the path: the token comes from env only
    return root


def serving(repo: Repo) -> Iterator[FakeGitHub]:
    """A running fake GitHub holding ``repo`` (anonymous budget large enough for REST crawls)."""
    server = FakeGitHub(token=TOKEN, anonymous_limit=100_000)
    server.add_repo(repo)
    with server:
        yield server


@pytest.fixture
def fake():
    """A fake GitHub with a tf2onnx-like repository of 250 numbers (3% busy timelines)."""
    yield from serving(generate_repo("onnx/tensorflow-onnx", 250, seed=1, long_timeline_share=0.03))


@pytest.fixture
def small_fake():
    """A fake GitHub with ``o/conv``: 60 numbers, a third of them pull requests, short threads."""
    yield from serving(generate_repo("o/conv", 60, seed=4, long_timeline_share=0.0))
