"""FetaFix's label-driven greedy repair on the matrix's tiny model (PyTorch -> TorchScript ONNX,
held-out digits): a planted weight fault and a planted hyper-parameter fault are repaired to
0 % discrepancy; a change that lowers the worst image's top-5 tau is refused."""

from __future__ import annotations

import json

import numpy as np
import onnx
import pytest
from localize_models import copy_model
from onnx import numpy_helper

from difftest.localize.conversion_path import check_path, source_model
from difftest.localize.greedy import (
    LabelScore,
    greedy_repair,
    localizer_candidates,
    onnx_predictor,
)
from difftest.localize.pipeline import localize
from difftest.localize.repair_candidates import Candidate
from difftest.matrix.images import load_split
from difftest.matrix.paths import make_path
from difftest.matrix.sources import source_artifact
from difftest.matrix.torch_archs import TINY, TINY_SIZE

IMAGES = 256


@pytest.fixture(scope="module")
def converted(tmp_path_factory):
    """The tiny model exported by TorchScript, its source, the digits' reference logits and an
    ONNX Runtime predictor on those digits."""
    workdir = tmp_path_factory.mktemp("greedy")
    images = load_split(TINY_SIZE, "test").images[:IMAGES]
    check = check_path(
        make_path("torch", ["torchscript-onnx"]), source_artifact(TINY, "torch"), images, workdir
    )
    assert check.culprit is None  # the healthy export keeps every label
    final = check.artifacts[-1]
    source = source_model(check.artifacts[0])
    predict = onnx_predictor(images, final, workdir / "candidates")
    return onnx.load(final.path), source, check.reference, predict


def _weight(model: onnx.ModelProto, name: str) -> np.ndarray:
    (tensor,) = [t for t in model.graph.initializer if t.name == name]
    return numpy_helper.to_array(tensor)


def _with_weight(model: onnx.ModelProto, name: str, value: np.ndarray) -> onnx.ModelProto:
    out = copy_model(model)
    for tensor in out.graph.initializer:
        if tensor.name == name:
            tensor.CopyFrom(numpy_helper.from_array(value.astype(np.float32), name))
    return out


def _weight_fault(model: onnx.ModelProto) -> onnx.ModelProto:
    """The classifier row of the class every digit gets (6, untrained) negated."""
    value = _weight(model, "fc.weight").copy()
    value[6] *= -1
    return _with_weight(model, "fc.weight", value)


def _stride_fault(model: onnx.ModelProto) -> onnx.ModelProto:
    """The stride-2 depthwise conv given stride 1."""
    out = copy_model(model)
    (node,) = [n for n in out.graph.node if n.name == "/down/down.0/Conv"]
    (strides,) = [a for a in node.attribute if a.name == "strides"]
    strides.ints[:] = [1, 1]
    return out


def _localize(source, model):
    return localize(source, model, source.make_inputs(0, 2), None)


@pytest.mark.parametrize(
    ("plant", "stage"),
    [(_weight_fault, "parameters"), (_stride_fault, "hyper-parameters")],
    ids=["weight", "hyper-parameter"],
)
def test_a_planted_fault_is_repaired_to_zero_discrepancy(converted, plant, stage):
    healthy, source, reference, predict = converted
    faulty = plant(healthy)
    result = greedy_repair(source, _localize(source, faulty), reference, predict)
    assert result.start.discrepancy_pct > 0.0
    assert result.end.discrepancy_pct == 0.0
    assert [s.stage for s in result.accepted] == [stage]
    (step,) = result.accepted
    assert step.before.discrepancy_pct == result.start.discrepancy_pct
    assert step.after.discrepancy_pct == 0.0 and step.after.worst_tau >= step.before.worst_tau
    assert LabelScore.of(reference, predict(result.model)) == result.end
    assert "0.0 %" in result.summary() and "1 step(s) accepted" in result.summary()


def test_a_change_that_lowers_the_worst_tau_is_refused(converted):
    healthy, source, reference, predict = converted
    faulty = _weight_fault(healthy)
    wide = _weight(faulty, "wide.weight")

    def harmful_first(loc):
        yield Candidate(
            "parameters", "negated wide.weight", _with_weight(loc.model, "wide.weight", -wide)
        )
        yield from localizer_candidates(loc)

    result = greedy_repair(source, _localize(source, faulty), reference, predict, harmful_first)
    refused = result.steps[0]
    assert refused.change == "negated wide.weight" and not refused.accepted
    assert refused.after.worst_tau < refused.before.worst_tau
    assert refused.reason.startswith("refused: worst top-5 tau drops")
    assert result.end.discrepancy_pct == 0.0
    np.testing.assert_array_equal(_weight(result.model, "wide.weight"), wide)


def test_a_candidate_that_does_not_run_is_refused_and_the_loop_goes_on(converted):
    healthy, source, reference, predict = converted
    faulty = _weight_fault(healthy)

    def broken_first(loc):
        broken = copy_model(loc.model)
        broken.graph.node[0].input[0] = "no-such-value"
        yield Candidate("graph", "a node reading a missing value", broken)
        yield from localizer_candidates(loc)

    result = greedy_repair(source, _localize(source, faulty), reference, predict, broken_first)
    refused = result.steps[0]
    assert not refused.accepted and "does not run" in refused.reason
    assert result.end.discrepancy_pct == 0.0


def test_a_healthy_conversion_is_left_alone(converted):
    healthy, source, reference, predict = converted
    result = greedy_repair(source, _localize(source, healthy), reference, predict)
    assert result.start.discrepancy_pct == 0.0 and not result.steps and not result.changed
    assert result.model is not None


def test_cli_greedy_reports_the_steps_and_writes_no_model_when_nothing_changed(tmp_path, capsys):
    from convfail.cli import main

    args = ["difftest", "localize-path", "--model", "tiny", "--from", "torch"]
    args += ["--hops", "torchscript-onnx", "--images", "64", "--greedy", "--out", str(tmp_path)]
    main(args)
    printed = capsys.readouterr().out
    assert "label-driven repair on 64 images: top-1 discrepancy 0.0 % -> 0.0 %" in printed
    assert not (tmp_path / "repaired.onnx").exists()
    report = json.loads((tmp_path / "localization.json").read_text())
    assert report["label_repair"]["changed"] is False and report["repair"] is None
    assert "## Label-driven repair" in (tmp_path / "localization.md").read_text()
