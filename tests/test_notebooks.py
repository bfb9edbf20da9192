"""Every notebook runs top to bottom on the shipped data and shows what it promises.

Notebooks only call analysis functions, so a notebook that runs is a cheap end-to-end check of
those functions as a reader meets them. Each notebook must be listed in ``EXPECTED`` with text
its outputs must contain, so a new notebook cannot slip in untested.
"""

from __future__ import annotations

from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

NOTEBOOK_DIR = Path(__file__).resolve().parent.parent / "notebooks"
NOTEBOOKS = sorted(NOTEBOOK_DIR.glob("*.ipynb"))

EXPECTED = {
    "extend_dataset": ["4 issue(s) in", "4 adjudicated labels", "with 'issta24'"],
    "failures": ["200 labelled issues", "node_conversion", "0.9031"],
    "survey": ["92 responses", "explained"],
    "sequences": ["models_sharing_unseen", "operators:"],
    "evolution": [
        "view=paper, kind=operator, opset=total, change=added 149 149 match",
        "8 of 200 sampled failures have no creation date",
    ],
}


def run_notebook(path: Path) -> list[dict]:
    """Execute a notebook in its folder; return every output of every code cell."""
    notebook = nbformat.read(path, as_version=4)
    NotebookClient(
        notebook,
        timeout=600,
        kernel_name="python3",
        resources={"metadata": {"path": str(path.parent)}},
    ).execute()
    return [
        o for cell in notebook.cells if cell.cell_type == "code" for o in cell.get("outputs", [])
    ]


def output_text(outputs: list[dict]) -> str:
    return "".join(
        str(o.get("text", "")) + str(o.get("data", {}).get("text/plain", "")) for o in outputs
    )


def test_every_notebook_has_expectations():
    assert sorted(EXPECTED) == sorted(p.stem for p in NOTEBOOKS)


@pytest.mark.notebook
@pytest.mark.slow
@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_notebook_executes(path: Path):
    outputs = run_notebook(path)
    assert not [o for o in outputs if o.get("output_type") == "error"]
    assert any("image/png" in o.get("data", {}) for o in outputs), "a notebook should show a figure"
    text = output_text(outputs)
    for expected in EXPECTED[path.stem]:
        assert expected in text, expected
