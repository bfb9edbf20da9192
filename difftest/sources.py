"""Turn a :class:`~difftest.jobs.Job` into a runnable source model and its seeded inputs.

A :class:`SourceModel` hides the framework: it knows its inputs, makes seeded random input
arrays, and runs on NumPy arrays. Converters read ``model`` and ``inputs`` to export it. The heavy
frameworks are imported here, on demand, never in the campaign's supervising process.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from difftest.jobs import Job
from difftest.synthetic import generate

SOURCES = ("synthetic", "zoo", "probe")


@dataclass(frozen=True)
class InputSpec:
    """One model input. ``kind`` is ``float`` or ``tokens:<vocabulary size>``."""

    name: str
    shape: tuple[int, ...]
    kind: str = "float"
    dynamic_batch: bool = False

    @property
    def dtype(self) -> str:
        return "int64" if self.kind.startswith("tokens") else "float32"

    def sample(self, rng: np.random.Generator, index: int) -> np.ndarray:
        """Input number ``index``: standard normal floats or uniform token ids; a dynamic
        batch alternates between the traced size and one more, which frozen shapes trip on."""
        shape = self.shape
        if self.dynamic_batch:
            shape = (shape[0] + index % 2, *shape[1:])
        if self.kind.startswith("tokens"):
            return rng.integers(0, int(self.kind.split(":")[1]), size=shape, dtype=np.int64)
        return rng.standard_normal(shape).astype(np.float32)


@dataclass
class SourceModel:
    """A model in its own framework; ``run`` maps NumPy inputs to a list of NumPy outputs."""

    framework: str
    model: object
    inputs: list[InputSpec]
    run_fn: Callable[[list[np.ndarray]], list[np.ndarray]]
    info: dict = field(default_factory=dict)

    def make_inputs(self, seed: int, count: int) -> list[list[np.ndarray]]:
        rng = np.random.default_rng(seed)
        return [[spec.sample(rng, k) for spec in self.inputs] for k in range(count)]

    def run(self, arrays: list[np.ndarray]) -> list[np.ndarray]:
        return self.run_fn(arrays)


def _flatten(value) -> list:
    if isinstance(value, list | tuple):
        return [leaf for item in value for leaf in _flatten(item)]
    if isinstance(value, dict):
        return [leaf for key in sorted(value) for leaf in _flatten(value[key])]
    return [value]


def _torch_model(module, inputs: list[InputSpec], info: dict) -> SourceModel:
    # torch is an optional extra; import on use
    import torch

    def run(arrays: list[np.ndarray]) -> list[np.ndarray]:
        with torch.no_grad():
            out = module(*[torch.from_numpy(a) for a in arrays])
        return [t.detach().numpy() for t in _flatten(out)]

    return SourceModel("torch", module, inputs, run, info)


def _tf_model(fn, inputs: list[InputSpec], info: dict) -> SourceModel:
    # TensorFlow is an optional extra; import on use
    import tensorflow as tf

    def run(arrays: list[np.ndarray]) -> list[np.ndarray]:
        out = fn(*[tf.constant(a) for a in arrays])
        return [np.asarray(t) for t in _flatten(out)]

    return SourceModel("tensorflow", fn, inputs, run, info)


def build_source(job: Job) -> SourceModel:
    """The model a job names, built from its seed (no downloads)."""
    if job.source == "synthetic":
        spec = generate(job.seed, job.nodes, force=job.name or None)
        inputs = [InputSpec("x", spec.input_shape)]
        if job.framework == "torch":
            # builds on torch, an optional extra; import on use
            from difftest.torch_models import SyntheticNet

            return _torch_model(SyntheticNet(spec).eval(), inputs, spec.describe())
        # builds on TensorFlow, an optional extra; import on use
        from difftest.tf_models import SyntheticModule

        return _tf_model(SyntheticModule(spec), inputs, spec.describe())
    if job.source == "zoo":
        if job.framework == "torch":
            # builds on torch, an optional extra; import on use
            from difftest.torch_models import ZOO, build_zoo

            _, shape, kind = ZOO[job.name]
            return _torch_model(build_zoo(job.name, job.seed), [InputSpec("x", shape, kind)], {})
        # builds on TensorFlow, an optional extra; import on use
        from difftest.tf_models import ZOO, build_zoo

        return _tf_model(build_zoo(job.name, job.seed), [InputSpec("x", ZOO[job.name][1])], {})
    if job.source == "probe":
        if job.framework == "torch":
            # builds on torch, an optional extra; import on use
            from difftest.torch_models import PROBES, build_probe

            _, shape, dynamic, outcome, why = PROBES[job.name]
            spec = InputSpec("x", shape, dynamic_batch=dynamic)
            return _torch_model(build_probe(job.name), [spec], {"expected": outcome, "why": why})
        # builds on TensorFlow, an optional extra; import on use
        from difftest.tf_models import PROBES, build_probe

        _, shape, outcome, why = PROBES[job.name]
        return _tf_model(
            build_probe(job.name), [InputSpec("x", shape)], {"expected": outcome, "why": why}
        )
    raise ValueError(f"unknown model source {job.source!r}; choose from {', '.join(SOURCES)}")


# The named models of each source and framework, listed here so that naming them (``difftest
# list``, option checks) does not import torch or TensorFlow; a test holds them equal to the
# ZOO and PROBES tables of difftest.torch_models and difftest.tf_models.
MODEL_NAMES = {
    ("zoo", "torch"): (
        "mobilenet_v2",
        "resnet18",
        "resnet18-tiny",
        "text-encoder",
        "text-encoder-relu",
    ),
    ("zoo", "tensorflow"): ("inception_v3", "mobilenet_v2", "mobilenet_v2-tiny", "resnet50"),
    ("probe", "torch"): (
        "export-fft",
        "hang",
        "matmul-rounding",
        "native-segfault",
        "nonfinite-sign",
        "ok-relu",
        "ort-cumsum-int8",
        "ort-frozen-reshape",
        "random-op",
        "source-shape-error",
    ),
    ("probe", "tensorflow"): ("ok-relu", "ort-erfc", "random-op", "source-bool-sub"),
}


def model_names(source: str, framework: str) -> list[str]:
    """The zoo or probe names available for a framework."""
    if (source, framework) not in MODEL_NAMES:
        raise ValueError(f"source {source!r} has no named {framework} models")
    return list(MODEL_NAMES[(source, framework)])
