"""Tolerances scaled by magnitude and dtype: no false alarms near zero, real changes caught."""

from __future__ import annotations

import math

import numpy as np

from difftest.localize.tolerance import Tolerance, mismatched_share, rms, scaled_error


def test_rounding_noise_on_near_zero_elements_does_not_alarm():
    rng = np.random.default_rng(0)
    source = rng.standard_normal(1000).astype(np.float32)
    source[:10] = 1e-9  # elements near zero: a per-element relative test would explode here
    converted = source + np.float32(1e-7) * rng.standard_normal(1000).astype(np.float32)
    assert Tolerance().scaled_error(source, converted) <= 1.0
    nonzero = np.abs(source) > 0
    assert (np.abs(converted - source)[nonzero] / np.abs(source[nonzero])).max() > 1.0


def test_all_zero_tensor_with_tiny_noise_agrees():
    source = np.zeros(100, np.float32)
    assert Tolerance().scaled_error(source, source + 1e-8) <= 1.0


def test_cancellation_keeps_the_operands_scale():
    source = np.full(10, 1e-3, np.float32)  # a difference of two values near 1e4
    converted = source + 1e-4
    assert Tolerance().scaled_error(source, converted) > 1.0
    assert Tolerance().scaled_error(source, converted, operand_scale=1e4) <= 1.0


def test_real_changes_are_caught():
    source = np.linspace(-1, 1, 101).astype(np.float32)
    converted = source.copy()
    converted[50] += 0.01
    assert Tolerance().scaled_error(source, converted) > 1.0
    assert 0 < mismatched_share(source, converted, 1e-4) < 0.02


def test_nan_on_one_side_is_infinite_and_matching_nan_is_fine():
    source = np.array([1.0, np.nan], np.float32)
    assert math.isinf(scaled_error(source, np.array([1.0, 0.0], np.float32), 1e-4))
    assert scaled_error(source, source.copy(), 1e-4) == 0.0


def test_intended_fp16_passes_at_fp16_but_not_at_fp32():
    source = np.random.default_rng(1).standard_normal(500).astype(np.float32)
    halved = source.astype(np.float16).astype(np.float32)
    assert Tolerance("float16").scaled_error(source, halved) <= 1.0
    assert Tolerance("float32").scaled_error(source, halved) > 1.0


def test_integer_and_boolean_values_must_be_equal():
    a = np.array([True, False, True])
    assert scaled_error(a, a.copy(), 1e-4) == 0.0
    assert scaled_error(a, ~a, 1e-4) > 1.0


def test_localize_says_its_policy_and_why_the_two_verdicts_differ():
    from convfail.verdicts import parse_policy
    from difftest.localize.verdict import policy_verdict

    source = [[np.array([1000.0, -2.0], np.float32)]]
    converted = [[np.array([1000.01, -2.0], np.float32)]]
    tolerance = Tolerance()
    assert tolerance.scaled_error(source[0][0], converted[0][0]) <= 1.0  # the localizer agrees
    recorded = {"outcome": "success", "policy": "paper", "n_inputs": 10}
    section = policy_verdict(source, converted, parse_policy("default"), tolerance, True, recorded)
    assert section["policy"] == "default" and section["outcome"] == "mismatch"
    assert section["localizer"] == "agrees"
    first, second = section["why"]
    assert "round-off" in first and "RMS" in first
    assert "recorded success under policy paper on 10 input(s)" in second
    agreeing = policy_verdict(source, converted, parse_policy("paper"), tolerance, True)
    assert agreeing["outcome"] == "success" and agreeing["why"] == []


def test_rms_is_that_of_the_finite_elements_in_every_layout_and_dtype():
    rng = np.random.default_rng(3)
    weights = rng.standard_normal((16, 3, 5, 5)).astype(np.float32)
    cases = [
        weights,
        weights.transpose(2, 0, 3, 1),  # not contiguous
        weights.astype(np.float16),
        np.arange(12),
        np.array([1.0, np.nan, -np.inf, 2.0, 3.0]),
        np.array([1e200, 1.0]),  # finite, but its square is not
    ]
    for array in cases:
        finite = [float(v) for v in np.asarray(array, np.float64).ravel() if math.isfinite(v)]
        expected = math.sqrt(math.fsum(v * v for v in finite) / len(finite))
        assert math.isclose(rms(array), expected, rel_tol=1e-12), array.dtype
    assert rms(np.array([])) == 0.0 and rms(np.array([np.nan, np.inf])) == 0.0


def test_the_localize_commands_keep_freed_memory_on_glibc():
    import platform

    from difftest.heap import keep_freed_memory

    assert keep_freed_memory() == (platform.libc_ver()[0] == "glibc")
