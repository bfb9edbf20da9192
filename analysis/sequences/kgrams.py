"""Op-type paths and k-gram indexing of converted graphs (RQ4 micro analysis).

A graph structure (difftest's ``graph-structure/1`` JSON, or an ONNX file read by
:mod:`analysis.sequences.corpus`) becomes an :class:`OpGraph`: one op type per node and the data
edges between nodes. Two views of its operator sequences:

- :func:`enumerate_paths`: every simple path from a node that reads a graph input to a node that
  writes a graph output, as a tuple of op types. Graphs are DAGs, so every path is simple, but
  their number grows exponentially with depth; enumeration stops at ``cap`` node paths and
  :func:`count_paths` (exact, by dynamic programming) says how many the cap cut.
- :func:`kgrams`: every contiguous subsequence of ``kmin``..``kmax`` op types of those paths,
  computed directly on the graph without listing paths: a walk of k nodes lies on some
  input-to-output path exactly when its first node is reachable from an input node and its last
  node reaches an output node. The result is the same set as taking the k-grams of every path
  (see :mod:`analysis.sequences.pairwise`), it does not depend on the path cap, and its cost is
  the number of distinct k-grams, not the number of paths.

Questions about sequences shared between groups of models are then set operations on these
k-gram sets (:func:`minimal`, :class:`SequenceIndex`).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np
from scipy import sparse

from convfail.errors import DatasetError

KMIN = 3
KMAX = 5
PATH_CAP = 10_000

Gram = tuple[str, ...]


@dataclass(frozen=True)
class OpGraph:
    """Op types and successor lists of one graph, with its input and output nodes."""

    name: str
    ops: tuple[str, ...]
    successors: tuple[tuple[int, ...], ...]
    sources: tuple[int, ...]
    sinks: frozenset[int]

    @property
    def n_nodes(self) -> int:
        return len(self.ops)


def _op_name(node: dict) -> str:
    domain = node.get("domain") or ""
    op = node["op_type"]
    return f"{domain}::{op}" if domain and domain != "ai.onnx" else op


def _names(values: Iterable) -> set[str]:
    return {v["name"] if isinstance(v, dict) else v for v in values}


def op_graph(structure: dict, name: str = "") -> OpGraph:
    """The :class:`OpGraph` of a ``graph-structure/1`` dict (only nodes, inputs, outputs and
    initializers are read; edges are recomputed from node inputs and outputs)."""
    nodes = structure["nodes"]
    graph_inputs = _names(structure.get("inputs", [])) - _names(structure.get("initializers", []))
    graph_outputs = _names(structure.get("outputs", []))
    producer: dict[str, int] = {}
    for i, node in enumerate(nodes):
        for out in node["outputs"]:
            if out:
                producer[out] = i
    successors: list[set[int]] = [set() for _ in nodes]
    has_pred = [False] * len(nodes)
    sources = []
    for i, node in enumerate(nodes):
        reads_input = False
        for tensor in node["inputs"]:
            if tensor in producer and producer[tensor] != i:
                successors[producer[tensor]].add(i)
                has_pred[i] = True
            elif tensor in graph_inputs:
                reads_input = True
        if reads_input:
            sources.append(i)
    if not sources:  # a graph without real inputs: start where nothing comes in
        sources = [i for i in range(len(nodes)) if not has_pred[i]]
    sinks = frozenset(producer[o] for o in graph_outputs if o in producer)
    return OpGraph(
        name=name or structure.get("model_id", ""),
        ops=tuple(_op_name(n) for n in nodes),
        successors=tuple(tuple(sorted(s)) for s in successors),
        sources=tuple(sources),
        sinks=sinks,
    )


def topological_order(graph: OpGraph) -> list[int]:
    """Kahn's order; a cycle (never valid ONNX) is an error naming the graph."""
    indegree = [0] * graph.n_nodes
    for succ in graph.successors:
        for j in succ:
            indegree[j] += 1
    ready = [i for i, d in enumerate(indegree) if d == 0]
    order = []
    while ready:
        i = ready.pop()
        order.append(i)
        for j in graph.successors[i]:
            indegree[j] -= 1
            if indegree[j] == 0:
                ready.append(j)
    if len(order) != graph.n_nodes:
        raise DatasetError(f"graph '{graph.name}' has a cycle; ONNX graphs must be acyclic")
    return order


def _reach(graph: OpGraph, order: list[int]) -> tuple[list[bool], list[bool]]:
    """Which nodes an input node reaches, and which nodes reach an output node."""
    forward = [False] * graph.n_nodes
    for i in graph.sources:
        forward[i] = True
    for i in order:
        if forward[i]:
            for j in graph.successors[i]:
                forward[j] = True
    backward = [False] * graph.n_nodes
    for i in reversed(order):
        backward[i] = i in graph.sinks or any(backward[j] for j in graph.successors[i])
    return forward, backward


def count_paths(graph: OpGraph) -> int:
    """Exact number of input-to-output node paths (a path may end at any output node)."""
    order = topological_order(graph)
    ending = [0] * graph.n_nodes
    for i in reversed(order):
        ending[i] = int(i in graph.sinks) + sum(ending[j] for j in graph.successors[i])
    return sum(ending[i] for i in set(graph.sources))


