"""Alignment by value across a TorchScript and a dynamo export of the same model.

The two exporters name values differently (``/conv/Conv_output_0`` vs ``conv2d``), both fold
the BatchNorm into the Conv, and decompose GELU differently; alignment must still pair their
values with the same source values, and a planted fault must land on the same operator.
"""

from __future__ import annotations

import warnings

import onnx
import pytest
import torch
from localize_models import export, node_index, perturb_weight, samples, small_source

from difftest.localize.pipeline import localize
from difftest.sources import InputSpec, _torch_model

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def both():
    source = small_source()
    inputs = samples(source)
    script = export(source, dynamo=False)
    dynamo = export(source, dynamo=True)
    loc_script = localize(source, script, inputs)
    loc_dynamo = localize(source, dynamo, inputs, trace=loc_script.trace)
    return source, inputs, (script, loc_script), (dynamo, loc_dynamo)


def _aligned_sources(model, loc) -> dict[str, str]:
    """source value -> ONNX value, for matched ONNX values."""
    out = {}
    for name, match in loc.alignment.values.items():
        if match.matched and match.source:
            out.setdefault(match.source, name)
    return out


def test_both_exports_agree_and_share_no_value_names(both):
    _, _, (script, loc_script), (dynamo, loc_dynamo) = both
    assert loc_script.agrees and loc_dynamo.agrees
    names_script = {o for n in script.graph.node for o in n.output}
    names_dynamo = {o for n in dynamo.graph.node for o in n.output}
    assert len(names_script & names_dynamo) <= 1  # at most the graph output name


def test_layers_align_to_the_same_source_values_in_both_exports(both):
    _, _, (script, loc_script), (dynamo, loc_dynamo) = both
    a = _aligned_sources(script, loc_script)
    b = _aligned_sources(dynamo, loc_dynamo)
    for layer in ("batch_norm", "leaky_relu", "tanh", "gelu", "linear"):
        assert layer in a, f"TorchScript export: no value aligned with source {layer}"
        assert layer in b, f"dynamo export: no value aligned with source {layer}"
    # the Conv output with the folded BatchNorm is the source's batch_norm value, not conv2d's
    conv_script = script.graph.node[node_index(script, "Conv")].output[0]
    conv_dynamo = dynamo.graph.node[node_index(dynamo, "Conv")].output[0]
    assert loc_script.alignment.values[conv_script].source == "batch_norm"
    assert loc_dynamo.alignment.values[conv_dynamo].source == "batch_norm"


def test_same_planted_fault_lands_on_the_conv_of_both_exports(both):
    source, inputs, (script, loc_script), (dynamo, loc_dynamo) = both
    for model, base in ((script, loc_script), (dynamo, loc_dynamo)):
        faulty = onnx.ModelProto()
        faulty.CopyFrom(model)
        conv = node_index(faulty, "Conv")
        perturb_weight(faulty, conv)
        loc = localize(source, faulty, inputs, trace=base.trace)
        assert [d.node for d in loc.divergences] == [conv]
        assert loc.divergences[0].cause == "parameter"


def test_memory_bounded_tracing_gives_the_same_alignment(both):
    source, inputs, (script, loc_script), _ = both
    tiny = localize(source, script, inputs, trace=loc_script.trace, budget_mb=0.001)
    assert tiny.agrees
    assert {k: v.source for k, v in tiny.alignment.values.items()} == {
        k: v.source for k, v in loc_script.alignment.values.items()
    }


class _RuntimeFlatten(torch.nn.Module):
    """Conv + ReLU, flattened by a shape computed at run time (the batch is dynamic)."""

    def __init__(self) -> None:
        super().__init__()
        torch.manual_seed(0)
        self.conv = torch.nn.Conv2d(3, 4, 3)
        self.fc = torch.nn.Linear(4 * 4 * 4, 5)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = torch.relu(self.conv(x))
        return self.fc(y.reshape(y.shape[0], y.shape[1] * y.shape[2] * y.shape[3]))


def test_a_runtime_shape_does_not_widen_the_reshape_it_feeds(tmp_path):
    # the shape [2, 64] is an integer value of the run; as an operand scale it widened the
    # Reshape's allowance 100x (scale 0.47 -> 45), it "matched" again and the Linear was named
    source = _torch_model(_RuntimeFlatten().eval(), [InputSpec("x", (2, 3, 6, 6))], {})
    path = tmp_path / "flatten.onnx"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(
            source.model,
            (torch.zeros(2, 3, 6, 6),),
            path,
            dynamo=False,
            input_names=["x"],
            dynamic_axes={"x": {0: "batch"}},
        )
    model = onnx.load(path)
    assert {"Shape", "Concat", "Reshape"} <= {n.op_type for n in model.graph.node}
    conv = node_index(model, "Conv")
    perturb_weight(model, conv, delta=0.002)
    loc = localize(source, model, samples(source))
    assert not loc.agrees
    (first,) = loc.divergences
    assert first.node == conv and first.cause == "parameter"
