"""Paths, k-grams, the path cap and the fast vs. the exact pairwise method on built graphs."""

from __future__ import annotations

import numpy as np
import pytest

from analysis.sequences.groups import compare_groups
from analysis.sequences.kgrams import (
    SequenceIndex,
    count_paths,
    enumerate_paths,
    grams_of_paths,
    kgrams,
    minimal,
    op_graph,
)
from analysis.sequences.pairwise import PairwiseComparer, common_blocks, pairwise_compare
from analysis.sequences.random_structures import random_structure
from convfail.campaign_files import GRAPHS_DIR, read_graph
from convfail.errors import DatasetError
from convfail.paths import campaign_dir


def structure(nodes, inputs=("x",), outputs=("out",), initializers=()):
    """A graph-structure dict from ``(op, [inputs], [outputs])`` triples."""
    return {
        "inputs": [{"name": n} for n in [*inputs, *initializers]],
        "initializers": [{"name": n} for n in initializers],
        "outputs": [{"name": n} for n in outputs],
        "nodes": [
            {"op_type": op, "domain": "", "inputs": list(i), "outputs": list(o)}
            for op, i, o in nodes
        ],
    }


CHAIN = structure(
    [
        ("Conv", ["x", "w"], ["a"]),
        ("Relu", ["a"], ["b"]),
        ("MaxPool", ["b"], ["c"]),
        ("Flatten", ["c"], ["out"]),
    ],
    initializers=("w",),
)

# x -> A; A -> B, A -> C; D(B, C) -> out; plus a Constant feeding D and a dead branch E.
DIAMOND = structure(
    [
        ("A", ["x"], ["a"]),
        ("B", ["a"], ["b"]),
        ("C", ["a"], ["c"]),
        ("Constant", [], ["k"]),
        ("D", ["b", "c", "k"], ["out"]),
        ("E", ["a"], ["dead"]),
    ]
)


def test_chain_paths_and_kgrams():
    g = op_graph(CHAIN)
    assert g.sources == (0,)  # the initializer w is not a graph input
    assert count_paths(g) == 1
    assert enumerate_paths(g) == ([("Conv", "Relu", "MaxPool", "Flatten")], 0)
    assert kgrams(g) == {
        ("Conv", "Relu", "MaxPool"),
        ("Relu", "MaxPool", "Flatten"),
        ("Conv", "Relu", "MaxPool", "Flatten"),
    }
    assert kgrams(g, 2, 2) == {("Conv", "Relu"), ("Relu", "MaxPool"), ("MaxPool", "Flatten")}


def test_diamond_skips_constants_and_dead_branches():
    g = op_graph(DIAMOND)
    paths, cut = enumerate_paths(g)
    assert sorted(paths) == [("A", "B", "D"), ("A", "C", "D")] and cut == 0
    assert count_paths(g) == 2
    assert kgrams(g) == {("A", "B", "D"), ("A", "C", "D")}
    assert not any("E" in gram or "Constant" in gram for gram in kgrams(g, 1, 3))


def test_a_path_may_end_at_an_inner_output():
    g = op_graph(
        structure(
            [("A", ["x"], ["a"]), ("B", ["a"], ["b"]), ("C", ["b"], ["c"])],
            outputs=("b", "c"),
        )
    )
    paths, _ = enumerate_paths(g)
    assert sorted(paths) == [("A", "B"), ("A", "B", "C")]
    assert kgrams(g) == {("A", "B", "C")}


def test_domains_qualify_op_types_and_duplicate_edges_count_once():
    s = structure([("A", ["x"], ["a"]), ("Mul", ["a", "a"], ["b"]), ("Q", ["b"], ["out"])])
    s["nodes"][2]["domain"] = "com.microsoft"
    g = op_graph(s)
    assert g.ops == ("A", "Mul", "com.microsoft::Q")
    assert count_paths(g) == 1


def ladder(rungs: int) -> dict:
    """``rungs`` diamonds in a row: 2**rungs input-to-output paths over 3*rungs+1 nodes."""
    nodes, last = [], "x"
    for r in range(rungs):
        nodes += [
            (f"L{r % 3}", [last], [f"l{r}"]),
            (f"R{r % 2}", [last], [f"r{r}"]),
            ("Add", [f"l{r}", f"r{r}"], [f"s{r}"]),
        ]
        last = f"s{r}"
    nodes.append(("Out", [last], ["out"]))
    return structure(nodes)


