"""Table 12's vector counts equal the set version (compare_groups + minimal) on real models."""

from __future__ import annotations

import numpy as np
import pytest

from analysis.sequences.data import graph_campaigns, label_column, load_campaign_models
from analysis.sequences.groups import GroupComparison, compare_groups
from analysis.sequences.kgrams import KMIN, SequenceIndex, kgrams, minimal
from analysis.sequences.setcounts import SequenceSets
from convfail.paths import difftest_dir

CAMPAIGNS = graph_campaigns(difftest_dir())


def _check(keys: list[str], sets: list[set], suite: set, mis: np.ndarray, cor: np.ndarray):
    index = SequenceIndex.build(keys, sets)
    counts = SequenceSets.build(index, suite, KMIN).compare(mis, cor)
    reference = compare_groups(
        {k: s for k, s, m in zip(keys, sets, mis, strict=True) if m},
        {k: s for k, s, c in zip(keys, sets, cor, strict=True) if c},
        suite,
    )
    for name in GroupComparison.SETS:
        assert counts.full[name] == len(getattr(reference, name)), name
        assert counts.minimal[name] == len(reference.reduced(name)), name
    assert counts.models_with_unseen == len(reference.models_with_unseen)
    assert counts.models_sharing_unseen == len(reference.models_sharing_unseen)


def test_hand_made_sets_where_a_part_is_missing_from_the_set():
    # ABCD's parts ABC and BCD: only BCD is a sequence of a mismatching model
    sets = [{("A", "B", "C", "D"), ("B", "C", "D")}, {("A", "B", "C", "D")}, {("X", "Y", "Z")}]
    suite = {("B", "C", "D"), ("Q", "R", "S")}
    _check(["m1", "m2", "c1"], sets, suite, np.array([1, 1, 0], bool), np.array([0, 0, 1], bool))
    # no correct model at all, and a group with one mismatching model
    _check(["m1", "m2", "c1"], sets, set(), np.array([1, 0, 0], bool), np.zeros(3, bool))


@pytest.mark.skipif(not CAMPAIGNS, reason="no campaign with graph structures")
def test_every_group_and_policy_of_the_shipped_campaign():
    models = load_campaign_models(CAMPAIGNS[0])
    keys = list(models.frame["key"])
    sets = [kgrams(models.graphs[k]) for k in keys]
    # a stand-in test suite: the sequences of every fifth model
    suite = set().union(*sets[::5])
    converters = models.frame["converter"].to_numpy()
    for policy in models.policies:
        label = models.frame[label_column(policy)].to_numpy(dtype=bool)
        for members in [converters == c for c in sorted(set(converters))] + [np.ones_like(label)]:
            _check(keys, sets, suite, members & label, members & ~label)


def test_minimal_by_product_equals_minimal_by_slicing():
    rng = np.random.default_rng(7)
    grams = {tuple(rng.choice(list("ABCD"), int(rng.integers(3, 6)))) for _ in range(300)}
    index = SequenceIndex.build(["m"], [grams])
    sequences = SequenceSets.build(index, None, KMIN)
    features = np.array(index.features, dtype=object)
    for _ in range(10):
        members = rng.random(len(features)) < 0.5
        kept = set(features[sequences.minimal(members)])
        assert kept == minimal(set(features[members]))
