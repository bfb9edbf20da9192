"""Rewrites of a converted model that keep what it computes: a localizer must not alarm on them.

Converters and optimisers rename nodes, insert Identity nodes, and wrap values in a transpose
and its inverse (layout round trips); scaling by one changes nothing either. Each rewrite here
returns a new model that computes the same outputs as the one it is given.
"""

from __future__ import annotations

import numpy as np
import onnx
from onnx import helper, numpy_helper


def _copy(model: onnx.ModelProto) -> onnx.ModelProto:
    out = onnx.ModelProto()
    out.CopyFrom(model)
    return out


def _wrap(model: onnx.ModelProto, index: int, nodes, inits=()) -> onnx.ModelProto:
    """Insert ``nodes`` (reading ``@in``, the last writing ``@out``) after node ``index``."""
    out = _copy(model)
    value = out.graph.node[index].output[0]
    new_value = f"{value}__benign"
    for node in out.graph.node[index + 1 :]:
        for k, name in enumerate(node.input):
            if name == value:
                node.input[k] = new_value
    if any(graph_output.name == value for graph_output in out.graph.output):
        return model  # rewriting a graph output would rename it
    for offset, node in enumerate(nodes, start=1):
        node.input[:] = [value if n == "@in" else n for n in node.input]
        node.output[:] = [new_value if n == "@out" else n for n in node.output]
        out.graph.node.insert(index + offset, node)
    out.graph.initializer.extend(inits)
    return out


def renamed(model: onnx.ModelProto) -> onnx.ModelProto:
    out = _copy(model)
    for k, node in enumerate(out.graph.node):
        node.name = f"renamed_{k}"
    return out


def identity_after(model: onnx.ModelProto, index: int) -> onnx.ModelProto:
    node = helper.make_node("Identity", ["@in"], ["@out"], name=f"benign_identity_{index}")
    return _wrap(model, index, [node])


def times_one_after(model: onnx.ModelProto, index: int) -> onnx.ModelProto:
    one = numpy_helper.from_array(np.array(1.0, np.float32), f"benign_one_{index}")
    node = helper.make_node("Mul", ["@in", one.name], ["@out"], name=f"benign_mul_{index}")
    return _wrap(model, index, [node], [one])


def transpose_round_trip_after(model: onnx.ModelProto, index: int) -> onnx.ModelProto:
    there = helper.make_node(
        "Transpose", ["@in"], [f"benign_t_{index}"], perm=[0, 2, 3, 1], name=f"benign_nhwc_{index}"
    )
    back = helper.make_node(
        "Transpose", [f"benign_t_{index}"], ["@out"], perm=[0, 3, 1, 2], name=f"benign_nchw_{index}"
    )
    return _wrap(model, index, [there, back])


def benign_rewrites(
    model: onnx.ModelProto, rank4_nodes: list[int]
) -> list[tuple[str, onnx.ModelProto]]:
    """(name, rewritten model) pairs: renamed nodes, and an Identity, a multiplication by one
    and a layout round trip after the first of ``rank4_nodes`` (nodes writing a 4-D value)."""
    out = [("renamed nodes", renamed(model))]
    if rank4_nodes:
        index = rank4_nodes[0]
        out += [
            ("identity inserted", identity_after(model, index)),
            ("multiplied by one", times_one_after(model, index)),
            ("transpose round trip", transpose_round_trip_after(model, index)),
        ]
    return out
