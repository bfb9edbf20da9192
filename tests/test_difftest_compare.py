"""The comparator and the verdict policies: round-off, NaN/Inf, huge magnitudes, integers,
raw differences that re-judge exactly, and error signatures."""

import json

import numpy as np
import pytest

from convfail.campaign_files import MISMATCH, NONFINITE_MISMATCH, SUCCESS
from convfail.errors import ConvfailError
from convfail.verdicts import judge, parse_policy
from difftest.compare import compare_outputs, comparison, frontier
from difftest.signature import normalise, signature

NAN, INF = np.float32("nan"), np.float32("inf")
DEFAULT, PAPER, ABS7 = parse_policy("default"), parse_policy("paper"), parse_policy("0,1e-7")


def _cmp(expected, actual, policy=DEFAULT, dtype=np.float32):
    return compare_outputs([[np.array(expected, dtype)]], [[np.array(actual, dtype)]], policy)


def test_identical_outputs_succeed_under_every_policy():
    result = _cmp([1.0, 2.0], [1.0, 2.0])
    assert {result.verdict(p) for p in (DEFAULT, PAPER, ABS7)} == {SUCCESS}
    assert result.max_abs_diff == 0.0 and result.share(DEFAULT) == 0.0
    assert result.to_dict()["differences"] == {"float32": []}


def test_float32_round_off_passes_default_but_not_a_bare_absolute_1e7():
    result = _cmp([1.0, 2.0], [1.0, 2.0 + 2.4e-7], ABS7)
    assert result.verdict(DEFAULT) == SUCCESS
    assert result.verdict(PAPER) == SUCCESS
    assert result.verdict(ABS7) == MISMATCH
    assert result.share(ABS7) == 0.5 and result.share(DEFAULT) == 0.0


def test_huge_magnitudes_are_judged_relatively():
    result = _cmp([1e32], [1e32 * (1 + 1e-5)])  # absolute difference ~1e27, relative 1e-5
    assert result.max_abs_diff > 1e26
    assert result.verdict(PAPER) == SUCCESS
    assert result.verdict(DEFAULT) == MISMATCH  # beyond float32's rtol 1.3e-6


def test_real_difference_mismatches_under_every_policy():
    result = _cmp([1.0, 2.0], [1.0, 2.5])
    assert {result.verdict(p) for p in (DEFAULT, PAPER, ABS7)} == {MISMATCH}


def test_one_sided_nan_is_its_own_outcome_whatever_the_tolerance():
    result = _cmp([NAN, 1.0], [0.0, 1.0], parse_policy("1,1e9"))
    assert result.verdict(parse_policy("1,1e9")) == NONFINITE_MISMATCH
    assert result.verdict(DEFAULT) == NONFINITE_MISMATCH
    assert result.nonfinite_mismatches == 1
    assert result.max_abs_diff == 0.0  # finite pairs only: the NaN does not poison the maximum


def test_numeric_mismatch_outranks_a_nonfinite_one():
    assert _cmp([NAN, 1.0], [0.0, 3.0]).verdict(DEFAULT) == MISMATCH


def test_nan_on_both_sides_is_equal():
    result = _cmp([NAN, 1.0], [NAN, 1.0])
    assert result.verdict(ABS7) == SUCCESS
    assert result.nonfinite_matches == 1 and result.nonfinite_mismatches == 0


@pytest.mark.parametrize(
    ("expected", "actual", "outcome"),
    [
        ([INF], [INF], SUCCESS),
        ([-INF], [-INF], SUCCESS),
        ([INF], [-INF], NONFINITE_MISMATCH),
        ([INF], [3e38], NONFINITE_MISMATCH),
        ([INF], [NAN], NONFINITE_MISMATCH),
    ],
)
def test_infinities(expected, actual, outcome):
    assert _cmp(expected, actual).verdict(parse_policy("1,1e30")) == outcome


def test_integer_outputs_must_be_equal_by_default():
    assert _cmp([3, 4], [3, 4], dtype=np.int64).verdict(DEFAULT) == SUCCESS
    result = _cmp([3, 4], [3, 5], dtype=np.int64)
    assert result.verdict(DEFAULT) == MISMATCH
    assert result.verdict(parse_policy("0,1")) == SUCCESS
    assert list(result.to_dict()["differences"]) == ["int64"]


def test_dtype_aware_default_is_looser_for_float16():
    result = _cmp([1.0], [1.0 + 2**-10], dtype=np.float16)  # one float16 ulp at 1
    assert result.verdict(DEFAULT) == SUCCESS
    assert result.verdict(ABS7) == MISMATCH


def test_frontier_keeps_exactly_the_undominated_pairs():
    diff = np.array([0.5, 0.1, 0.4, 0.0, 0.3, 0.6])
    mag = np.array([1.0, 0.0, 0.2, 0.0, 5.0, 9.0])
    assert frontier(diff, mag).tolist() == [[0.1, 0.0], [0.4, 0.2], [0.5, 1.0], [0.6, 9.0]]


def test_raw_differences_rejudge_exactly_like_elementwise_allclose():
    rng = np.random.default_rng(7)
    expected = [[rng.normal(scale=10, size=(50,)).astype(np.float32)] for _ in range(4)]
    actual = [[e[0] + rng.normal(scale=1e-5, size=(50,)).astype(np.float32)] for e in expected]
    recorded = json.loads(json.dumps(compare_outputs(expected, actual, DEFAULT).to_dict()))
    for rtol in (0.0, 1e-7, 1e-6, 1e-5, 1e-4):
        for atol in (0.0, 1e-7, 1e-6, 1e-5, 1e-4):
            close = all(
                np.isclose(a[0], e[0], rtol=rtol, atol=atol).all()
                for e, a in zip(expected, actual, strict=True)
            )
            policy = parse_policy(f"{rtol},{atol}")
            assert (judge(recorded, policy) == SUCCESS) is close, (rtol, atol)


@pytest.mark.parametrize("text", ["strict", "1e-3", "a,b", "-1,0", "1,nan"])
def test_unknown_policy_is_one_clear_error(text):
    with pytest.raises(ConvfailError, match="unknown verdict policy"):
        parse_policy(text)


def test_relative_difference_skips_zero_expected_values():
    result = _cmp([0.0, 2.0], [1e-6, 2.2])
    assert result.max_rel_diff == pytest.approx(0.1, rel=1e-5)
    assert result.max_abs_diff == pytest.approx(0.2, rel=1e-5)


def test_shape_or_count_difference_is_a_structural_mismatch():
    zeros = np.zeros((2, 3), np.float32)
    result = compare_outputs([[zeros]], [[zeros.T.copy()]], PAPER)
    assert result.verdict(PAPER) == MISMATCH and "shape" in result.structure
    assert result.share(PAPER) is None
    result = comparison(DEFAULT)
    result.add([np.zeros(2)], [np.zeros(2), np.zeros(2)])
    assert result.verdict(DEFAULT) == MISMATCH and "count" in result.structure


def test_result_dict_is_json_safe_with_nonfinite_values():
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
