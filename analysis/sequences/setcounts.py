"""Table 12's sequence questions as vector operations on a campaign's :class:`SequenceIndex`.

:func:`analysis.sequences.groups.compare_groups` answers them with Python sets, one model's
k-gram set at a time, and :func:`analysis.sequences.kgrams.minimal` reduces each answer by
slicing every sequence. At campaign scale (thousands of models, every group and policy, five
sets each reduced) those loops were most of the analysis. Here a set of sequences is a boolean
vector over the index's features, how many models of a group hold a sequence is a sparse column
sum, and "a shorter part of it is in the set" a few vector operations per sequence length
(:meth:`SequenceSets.minimal`). A test holds every count equal to the set version on the same
models.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

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
    """A campaign's k-gram index with what reducing a set to its minimal members needs.

    A sequence has a shorter part (of at least ``kmin`` items) in a set exactly when its prefix
    or its suffix one item shorter is in the set or has such a part itself. So each sequence
    keeps the positions of those two, and a set's "covered" vector is filled one length at a
    time. Parts that are no feature of the index get positions of their own after the features
    (for k-gram sets, closed under taking parts, there are none).
    """

    index: SequenceIndex
    prefix: np.ndarray  # position of gram[:-1] (or -1 when the gram has kmin items or fewer)
    suffix: np.ndarray  # position of gram[1:]
    levels: list[np.ndarray]  # positions of the grams longer than kmin, one array per length
    in_suite: np.ndarray

    @classmethod
    def build(cls, index: SequenceIndex, suite: set[Gram] | None, kmin: int) -> SequenceSets:
        grams: list[Gram] = list(index.features)
        position = {gram: j for j, gram in enumerate(grams)}
        prefix, suffix = [], []
        for gram in grams:  # grows while it runs: parts that are not features are appended
            if len(gram) <= kmin:
                prefix.append(-1)
                suffix.append(-1)
                continue
            for part, ends in ((gram[:-1], prefix), (gram[1:], suffix)):
                j = position.get(part)
                if j is None:
                    j = position[part] = len(grams)
                    grams.append(part)
                ends.append(j)
        lengths = np.fromiter(map(len, grams), dtype=np.int64, count=len(grams))
        levels = [np.flatnonzero(lengths == k) for k in np.unique(lengths) if k > kmin]
        known = suite or set()
        n = len(index.features)
        in_suite = np.fromiter((f in known for f in index.features), dtype=bool, count=n)
        return cls(index, np.array(prefix), np.array(suffix), levels, in_suite)

    def minimal(self, members: np.ndarray) -> np.ndarray:
        """The members none of whose shorter parts is a member."""
        covered = np.zeros(len(self.prefix), dtype=bool)
        covered[: len(members)] = members
        for rows in self.levels:  # shortest first: a level reads the one below it
            covered[rows] |= covered[self.prefix[rows]] | covered[self.suffix[rows]]
        n = len(members)
        longer = self.prefix[:n] >= 0
        has_part = np.zeros(n, dtype=bool)
        has_part[longer] = covered[self.prefix[:n][longer]] | covered[self.suffix[:n][longer]]
        return members & ~has_part

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
