"""Cohen's kappa without scikit-learn: the same numbers, bit for bit, as its cohen_kappa_score."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import cohen_kappa_score

from convfail.agreement import cohen_kappa


@pytest.mark.parametrize("seed", range(20))
def test_kappa_equals_scikit_learn_exactly(seed):
    rng = np.random.default_rng(seed)
    n = int(rng.integers(2, 200))
    categories = [f"c{i}" for i in range(int(rng.integers(2, 9)))]
    a = rng.choice(categories, n)
    # the second rater mostly agrees, sometimes picks at random
    b = np.where(rng.random(n) < 0.7, a, rng.choice(categories, n))
    assert cohen_kappa(pd.Series(a), pd.Series(b)) == cohen_kappa_score(a, b)


def test_kappa_of_a_textbook_table():
    a = pd.Series(["negative", "positive", "negative", "neutral", "positive"])
    b = pd.Series(["negative", "positive", "negative", "neutral", "negative"])
    assert cohen_kappa(a, b) == 0.6875


def test_kappa_edge_cases():
    assert math.isnan(cohen_kappa(pd.Series([], dtype=str), pd.Series([], dtype=str)))
    assert cohen_kappa(pd.Series(["x", "x"]), pd.Series(["x", "x"])) == 1.0
    # one category each, never the same one: agreement no better than chance
    assert cohen_kappa(pd.Series(["x", "x"]), pd.Series(["y", "y"])) == 0.0
    disjoint = pd.Series(["x", "y", "x"]), pd.Series(["y", "x", "y"])
    assert cohen_kappa(*disjoint) == cohen_kappa_score(*disjoint)
