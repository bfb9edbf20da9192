"""The source models of the matrix: the trained torch model and its Keras mirror.

Both sides are the same classifier (the mirror carries the torch weights), so a label that
changes on a path comes from the conversion, not from a second training run. ``tiny`` is an
untrained seeded model for the tests.
"""

from __future__ import annotations

import numpy as np

from difftest.matrix.hops import Artifact
from difftest.matrix.keras_mirror import check_mirror, keras_mirror
from difftest.matrix.torch_archs import ARCHITECTURES, TINY, TINY_SIZE, tiny_model
from difftest.matrix.training import load_trained

MODELS = (*ARCHITECTURES, TINY)


def input_size(model: str) -> int:
    return TINY_SIZE if model == TINY else ARCHITECTURES[model].size


def source_artifact(model: str, framework: str) -> Artifact:
    """``model`` in ``framework`` (``torch`` or ``keras``), ready for its first hop."""
    torch_model = tiny_model() if model == TINY else load_trained(model)
    size = input_size(model)
    if framework == "torch":
        return Artifact("torch", "nchw", model=torch_model, size=size)
    mirror = keras_mirror(torch_model, size)
    probe = np.random.default_rng(0).standard_normal((4, 3, size, size)).astype(np.float32)
    diff = check_mirror(torch_model, mirror, probe)
    return Artifact("keras", "nhwc", model=mirror, size=size, info={"mirror_max_abs_diff": diff})
