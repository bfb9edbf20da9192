"""The paper's slow method: compare every pair of paths of every pair of models.

The study compared the op-type paths of each pair of models with a longest-matching-block
algorithm and cut the shared blocks down to their 3–5-op parts. That is quadratic in models and
in paths per model (billions of comparisons for the published campaign);
:mod:`analysis.sequences.kgrams` answers the same questions with k-gram sets. This module keeps
the pairwise method for small inputs, as the reference the fast method is tested against:

- ``matcher="exact"`` finds *every* common block of two paths (dynamic programming over the
  longest common suffix), so its answers equal the k-gram answers on uncapped paths;
- ``matcher="difflib"`` uses :class:`difflib.SequenceMatcher` matching blocks, the greedy
  longest-block-first search the paper's description suggests; it can miss blocks that cross a
  longer one, so its sets are subsets of the exact ones.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from difflib import SequenceMatcher
from itertools import combinations

from analysis.sequences.groups import GroupComparison
from analysis.sequences.kgrams import KMAX, KMIN, Gram, grams_of_paths

MATCHERS = ("exact", "difflib")


def common_blocks(
    p: Sequence[str], q: Sequence[str], min_len: int, matcher: str = "exact"
) -> list[Gram]:
    """Common contiguous blocks of at least ``min_len`` items of two paths."""
    if matcher == "difflib":
        blocks = SequenceMatcher(None, p, q, autojunk=False).get_matching_blocks()
        return [tuple(p[b.a : b.a + b.size]) for b in blocks if b.size >= min_len]
    if matcher != "exact":
        raise ValueError(f"unknown matcher '{matcher}', choose from {MATCHERS}")
    found = []
    previous = [0] * (len(q) + 1)
    for i in range(1, len(p) + 1):
        current = [0] * (len(q) + 1)
        for j in range(1, len(q) + 1):
            if p[i - 1] == q[j - 1]:
                run = previous[j - 1] + 1
                current[j] = run
                right_maximal = i == len(p) or j == len(q) or p[i] != q[j]
                if run >= min_len and right_maximal:
                    found.append(tuple(p[i - run : i]))
        previous = current
    return found


class PairwiseComparer:
    """Shared k-grams of two path lists, with a count of the path pairs compared."""

    def __init__(self, kmin: int = KMIN, kmax: int = KMAX, matcher: str = "exact"):
        self.kmin, self.kmax, self.matcher = kmin, kmax, matcher
        self.comparisons = 0

    def shared(self, paths_a: Sequence[Gram], paths_b: Sequence[Gram]) -> set[Gram]:
        grams: set[Gram] = set()
        for p in paths_a:
            for q in paths_b:
                self.comparisons += 1
                grams |= grams_of_paths(
                    common_blocks(p, q, self.kmin, self.matcher), self.kmin, self.kmax
                )
        return grams


def pairwise_compare(
    mismatching: Mapping[str, Sequence[Gram]],
    correct: Mapping[str, Sequence[Gram]],
    tests: Sequence[Gram],
    comparer: PairwiseComparer | None = None,
) -> GroupComparison:
    """:func:`analysis.sequences.groups.compare_groups` from paths, one model pair at a time."""
    comparer = comparer or PairwiseComparer()
    own = {m: comparer.shared(paths, paths) for m, paths in mismatching.items()}
    pair_shared: dict[str, set[Gram]] = {m: set() for m in mismatching}
    for a, b in combinations(sorted(mismatching), 2):
        common = comparer.shared(mismatching[a], mismatching[b])
        pair_shared[a] |= common
        pair_shared[b] |= common
    with_correct = {
        m: set().union(*(comparer.shared(paths, c) for c in correct.values()))
        for m, paths in mismatching.items()
    }
    unseen = {m: own[m] - with_correct[m] for m in mismatching}
    return GroupComparison(
        in_mismatching=frozenset().union(*own.values()),
        shared_mismatching=frozenset().union(*pair_shared.values()),
        shared_with_correct=frozenset().union(*with_correct.values()),
        shared_with_tests=frozenset().union(
            *(comparer.shared(paths, tests) for paths in mismatching.values())
        ),
        only_mismatching=frozenset().union(*unseen.values()),
        models_with_unseen=frozenset(m for m, u in unseen.items() if u),
        models_sharing_unseen=frozenset(m for m, u in unseen.items() if u & pair_shared[m]),
    )
