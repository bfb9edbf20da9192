"""Tolerance and NaN/Inf rules of the comparator, and error signatures."""

import numpy as np
import pytest

from difftest.compare import compare_outputs, comparison, tolerance_key
from difftest.signature import normalise, signature

NAN, INF = np.float32("nan"), np.float32("inf")


def _cmp(expected, actual, tolerance=1e-7):
    return compare_outputs(
        [[np.array(expected, np.float32)]], [[np.array(actual, np.float32)]], tolerance
    )


def test_identical_outputs_succeed_at_every_tolerance():
    result = _cmp([1.0, 2.0], [1.0, 2.0])
    assert not result.mismatch_at(1e-7) and not result.mismatch_at(1e-3)
    assert result.max_abs_diff == 0.0 and result.share_at(1e-7) == 0.0


def test_small_difference_mismatches_at_1e7_but_not_at_1e3():
    result = _cmp([1.0, 2.0], [1.0, 2.0 + 2.4e-7])
    assert result.mismatch_at(1e-7)
    assert not result.mismatch_at(1e-3)
    assert result.share_at(1e-7) == 0.5
    d = result.to_dict()
    assert d["mismatch"] == {tolerance_key(1e-7): True, tolerance_key(1e-3): False}


def test_nan_on_both_sides_is_equal():
    result = _cmp([NAN, 1.0], [NAN, 1.0])
    assert not result.mismatch_at(1e-7)
    assert result.nonfinite_matches == 1 and result.nonfinite_mismatches == 0


def test_nan_on_one_side_mismatches_at_any_tolerance():
    result = _cmp([NAN, 1.0], [0.0, 1.0], tolerance=1e9)
    assert result.mismatch_at(1e9) and result.mismatch_at(1e-3)
    assert result.nonfinite_mismatches == 1
    assert result.max_abs_diff == 0.0  # finite pairs only: the NaN does not poison the maximum


@pytest.mark.parametrize(
    ("expected", "actual", "mismatch"),
    [
        ([INF], [INF], False),
        ([-INF], [-INF], False),
        ([INF], [-INF], True),
        ([INF], [3e38], True),
        ([INF], [NAN], True),
    ],
)
def test_infinities(expected, actual, mismatch):
    assert _cmp(expected, actual, tolerance=1e30).mismatch_at(1e30) is mismatch


def test_relative_difference_skips_zero_expected_values():
    result = _cmp([0.0, 2.0], [1e-6, 2.2])
    assert result.max_rel_diff == pytest.approx(0.1, rel=1e-5)
    assert result.max_abs_diff == pytest.approx(0.2, rel=1e-5)


def test_shape_or_count_difference_is_a_structural_mismatch():
    result = compare_outputs([[np.zeros((2, 3), np.float32)]], [[np.zeros((3, 2), np.float32)]])
    assert result.mismatch_at(1e-3) and "shape" in result.structure
    assert result.share_at(1e-3) is None
    result = comparison()
    result.add([np.zeros(2)], [np.zeros(2), np.zeros(2)])
    assert result.mismatch_at(1e-3) and "count" in result.structure


def test_result_dict_is_json_safe_with_nonfinite_values():
    import json

    json.dumps(_cmp([NAN, INF], [1.0, NAN]).to_dict(), allow_nan=False)


def test_signature_groups_messages_that_differ_in_names_and_numbers():
    head = "[ONNXRuntimeError] : 9 : NOT_IMPLEMENTED : Could not find an implementation for "
    a = head + "Greater(13) node with name 'Greater_0'"
    b = head + "Greater(13) node with name 'Greater_17'"
    c = head + "ArgMax(13) node with name 'ArgMax_2'"
    assert signature("ort_load_failure", "NotImplemented", a) == signature(
        "ort_load_failure", "NotImplemented", b
    )
    assert normalise(a) != normalise(c)
    assert "aten::fft_fft" in normalise(
        "Exporting the operator 'aten::fft_fft' to ONNX opset version 17 is not supported"
    )
