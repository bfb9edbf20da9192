"""Alignment by value across a TorchScript and a dynamo export of the same model.

The two exporters name values differently (``/conv/Conv_output_0`` vs ``conv2d``), both fold
the BatchNorm into the Conv, and decompose GELU differently; alignment must still pair their
values with the same source values, and a planted fault must land on the same operator.
"""

from __future__ import annotations

import onnx
import pytest
from localize_models import export, node_index, perturb_weight, samples, small_source

from difftest.localize.pipeline import localize

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
