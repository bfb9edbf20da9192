"""Random ``graph-structure/1`` dicts shaped like difftest's synthetic graphs, without models.

The sequence analysis needs thousands of graph structures to be benchmarked and constructed
examples with a known answer to be tested; converting real models for that would take hours.
A structure here grows node by node like :mod:`difftest.synthetic` graphs do: each node reads
one or two recent tensors (the newest most often, so graphs are deep), and tensors nobody reads
become graph outputs. A *motif* (a list of op types) can be planted as a chain at a random
point, so a test knows which models hold it. :func:`write_campaign` puts such structures in a
campaign folder, in the files difftest writes, for the analysis to read.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import numpy as np

from convfail.campaign_files import (
    CONFIG_FILE,
    GRAPH_SCHEMA,
    GRAPHS_DIR,
    RESULT_KEYS,
    RESULTS_FILE,
    dumps_graph,
    graph_file,
    result_key,
    write_results,
)
from convfail.verdicts import DEFAULT, judge, parse_policy

OPS = (
    "Abs",
    "Add",
    "AveragePool",
    "BatchNormalization",
    "Ceil",
    "Clip",
    "Concat",
    "Conv",
    "Cos",
    "Div",
    "Elu",
    "Erf",
    "Exp",
    "Flatten",
    "Floor",
    "Gelu",
    "Gemm",
    "LeakyRelu",
    "Log",
    "LogSoftmax",
    "MatMul",
    "Max",
    "MaxPool",
    "Min",
    "Mul",
    "Neg",
    "Pad",
    "Pow",
    "Reciprocal",
    "ReduceMax",
    "ReduceMean",
    "ReduceMin",
    "ReduceSum",
    "Relu",
    "Reshape",
    "Resize",
    "Sigmoid",
    "Sign",
    "Sin",
    "Slice",
    "Softmax",
    "Softplus",
    "Sqrt",
    "Sub",
    "Tanh",
    "Transpose",
    "Where",
)
BINARY = {"Add", "Sub", "Mul", "Div", "Max", "Min", "Pow", "Concat", "MatMul", "Where"}
WINDOW = 6


def random_structure(
    rng: np.random.Generator,
    n_nodes: int,
    model_id: str = "",
    converter: str = "synthetic",
    motifs: tuple[tuple[str, ...], ...] = (),
    ops: tuple[str, ...] | list[str] = OPS,
) -> dict:
    """A structure of ``n_nodes`` random nodes (plus the nodes of every planted motif)."""
    plan: list[tuple[str, bool]] = [(str(rng.choice(ops)), False) for _ in range(n_nodes)]
    for motif in motifs:
        free = [
            at
            for at in range(len(plan) + 1)
            if at in (0, len(plan)) or not (plan[at - 1][1] and plan[at][1])
        ]  # never inside another motif
        at = int(rng.choice(free))
        plan[at:at] = [(op, True) for op in motif]
    tensors = ["x"]
    consumed: set[str] = set()
    nodes = []
    for index, (op, chained) in enumerate(plan):
        if chained and nodes and plan[index - 1][1]:
            inputs = [tensors[-1]]
        else:
            arity = 2 if op in BINARY else 1
            recent = tensors[-WINDOW:]
            weights = 2.0 ** np.arange(len(recent))  # the newest tensor is the likeliest
            picks = rng.choice(
                len(recent), size=min(arity, len(recent)), replace=False, p=weights / weights.sum()
            )
            inputs = [recent[int(i)] for i in picks]
        out = f"t{index}"
        nodes.append(
            {
                "index": index,
                "name": f"n{index}",
                "op_type": op,
                "domain": "",
                "inputs": inputs,
                "outputs": [out],
                "attributes": {},
            }
        )
        consumed.update(inputs)
        tensors.append(out)
    outputs = [t for t in tensors[1:] if t not in consumed]
    edges = [
        [int(name[1:]), node["index"], name]
        for node in nodes
        for name in node["inputs"]
        if name != "x"
    ]
    counts: dict[str, int] = {}
    for node in nodes:
        counts[node["op_type"]] = counts.get(node["op_type"], 0) + 1
    return {
        "schema": GRAPH_SCHEMA,
        "model_id": model_id,
        "converter": converter,
        "opset": 17,
        "inputs": [{"name": "x", "dtype": "float32", "shape": [1, 8]}],
        "outputs": [{"name": t, "dtype": "float32", "shape": [1, 8]} for t in outputs],
        "initializers": [],
        "nodes": nodes,
        "edges": edges,
        "op_counts": dict(sorted(counts.items())),
    }


def write_campaign(root: Path, models: Iterable[tuple[dict, float]]) -> None:
    """A campaign folder of models that ran: each a structure and the largest difference of its
    outputs, on a value of magnitude 1, kept as the record's raw differences so that every
    verdict policy judges it (0.1: a mismatch under every policy; 1e-4: only under ``default``
    and stricter; 1e-6: only under a bare 1e-7). The outcome is the ``default`` verdict."""
    root = Path(root)
    (root / GRAPHS_DIR).mkdir(parents=True)
    (root / CONFIG_FILE).write_text(f"name: {root.name}\n", encoding="utf-8")
    records = []
    policy = parse_policy(DEFAULT)
    for structure, difference in models:
        model_id, converter = structure["model_id"], structure["converter"]
        graph_path = graph_file(model_id, converter)
        (root / graph_path).write_text(dumps_graph(structure), encoding="utf-8")
        comparison = {
            "elements": 1,
            "structure": "",
            "nonfinite_mismatches": 0,
            "differences": {"float32": [[float(difference), 1.0]] if difference else []},
        }
        records.append(
            dict.fromkeys(RESULT_KEYS)
            | {
                "key": result_key(model_id, converter),
                "model_id": model_id,
                "converter": converter,
                "policy": DEFAULT,
                "outcome": judge(comparison, policy),
                "graph_file": graph_path,
                "comparison": comparison,
            }
        )
    write_results(root / RESULTS_FILE, records)
