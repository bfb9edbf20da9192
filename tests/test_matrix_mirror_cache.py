"""The Keras mirror of a trained model is built once per weights file, then loaded."""

from pathlib import Path

import numpy as np
import pytest

from difftest.matrix.mirror_cache import cached_mirror, mirrors_dir
from difftest.matrix.torch_archs import TINY_SIZE, tiny_model

torch = pytest.importorskip("torch")
pytest.importorskip("keras")

IMAGES = np.random.default_rng(2).standard_normal((6, TINY_SIZE, TINY_SIZE, 3)).astype(np.float32)


def _weights(home: Path, seed: int) -> Path:
    path = home / "tiny.pt"
    torch.save(tiny_model(seed).state_dict(), path)
    return path


def _never() -> None:
    raise AssertionError("the cached mirror was rebuilt")


def test_a_mirror_is_built_once_and_rebuilt_only_when_the_weights_change(home: Path):
    built: list[int] = []

    def load(seed: int):
        built.append(seed)
        return tiny_model(seed)

    weights = _weights(home, 0)
    first, diff = cached_mirror("tiny", weights, lambda: load(0), TINY_SIZE)
    assert built == [0] and diff < 1e-5
    [saved] = mirrors_dir().glob("tiny-*.keras")

    again, same_diff = cached_mirror("tiny", weights, _never, TINY_SIZE)
    assert same_diff == diff
    assert np.array_equal(np.asarray(again(IMAGES)), np.asarray(first(IMAGES)))

    weights = _weights(home, 1)
    retrained, _ = cached_mirror("tiny", weights, lambda: load(1), TINY_SIZE)
    assert built == [0, 1]
    assert [p.name for p in mirrors_dir().glob("tiny-*.keras")] != [saved.name]
    assert not saved.exists()
    assert not np.allclose(np.asarray(retrained(IMAGES)), np.asarray(first(IMAGES)))
