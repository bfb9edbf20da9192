"""The small structure file of a converted graph, for sequence analysis and localization.

Schema (:data:`convfail.campaign_files.GRAPH_SCHEMA`), written by
:func:`convfail.campaign_files.dumps_graph`:

- ``model_id``, ``converter``, ``opset`` (the default-domain opset the model imports);
- ``inputs``/``outputs``: ``[{name, dtype, shape}]`` (a dimension is an int or a symbol string);
- ``initializers``: ``[{name, dtype, shape}]`` (values are left out);
- ``nodes``: ``[{index, name, op_type, domain, inputs, outputs, attributes}]`` in graph order;
  attribute values are scalars, strings or lists of them; tensor attributes become
  ``{"tensor": {dtype, shape}}``, graph attributes ``{"graph": name}``;
- ``edges``: ``[[producer index, consumer index, tensor name]]`` between nodes; graph inputs and
  initializers are not nodes, so they produce no edge;
- ``op_counts``: op type -> count (domain-qualified when not the default domain).

Nodes of subgraphs (If/Loop bodies) are not flattened; their owner node names them.
"""

from __future__ import annotations

from collections import Counter

import onnx
from onnx import helper

from convfail.campaign_files import GRAPH_SCHEMA


def _dtype(elem_type: int) -> str:
    return helper.tensor_dtype_to_np_dtype(elem_type).name if elem_type else "undefined"


def _value_info(v: onnx.ValueInfoProto) -> dict:
    t = v.type.tensor_type
    dims = [d.dim_value if d.HasField("dim_value") else (d.dim_param or "?") for d in t.shape.dim]
    return {"name": v.name, "dtype": _dtype(t.elem_type), "shape": dims}


def _attribute(a: onnx.AttributeProto):
    if a.type == onnx.AttributeProto.TENSOR:
        return {"tensor": {"dtype": _dtype(a.t.data_type), "shape": list(a.t.dims)}}
    if a.type == onnx.AttributeProto.GRAPH:
        return {"graph": a.g.name}
    if a.type == onnx.AttributeProto.GRAPHS:
        return {"graphs": [g.name for g in a.graphs]}
    value = helper.get_attribute_value(a)
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    if isinstance(value, list):
        return [v.decode("utf-8", "replace") if isinstance(v, bytes) else v for v in value][:64]
    return value


def graph_structure(model: onnx.ModelProto, model_id: str = "", converter: str = "") -> dict:
    """The structure of ``model`` in the schema above (values of initializers left out)."""
    graph = model.graph
    opset = next((o.version for o in model.opset_import if o.domain in ("", "ai.onnx")), None)
    producer = {}
    nodes = []
    for index, node in enumerate(graph.node):
        for out in node.output:
            producer[out] = index
        nodes.append(
            {
                "index": index,
                "name": node.name,
                "op_type": node.op_type,
                "domain": node.domain,
                "inputs": list(node.input),
                "outputs": list(node.output),
                "attributes": {a.name: _attribute(a) for a in node.attribute},
            }
        )
    edges = [
        [producer[name], node["index"], name]
        for node in nodes
        for name in node["inputs"]
        if name in producer
    ]
    counts = Counter(
        f"{n['domain']}::{n['op_type']}" if n["domain"] else n["op_type"] for n in nodes
    )
    return {
        "schema": GRAPH_SCHEMA,
        "model_id": model_id,
        "converter": converter,
        "opset": opset,
        "inputs": [_value_info(v) for v in graph.input],
        "outputs": [_value_info(v) for v in graph.output],
        "initializers": [
            {"name": t.name, "dtype": _dtype(t.data_type), "shape": list(t.dims)}
            for t in graph.initializer
        ],
        "nodes": nodes,
        "edges": edges,
        "op_counts": dict(sorted(counts.items())),
    }
