"""Figures saved in forked children: the same files and bytes as saving in-process (also for a
constrained-layout figure, whose PDF depends on its PNG having been saved first), and a child
that fails is an error, not a missing file."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pytest
from matplotlib.figure import Figure

from analysis.runner import save_figures


def _figures() -> dict:
    figures = {}
    for i, stem in enumerate(["b_second", "a_first", "c_third"]):
        fig, ax = plt.subplots()
        ax.plot([0, 1, 2], [i, i * i, 1])
        ax.set_title(stem)
        figures[stem] = fig
    constrained = Figure(figsize=(5, 2.5), layout="constrained")
    axes = constrained.subplots(1, 2)
    for ax in axes:
        image = ax.imshow(np.arange(8).reshape(2, 4), cmap="Reds")
        ax.set_xticks(range(4), ["torch", "keras", "tflite", "onnx"])
    constrained.colorbar(image, ax=list(axes), label="share (%)", shrink=0.8)
    constrained.suptitle("laid out again at every save")
    figures["d_constrained"] = constrained
    return figures


def test_parallel_saving_writes_the_same_bytes(tmp_path):
    alone = save_figures(_figures(), tmp_path / "alone")
    forked = save_figures(_figures(), tmp_path / "forked", parallel=True)
    assert [p.name for p in forked] == [p.name for p in alone]
    assert [p.name for p in alone][:2] == ["a_first.png", "a_first.pdf"]
    for one, other in zip(alone, forked, strict=True):
        assert one.read_bytes() == other.read_bytes(), one.name


def test_a_failing_child_is_reported(tmp_path):
    figures = _figures()
    (tmp_path / "a_first.png").mkdir(parents=True)  # a folder where the child must write a file
    with pytest.raises(RuntimeError, match="a_first"):
        save_figures(figures, tmp_path, parallel=True)
