"""The source's noise floor: the policy it gives, the matrix judging by it, and a finished
matrix re-judged from its records with only the sources run again."""

import json
from pathlib import Path

import pytest

from convfail.errors import ConvfailError
from convfail.verdicts import judge
from difftest.matrix.noise import noise_policy
from difftest.matrix.paths import find_path, make_path
from difftest.matrix.rejudge import rejudge_matrix
from difftest.matrix.runner import read_results, results_path, run_matrix
from difftest.matrix.torch_archs import TINY

pytest.importorskip("onnxruntime")
pytest.importorskip("mlxtend")


def _noise(*pairs: tuple[float, float]) -> dict:
    return {"structure": "", "differences": {"float32": [list(p) for p in pairs]}}


def test_a_source_that_repeats_itself_exactly_gives_the_default_policy_back():
    assert noise_policy(_noise()).name == "1.3e-06,1e-05"
    assert noise_policy(_noise((2e-6, 1.0))).name == "1.3e-06,1e-05"


def test_the_policy_accepts_every_difference_of_the_source_and_no_larger_one():
    floor = _noise((1.2345e-4, 10.0), (3e-5, 0.5))
    policy = noise_policy(floor)
    assert (policy.rtol, policy.atol) == (1.3e-6, 1.2e-4)
    assert judge(floor, policy) == "success"
    assert judge(_noise((1.3e-4, 1.0)), policy) == "mismatch"
    assert judge({**floor, "structure": "output 0 shape [1] vs [2]"}, policy) == "mismatch"


PATHS = [
    make_path("torch", []),
    make_path("torch", ["torchscript-onnx"]),
    find_path("torch", "keras"),
]


def test_the_matrix_measures_the_noise_floor_and_judges_conversions_by_it(home: Path):
    records = run_matrix("n", [TINY], images=8, paths=PATHS, log=lambda line: None)
    source = records[0]
    assert source["path"] == "(source)"
    assert source["noise"]["variants"] == ["batch 10, 1 thread(s)", "batch 100, 2 thread(s)"]
    assert source["noise"]["comparison"]["elements"] == 2 * 8 * 10
    policy = noise_policy(source["noise"]["comparison"])
    assert source["noise"]["policy"] == policy.name
    ort = next(r for r in records if r["runtime"] == "onnxruntime")
    assert ort["policy"] == policy.name
    assert ort["outcome"] == judge(ort["comparison"], policy)


def test_a_matrix_without_noise_floors_is_rejudged_from_its_raw_differences(home: Path):
    run_matrix("r", [TINY], images=8, paths=PATHS, log=lambda line: None)
    old = read_results("r")
    for record in old:
        record.pop("noise", None)
        if record["runtime"] == "onnxruntime":  # as the default policy judged before
            record["comparison"]["differences"] = {"float32": [[5e-5, 40.0]]}
            record.update(outcome="mismatch", policy="default")
    results_path("r").write_text("".join(json.dumps(r) + "\n" for r in old))

    assert rejudge_matrix("r", ["mobilenet_v2"], log=lambda line: None) == old
    new = rejudge_matrix("r", log=lambda line: None)
    assert [r["unit"] for r in new] == [r["unit"] for r in old]
    assert "noise" in new[0] and new[0]["images_per_s"] == old[0]["images_per_s"]
    ort = next(r for r in new if r["runtime"] == "onnxruntime")
    floor = noise_policy(new[0]["noise"]["comparison"])
    assert ort["policy"] == floor.name
    assert ort["outcome"] == judge(ort["comparison"], floor)
    untouched = next(r for r in new if r["target"] == "keras")
    assert untouched == next(r for r in old if r["target"] == "keras")
    assert read_results("r") == new


def test_rejudging_a_matrix_that_never_ran_is_one_line(home: Path):
    with pytest.raises(ConvfailError, match="has no records to re-judge"):
        rejudge_matrix("never", log=lambda line: None)
