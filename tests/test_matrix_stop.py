"""A matrix stopped with SIGTERM mid-unit: no process of it survives, the finished records are
intact, one line says how to resume, and the resume finishes the rest."""

import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest

from difftest.matrix.paths import find_path, make_path
from difftest.matrix.runner import read_results, results_path, run_matrix
from difftest.matrix.torch_archs import TINY

psutil = pytest.importorskip("psutil")
pytest.importorskip("onnxruntime")
pytest.importorskip("mlxtend")

TAG = "CONVFAIL_STOP_TEST_TAG"
PATHS = [
    make_path("torch", []),
    make_path("torch", ["torchscript-onnx"]),
    make_path("torch", ["dynamo-onnx"]),
    find_path("torch", "keras"),
]
RUN = (
    "import sys\n"
    "from convfail.errors import ConvfailError\n"
    "from difftest.matrix.paths import find_path, make_path\n"
    "from difftest.matrix.runner import run_matrix\n"
    "paths = [make_path('torch', []), make_path('torch', ['torchscript-onnx']),\n"
    "         make_path('torch', ['dynamo-onnx']), find_path('torch', 'keras')]\n"
    "try:\n"
    "    run_matrix('s', ['tiny'], images=8, paths=paths, log=lambda line: None)\n"
    "except ConvfailError as error:\n"
    "    print(f'convfail: error: {error}', file=sys.stderr)\n"
    "    sys.exit(error.exit_code)\n"
)


def _tagged(tag: str) -> list[int]:
    """Every live (not zombie) process that inherited the test's tag."""
    found = []
    for process in psutil.process_iter():
        try:
            if process.status() != psutil.STATUS_ZOMBIE and process.environ().get(TAG) == tag:
                found.append(process.pid)
        except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
            continue
    return found


def _running_unit(pid: int) -> bool:
    try:
        children = psutil.Process(pid).children(recursive=True)
    except psutil.NoSuchProcess:
        return False
    return any("difftest.matrix.worker" in " ".join(c.cmdline()) for c in children)


def test_sigterm_mid_unit_kills_every_unit_process_keeps_records_and_resumes(home: Path):
    tag = uuid.uuid4().hex
    matrix = subprocess.Popen(
        [sys.executable, "-c", RUN],
        env={**os.environ, TAG: tag},
        start_new_session=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    results = results_path("s")
    deadline = time.monotonic() + 300
    while not (results.exists() and results.read_text().strip() and _running_unit(matrix.pid)):
        assert matrix.poll() is None and time.monotonic() < deadline, "no second unit started"
        time.sleep(0.05)
    assert _tagged(tag), "the running unit should carry the tag"
    matrix.send_signal(signal.SIGTERM)
    _, stderr = matrix.communicate(timeout=120)

    assert matrix.returncode == 128 + signal.SIGTERM
    [line] = stderr.strip().splitlines()
    assert line.startswith("convfail: error: matrix 's' stopped by SIGTERM after ")
    assert "rerun `convfail difftest matrix s` with the same options to resume" in line
    gone_by = time.monotonic() + 30
    while _tagged(tag) and time.monotonic() < gone_by:
        time.sleep(0.2)
    assert _tagged(tag) == []
    kept = read_results("s")
    assert 1 <= len({r["unit"] for r in kept}) < len(PATHS)
    assert kept[0]["path"] == "(source)" and kept[0]["outcome"] == "success"
    assert not [r for r in kept if r["outcome"] in ("crash", "hang")]

    after = run_matrix("s", [TINY], images=8, paths=PATHS, log=lambda line: None)
    assert after[: len(kept)] == kept
    assert {r["unit"] for r in after} == {f"tiny|torch|{p.name}" for p in PATHS}
    assert len(after) == len({(r["unit"], r["runtime"]) for r in after})
