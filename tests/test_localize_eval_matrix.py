"""The matrix fault-injection evaluation on the tiny model: a planted fault of each FetaFix type
is localized to its node and stage, the clean conversion and benign rewrites raise no alarm, and
an image-input node's transformation is told apart (layout, channel order, normalization, size)."""

from __future__ import annotations

import json

import numpy as np
import onnx
import pandas as pd
import pytest

from convfail.errors import ConvfailError
from difftest.localize.conversion_path import source_model
from difftest.localize.fetafix_faults import EXPECTED_STAGE, FETAFIX_TYPES, channel_axis
from difftest.localize.inject import perturbed_weight
from difftest.localize.input_faults import input_transform, stage_of
from difftest.localize.matrix_eval import (
    ROWS_FILE,
    SUMMARY_FILE,
    EvalRow,
    EvalSettings,
    LabelCheck,
    converted_model,
    evaluate_case,
    summarise,
    write_matrix_evaluation,
)
from difftest.localize.pipeline import localize
from difftest.matrix.images import load_split
from difftest.matrix.sources import input_size, source_artifact
from difftest.matrix.torch_archs import TINY

pytest.importorskip("torch")
pytest.importorskip("onnxruntime")


@pytest.fixture(scope="module")
def rows(tmp_path_factory) -> list[EvalRow]:
    settings = EvalSettings((TINY,), n_images=16)
    workdir = tmp_path_factory.mktemp("eval")
    return list(evaluate_case(TINY, "torch", ("torchscript-onnx",), settings, workdir))


def test_the_clean_conversion_and_benign_rewrites_raise_no_alarm(rows):
    checks = [r for r in rows if r.fetafix_type in ("clean", "benign")]
    assert [r.fetafix_type for r in checks].count("clean") == 1
    assert len(checks) == 5
    assert not any(r.false_alarm for r in checks)
    assert rows[0].discrepancy_before_pct == 0.0


@pytest.mark.parametrize("fetafix_type", FETAFIX_TYPES)
def test_a_planted_fault_of_each_type_is_localized_to_its_node_and_stage(rows, fetafix_type):
    planted = [r for r in rows if r.fetafix_type == fetafix_type]
    assert planted, f"no {fetafix_type} fault planted"
    right = [r for r in planted if r.effective and r.top1_right and r.stage_right]
    assert right, [(r.node, r.reported_node, r.reported_stage) for r in planted]
    assert right[0].reported_stage == EXPECTED_STAGE[fetafix_type]


def test_preprocessing_kinds_are_told_from_the_input_nodes_output(rows):
    shown = {
        r.kind: r.input_kind for r in rows if r.fetafix_type in ("preprocessing", "input-layout")
    }
    assert shown == {
        "normalization": "normalization",
        "channel-order": "channel order",
        "input-size": "input size",
        "height-width": "layout",
    }


def test_targeted_repairs_hold_and_label_discrepancy_is_measured_after(rows):
    repaired = [r for r in rows if r.targeted_repair]
    assert repaired
    for r in repaired:
        assert r.targeted_steps >= 1 and r.discrepancy_after_pct == 0.0
        assert r.max_abs_diff_after is not None and r.max_abs_diff_after < 1e-4
    normalization = next(r for r in rows if r.kind == "normalization")
    assert normalization.discrepancy_before_pct > 0.0


def test_a_workaround_is_not_counted_as_a_targeted_repair(rows):
    for r in rows:
        if r.workaround:
            assert not r.targeted_repair and r.targeted_steps == 0
            assert r.discrepancy_after_pct is None


def test_input_transform_names_each_kind():
    image = np.random.default_rng(0).standard_normal((2, 3, 8, 8)).astype(np.float32)
    assert input_transform(image, image.swapaxes(2, 3), 1) == "layout"
    assert input_transform(image, image[:, ::-1], 1) == "channel order"
    scale = np.array([2.0, 3.0, 4.0], np.float32).reshape(1, 3, 1, 1)
    assert input_transform(image, image * scale - 1.0, 1) == "normalization"
    blurred = (image + np.roll(image, 1, axis=3)) / 2
    assert input_transform(image, blurred, 1) == "input size"
    assert input_transform(image, image[:, :, :4, :4], 1) == "input size"
    nhwc = image.transpose(0, 2, 3, 1)
    assert input_transform(nhwc, nhwc.swapaxes(1, 2), 3) == "layout"


def test_summary_scores_effective_faults_and_flags_the_targets():
    def row(kind: str, **values) -> EvalRow:
        return EvalRow("m", "p", kind, "k", "n", "Op", "d", **values)

    rows = [
        row("clean"),
        row("benign", false_alarm=True),
        row("weights", effective=True, top1_right=True, stage_right=True, targeted_repair=True),
        row("graph", effective=True, top1_right=True, workaround=True),
        row("graph"),  # not effective: not scored
    ]
    summary = summarise(rows)
    assert summary["all"] == {
        "planted": 3,
        "effective": 2,
        "top1": 1.0,
        "stage": 0.5,
        "targeted_repair": 0.5,
        "workaround_only": 1,
        "not_repaired": 0,
    }
    assert summary["clean_false_alarms"] == {"checked": 1, "alarms": 0}
    assert summary["benign_false_alarms"] == {"checked": 1, "alarms": 1}
    assert summary["targets"]["top1"]["met"] and not summary["targets"]["stage"]["met"]
    assert summary["targets"]["no_false_alarm_clean"]["met"]


