"""The Theme 1 notebook runs top to bottom on the imported survey."""

from __future__ import annotations

import nbformat
import pytest
from nbclient import NotebookClient

from convfail.paths import project_root

NOTEBOOK = project_root() / "notebooks" / "theme1_survey.ipynb"


@pytest.mark.notebook
@pytest.mark.slow
def test_theme1_notebook_executes():
    notebook = nbformat.read(NOTEBOOK, as_version=4)
    NotebookClient(
        notebook,
        timeout=300,
        kernel_name="python3",
        resources={"metadata": {"path": str(NOTEBOOK.parent)}},
    ).execute()
    outputs = [
        o for cell in notebook.cells if cell.cell_type == "code" for o in cell.get("outputs", [])
    ]
    assert not [o for o in outputs if o.get("output_type") == "error"]
    text = "".join(
        str(o.get("data", {}).get("text/plain", "")) + str(o.get("text", "")) for o in outputs
    )
    assert "92 responses" in text
    assert "explained" in text and "mismatch" not in text.split("Summary")[-1]
    assert any("image/png" in o.get("data", {}) for o in outputs)
