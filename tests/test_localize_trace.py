"""The eager source trace records what the export trace did, and a localization of a PyTorch
source loads only what its stages use (no dynamo, TensorFlow or ONNX exporter), re-converting
only when the other stages explain nothing."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import onnx
import torch
from localize_models import (
    export,
    node_index,
    perturb_weight,
    samples,
    save_faulty_small_case,
    small_source,
)
from torch import nn

from difftest.localize.eager_trace import trace_torch
from difftest.localize.inputs import Case
from difftest.localize.runs import localize_case
from difftest.localize.tolerance import Tolerance
from difftest.sources import InputSpec, _torch_model

TESTS = Path(__file__).resolve().parent


class InPlace(nn.Module):
    """A Conv whose output an in-place ReLU overwrites, and a bias-free Linear."""

    def __init__(self) -> None:
        super().__init__()
        torch.manual_seed(0)
        self.conv = nn.Conv2d(2, 3, 3, stride=2, padding=1)
        self.relu = nn.ReLU(inplace=True)
        self.fc = nn.Linear(3 * 2 * 2, 4, bias=False)

    def forward(self, image: torch.Tensor) -> torch.Tensor:
        return self.fc(torch.flatten(self.relu(self.conv(image)), 1))


def test_eager_trace_names_operators_arguments_and_parameters_like_the_export_graph():
    source = small_source()
    trace = trace_torch(source.model, samples(source))
    by_op = {}
    for v in trace.values:
        by_op.setdefault(v.op, v)
    assert {
        "input",
        "conv2d",
        "batch_norm",
        "leaky_relu",
        "gelu",
        "tanh",
        "linear",
        "softmax",
    } <= set(by_op)
    assert by_op["input"].name == "x"
    conv, norm, fc = by_op["conv2d"], by_op["batch_norm"], by_op["linear"]
    assert conv.args["stride"] == [1, 1] and conv.args["padding"] == [1, 1]
    assert conv.params == ["conv.weight", "conv.bias"]
    assert norm.inputs == [conv.name] and norm.args["eps"] == 1e-5
    assert norm.params == ["bn.weight", "bn.bias", "bn.running_mean", "bn.running_var"]
    assert by_op["leaky_relu"].args["negative_slope"] == 0.1
    assert by_op["softmax"].args["dim"] == 1
    assert sorted(fc.params) == ["fc.bias", "fc.weight"]  # the weight reaches addmm as a view
    assert all(len(v.arrays) == 2 for v in trace.values)
    scale = trace.fold_scales()["conv.weight"]
    bn = source.model.bn
    expected = (bn.weight / torch.sqrt(bn.running_var + bn.eps)).detach().numpy()
    assert np.allclose(scale, expected)
    assert trace.foldable_parameters() == {"conv.weight", "conv.bias"}


def test_in_place_operators_keep_the_value_they_overwrote():
    source = _torch_model(InPlace().eval(), [InputSpec("image", (2, 2, 4, 4))], {})
    trace = trace_torch(source.model, samples(source))
    conv, relu = (next(v for v in trace.values if v.op == op) for op in ("conv2d", "relu"))
    assert relu.inputs == [conv.name]
    assert (conv.arrays[0] < 0).any() and (relu.arrays[0] >= 0).all()
    assert conv.args["stride"] == [2, 2]
    linear = next(v for v in trace.values if v.op in ("linear", "mm"))
    assert linear.params == ["fc.weight"]


def _case(model: onnx.ModelProto) -> Case:
    source = small_source()
    return Case("small", source, model, samples(source), {})


def test_settings_stage_runs_by_default_only_when_the_other_stages_explain_nothing():
    healthy = export(small_source())
    weight = onnx.ModelProto()
    weight.CopyFrom(healthy)
    perturb_weight(weight, node_index(weight, "Conv"))
    loc = localize_case(_case(weight), Tolerance(), 512.0, None)
    assert [d.cause for d in loc.divergences] == ["parameter"] and loc.settings == []
    assert localize_case(_case(weight), Tolerance(), 512.0, True).settings
    swapped = onnx.ModelProto()
    swapped.CopyFrom(healthy)
    swapped.graph.node[node_index(swapped, "Tanh")].op_type = "Sigmoid"
    loc = localize_case(_case(swapped), Tolerance(), 512.0, None)
    assert [d.cause for d in loc.divergences] == ["graph"]
    assert any(s.outcome == "agrees" for s in loc.settings)


CHILD = """
import json, sys
sys.path.insert(0, {tests!r})
from convfail.cli import main
main({argv!r})
heavy = ("torch._dynamo", "torch.onnx", "onnxscript", "tensorflow", "tf2onnx", "matplotlib.pyplot")
print(json.dumps(sorted(m for m in heavy if m in sys.modules)))
"""


def test_localizing_a_torch_source_loads_no_exporter_dynamo_or_tensorflow(tmp_path):
    save_faulty_small_case(tmp_path)
    argv = ["difftest", "localize", "--source", "model.pt", "--onnx", "model.onnx"]
    argv += ["--out", "report"]
    code = CHILD.format(tests=str(TESTS), argv=argv)
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert json.loads(done.stdout.strip().splitlines()[-1]) == []
    report = json.loads((tmp_path / "report" / "localization.json").read_text())
    assert report["first_divergent"][0]["cause"] == "parameter"
    assert report["settings"] == []
