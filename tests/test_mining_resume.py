"""`kill -9` in the middle of a crawl: the next run continues and the dataset is as if nothing
happened (same bytes as an uninterrupted run, no duplicates)."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from convfail.paths import shared_reference_dir
from mining.testing.fakegithub import FakeGitHub
from mining.testing.harness import TOKEN
from mining.testing.model import generate_repo

DATASET = Path("data/issues/onnx__tensorflow-onnx.jsonl")


def new_project(root: Path) -> Path:
    (root / "data").mkdir(parents=True)
    (root / "pyproject.toml").write_text("[project]\nname = 'scratch'\n")
    return root


def mine(root: Path, url: str) -> subprocess.Popen:
    env = os.environ | {
        "CONVFAIL_HOME": str(root),
        "CONVFAIL_REFERENCE": str(shared_reference_dir()),
        "GITHUB_TOKEN": TOKEN,
    }
    command = [
        sys.executable,
        "-m",
        "convfail.cli",
        "mine",
        "issues",
        "--preset",
        "tf2onnx",
        "--api-url",
        url,
        "--page-size",
        "10",
        "-q",
    ]
    return subprocess.Popen(
        command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )


def saved_pages(root: Path) -> int:
    state = root / ".cache" / "mining" / "state.sqlite"
    if not state.is_file():
        return 0
    try:
        with sqlite3.connect(state, timeout=1) as db:
            row = db.execute("SELECT MAX(pages) FROM crawls").fetchone()
    except sqlite3.OperationalError:
        return 0
    return row[0] or 0


@pytest.mark.slow
def test_kill_9_mid_crawl_then_resume(tmp_path: Path) -> None:
    fake = FakeGitHub(token=TOKEN, latency=0.03)
    fake.add_repo(generate_repo("onnx/tensorflow-onnx", 300, seed=5, long_timeline_share=0.03))
    with fake:
        reference = new_project(tmp_path / "reference")
        done = mine(reference, fake.url)
        assert done.wait(timeout=120) == 0, done.stderr.read()
        killed = new_project(tmp_path / "killed")
        process = mine(killed, fake.url)
        deadline = time.time() + 60
        while saved_pages(killed) < 15 and time.time() < deadline and process.poll() is None:
            time.sleep(0.02)
        assert process.poll() is None, "the crawl finished before it could be killed"
        process.send_signal(signal.SIGKILL)
        process.wait()
        pages_at_kill = saved_pages(killed)
        assert pages_at_kill >= 15
        fake.reset_log()
        resumed = mine(killed, fake.url)
        _out, err = resumed.communicate(timeout=120)
        assert resumed.returncode == 0, err
        first_pages = [r for r in fake.log if b"IssuesPage" in r.body and b'"after":null' in r.body]
        assert not first_pages, "the resumed run started over"
    expected = (reference / DATASET).read_bytes()
    assert (killed / DATASET).read_bytes() == expected
    numbers = [json.loads(line)["number"] for line in expected.decode().splitlines()]
    assert len(numbers) == len(set(numbers))
