"""The source models of the matrix: the trained torch model and its Keras mirror.

Both sides are the same classifier (the mirror carries the torch weights), so a label that
changes on a path comes from the conversion, not from a second training run. The mirror of a
trained model is built once per set of weights (:mod:`mirror_cache`). ``tiny`` is an untrained
seeded model for the tests, mirrored afresh each time.
"""

from __future__ import annotations

from difftest.matrix.hops import Artifact
from difftest.matrix.mirror_cache import built_mirror, cached_mirror
from difftest.matrix.torch_archs import ARCHITECTURES, TINY, TINY_SIZE, tiny_model
from difftest.matrix.training import load_trained, trained_weights

MODELS = (*ARCHITECTURES, TINY)


def input_size(model: str) -> int:
    return TINY_SIZE if model == TINY else ARCHITECTURES[model].size


def source_artifact(model: str, framework: str) -> Artifact:
    """``model`` in ``framework`` (``torch`` or ``keras``), ready for its first hop."""
    size = input_size(model)
    if framework == "torch":
        torch_model = tiny_model() if model == TINY else load_trained(model)
        return Artifact("torch", "nchw", model=torch_model, size=size)
    if model == TINY:
        mirror, diff = built_mirror(tiny_model(), size)
    else:
        weights = trained_weights(model)
        mirror, diff = cached_mirror(model, weights, lambda: load_trained(model), size)
    return Artifact("keras", "nhwc", model=mirror, size=size, info={"mirror_max_abs_diff": diff})
