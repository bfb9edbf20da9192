"""Seeded training of each architecture on the MNIST split, with one cached file per model.

A label flip only means something on a classifier that classifies, so every model is trained
here (Adam, batch 32, seed recorded) until its held-out accuracy reaches :data:`TARGET_ACCURACY`
or it runs out of epochs. The weights and a small JSON card (accuracy per epoch, seconds, seed,
threads) go to ``.cache/matrix/weights/``; a cached model is never retrained, so an interrupted
``train`` resumes with the next model.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path

from convfail.errors import ConvfailError
from convfail.paths import cache_dir
from difftest.matrix.images import load_split
from difftest.matrix.torch_archs import ARCHITECTURES, Architecture

TARGET_ACCURACY = 0.92
SEED = 0
BATCH = 32
LEARNING_RATE = 1e-3


def weights_dir() -> Path:
    return cache_dir() / "matrix" / "weights"


def card_path(name: str) -> Path:
    return weights_dir() / f"{name}.json"


def weights_path(name: str) -> Path:
    return weights_dir() / f"{name}.pt"


def read_card(name: str) -> dict | None:
    """The training card of a cached model, or ``None`` if it has not been trained."""
    path = card_path(name)
    if not (path.exists() and weights_path(name).exists()):
        return None
    return json.loads(path.read_text())


def _accuracy(model, images, labels) -> float:
    # torch is an optional extra; import on use
    import torch

    model.eval()
    correct = 0
    with torch.no_grad():
        for start in range(0, len(labels), 200):
            batch = torch.from_numpy(images[start : start + 200])
            predicted = model(batch).argmax(1).numpy()
            correct += int((predicted == labels[start : start + 200]).sum())
    return correct / len(labels)


def train(arch: Architecture, threads: int, log: Callable[[str], None] = print) -> dict:
    """Train ``arch`` from seed :data:`SEED`, save weights and card, return the card."""
    # torch is an optional extra; import on use
    import torch
    import torch.nn.functional as F

    torch.set_num_threads(threads)
    torch.manual_seed(SEED)
    model = arch.build()
    train_set, test_set = load_split(arch.size, "train"), load_split(arch.size, "test")
    images, labels = torch.from_numpy(train_set.images), torch.from_numpy(train_set.labels)
    optimizer = torch.optim.Adam(model.parameters(), LEARNING_RATE)
    order_rng = torch.Generator().manual_seed(SEED)
    history: list[dict] = []
    start = time.perf_counter()
    for epoch in range(1, arch.max_epochs + 1):
        model.train()
        order = torch.randperm(len(labels), generator=order_rng)
        for first in range(0, len(labels), BATCH):
            batch = order[first : first + BATCH]
            optimizer.zero_grad()
            F.cross_entropy(model(images[batch]), labels[batch]).backward()
            optimizer.step()
        accuracy = _accuracy(model, test_set.images, test_set.labels)
        history.append(
            {
                "epoch": epoch,
                "test_accuracy": accuracy,
                "seconds": round(time.perf_counter() - start, 1),
            }
        )
        log(f"{arch.name}: epoch {epoch}, held-out accuracy {accuracy:.3f}")
        if accuracy >= TARGET_ACCURACY:
            break
    card = {
        "model": arch.name,
        "input_size": arch.size,
        "seed": SEED,
        "threads": threads,
        "train_images": len(labels),
        "test_images": len(test_set),
        "test_accuracy": history[-1]["test_accuracy"],
        "epochs": history,
        "train_seconds": round(time.perf_counter() - start, 1),
    }
    weights_dir().mkdir(parents=True, exist_ok=True)
    torch.save(model.state_dict(), weights_path(arch.name))
    card_path(arch.name).write_text(json.dumps(card, indent=2) + "\n")
    return card


def train_all(names: list[str], threads: int, log: Callable[[str], None] = print) -> list[dict]:
    """Train every model of ``names`` that is not cached yet; return all their cards."""
    cards = []
    for name in names:
        card = read_card(name)
        if card is None:
            card = train(ARCHITECTURES[name], threads, log)
        cards.append(card)
    return cards


def trained_weights(name: str) -> Path:
    """The weights file of ``name``; a clear error if the model has not been trained."""
    if read_card(name) is None:
        raise ConvfailError(
            f"model {name!r} has no trained weights in {weights_dir()}",
            f"run `convfail difftest matrix-train --model {name}` first",
        )
    return weights_path(name)


def load_trained(name: str):
    """The trained torch module of ``name`` in eval mode; a clear error if it is not cached."""
    # torch is an optional extra; import on use
    import torch

    weights = trained_weights(name)
    model = ARCHITECTURES[name].build()
    try:
        model.load_state_dict(torch.load(weights, weights_only=True))
    except Exception as error:  # another format, a truncated file, another architecture's
        raise ConvfailError(
            f"{weights}: not a PyTorch state dict of {name} ({error_summary(error)})",
            f"delete it and its card, then run `convfail difftest matrix-train --model {name}`",
        ) from error
    return model.eval()


def error_summary(error: Exception) -> str:
    """``Type: first line`` of ``error``, short enough for a one-line message."""
    lines = str(error).strip().splitlines()
    return f"{type(error).__name__}: {lines[0][:200] if lines else ''}"
