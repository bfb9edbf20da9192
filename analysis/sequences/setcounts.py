"""Table 12's sequence questions as vector operations on a campaign's :class:`SequenceIndex`.

:func:`analysis.sequences.groups.compare_groups` answers them with Python sets, one model's
k-gram set at a time, and :func:`analysis.sequences.kgrams.minimal` reduces each answer by
slicing every sequence. At campaign scale (thousands of models, every group and policy, five
sets each reduced) those loops were most of the analysis. Here a set of sequences is a boolean
vector over the index's features, how many models of a group hold a sequence is a sparse column
sum, and "a shorter part of it is in the set" is one product with a sparse matrix of
(sequence, proper part) pairs built once per campaign. A test holds every count equal to the set
version on the same models.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import sparse

from analysis.sequences.kgrams import Gram, SequenceIndex


@dataclass(frozen=True)
class GroupCounts:
    """Sizes of one group's sequence sets, full and minimal, and the two model counts."""

    full: dict[str, int]
    minimal: dict[str, int]
    models_with_unseen: int
    models_sharing_unseen: int


@dataclass
class SequenceSets:
    """A campaign's k-gram index with what reducing a set to its minimal members needs."""

    index: SequenceIndex
    # parts[g, p] = 1 when feature p is a contiguous part of feature g, shorter than g and of at
    # least kmin items: the parts kgrams.minimal looks for, among the features that exist here
    parts: sparse.csr_matrix
    in_suite: np.ndarray

    @classmethod
    def build(cls, index: SequenceIndex, suite: set[Gram] | None, kmin: int) -> SequenceSets:
        position = {feature: j for j, feature in enumerate(index.features)}
        rows, cols = [], []
        for i, gram in enumerate(index.features):
            for k in range(kmin, len(gram)):
                for start in range(len(gram) - k + 1):
                    j = position.get(gram[start : start + k])
                    if j is not None:
                        rows.append(i)
                        cols.append(j)
        n = len(index.features)
        parts = sparse.csr_matrix(
            (np.ones(len(rows), dtype=np.int32), (rows, cols)), shape=(n, n), dtype=np.int32
        )
        known = suite or set()
        in_suite = np.fromiter((f in known for f in index.features), dtype=bool, count=n)
        return cls(index, parts, in_suite)

    def minimal(self, members: np.ndarray) -> np.ndarray:
        """The members none of whose shorter parts is a member."""
        covered = self.parts @ members.astype(np.int32) > 0
        return members & ~covered

    def compare(self, mis: np.ndarray, cor: np.ndarray) -> GroupCounts:
        """What :func:`~analysis.sequences.groups.compare_groups` answers for the mismatching
        (``mis``) and correct (``cor``) models of a group, as counts."""
        frequency = self.index.counts(mis)
        in_mismatching = frequency > 0
        unseen = in_mismatching & ~(self.index.counts(cor) > 0)
        sets = {
            "in_mismatching": in_mismatching,
            "shared_mismatching": frequency >= 2,
            "shared_with_correct": in_mismatching & ~unseen,
            "shared_with_tests": in_mismatching & self.in_suite,
            "only_mismatching": unseen,
        }
        rows = self.index.matrix[np.flatnonzero(mis)]
        return GroupCounts(
            full={name: int(v.sum()) for name, v in sets.items()},
            minimal={name: int(self.minimal(v).sum()) for name, v in sets.items()},
            models_with_unseen=int((rows @ unseen.astype(np.int32) > 0).sum()),
            models_sharing_unseen=int(
                (rows @ (unseen & (frequency >= 2)).astype(np.int32) > 0).sum()
            ),
        )
