"""The paper's sequence questions answered with set operations on per-model k-gram sets.

Given the k-gram sets of mismatching models, of correct models and of a test-suite corpus,
:func:`compare_groups` says which sequences are shared among mismatching models, shared with
correct models, shared with the test suite, present only in mismatching models, and how many
mismatching models hold a sequence never seen in a correct model (Table 12 of the paper). Each
set is reported in full and reduced to its smallest members
(:func:`analysis.sequences.kgrams.minimal`). :mod:`analysis.sequences.pairwise` answers the same
questions the slow way, pair by pair.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass

from analysis.sequences.kgrams import KMIN, Gram, minimal


@dataclass(frozen=True)
class GroupComparison:
    """Sequence sets of one group of models (all full sets; minimal forms via :meth:`reduced`)."""

    in_mismatching: frozenset[Gram]
    shared_mismatching: frozenset[Gram]
    shared_with_correct: frozenset[Gram]
    shared_with_tests: frozenset[Gram]
    only_mismatching: frozenset[Gram]
    models_with_unseen: frozenset[str]
    models_sharing_unseen: frozenset[str]

    SETS = (
        "in_mismatching",
        "shared_mismatching",
        "shared_with_correct",
        "shared_with_tests",
        "only_mismatching",
    )

    def reduced(self, name: str, kmin: int = KMIN) -> set[Gram]:
        return minimal(getattr(self, name), kmin)


def compare_groups(
    mismatching: Mapping[str, set[Gram]],
    correct: Mapping[str, set[Gram]],
    tests: set[Gram],
) -> GroupComparison:
    """Answer every sequence question for one group; linear in the total k-gram count.

    ``models_with_unseen``: mismatching models holding a sequence no correct model holds;
    ``models_sharing_unseen``: those whose unseen sequence another mismatching model holds too
    (the paper's "share at least one sequence never seen in a correct model").
    """
    frequency: Counter[Gram] = Counter()
    for grams in mismatching.values():
        frequency.update(grams)
    seen_correct: set[Gram] = set().union(*correct.values()) if correct else set()
    in_mismatching = set(frequency)
    only = in_mismatching - seen_correct
    with_unseen = {m for m, grams in mismatching.items() if grams - seen_correct}
    sharing = {
        m
        for m, grams in mismatching.items()
        if any(frequency[g] >= 2 for g in grams - seen_correct)
    }
    return GroupComparison(
        in_mismatching=frozenset(in_mismatching),
        shared_mismatching=frozenset(g for g, n in frequency.items() if n >= 2),
        shared_with_correct=frozenset(in_mismatching & seen_correct),
        shared_with_tests=frozenset(in_mismatching & tests),
        only_mismatching=frozenset(only),
        models_with_unseen=frozenset(with_unseen),
        models_sharing_unseen=frozenset(sharing),
    )
