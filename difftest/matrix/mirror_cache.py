"""One Keras mirror per trained model, saved once and loaded by every unit that needs it.

Tracing a torch model and copying its weights into a Keras mirror costs seconds to minutes per
unit, and a model has eight Keras units. The mirror is saved as a ``.keras`` file named by the
model and a hash of its weights file, beside the check of the mirror against torch made when it
was built, so retrained weights get a new mirror and the stale one is removed.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from pathlib import Path

import numpy as np

from convfail.errors import ConvfailError
from convfail.paths import cache_dir
from difftest.matrix.keras_mirror import check_mirror, keras_mirror
from difftest.matrix.training import error_summary

PROBE_SEED = 0
PROBE_IMAGES = 4


def mirrors_dir() -> Path:
    return cache_dir() / "matrix" / "mirrors"


def weights_digest(weights: Path) -> str:
    digest = hashlib.sha256()
    with weights.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()[:16]


def mirror_file(name: str, weights: Path) -> Path:
    return mirrors_dir() / f"{name}-{weights_digest(weights)}.keras"


def built_mirror(torch_model, size: int) -> tuple[object, float]:
    """A fresh mirror of ``torch_model`` and its max abs logit difference on seeded probes."""
    mirror = keras_mirror(torch_model, size)
    probe = np.random.default_rng(PROBE_SEED).standard_normal((PROBE_IMAGES, 3, size, size))
    return mirror, check_mirror(torch_model, mirror, probe.astype(np.float32))


def cached_mirror(
    name: str, weights: Path, load_torch: Callable[[], object], size: int
) -> tuple[object, float]:
    """The mirror of model ``name`` for the weights in ``weights``: loaded from the cache, or
    built from ``load_torch()`` and saved there. Returns it with its check against torch."""
    # Keras is an optional extra; import on use
    import keras

    path = mirror_file(name, weights)
    check = path.with_suffix(".json")
    if path.exists() and check.exists():
        try:
            diff = json.loads(check.read_text())["mirror_max_abs_diff"]
            return keras.models.load_model(path, compile=False), diff
        except Exception as error:  # another format, a truncated file, a foreign check file
            raise ConvfailError(
                f"{path}: not a readable Keras mirror ({error_summary(error)})",
                "delete it and its .json: the next Keras unit builds it again",
            ) from error
    mirror, diff = built_mirror(load_torch(), size)
    path.parent.mkdir(parents=True, exist_ok=True)
    for stale in path.parent.glob(f"{name}-*"):
        stale.unlink()
    partial = path.with_name(f".{path.name}")  # renamed when complete: no half-written mirror
    mirror.save(partial)
    partial.replace(path)
    check.write_text(json.dumps({"weights": str(weights), "mirror_max_abs_diff": diff}) + "\n")
    return mirror, diff
