"""Figures saved in forked children: the same files and bytes as saving in-process, and a child
that fails is an error, not a missing file."""

from __future__ import annotations

import matplotlib.pyplot as plt
import pytest

from analysis.runner import save_figures


def _figures() -> dict:
    figures = {}
    for i, stem in enumerate(["b_second", "a_first", "c_third"]):
        fig, ax = plt.subplots()
        ax.plot([0, 1, 2], [i, i * i, 1])
        ax.set_title(stem)
        figures[stem] = fig
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
