"""Fixtures of the labelling tests: a throw-away project, small studies, a live server, chromium."""

from __future__ import annotations

import errno
import json
import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest

from convfail.codebook import load_codebook
from convfail.dataset import csv_text, load_study
from convfail.issue_records import record_path
from convfail.records import ISSUE_COLUMNS

REPO_ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A project root of its own (codebook + study issta24 copied), so tests never touch data/."""
    root = tmp_path / "project"
    (root / "data" / "studies").mkdir(parents=True)
    (root / "pyproject.toml").write_text("", encoding="utf-8")
    shutil.copy(REPO_ROOT / "data" / "codebook.yaml", root / "data" / "codebook.yaml")
    shutil.copytree(
        REPO_ROOT / "data" / "studies" / "issta24", root / "data" / "studies" / "issta24"
    )
    monkeypatch.setenv("CONVFAIL_HOME", str(root))
    return root


def write_study(
    root: Path, name: str, issues: list[dict], records: list[dict] | None = None
) -> Path:
    """A study folder with ``issues`` (title/number/repository...) and optional mined records."""
    rows = []
    for issue in issues:
        repo, number = issue["repository"], int(issue["number"])
        rows.append(
            {
                "converter": issue.get("converter", "torch.onnx"),
                "repository": repo,
                "number": number,
                "url": f"https://github.com/{repo}/issues/{number}",
                "title": issue.get("title", f"issue {number}"),
                "in_sample": "true",
            }
        )
    frame = pd.DataFrame([{c: row.get(c, "") for c in ISSUE_COLUMNS} for row in rows])
    folder = root / "data" / "studies" / name
    (folder / "labels").mkdir(parents=True, exist_ok=True)
    (folder / "issues.csv").write_text(csv_text(frame, ISSUE_COLUMNS), encoding="utf-8")
    (folder / "study.yaml").write_text(f"name: {name}\n", encoding="utf-8")
    by_repo: dict[str, list[dict]] = {}
    for record in records or []:
        by_repo.setdefault(record["repository"], []).append(record)
    for repo, items in by_repo.items():
        path = record_path(repo, root / "data" / "issues")
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("".join(json.dumps(r) + "\n" for r in items), encoding="utf-8")
    return folder


@pytest.fixture
def make_study(project: Path):
    """``make_study(name, issues, records)``: a study in the throw-away project."""
    return lambda name, issues, records=None: write_study(project, name, issues, records)


@pytest.fixture
def codebook(project: Path):
    return load_codebook()


@pytest.fixture
def demo_study(project: Path) -> Path:
    """Five torch.onnx issues and two tf2onnx issues; issue 1 has a mined body and comments."""
    issues = [
        {"repository": "pytorch/pytorch", "number": n, "title": f"torch issue {n}"}
        for n in range(1, 6)
    ]
    issues += [
        {
            "repository": "onnx/tensorflow-onnx",
            "number": n,
            "converter": "tf2onnx",
            "title": f"tf issue {n}",
        }
        for n in (10, 11)
    ]
    records = [
        {
            "repository": "pytorch/pytorch",
            "number": 1,
            "title": "torch issue 1",
            "url": "https://github.com/pytorch/pytorch/issues/1",
            "body": "Export fails:\n\n```\nTraceback (most recent call last):\n"
            '  File "x.py", line 1\nRuntimeError: boom\n```\n',
            "comments": [
                {"author": {"login": "dev"}, "created_at": "2023-01-02", "body": "Fixed in **#2**."}
            ],
            "state": "closed",
        }
    ]
    return write_study(project, "demo", issues, records)


class LiveServer:
    """The labelling app on a free local port, with every request it answered recorded."""

    def __init__(self, app, guard) -> None:
        from labeling.serve import start_server

        self.requests: list[tuple[str, str, int]] = []
        inner = app.wsgi_app

        def recording(environ, start_response):
            def record(status, headers, exc_info=None):
                self.requests.append(
                    (environ["REQUEST_METHOD"], environ["PATH_INFO"], int(status[:3]))
                )
                return start_response(status, headers, exc_info)

            return inner(environ, record)

        app.wsgi_app = recording
        self.server = start_server(app, guard, "127.0.0.1", 0)
        self.url = f"http://127.0.0.1:{self.server.server_port}"

    def stop(self) -> None:
        self.server.shutdown()


@pytest.fixture
def serve_study(project: Path) -> Iterator:
    """Start a rater's (or the adjudicator's) app: ``serve_study("demo", "alice")``."""
    from labeling.adjudication import Adjudication
    from labeling.guard import RequestGuard
    from labeling.session import LabelingSession
    from labeling.suggestion_service import SuggestionService
    from labeling.webapp import create_app

    servers: list[LiveServer] = []

    def start(study: str, rater: str, adjudicate: list[str] | None = None, suggestions=None):
        book = load_codebook()
        loaded = load_study(study, book)
        session = LabelingSession(loaded, rater, book, project / "data")
        adjudication = Adjudication(loaded.path, adjudicate, book) if adjudicate else None
        service = SuggestionService(suggestions) if suggestions else None
        if service:
            service.request_retrain()
            assert service.ready.wait(60)
        guard = RequestGuard()
        live = LiveServer(create_app(session, guard, service, adjudication), guard)
        live.session, live.guard, live.suggestions = session, guard, service
        servers.append(live)
        return live

    yield start
    for live in servers:
        live.stop()
        if live.suggestions:
            live.suggestions.close()


@pytest.fixture(scope="session")
def chromium():
    """Debian's chromium, headless, driven by Playwright (its own browser download is not used)."""
    from playwright.sync_api import sync_playwright

    if not CHROMIUM.exists():
        pytest.fail(
            f"{CHROMIUM} is missing: run 'make test' (it installs Debian's chromium as root)"
        )
    os.environ.setdefault("PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD", "1")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def page(chromium):
    context = chromium.new_context()
    context.set_default_timeout(10_000)
    page = context.new_page()
    yield page
    context.close()


@pytest.fixture
def mounts() -> Iterator:
    """Real file systems for the disk-error tests: ``mounts.full(path)``, ``mounts.read_only``.

    Tests run as root (``make test``), so a size-limited tmpfs and a read-only bind mount are
    real; a test skips only when this machine cannot mount at all, and says so.
    """
    done: list[Path] = []

    def run(*args: str) -> None:
        result = subprocess.run(["mount", *args], capture_output=True, text=True)
        if result.returncode != 0:
            pytest.skip(f"cannot mount here ({result.stderr.strip() or result.returncode})")

    class Mounts:
        @staticmethod
        def small(path: Path, size: str = "256k") -> Path:
            """An empty tmpfs of ``size`` on ``path`` (its old content hidden until unmounted)."""
            path.mkdir(parents=True, exist_ok=True)
            run("-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(path))
            done.append(path)
            return path

        @staticmethod
        def fill(path: Path) -> Path:
            """Write a filler file in ``path`` until the file system is full; returns the filler."""
            filler = path / "filler.bin"
            with filler.open("wb", buffering=0) as handle:
                try:
                    while True:
                        handle.write(b"\0" * 4096)
                except OSError as exc:
                    assert exc.errno == errno.ENOSPC
            return filler

        @staticmethod
        def read_only(path: Path) -> Path:
            """``path`` bound onto itself read-only (writes fail with EROFS, even for root)."""
            run("--bind", str(path), str(path))
            done.append(path)
            run("-o", "remount,ro,bind", str(path))
            return path

    yield Mounts
    for path in reversed(done):
        subprocess.run(["umount", "-l", str(path)], check=False)
