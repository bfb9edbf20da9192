"""The RQ3 notebook runs top to bottom on the shipped data."""

from __future__ import annotations

import nbformat
import pytest
from nbclient import NotebookClient

from convfail.paths import project_root


@pytest.mark.notebook
@pytest.mark.slow
def test_rq3_notebook_executes():
    root = project_root()
    notebook = nbformat.read(root / "notebooks" / "rq3_onnx_evolution.ipynb", as_version=4)
    NotebookClient(
        notebook, timeout=300, kernel_name="python3", resources={"metadata": {"path": str(root)}}
    ).execute()
    outputs = "".join(
        o.get("text", "")
        for cell in notebook.cells
        if cell.cell_type == "code"
        for o in cell.get("outputs", [])
    )
    assert "view=paper, kind=operator, opset=total, change=added 149 149 match" in outputs
    assert "8 of 200 sampled failures have no creation date" in outputs
