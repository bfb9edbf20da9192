"""Each hop of the matrix on the tiny model, in seconds: the converted model must give the
source's logits back in its runtime, and a chained path is recorded hop by hop."""

from pathlib import Path

import numpy as np
import pytest

from difftest.matrix.hops import DYNAMIC_INT8, HOPS, Artifact
from difftest.matrix.paths import find_path, make_path
from difftest.matrix.runtimes import RUNTIMES
from difftest.matrix.sources import source_artifact
from difftest.matrix.torch_archs import TINY, TINY_SIZE, import_torchvision
from difftest.matrix.unit import run_unit

pytest.importorskip("tensorflow")
pytest.importorskip("ai_edge_litert")
import_torchvision()  # before onnx2torch: the CUDA-only registrations must be left out first
pytest.importorskip("onnx2torch")

IMAGES = np.random.default_rng(1).standard_normal((12, 3, TINY_SIZE, TINY_SIZE)).astype(np.float32)


@pytest.fixture(scope="module")
def torch_source() -> Artifact:
    return source_artifact(TINY, "torch")


@pytest.fixture(scope="module")
def keras_source() -> Artifact:
    return source_artifact(TINY, "keras")


@pytest.fixture(scope="module")
def reference(torch_source) -> np.ndarray:
    return RUNTIMES["torch"].predict(torch_source, IMAGES)


def _run(artifact: Artifact) -> np.ndarray:
    runtime = {"onnx": "onnxruntime", "tflite": "litert"}.get(
        artifact.framework, artifact.framework
    )
    return RUNTIMES[runtime].predict(artifact, IMAGES)


def test_the_keras_mirror_computes_what_torch_computes(keras_source, reference):
    assert np.abs(_run(keras_source) - reference).max() < 1e-5


@pytest.mark.parametrize("hop", ["torchscript-onnx", "dynamo-onnx"])
def test_torch_exporters_through_the_converter_interface(
    hop, torch_source, reference, tmp_path: Path
):
    out = HOPS[hop].convert(torch_source, tmp_path)
    assert out.framework == "onnx" and out.layout == "nchw"
    assert np.abs(_run(out) - reference).max() < 1e-5


@pytest.mark.parametrize("hop", ["tf2onnx-onnx", "tflite-float32"])
def test_keras_hops_keep_float32_logits(hop, keras_source, reference, tmp_path: Path):
    out = HOPS[hop].convert(keras_source, tmp_path)
    assert out.layout == "nhwc"
    assert np.abs(_run(out) - reference).max() < 1e-5


def test_an_intended_int8_conversion_is_reported_as_intended_and_as_observed(
    keras_source, reference, tmp_path: Path
):
    hop = HOPS["tflite-dynamic-int8"]
    out = hop.convert(keras_source, tmp_path)
    assert hop.precision == DYNAMIC_INT8
    # only the 3x3 conv of 4,608 weights crosses TF's 1,024-element threshold
    assert out.info["int8_tensors"] >= 1
    diff = np.abs(_run(out) - reference).max()
    assert 0 < diff < 0.1


def test_tflite_to_onnx_and_onnx_to_torch(keras_source, torch_source, reference, tmp_path: Path):
    tflite = HOPS["tflite-float32"].convert(keras_source, tmp_path)
    onnx_file = HOPS["tflite-tf2onnx"].convert(tflite, tmp_path)
    assert np.abs(_run(onnx_file) - reference).max() < 1e-5
    exported = HOPS["torchscript-onnx"].convert(torch_source, tmp_path)
    back = HOPS["onnx2torch"].convert(exported, tmp_path)
    assert back.framework == "torch"
    assert np.abs(_run(back) - reference).max() < 1e-5


def test_a_chained_path_is_recorded_hop_by_hop(tmp_path: Path):
    reference = tmp_path / "logits.npy"
    source = run_unit(TINY, make_path("keras", []), IMAGES, tmp_path, reference)
    assert source[0]["outcome"] == "success" and reference.exists()
    assert source[0]["mirror_max_abs_diff"] < 1e-5
    path = make_path("keras", ["tflite-dynamic-int8", "tflite-tf2onnx"])
    records = run_unit(TINY, path, IMAGES, tmp_path, reference)
    by_runtime = {r["runtime"]: r for r in records}
    assert set(by_runtime) == {"onnxruntime", "tvm"}
    ort = by_runtime["onnxruntime"]
    assert ort["path"] == "tflite-dynamic-int8 > tflite-tf2onnx"
    assert [h["hop"] for h in ort["hops"]] == ["tflite-dynamic-int8", "tflite-tf2onnx"]
    assert [h["to"] for h in ort["hops"]] == ["tflite", "onnx"]
    assert ort["hops"][0]["int8_tensors"] >= 1
    assert ort["precision"] == DYNAMIC_INT8
    assert ort["images"] == len(IMAGES) and ort["top5_tau_mean"] is not None


def test_a_path_with_no_converter_is_data_with_its_reason(tmp_path: Path):
    path = find_path("torch", "keras")
    [record] = run_unit(TINY, path, IMAGES, tmp_path, tmp_path / "none.npy")
    assert record["outcome"] == "no_converter"
    assert "Keras 2" in record["error"] and record["signature"]


def test_a_runtime_missing_from_the_environment_is_data(monkeypatch, tmp_path: Path):
    from difftest.matrix import runtimes, unit

    absent = runtimes.OnnxRuntime("absent-rt", "onnx", ("no_such_runtime_module",))
    monkeypatch.setattr(unit, "runtimes_for", lambda framework: [absent])
    reference = tmp_path / "logits.npy"
    np.save(reference, np.zeros((len(IMAGES), 10), np.float32))
    [record] = run_unit(TINY, make_path("torch", ["torchscript-onnx"]), IMAGES, tmp_path, reference)
    assert record["outcome"] == "runtime_missing"
    assert "no_such_runtime_module" in record["error"]
    assert record["hops"][0]["outcome"] == "success"
