"""The matrix runner on the tiny model: isolated units, a resume after a real kill, and bad
input that gets one line and loses nothing."""

import importlib.util
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from convfail.errors import ConvfailError
from difftest.matrix.images import check_images
from difftest.matrix.paths import find_path, make_path
from difftest.matrix.runner import read_results, results_path, run_matrix, unit_interpreter
from difftest.matrix.torch_archs import TINY

pytest.importorskip("onnxruntime")
pytest.importorskip("mlxtend")

PATHS = [
    make_path("torch", []),
    make_path("torch", ["torchscript-onnx"]),
    find_path("torch", "keras"),
]
RUN = (
    "from difftest.matrix.paths import find_path, make_path\n"
    "from difftest.matrix.runner import run_matrix\n"
    "paths = [make_path('torch', []), make_path('torch', ['torchscript-onnx']),\n"
    "         find_path('torch', 'keras')]\n"
    "run_matrix('t', ['tiny'], images=8, paths=paths)\n"
)


def test_the_matrix_resumes_after_a_kill_without_redoing_or_losing_a_unit(home: Path):
    child = subprocess.Popen(
        [sys.executable, "-c", RUN],
        start_new_session=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    results = results_path("t")
    deadline = time.monotonic() + 300
    while not (results.exists() and results.read_text().strip()):
        assert child.poll() is None and time.monotonic() < deadline, "first unit never ended"
        time.sleep(0.2)
    os.killpg(child.pid, signal.SIGKILL)
    child.wait()
    before = read_results("t")
    assert before[0]["path"] == "(source)" and before[0]["outcome"] == "success"

    after = run_matrix("t", [TINY], images=8, paths=PATHS, log=lambda line: None)
    units = [r["unit"] for r in after]
    assert after[: len(before)] == before
    assert sorted({u: None for u in units}) == sorted({f"tiny|torch|{p.name}" for p in PATHS})
    assert len(units) == len(set(zip(units, [r["runtime"] for r in after], strict=True)))
    ort = next(r for r in after if r["runtime"] == "onnxruntime")
    assert ort["images"] == 8 and ort["top1_discrepancy_pct"] == 0.0
    assert ort["hops"][0]["hop"] == "torchscript-onnx"
    nothing = next(r for r in after if r["target"] == "keras")
    assert nothing["outcome"] == "no_converter"


def test_a_resume_with_other_settings_is_refused_and_keeps_the_results(home: Path):
    run_matrix("t", [TINY], images=4, paths=PATHS[:1], log=lambda line: None)
    kept = results_path("t").read_text()
    with pytest.raises(ConvfailError, match="other settings"):
        run_matrix("t", [TINY], images=5, paths=PATHS[:1], log=lambda line: None)
    assert results_path("t").read_text() == kept


def _matrix_cli_error(*args: str) -> str:
    """The one line `convfail difftest matrix ARGS` fails with (it must fail, in one line)."""
    convfail = Path(sys.executable).parent / "convfail"
    result = subprocess.run(
        [convfail, "difftest", "matrix", *args], capture_output=True, text=True, check=False
    )
    assert result.returncode != 0
    [line] = result.stderr.strip().splitlines()
    return line


def test_bad_input_gets_one_line_each(home: Path):
    with pytest.raises(ConvfailError, match="converts from tflite, but the path is at torch"):
        make_path("torch", ["tflite-tf2onnx"])
    with pytest.raises(ConvfailError, match="unknown hop"):
        make_path("keras", ["keras2onnx"])
    with pytest.raises(ConvfailError, match="no conversion path from keras to coreml"):
        find_path("keras", "coreml")
    with pytest.raises(ConvfailError, match=r"the model reads \(N, 3, 16, 16\)"):
        check_images(np.zeros((2, 16, 16, 3), np.float32), 16)
    line = _matrix_cli_error("m", "--images", "0")
    assert line.startswith("convfail: error: 0 images asked for")
    assert not results_path("m").exists()


def test_the_cli_refuses_an_untrained_model_in_one_line(home: Path):
    line = _matrix_cli_error("u", "--model", "mobilenet_v2", "--images", "4")
    assert line.startswith("convfail: error: no trained weights for mobilenet_v2")
    assert "convfail difftest matrix-train --model mobilenet_v2" in line
    assert not results_path("u").exists()


def test_a_model_without_trained_weights_is_a_source_failure_record(home: Path):
    [record] = run_matrix("w", ["mobilenet_v2"], images=4, paths=PATHS[:1], log=lambda line: None)
    assert record["outcome"] == "source_failure"
    assert "matrix-train" in record["error"]
    assert json.loads(results_path("w").read_text())["unit"] == record["unit"]


def test_two_workers_give_every_unit_once_and_tvm_reads_its_capped_images(home: Path):
    """TVM is an optional extra (`make matrix-envs`): without it the record says so."""
    records = run_matrix(
        "c", [TINY], images=8, paths=PATHS, workers=2, tvm_images=3, log=lambda line: None
    )
    assert sorted(r["unit"] for r in records if r["runtime"] != "tvm") == sorted(
        f"tiny|torch|{p.name}" for p in PATHS
    )
    by_runtime = {r["runtime"]: r for r in records}
    assert by_runtime["onnxruntime"]["images"] == 8
    tvm = by_runtime["tvm"]
    if importlib.util.find_spec("tvm") is None:
        assert tvm["outcome"] == "runtime_missing" and "matrix-envs" in tvm["error"]
    else:
        assert tvm["images"] == 3 and tvm["top1_discrepancy_pct"] == 0.0


def test_a_hop_with_an_environment_of_its_own_runs_with_that_interpreter(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    litert = make_path("torch", ["litert-torch"])
    monkeypatch.setattr(sys, "prefix", str(tmp_path))
    assert unit_interpreter(litert) == sys.executable
    python = tmp_path / "litert-torch" / "bin" / "python"
    python.parent.mkdir(parents=True)
    python.touch()
    assert unit_interpreter(litert) == str(python)
    assert unit_interpreter(PATHS[1]) == sys.executable


def test_litert_torch_converts_in_its_environment_or_is_recorded_missing(home: Path):
    paths = [make_path("torch", []), make_path("torch", ["litert-torch"])]
    records = run_matrix("l", [TINY], images=8, paths=paths, log=lambda line: None)
    [record] = [r for r in records if r["path"] == "litert-torch"]
    python = unit_interpreter(paths[1])
    probe = "import importlib.util, sys; sys.exit(importlib.util.find_spec('litert_torch') is None)"
    if subprocess.run([python, "-c", probe], check=False).returncode != 0:
        assert record["outcome"] == "converter_missing"
        assert "make matrix-envs" in record["error"]
    else:
        assert record["runtime"] == "litert" and record["images"] == 8
        assert record["top1_discrepancy_pct"] == 0.0 and record["max_abs_diff"] < 1e-4
        assert record["hops"][0]["tool"] == "litert-torch"


def test_a_unit_over_its_memory_cap_is_a_crash_record_naming_its_stage(home: Path):
    [record] = run_matrix(
        "m", [TINY], images=4, paths=PATHS[:1], memory_mb=300, log=lambda line: None
    )
    assert record["outcome"] == "crash"
    assert "without a result (stage" in record["error"]
    assert read_results("m") == [record]
