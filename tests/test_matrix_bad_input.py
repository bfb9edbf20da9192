"""Bad input of the matrix that the runner tests do not cover: a cached model file in another
format, and a runtime missing from the environment. Each is one line saying what to do, kept as
a record, and what ran before it is kept."""

import json
from pathlib import Path

import numpy as np
import pytest

from convfail.errors import ConvfailError
from difftest.matrix import runtimes
from difftest.matrix.mirror_cache import cached_mirror, mirror_file
from difftest.matrix.paths import make_path
from difftest.matrix.runner import read_results, run_matrix
from difftest.matrix.torch_archs import TINY
from difftest.matrix.training import card_path, weights_path
from difftest.matrix.unit import run_unit

pytest.importorskip("onnxruntime")
pytest.importorskip("mlxtend")


def _garbage_weights(model: str) -> Path:
    weights_path(model).parent.mkdir(parents=True, exist_ok=True)
    weights_path(model).write_text("not a state dict\n")
    card_path(model).write_text(json.dumps({"model": model}))
    return weights_path(model)


def test_a_weights_file_in_another_format_is_a_source_failure_naming_the_fix(home: Path):
    _garbage_weights("mobilenet_v2")
    paths = [make_path("torch", []), make_path("torch", ["torchscript-onnx"])]
    records = run_matrix("b", ["mobilenet_v2"], images=4, paths=paths, log=lambda line: None)
    assert [r["outcome"] for r in records] == ["source_failure", "source_failure"]
    for record in records:
        assert "not a PyTorch state dict of mobilenet_v2" in record["error"]
        assert "run `convfail difftest matrix-train --model mobilenet_v2`" in record["error"]
        assert "\n" not in record["error"]
    assert read_results("b") == records


def test_a_keras_mirror_in_another_format_is_one_line_naming_the_fix(home: Path):
    pytest.importorskip("keras")
    weights = _garbage_weights("mobilenet_v2")
    mirror = mirror_file("mobilenet_v2", weights)
    mirror.parent.mkdir(parents=True)
    mirror.write_text("not a keras archive\n")
    mirror.with_suffix(".json").write_text(json.dumps({"mirror_max_abs_diff": 0.0}))
    with pytest.raises(ConvfailError, match="not a readable Keras mirror") as error:
        cached_mirror("mobilenet_v2", weights, lambda: None, 32)
    assert "delete it and its .json" in str(error.value) and "\n" not in str(error.value)


def test_a_runtime_missing_from_the_environment_is_a_record_after_the_hops_ran(
    home: Path, monkeypatch: pytest.MonkeyPatch
):
    images = np.random.default_rng(0).standard_normal((4, 3, 16, 16)).astype(np.float32)
    reference, work = home / "logits.npy", home / "work"
    work.mkdir()
    [source] = run_unit(TINY, make_path("torch", []), images, work, reference)
    assert source["outcome"] == "success"
    absent = runtimes.OnnxRuntime("onnxruntime", "onnx", ("no_such_runtime_module",))
    monkeypatch.setitem(runtimes.RUNTIMES, "onnxruntime", absent)
    onnx = run_unit(TINY, make_path("torch", ["torchscript-onnx"]), images, work, reference)
    ort = next(r for r in onnx if r["runtime"] == "onnxruntime")
    assert ort["outcome"] == "runtime_missing"
    assert ort["error"] == (
        "runtime onnxruntime is not installed (no_such_runtime_module: install the matrix extra)"
    )
    assert ort["hops"][0]["outcome"] == "success"
