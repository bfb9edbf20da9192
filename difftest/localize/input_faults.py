"""Telling a preprocessing or layout fault from a fault of the graph.

Preprocessing lives outside the converted graph, yet when it is baked into a model (or the
converter inserts it) the localizer sees it as a first divergent node that reads the image
input itself and has no source counterpart. What that node does to the image says which kind of
fault it is: its output is the input with the spatial axes swapped (``input layout``), with the
channels permuted (``channel order``), an affine function of it per channel (``normalization``)
or the image resampled (``input size``: a crop or a resize). A first divergent node anywhere
else keeps the localizer's own cause.
"""

from __future__ import annotations

from itertools import permutations

import numpy as np
import onnx

from difftest.localize.graph_trace import session
from difftest.localize.pipeline import Divergence, Localization
from difftest.localize.reproducer import extract_node

PREPROCESSING, LAYOUT = "preprocessing", "input layout"
AFFINE_RESIDUAL = 1e-4  # relative residual below which a per-channel affine fit is exact


def reads_image_input(model: onnx.ModelProto, index: int) -> bool:
    """Whether the node's only runtime input is the graph's image input."""
    inits = {t.name for t in model.graph.initializer}
    runtime = [n for n in model.graph.node[index].input if n and n not in inits]
    return runtime == [model.graph.input[0].name]


def _node_output(model: onnx.ModelProto, index: int, image: np.ndarray) -> np.ndarray:
    sub, _ = extract_node(model, index)
    feeds = {sub.graph.input[0].name: image}
    return session(sub, []).run([sub.graph.output[0].name], feeds)[0]


def input_transform(image: np.ndarray, output: np.ndarray, channel: int) -> str:
    """What ``output`` is of ``image`` (both (N, C, H, W) or (N, H, W, C), ``channel`` the
    channel axis): ``layout``, ``channel order``, ``normalization`` or ``input size``."""
    if output.shape != image.shape:
        return "input size"
    spatial = [a for a in (1, 2, 3) if a != channel]
    if np.allclose(output, np.swapaxes(image, *spatial), rtol=1e-5, atol=1e-6):
        return "layout"
    for order in permutations(range(image.shape[channel])):
        if list(order) != sorted(order) and np.allclose(
            output, np.take(image, order, axis=channel), rtol=1e-5, atol=1e-6
        ):
            return "channel order"
    x = np.moveaxis(image, channel, 0).reshape(image.shape[channel], -1).astype(np.float64)
    y = np.moveaxis(output, channel, 0).reshape(image.shape[channel], -1).astype(np.float64)
    residual = 0.0
    for xc, yc in zip(x, y, strict=True):
        design = np.stack([xc, np.ones_like(xc)], axis=1)
        coef = np.linalg.lstsq(design, yc, rcond=None)[0]
        residual = max(residual, float(np.linalg.norm(design @ coef - yc)))
    if residual <= AFFINE_RESIDUAL * (float(np.linalg.norm(y)) or 1.0):
        return "normalization"
    return "input size"


def stage_of(loc: Localization, divergence: Divergence, channel: int) -> tuple[str, str]:
    """(stage, kind) of a first divergent node: for a node that reads the image input and pairs
    with no source operator (only with the input itself, or nothing), the input fault its output
    shows; otherwise the localizer's cause (a first Conv whose folded bias is off stays graph)."""
    inputs = {v.name for v in loc.trace.values if v.op == "input"}
    operator = divergence.source_counterpart not in (None, *inputs)
    if divergence.cause != "graph" or operator or not reads_image_input(loc.model, divergence.node):
        return divergence.cause, ""
    image = loc.samples[0][0]
    kind = input_transform(image, _node_output(loc.model, divergence.node, image), channel)
    return (LAYOUT if kind == "layout" else PREPROCESSING), kind
