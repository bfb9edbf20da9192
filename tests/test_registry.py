"""The artifact registry: its list of modules matches what they register, and building one
artifact imports only its own theme (no statsmodels, sklearn or scipy.stats for Table 8)."""

from __future__ import annotations

import subprocess
import sys

from analysis.registry import ARTIFACT_MODULES, REGISTRY, artifact_ids, artifacts, build_artifact


def test_the_module_list_names_exactly_what_each_module_registers():
    everything = artifacts()
    assert [a.id for a in everything] == artifact_ids()
    for module, ids in ARTIFACT_MODULES.items():
        registered = sorted(a.id for a in everything if a.build.__module__ == module)
        assert registered == sorted(ids), module


def test_build_artifact_builds_by_id():
    result = build_artifact("table08_locations")
    assert result.table is not None and result.checks
    assert REGISTRY["table08_locations"].needs == ("location",)


def test_one_artifact_imports_only_its_theme():
    probe = (
        "import sys\n"
        "from analysis.cli import _select\n"
        "_select(('table08_locations',), False)\n"
        "heavy = [m for m in ('sklearn', 'statsmodels', 'scipy.stats', 'onnx',\n"
        "         'analysis.survey.artifacts', 'analysis.evolution.artifacts',\n"
        "         'analysis.sequences.artifacts', 'analysis.outcomes.artifacts')\n"
        "         if m in sys.modules]\n"
        "print(','.join(heavy))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True, timeout=120
    )
    assert done.stdout.strip() == ""
