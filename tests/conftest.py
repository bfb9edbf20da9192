"""Shared fixtures: the real project, and throw-away copies of it for tests that write."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from convfail.paths import project_root, shared_reference_dir

ROOT = project_root()


@pytest.fixture(scope="session")
def artifact() -> Path:
    path = shared_reference_dir() / "issta24-artifact"
    if not path.is_dir():
        pytest.fail(f"the published artifact is expected at {path} (shared/ beside the checkout)")
    return path


@pytest.fixture
def project_copy(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A copy of the project's data/ in a temporary root, used as CONVFAIL_HOME."""
    reference = shared_reference_dir()
    home = tmp_path / "project"
    shutil.copytree(ROOT / "data", home / "data")
    (home / "pyproject.toml").write_text("", encoding="utf-8")
    monkeypatch.setenv("CONVFAIL_HOME", str(home))
    monkeypatch.setenv("CONVFAIL_REFERENCE", str(reference))
    return home


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty project root (a data/ folder and a pyproject.toml) used as CONVFAIL_HOME."""
    (tmp_path / "data").mkdir()
    (tmp_path / "pyproject.toml").write_text("")
    monkeypatch.setenv("CONVFAIL_HOME", str(tmp_path))
    return tmp_path


@pytest.fixture(scope="session")
def localized_export():
    """The planted-fault tests' common start: ``build(source)`` exports a localize test source
    with the TorchScript exporter and localizes the healthy export on seeded inputs, giving
    (source, model, inputs, healthy). Each test plants its fault in a copy of ``model``."""

    def build(source):
        # localize_models imports torch, heavy and not needed by the other tests
        from localize_models import export, samples

        from difftest.localize.pipeline import localize

        model = export(source)
        inputs = samples(source)
        return source, model, inputs, localize(source, model, inputs)

    return build
