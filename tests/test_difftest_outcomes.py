"""Every outcome class, each produced by a real model built for it, run in its own process."""

import json

import pytest

from convfail.campaign_files import GRAPH_SCHEMA, OUTCOMES, RAN, read_graph
from convfail.verdicts import parse_policy, verdict
from difftest.isolation import run_isolated
from difftest.jobs import Job

pytest.importorskip("torch")
pytest.importorskip("onnxruntime")

TORCH_PROBES = {
    "ok-relu": "success",
    "source-shape-error": "source_failure",
    "export-fft": "conversion_failure",
    "ort-cumsum-int8": "ort_load_failure",
    "ort-frozen-reshape": "ort_inference_failure",
    "random-op": "mismatch",
    "matmul-rounding": "success",
    "nonfinite-sign": "nonfinite_mismatch",
    "native-segfault": "crash",
    "hang": "hang",
}
TF_PROBES = {
    "ok-relu": "success",
    "source-bool-sub": "source_failure",
    "ort-erfc": "ort_load_failure",
    "random-op": "mismatch",
}


def _job(tmp_path, source, name, framework, converter, **kw):
    return Job(
        campaign="t",
        model_id=f"{source}-{name}",
        source=source,
        name=name,
        framework=framework,
        converter=converter,
        onnx_dir=str(tmp_path / "onnx"),
        graph_dir=str(tmp_path / "graphs"),
        n_inputs=4,
        **kw,
    )


@pytest.mark.slow
def test_every_torch_outcome_from_its_probe(tmp_path):
    from difftest.torch_models import PROBES

    assert set(TORCH_PROBES) == set(PROBES)
    assert set(TORCH_PROBES.values()) == set(OUTCOMES)  # every class is covered
    for name, expected in TORCH_PROBES.items():
        job = _job(tmp_path, "probe", name, "torch", "torchscript")
        record = run_isolated(job, timeout_s=20 if name != "hang" else 4, memory_mb=4096)
        assert record["outcome"] == expected, (name, record["error"])
        if expected not in RAN:
            assert record["error"] and record["signature"].startswith(expected)
        json.dumps(record, allow_nan=False)
    crash = run_isolated(
        _job(tmp_path, "probe", "native-segfault", "torch", "torchscript"), timeout_s=20
    )
    assert crash["error_type"] == "SIGSEGV" and crash["stage"] == "source"


@pytest.mark.slow
def test_policies_tell_rounding_from_real_differences(tmp_path):
    rounding = run_isolated(
        _job(tmp_path, "probe", "matmul-rounding", "torch", "torchscript"), timeout_s=30
    )
    random_op = run_isolated(
        _job(tmp_path, "probe", "random-op", "torch", "torchscript"), timeout_s=30
    )
    judged = {
        name: (verdict(rounding, parse_policy(name)), verdict(random_op, parse_policy(name)))
        for name in ("default", "paper", "0,1e-7")
    }
    assert judged == {
        "default": ("success", "mismatch"),
        "paper": ("success", "mismatch"),
        "0,1e-7": ("mismatch", "mismatch"),
    }


@pytest.mark.slow
def test_graph_structure_file_of_a_converted_synthetic_model(tmp_path):
    job = _job(tmp_path, "synthetic", "conv2d", "torch", "torchscript", seed=11, nodes=20)
    record = run_isolated(job, timeout_s=60)
    assert record["outcome"] in ("success", "mismatch")
    graph = read_graph(tmp_path / record["graph_file"])  # the reader accepts what difftest wrote
    assert graph["schema"] == GRAPH_SCHEMA and graph["opset"] == 17
    assert len(graph["nodes"]) == record["onnx_nodes"] and "Conv" in graph["op_counts"]
    indices = {n["index"] for n in graph["nodes"]}
    assert graph["edges"] and all(
        a in indices and b in indices and a < b for a, b, _ in graph["edges"]
    )
    assert (tmp_path / "onnx" / "synthetic-conv2d--torchscript.onnx").is_file()


@pytest.mark.slow
def test_dynamo_exporter_converts_a_synthetic_model(tmp_path):
    pytest.importorskip("onnxscript")
    job = _job(tmp_path, "synthetic", "batch_norm", "torch", "dynamo", seed=5, nodes=15)
    record = run_isolated(job, timeout_s=120)
    assert record["outcome"] in ("success", "mismatch"), record["error"]
    assert record["tool"] == "torch.onnx"


@pytest.mark.slow
def test_tensorflow_outcomes_through_tf2onnx(tmp_path):
    pytest.importorskip("tensorflow")
    pytest.importorskip("tf2onnx")
    for name, expected in TF_PROBES.items():
        job = _job(tmp_path, "probe", name, "tensorflow", "tf2onnx")
        record = run_isolated(job, timeout_s=120, preload=("tensorflow",))
        assert record["outcome"] == expected, (name, record["error"])
    saved = run_isolated(
        _job(tmp_path, "synthetic", "linear", "tensorflow", "tf2onnx-savedmodel", seed=2, nodes=15),
        timeout_s=120,
        preload=("tensorflow",),
    )
    assert saved["outcome"] in ("success", "mismatch", "ort_load_failure"), saved["error"]
    assert saved["onnx_nodes"] > 0


@pytest.mark.slow
@pytest.mark.parametrize("name", ["resnet18-tiny", "text-encoder"])
def test_real_architectures_convert_and_compare(tmp_path, name):
    record = run_isolated(_job(tmp_path, "zoo", name, "torch", "torchscript"), timeout_s=120)
    assert record["outcome"] in ("success", "mismatch"), record["error"]
    assert verdict(record, parse_policy("paper")) == "success"  # same function up to rounding
