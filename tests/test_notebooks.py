"""Every notebook runs top to bottom on the shipped data, tells its story, and renders to HTML.

Notebooks call the registry's artifact functions, so a notebook that runs is a cheap end-to-end
check of those functions as a reader meets them. Each notebook must be listed in ``EXPECTED``
with text its outputs must contain, so a new notebook cannot slip in untested; each must state
its question, method, result and caveats; and the executed notebook must render to HTML with its
figures, as ``make reproduce`` renders them into ``paper_figures/notebooks/``.
"""

from __future__ import annotations

from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient
from nbconvert import HTMLExporter

NOTEBOOK_DIR = Path(__file__).resolve().parent.parent / "notebooks"
NOTEBOOKS = sorted(NOTEBOOK_DIR.glob("*.ipynb"))
# Notebooks that walk through commands rather than a theme's artifacts.
WALKTHROUGHS = {"extend_dataset"}
STORY = ("**Question", "**Method", "## Result", "## Caveats")

EXPECTED = {
    "extend_dataset": ["4 issue(s) in", "4 adjudicated labels", "with 'issta24'"],
    "failures": ["200 labelled issues", "labels/primary.csv", "node_conversion", "0.9031"],
    "survey": ["92 responses", "explained", "rest_after_onnx_and_other_users"],
    "sequences": ["models_sharing_unseen", "operators:"],
    "evolution": ["window=paper", "fig6_failures_over_time_full"],
}


def run_notebook(path: Path) -> nbformat.NotebookNode:
    """Execute a notebook in its folder; return the executed notebook."""
    notebook = nbformat.read(path, as_version=4)
    NotebookClient(
        notebook,
        timeout=600,
        kernel_name="python3",
        resources={"metadata": {"path": str(path.parent)}},
    ).execute()
    return notebook


def outputs_of(notebook: nbformat.NotebookNode) -> list[dict]:
    return [
        o for cell in notebook.cells if cell.cell_type == "code" for o in cell.get("outputs", [])
    ]


def output_text(outputs: list[dict]) -> str:
    return "".join(
        str(o.get("text", "")) + str(o.get("data", {}).get("text/plain", "")) for o in outputs
    )


def test_every_notebook_has_expectations():
    assert sorted(EXPECTED) == sorted(p.stem for p in NOTEBOOKS)


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_every_notebook_tells_its_story(path: Path):
    notebook = nbformat.read(path, as_version=4)
    text = "\n".join(c.source for c in notebook.cells if c.cell_type == "markdown")
    missing = [part for part in STORY if part not in text]
    assert not missing, f"{path.name} lacks {missing}"
    calls = "\n".join(c.source for c in notebook.cells if c.cell_type == "code")
    if path.stem not in WALKTHROUGHS:
        assert "build_artifact(" in calls, "a theme notebook tells its story around the registry"


@pytest.mark.notebook
@pytest.mark.slow
@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_notebook_executes_and_renders(path: Path, tmp_path: Path):
    notebook = run_notebook(path)
    outputs = outputs_of(notebook)
    assert not [o for o in outputs if o.get("output_type") == "error"]
    assert any("image/png" in o.get("data", {}) for o in outputs), "a notebook should show a figure"
    text = output_text(outputs)
    for expected in EXPECTED[path.stem]:
        assert expected in text, expected
    html, _ = HTMLExporter().from_notebook_node(notebook)
    assert "<img" in html and "Caveats" in html
    (tmp_path / f"{path.stem}.html").write_text(html, encoding="utf-8")