def test_the_cap_bounds_enumeration_and_counts_what_it_cut():
    g = op_graph(ladder(20))
    assert count_paths(g) == 2**20
    paths, cut = enumerate_paths(g, cap=50)
    assert len(paths) <= 50 and cut == 2**20 - 50
    small = op_graph(ladder(6))
    full, cut = enumerate_paths(small, cap=10_000)
    assert cut == 0
    assert kgrams(small) == grams_of_paths(full)
    # the k-gram index does not depend on the cap: the 20-rung ladder has the same inner shapes
    assert {gram for gram in kgrams(small) if "Out" not in gram} <= kgrams(g)


def test_a_cycle_is_a_one_line_error():
    s = structure([("A", ["x", "b"], ["a"]), ("B", ["a"], ["b"])], outputs=("b",))
    with pytest.raises(DatasetError, match="cycle"):
        count_paths(op_graph(s))


def test_minimal_keeps_the_smallest_parts():
    grams = {("A", "B", "C"), ("A", "B", "C", "D"), ("B", "C", "D", "E"), ("X", "Y", "Z")}
    assert minimal(grams) == {("A", "B", "C"), ("B", "C", "D", "E"), ("X", "Y", "Z")}


def test_common_blocks_exact_finds_crossing_blocks_difflib_may_not():
    p = list("ABCDXYZ")
    q = list("XYZ_ABCD")
    exact = set(common_blocks(p, q, 3))
    assert exact == {tuple("ABCD"), tuple("XYZ")}
    assert set(common_blocks(p, q, 3, "difflib")) <= exact
    assert tuple("ABCD") in set(common_blocks(p, q, 3, "difflib"))


def test_sequence_index_counts_per_group():
    index = SequenceIndex.build(["m1", "m2", "m3"], [{"a", "b"}, {"b"}, {"b", "c"}])
    assert index.features == ["a", "b", "c"]
    mask = np.array([True, True, False])
    assert list(index.counts(mask)) == [1, 2, 0]
    assert index.present(np.ones(3, bool), at_least=2) == {"b"}


def _random_models(seed: int, n: int, size: tuple[int, int]):
    rng = np.random.default_rng(seed)
    ops = ["A", "B", "C"]  # a small alphabet, so models share many sequences
    return {
        f"m{i}": op_graph(random_structure(rng, int(rng.integers(*size)), ops=ops))
        for i in range(n)
    }


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_fast_and_exact_pairwise_methods_agree(seed):
    graphs = _random_models(seed, 9, (6, 14))
    names = sorted(graphs)
    mismatching, correct, suite = names[:4], names[4:7], names[7:]
    paths = {m: enumerate_paths(graphs[m], cap=100_000) for m in names}
    assert all(cut == 0 for _, cut in paths.values())
    grams = {m: kgrams(graphs[m]) for m in names}
    for m in names:
        assert grams[m] == grams_of_paths(paths[m][0])
    suite_grams = set().union(*(grams[m] for m in suite))
    fast = compare_groups(
        {m: grams[m] for m in mismatching}, {m: grams[m] for m in correct}, suite_grams
    )
    comparer = PairwiseComparer()
    slow = pairwise_compare(
        {m: paths[m][0] for m in mismatching},
        {m: paths[m][0] for m in correct},
        [p for m in suite for p in paths[m][0]],
        comparer,
    )
    assert fast == slow
    assert comparer.comparisons > 0
    assert fast.shared_mismatching and fast.only_mismatching  # the example is not trivial
    difflib = pairwise_compare(
        {m: paths[m][0] for m in mismatching},
        {m: paths[m][0] for m in correct},
        [p for m in suite for p in paths[m][0]],
        PairwiseComparer(matcher="difflib"),
    )
    for name in fast.SETS:
        if name != "only_mismatching":  # fewer shared-with-correct blocks can mean more "only"
            assert getattr(difflib, name) <= getattr(fast, name), name


def test_campaign_graph_files_read_like_difftest_wrote_them():
    graphs = sorted((campaign_dir("fresh-synthetic") / GRAPHS_DIR).glob("*.json"))
    if not graphs:
        pytest.skip("no fresh campaign graphs in data/difftest")
    for path in graphs[:10]:
        s = read_graph(path)
        g = op_graph(s)
        recorded = {(a, b) for a, b, _ in s["edges"] if a != b}
        ours = {(a, b) for a, succ in enumerate(g.successors) for b in succ}
        assert ours == recorded, path.name
        counts: dict[str, int] = {}
        for op in g.ops:
            counts[op] = counts.get(op, 0) + 1
        assert counts == s["op_counts"], path.name
        assert count_paths(g) >= 1