def test_a_first_conv_with_a_source_counterpart_is_not_called_preprocessing(tmp_path):
    path = converted_model(TINY, "torch", ("torchscript-onnx",), tmp_path, None)
    model = onnx.load(path)
    source = source_model(source_artifact(TINY, "torch"))
    healthy = localize(source, model, source.make_inputs(0, 2))
    stem = next(i for i, n in enumerate(model.graph.node) if n.op_type == "Conv")
    fault = perturbed_weight(model, stem, np.random.default_rng(0), bias=True)
    loc = localize(source, fault.model, healthy.samples, trace=healthy.trace)
    first = loc.divergences[0]
    assert first.node == stem and first.source_counterpart is not None
    assert stage_of(loc, first, channel_axis(model)) == (first.cause, "")


def test_an_input_size_detour_is_repaired_by_bypassing_both_resizes(rows):
    (row,) = [r for r in rows if r.kind == "input-size"]
    assert row.effective and row.reported_stage == "preprocessing"
    assert row.targeted_repair and row.targeted_steps == 1 and not row.workaround
    assert row.discrepancy_after_pct == 0.0


@pytest.mark.slow
def test_the_written_files_say_which_cases_are_done_and_a_resume_keeps_them(tmp_path):
    settings = EvalSettings((TINY,), (("torch", ("torchscript-onnx",)),), per_type=1, n_images=16)
    summary = write_matrix_evaluation(tmp_path / "out", settings, tmp_path / "work")
    saved = json.loads((tmp_path / "out" / SUMMARY_FILE).read_text())
    assert saved["complete"] and saved["cases_done"] == ["tiny torch>torchscript-onnx"]
    rows = pd.read_csv(tmp_path / "out" / ROWS_FILE)
    checks = summary["clean_false_alarms"]["checked"] + summary["benign_false_alarms"]["checked"]
    assert len(rows) == summary["all"]["planted"] + checks
    before = {name: (tmp_path / "out" / name).read_bytes() for name in (ROWS_FILE, SUMMARY_FILE)}

    evaluated: list[str] = []

    def progress(items):
        evaluated.append("case")
        return items

    again = write_matrix_evaluation(
        tmp_path / "out",
        settings,
        tmp_path / "work",
        progress=progress,
        earlier_runs=[tmp_path / "out"],
    )
    assert evaluated == [] and again["all"] == summary["all"]
    assert (tmp_path / "out" / ROWS_FILE).read_bytes() == before[ROWS_FILE]
    resumed = json.loads((tmp_path / "out" / SUMMARY_FILE).read_text())
    assert resumed["cases_done"] == saved["cases_done"] and resumed["cpu_s"] >= saved["cpu_s"]

    elsewhere = EvalSettings(("other",), (), per_type=1, n_images=16)
    joined = write_matrix_evaluation(
        tmp_path / "joined", elsewhere, tmp_path / "work", earlier_runs=[tmp_path / "out"]
    )
    assert joined["all"] == summary["all"]
    assert (tmp_path / "joined" / ROWS_FILE).read_bytes() == before[ROWS_FILE]

    other = EvalSettings((TINY,), settings.paths, per_type=2, n_images=16)
    with pytest.raises(ConvfailError, match=r"per_type 1, not 2.*--per-type"):
        write_matrix_evaluation(
            tmp_path / "out", other, tmp_path / "work", earlier_runs=[tmp_path / "out"]
        )


def test_an_unreadable_earlier_run_is_one_line_and_left_as_it_was(tmp_path):
    (tmp_path / SUMMARY_FILE).write_text('{"cases_done": [')
    (tmp_path / ROWS_FILE).write_text("model,path\n")
    settings = EvalSettings((TINY,), ())
    with pytest.raises(
        ConvfailError, match=r"cannot be read.*give --out or --include-run another folder"
    ):
        write_matrix_evaluation(tmp_path, settings, tmp_path / "work", earlier_runs=[tmp_path])
    assert (tmp_path / SUMMARY_FILE).read_text() == '{"cases_done": ['


def test_label_checks_sharing_a_work_folder_never_read_each_others_model(tmp_path):
    from concurrent.futures import ThreadPoolExecutor

    path = converted_model(TINY, "torch", ("torchscript-onnx",), tmp_path, None)
    healthy = onnx.load(path)
    head = max(i for i, n in enumerate(healthy.graph.node) if n.op_type in ("Gemm", "MatMul"))
    faulty = perturbed_weight(healthy, head, np.random.default_rng(0)).model
    artifact = source_artifact(TINY, "torch")
    images = load_split(input_size(TINY), "test").images[:64]
    check = LabelCheck(artifact, images, artifact.layout, tmp_path)
    alone = {id(m): check.compare(m) for m in (healthy, faulty)}
    assert alone[id(healthy)] != alone[id(faulty)]
    models = [healthy, faulty] * 4
    with ThreadPoolExecutor(4) as pool:
        together = list(pool.map(check.compare, models))
    assert together == [alone[id(m)] for m in models]
    assert sorted(p.name for p in tmp_path.iterdir()) == [path.parent.name]