def enumerate_paths(graph: OpGraph, cap: int = PATH_CAP) -> tuple[list[Gram], int]:
    """Op-type sequences of up to ``cap`` input-to-output node paths, and how many the cap cut.

    Paths are listed depth first from each input node in node order, so the kept ones are
    deterministic. Distinct node paths with the same op types give one sequence.
    """
    total = count_paths(graph)
    seen: set[Gram] = set()
    found: list[Gram] = []
    listed = 0
    for start in sorted(set(graph.sources)):
        stack = [(start, (start,))]
        while stack and listed < cap:
            node, path = stack.pop()
            if node in graph.sinks:
                listed += 1
                ops = tuple(graph.ops[i] for i in path)
                if ops not in seen:
                    seen.add(ops)
                    found.append(ops)
                if listed >= cap:
                    break
            for nxt in reversed(graph.successors[node]):
                stack.append((nxt, (*path, nxt)))
        if listed >= cap:
            break
    return found, total - listed


def grams_of_paths(paths: Iterable[Sequence[str]], kmin: int = KMIN, kmax: int = KMAX) -> set[Gram]:
    """Every contiguous subsequence of ``kmin``..``kmax`` items of the given paths."""
    grams: set[Gram] = set()
    for path in paths:
        path = tuple(path)
        for k in range(kmin, min(kmax, len(path)) + 1):
            grams.update(path[i : i + k] for i in range(len(path) - k + 1))
    return grams


def kgrams(graph: OpGraph, kmin: int = KMIN, kmax: int = KMAX) -> set[Gram]:
    """The k-grams (``kmin`` <= k <= ``kmax``) of all input-to-output paths, without the paths.

    ``ending[v]`` holds the distinct op-type walks of the current length that end at ``v`` and
    start at a node an input reaches; extending by one node per round keeps only distinct
    sequences, so shared prefixes cost nothing.
    """
    order = topological_order(graph)
    forward, backward = _reach(graph, order)
    predecessors: list[list[int]] = [[] for _ in range(graph.n_nodes)]
    for i, succ in enumerate(graph.successors):
        for j in succ:
            predecessors[j].append(i)
    ending: list[set[Gram]] = [
        {(graph.ops[v],)} if forward[v] else set() for v in range(graph.n_nodes)
    ]
    grams: set[Gram] = set()
    for length in range(2, kmax + 1):
        ending = [
            {(*s, graph.ops[v]) for u in predecessors[v] for s in ending[u]}
            for v in range(graph.n_nodes)
        ]
        if length >= kmin:
            for v in range(graph.n_nodes):
                if backward[v]:
                    grams.update(ending[v])
    return grams


def minimal(grams: Iterable[Gram], kmin: int = KMIN) -> set[Gram]:
    """The smallest members: drop a sequence when a shorter contiguous part (of at least
    ``kmin`` items) is itself in the set (the paper's "smallest shared subsequences")."""
    pool = set(grams)
    keep = set()
    for gram in pool:
        parts = (gram[i : i + k] for k in range(kmin, len(gram)) for i in range(len(gram) - k + 1))
        if not any(p in pool for p in parts):
            keep.add(gram)
    return keep


def fmt(gram: Sequence[str]) -> str:
    """A sequence as text: ``Conv>Relu>MaxPool``."""
    return ">".join(gram)


@dataclass
class SequenceIndex:
    """Presence of every feature (an operator or a k-gram) in every model, as a sparse matrix.

    Rows follow ``models``, columns ``features``; group questions become column sums over row
    masks, linear in the total number of (model, feature) pairs.
    """

    models: list[str]
    features: list
    matrix: sparse.csr_matrix

    @classmethod
    def build(cls, models: list[str], sets: list[set]) -> SequenceIndex:
        vocabulary: dict = {}
        rows, cols = [], []
        for r, items in enumerate(sets):
            for item in items:
                cols.append(vocabulary.setdefault(item, len(vocabulary)))
                rows.append(r)
        # ordered by (length, feature): sorting each length on its own compares the features
        # directly, several times faster on hundreds of thousands of k-grams than a key tuple
        by_length: dict[int, list] = {}
        for feature in vocabulary:
            by_length.setdefault(len(feature) if isinstance(feature, tuple) else 1, []).append(
                feature
            )
        features = [f for length in sorted(by_length) for f in sorted(by_length[length])]
        remap = np.empty(len(vocabulary), dtype=np.int64)
        for new, feature in enumerate(features):
            remap[vocabulary[feature]] = new
        data = np.ones(len(rows), dtype=np.int32)
        col_index = remap[np.asarray(cols, dtype=np.int64)] if cols else np.empty(0, np.int64)
        matrix = sparse.csr_matrix(
            (data, (np.asarray(rows, dtype=np.int64), col_index)),
            shape=(len(models), len(features)),
        )
        return cls(list(models), features, matrix)

    def counts(self, mask: np.ndarray) -> np.ndarray:
        """How many of the masked models hold each feature."""
        if not mask.any():
            return np.zeros(len(self.features), dtype=np.int64)
        return np.asarray(self.matrix[np.flatnonzero(mask)].sum(axis=0)).ravel()

    def present(self, mask: np.ndarray, at_least: int = 1) -> set:
        counts = self.counts(mask)
        return {self.features[i] for i in np.flatnonzero(counts >= at_least)}
