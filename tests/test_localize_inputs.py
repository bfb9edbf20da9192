"""What ``localize`` and ``repair`` are given: refused in one line when it cannot be localized
(a crash or hang record, a damaged ONNX file, an unimportable or unreadable source), and a
Keras ``model.export`` SavedModel localized and re-converted like any source."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import onnx
import pytest
from onnx import numpy_helper

from difftest.campaign import CampaignConfig, run_campaign

pytest.importorskip("torch")


def _project(tmp_path, monkeypatch):
    (tmp_path / "data").mkdir(exist_ok=True)
    (tmp_path / "pyproject.toml").write_text("")
    monkeypatch.setenv("CONVFAIL_HOME", str(tmp_path))
    return {**os.environ, "CONVFAIL_HOME": str(tmp_path)}


def _convfail(env, *args, cwd=None, timeout=120):
    return subprocess.run(
        [sys.executable, "-m", "convfail.cli", "difftest", *args],
        env=env,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def _one_line_error(out, *words):
    assert out.returncode != 0, out.stdout
    assert len(out.stderr.splitlines()) == 1, out.stderr
    for word in words:
        assert word in out.stderr


@pytest.mark.slow
def test_localize_and_repair_refuse_the_segfault_and_hang_probes_in_one_line(tmp_path, monkeypatch):
    env = _project(tmp_path, monkeypatch)
    config = CampaignConfig(
        name="probes",
        source="probe",
        models=["native-segfault", "hang"],
        timeout_s=5,
        n_inputs=2,
    )
    counts = run_campaign(config, workers=2, progress=False)
    assert counts == {"crash": 1, "hang": 1}
    for command in ("localize", "repair"):
        for key, outcome in (
            ("probe-native-segfault/torchscript", "crash"),
            ("probe-hang/torchscript", "hang"),
        ):
            out = _convfail(env, command, "--campaign", "probes", "--key", key, timeout=60)
            _one_line_error(out, f"is a {outcome}", "no outputs to compare", "--outcome mismatch")


def _tiny_torch(tmp_path):
    """A module whose class lives in a file of its own, saved whole, and its ONNX export."""
    import torch

    (tmp_path / "mymodels.py").write_text(
        textwrap.dedent(
            """
            import torch

            class Tiny(torch.nn.Module):
                def __init__(self):
                    super().__init__()
                    self.fc = torch.nn.Linear(4, 3)

                def forward(self, x):
                    return torch.relu(self.fc(x))
            """
        )
    )
    sys.path.insert(0, str(tmp_path))
    try:
        import mymodels

        module = mymodels.Tiny().eval()
        torch.save(module, tmp_path / "tiny.pt")
        torch.onnx.export(module, (torch.zeros(2, 4),), tmp_path / "tiny.onnx", dynamo=False)
    finally:
        sys.path.remove(str(tmp_path))
        sys.modules.pop("mymodels", None)
    return tmp_path / "tiny.pt", tmp_path / "tiny.onnx"


def test_damaged_onnx_and_unimportable_source_are_one_line_each(tmp_path, monkeypatch):
    env = _project(tmp_path, monkeypatch)
    source, model = _tiny_torch(tmp_path)
    good = _convfail(env, "localize", "--source", str(source), "--onnx", str(model), cwd=tmp_path)
    assert good.returncode == 0, good.stderr
    assert "success under policy default" in good.stdout

    damaged = tmp_path / "damaged.onnx"
    damaged.write_bytes(model.read_bytes()[: model.stat().st_size // 3] + b"\xff" * 64)
    out = _convfail(env, "localize", "--source", str(source), "--onnx", str(damaged), cwd=tmp_path)
    _one_line_error(out, "not a readable ONNX model", str(damaged))

    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    out = _convfail(env, "localize", "--source", str(source), "--onnx", str(model), cwd=elsewhere)
    _one_line_error(out, "cannot be imported", "mymodels")

    junk = tmp_path / "junk.pt"
    junk.write_bytes(b"not a pickle at all")
    out = _convfail(env, "repair", "--source", str(junk), "--onnx", str(model), cwd=tmp_path)
    _one_line_error(out, "not a torch.save file")


@pytest.mark.slow
def test_an_unreadable_savedmodel_is_one_line(tmp_path, monkeypatch):
    pytest.importorskip("tensorflow")
    env = _project(tmp_path, monkeypatch)
    _, model = _tiny_torch(tmp_path)
    empty = tmp_path / "not-a-savedmodel"
    empty.mkdir()
    out = _convfail(env, "localize", "--source", str(empty), "--onnx", str(model), timeout=300)
    _one_line_error(out, "not a readable SavedModel")


@pytest.mark.slow
def test_a_keras_export_savedmodel_localizes_and_reconverts(tmp_path):
    pytest.importorskip("tensorflow")
    pytest.importorskip("tf2onnx")
    import keras
    import tf2onnx

    from difftest.localize.runs import CaseRequest, localize_and_report

    keras.utils.set_random_seed(0)
    inputs = keras.Input((8,), name="features")
    hidden = keras.layers.Dense(16, activation="relu")(inputs)
    keras.Model(inputs, keras.layers.Dense(4)(hidden)).export(str(tmp_path / "saved"))
    graph, names, outputs = tf2onnx.tf_loader.from_saved_model(str(tmp_path / "saved"), None, None)
    proto, _ = tf2onnx.convert.from_graph_def(
        graph, input_names=names, output_names=outputs, opset=17
    )
    # a converter fault: one column of the output layer's kernel changed, which moves output 0
    # whatever the inputs, so the settings stage re-converts the SavedModel
    weight = next(t for t in proto.graph.initializer if list(t.dims) == [16, 4])
    array = numpy_helper.to_array(weight).copy()
    array[:, 0] += 1.0
    weight.CopyFrom(numpy_helper.from_array(array, weight.name))
    onnx.save(proto, tmp_path / "faulty.onnx")

    request = CaseRequest(
        campaign=None,
        key=None,
        source_path=tmp_path / "saved",
        onnx_path=tmp_path / "faulty.onnx",
        inputs_npz=None,
        n_inputs=2,
        precision="float32",
        rtol=None,
        policy=None,
        out=tmp_path / "report",
        budget_mb=256.0,
    )
    run = localize_and_report(request, settings=True)
    report = run.report
    assert report["verdict"]["outcome"] == "mismatch" and not report["agrees"]
    assert report["first_divergent"] and report["first_divergent"][0]["cause"] == "parameter"
    reconverted: dict[str, set[str]] = {}
    for result in report["settings"]:
        reconverted.setdefault(result["settings"]["exporter"], set()).add(result["outcome"])
    assert reconverted == {"tf2onnx": {"agrees"}, "tf2onnx-savedmodel": {"agrees"}}
