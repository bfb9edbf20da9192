"""The paper's case on the matrix's tiny model: Keras -> TFLite with dynamic-range int8 -> ONNX.
The difference is attributed to the TFLite hop, localized to the conv weights as intended int8
precision (per channel, 256 levels), and repaired by copying the source weights back."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
import pytest

from convfail.errors import ConvfailError
from difftest.localize.conversion_path import check_path, localize_path, predict, reused
from difftest.localize.repair import repair
from difftest.matrix.hops import HOPS, Artifact
from difftest.matrix.labels import top1_discrepancy_pct
from difftest.matrix.paths import make_path
from difftest.matrix.sources import source_artifact
from difftest.matrix.torch_archs import TINY, TINY_SIZE

pytest.importorskip("tensorflow")
pytest.importorskip("ai_edge_litert")
pytest.importorskip("tf2onnx")

IMAGES = np.random.default_rng(3).standard_normal((64, 3, TINY_SIZE, TINY_SIZE)).astype(np.float32)


@pytest.fixture(scope="module")
def keras_source() -> Artifact:
    return source_artifact(TINY, "keras")


@pytest.fixture(scope="module")
def int8_path(keras_source, tmp_path_factory):
    path = make_path("keras", ["tflite-dynamic-int8", "tflite-tf2onnx"])
    return check_path(path, keras_source, IMAGES, tmp_path_factory.mktemp("int8"))


@pytest.mark.slow
def test_the_tflite_hop_is_the_culprit_and_asked_for_int8(int8_path):
    culprit = int8_path.culprit
    assert culprit is not None and culprit.hop == "tflite-dynamic-int8"
    assert culprit.asked == "dynamic-int8" and culprit.observed["int8_tensors"] >= 1
    assert int8_path.intended == "int8"
    assert "starts at hop tflite-dynamic-int8" in int8_path.summary()


@pytest.mark.slow
def test_a_float32_tflite_hop_is_no_culprit(keras_source, tmp_path):
    check = check_path(make_path("keras", ["tflite-float32"]), keras_source, IMAGES, tmp_path)
    assert check.culprit is None and check.hops[0].agrees


@pytest.mark.slow
def test_int8_conv_weights_localized_as_intended_precision_and_copied_back(int8_path, tmp_path):
    source, loc = localize_path(int8_path)
    assert not loc.agrees
    (first,) = loc.divergences
    assert first.op_type == "Conv" and first.cause == "precision (intended)"
    (finding,) = [p for p in loc.parameters if p.kind == "precision"]
    assert finding.intended and finding.detail == "int8"
    q = finding.quantization
    assert q["via"] == "DequantizeLinear" and q["granularity"] == "per-channel"
    assert q["levels"] == 256 and q["scales"] == 32  # the 3x3 conv with 32 output channels
    assert "256 levels" in first.detail and "32 scales" in first.detail

    fixed = repair(source, loc, held_out=source.make_inputs(7, 2))
    assert fixed.agrees_after and fixed.held_out_agrees
    assert [s.stage for s in fixed.steps] == ["precision"]
    assert "DequantizeLinear" not in {n.op_type for n in fixed.model.graph.node}
    onnx.save(fixed.model, tmp_path / "repaired.onnx")
    repaired = Artifact("onnx", "nhwc", path=Path(tmp_path / "repaired.onnx"), size=TINY_SIZE)
    logits = predict(repaired, IMAGES)
    assert top1_discrepancy_pct(int8_path.reference, logits) == 0.0
    before = np.abs(predict(int8_path.artifacts[-1], IMAGES) - int8_path.reference).max()
    assert np.abs(logits - int8_path.reference).max() < before / 100


def test_cli_path_errors_are_one_line(capsys):
    from convfail.cli import main

    for hops, message in [
        ("tf2onnx-onnx,tflite-tf2onnx", "converts from tflite, but the path is at onnx"),
        ("tflite-int4", "unknown hop 'tflite-int4'"),
    ]:
        with pytest.raises(SystemExit):
            main(["difftest", "localize-path", "--hops", hops])
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and message in err[0]


@pytest.mark.parametrize(
    ("hop", "suffix"), [("tflite-dynamic-int8", ".tflite"), ("tflite-tf2onnx", ".onnx")]
)
def test_a_torn_file_of_an_earlier_run_is_refused_in_one_line(tmp_path, hop, suffix):
    (tmp_path / f"{hop}{suffix}").write_bytes(b"not a model")
    with pytest.raises(ConvfailError, match=f"{hop}{suffix}: not a readable {suffix} file"):
        reused(HOPS[hop], Artifact("keras", "nhwc"), tmp_path)
    assert reused(HOPS[hop], Artifact("keras", "nhwc"), tmp_path / "empty") is None
