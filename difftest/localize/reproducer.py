"""A minimal failing subgraph as a standalone ONNX file plus its data, to attach to a bug report.

The first divergent node is cut out with ``onnx.utils.Extractor`` (its runtime inputs become
graph inputs; initializers and Constant producers come along). ``data.npz`` holds, per input
sample, the node's inputs as the converted model computed them (``input:<k>:<sample>``), the
source model's aligned values of the same inputs when they exist (``source_input:...``), the
source model's value the output should have (``expected:<sample>``) and what the converted model
produced (``actual:<sample>``). :func:`check_reproducer` reruns the file in ONNX Runtime and says
whether it still shows the difference, on the converted inputs and on the source inputs (the
latter tells a node that is wrong by itself from one that only amplifies earlier rounding).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import onnx
import onnx.utils

from difftest.localize.align import Alignment, traced_values
from difftest.localize.graph_trace import runtime_values
from difftest.localize.tolerance import Tolerance

MODEL_FILE = "reproducer.onnx"
DATA_FILE = "data.npz"
META_FILE = "reproducer.json"


@dataclass
class ReproCheck:
    reproduces: bool  # converted inputs -> output differs from the source's expected value
    error: float
    on_source_inputs: float | None  # scaled error when fed the source's own input values

    def to_dict(self) -> dict:
        return {
            "reproduces": self.reproduces,
            "scaled_error": _finite(self.error),
            "scaled_error_on_source_inputs": _finite(self.on_source_inputs),
        }


def _finite(value: float | None) -> float | str | None:
    if value is None:
        return None
    return value if np.isfinite(value) else "inf"


def extract_node(model: onnx.ModelProto, index: int) -> tuple[onnx.ModelProto, list[str]]:
    """The subgraph computing node ``index`` from its runtime inputs."""
    live = set(runtime_values(model)) | {i.name for i in model.graph.input}
    initializers = {t.name for t in model.graph.initializer}
    node = model.graph.node[index]
    inputs = [n for n in dict.fromkeys(node.input) if n and n in live and n not in initializers]
    outputs = [o for o in node.output if o][:1]
    inferred = onnx.shape_inference.infer_shapes(model, strict_mode=False)
    sub = onnx.utils.Extractor(inferred).extract_model(inputs, outputs)
    return sub, inputs


def write_reproducer(
    model: onnx.ModelProto,
    index: int,
    samples: list[list[np.ndarray]],
    expected: list[np.ndarray] | None,
    source_inputs: dict[str, list[np.ndarray]],
    directory: Path,
    meta: dict,
    alignment: Alignment,
) -> Path:
    """Write ``reproducer.onnx``, ``data.npz`` and ``reproducer.json`` into ``directory``. The
    node's converted values are those the localization's ``alignment`` kept, or come from the
    runtime that supplied its values."""
    sub, inputs = extract_node(model, index)
    output = sub.graph.output[0].name
    traced = traced_values(model, alignment, samples, [*inputs, output])
    data: dict[str, np.ndarray] = {}
    for s in range(len(samples)):
        for k, name in enumerate(inputs):
            data[f"input:{k}:{s}"] = traced[name][s]
            if name in source_inputs:
                data[f"source_input:{k}:{s}"] = source_inputs[name][s]
        data[f"actual:{s}"] = traced[output][s]
        if expected is not None:
            data[f"expected:{s}"] = expected[s]
    directory.mkdir(parents=True, exist_ok=True)
    onnx.save(sub, directory / MODEL_FILE)
    np.savez_compressed(directory / DATA_FILE, **data)
    node = model.graph.node[index]
    info = {
        **meta,
        "node": {"index": index, "name": node.name, "op_type": node.op_type},
        "inputs": inputs,
        "output": output,
        "samples": len(samples),
        "nodes_in_reproducer": len(sub.graph.node),
    }
    (directory / META_FILE).write_text(json.dumps(info, indent=2, sort_keys=True) + "\n")
    return directory


def check_reproducer(directory: Path, tolerance: Tolerance | None = None) -> ReproCheck:
    """Rerun a saved reproducer and compare with the source's expected values."""
    # ONNX Runtime is an optional extra; import on use
    import onnxruntime as ort

    tolerance = tolerance or Tolerance()
    meta = json.loads((directory / META_FILE).read_text())
    data = np.load(directory / DATA_FILE)
    options = ort.SessionOptions()
    options.log_severity_level = 3
    sess = ort.InferenceSession(
        str(directory / MODEL_FILE), options, providers=["CPUExecutionProvider"]
    )
    names = [i.name for i in sess.get_inputs()]
    errors, source_errors = [], []
    for s in range(meta["samples"]):
        if f"expected:{s}" not in data:
            continue
        expected = data[f"expected:{s}"]
        feeds = {n: data[f"input:{k}:{s}"] for k, n in enumerate(names)}
        errors.append(tolerance.scaled_error(expected, sess.run(None, feeds)[0]))
        if all(f"source_input:{k}:{s}" in data for k in range(len(names))):
            feeds = {
                n: data[f"source_input:{k}:{s}"].astype(data[f"input:{k}:{s}"].dtype)
                for k, n in enumerate(names)
            }
            source_errors.append(tolerance.scaled_error(expected, sess.run(None, feeds)[0]))
    error = max(errors) if errors else 0.0
    return ReproCheck(error > 1.0, error, max(source_errors) if source_errors else None)
