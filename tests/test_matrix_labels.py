"""Label metrics on hand-made logits: identical, fully permuted, ties, and bad shapes."""

import numpy as np
import pytest

from difftest.matrix.labels import label_metrics, top1_discrepancy_pct, top5_kendall_tau


def test_identical_logits_change_nothing():
    logits = np.array([[0.1, 0.9, 0.3, 0.2, 0.5, 0.0], [3.0, 2.0, 1.0, 0.5, 0.2, 0.1]])
    assert top1_discrepancy_pct(logits, logits) == 0.0
    assert np.allclose(top5_kendall_tau(logits, logits), 1.0)


def test_fully_reversed_top5_gives_tau_minus_one_and_every_label_changes():
    source = np.array([[5.0, 4.0, 3.0, 2.0, 1.0, 0.0]] * 4)
    target = np.array([[1.0, 2.0, 3.0, 4.0, 5.0, 0.0]] * 4)
    assert top1_discrepancy_pct(source, target) == 100.0
    assert np.allclose(top5_kendall_tau(source, target), -1.0)


def test_one_image_of_four_flips():
    source = np.eye(4, 6)
    target = source.copy()
    target[2] = [0, 0, 0, 0, 0, 1]
    assert top1_discrepancy_pct(source, target) == 25.0
    metrics = label_metrics(source, target)
    assert metrics["changed_images"] == [2]
    assert metrics["max_abs_diff"] == 1.0


def test_ties_take_the_lowest_class_and_count_as_neither_order():
    source = np.array([[1.0, 3.0, 3.0, 0.0, 0.0, -1.0]])
    target = np.array([[1.0, 3.0, 2.0, 0.0, 0.0, -1.0]])
    # both pick class 1 (the lower of the tied 1 and 2)
    assert top1_discrepancy_pct(source, target) == 0.0
    # top-5 of the source: classes 1, 2, 0, 3, 4; the source ties (1,2) and (3,4), the target
    # only (3,4): tau-b = 8 / sqrt(8 * 9)
    assert top5_kendall_tau(source, target)[0] == pytest.approx(8 / np.sqrt(72))


def test_a_constant_ranking_carries_no_order():
    source = np.array([[4.0, 3.0, 2.0, 1.0, 0.0]])
    assert top5_kendall_tau(source, np.zeros((1, 5)))[0] == 0.0


def test_logits_of_different_shapes_are_refused():
    with pytest.raises(ValueError, match="one shape"):
        top1_discrepancy_pct(np.zeros((3, 10)), np.zeros((4, 10)))
