"""Runtimes: each loads a converted model once and runs the held-out images through it in
batches. ``framework`` is the kind of artifact a runtime reads; ``missing()`` says why it cannot
run here (recorded as data, like a missing converter).
"""

from __future__ import annotations

import importlib.util
import time
from dataclasses import dataclass

import numpy as np

from difftest.matrix.hops import Artifact
from difftest.matrix.images import check_images

BATCH = 100
# TVM runs the graph as compiled, with no tuned schedules: 0.1 to 0.6 s per image on this
# machine's CPU (ONNX Runtime: a few ms), so it reads the first images of the set only
TVM_IMAGES = 100


@dataclass(frozen=True)
class Runtime:
    name: str
    framework: str
    needs: tuple[str, ...] = ()
    why_missing: str = "install the matrix extra"
    # False when the runtime ignores ``threads`` (Keras: TensorFlow fixes its pools at start)
    honours_threads: bool = True

    def missing(self) -> str | None:
        absent = [m for m in self.needs if importlib.util.find_spec(m) is None]
        if absent:
            return f"runtime {self.name} is not installed ({', '.join(absent)}: {self.why_missing})"
        return None

    def load(self, artifact: Artifact, threads: int):
        """A callable mapping a batch (in the artifact's layout) to logits."""
        raise NotImplementedError

    def predict(self, artifact: Artifact, images_nchw: np.ndarray, threads: int = 1) -> np.ndarray:
        """Logits of every image: the model is loaded once, the images go in batches."""
        return self.timed_predict(artifact, images_nchw, threads)[0]

    def timed_predict(
        self, artifact: Artifact, images_nchw: np.ndarray, threads: int = 1, batch: int = BATCH
    ) -> tuple[np.ndarray, float, float]:
        """Logits, and the seconds spent loading (compiling, for TVM) and running, ``batch``
        images at a time."""
        check_images(images_nchw, artifact.size)
        started = time.perf_counter()
        run = self.load(artifact, threads)
        loaded = time.perf_counter()
        images = images_nchw.transpose(0, 2, 3, 1) if artifact.layout == "nhwc" else images_nchw
        images = np.ascontiguousarray(images, dtype=np.float32)
        logits = np.concatenate(
            [np.asarray(run(images[i : i + batch])) for i in range(0, len(images), batch)]
        )
        return logits, loaded - started, time.perf_counter() - loaded


class TorchRuntime(Runtime):
    def load(self, artifact: Artifact, threads: int):
        # torch is an optional extra; import on use
        import torch

        torch.set_num_threads(threads)
        model = artifact.model.eval()

        def run(batch: np.ndarray) -> np.ndarray:
            with torch.no_grad():
                return model(torch.from_numpy(batch)).numpy()

        return run


class KerasRuntime(Runtime):
    def load(self, artifact: Artifact, threads: int):
        model = artifact.model
        return lambda batch: model(batch, training=False).numpy()


class OnnxRuntime(Runtime):
    def load(self, artifact: Artifact, threads: int):
        # ONNX Runtime is an optional extra; import on use
        import onnxruntime as ort

        options = ort.SessionOptions()
        options.intra_op_num_threads = threads
        session = ort.InferenceSession(
            str(artifact.path), options, providers=["CPUExecutionProvider"]
        )
        name = session.get_inputs()[0].name
        return lambda batch: session.run(None, {name: batch})[0]


class LitertRuntime(Runtime):
    def load(self, artifact: Artifact, threads: int):
        from ai_edge_litert.interpreter import Interpreter  # optional extra `matrix`

        interpreter = Interpreter(model_path=str(artifact.path), num_threads=threads)
        source = interpreter.get_input_details()[0]["index"]
        shape: list[tuple] = [()]

        def run(batch: np.ndarray) -> np.ndarray:
            if shape[0] != batch.shape:
                interpreter.resize_tensor_input(source, batch.shape)
                interpreter.allocate_tensors()
                shape[0] = batch.shape
            interpreter.set_tensor(source, batch)
            interpreter.invoke()
            return interpreter.get_tensor(interpreter.get_output_details()[0]["index"]).copy()

        return run


class TvmRuntime(Runtime):
    """Apache TVM (the runtime the paper built on): Relax's ONNX importer, built for the CPU,
    with the batch size fixed at compile time (the last, shorter batch is padded)."""

    def load(self, artifact: Artifact, threads: int):
        # Apache TVM is an optional extra (`tvm`); import on use
        import onnx
        import tvm
        from tvm import relax
        from tvm.relax.frontend.onnx import from_onnx

        proto = onnx.load(str(artifact.path))
        name = proto.graph.input[0].name
        size = artifact.size
        shape = [BATCH, 3, size, size] if artifact.layout == "nchw" else [BATCH, size, size, 3]
        module = from_onnx(proto, shape_dict={name: shape}, keep_params_in_input=False)
        module = relax.transform.DecomposeOpsForInference()(module)
        module = relax.transform.LegalizeOps()(module)
        machine = relax.VirtualMachine(relax.build(module, target="llvm"), tvm.cpu())

        def run(batch: np.ndarray) -> np.ndarray:
            padded = np.zeros(shape, np.float32)
            padded[: len(batch)] = batch
            out = machine["main"](tvm.runtime.tensor(padded))
            first = out if hasattr(out, "numpy") else out[0]  # a tuple when the graph has several
            return first.numpy()[: len(batch)]

        return run


RUNTIMES: dict[str, Runtime] = {
    r.name: r
    for r in [
        TorchRuntime("torch", "torch", ("torch",)),
        KerasRuntime("keras", "keras", ("keras", "tensorflow"), honours_threads=False),
        OnnxRuntime("onnxruntime", "onnx", ("onnxruntime",)),
        LitertRuntime("litert", "tflite", ("ai_edge_litert",)),
        TvmRuntime("tvm", "onnx", ("tvm",), "install the tvm extra: make matrix-envs"),
    ]
}


def runtimes_for(framework: str) -> list[Runtime]:
    """Every runtime that reads artifacts of ``framework``."""
    return [r for r in RUNTIMES.values() if r.framework == framework]
