"""Conversion paths: hops chained from a source framework to a target framework.

A path is recorded hop by hop (``torchscript-onnx > onnx2torch``); a conversion that no
converter here can make is a path too, with no runnable hops and the reason, so it reaches the
results as data instead of being left out.
"""

from __future__ import annotations

from dataclasses import dataclass

from convfail.errors import ConvfailError
from difftest.matrix.hops import FLOAT32, HOPS, NO_CONVERTER, Hop

SOURCE_FRAMEWORKS = ("torch", "keras")
SEPARATOR = " > "


@dataclass(frozen=True)
class ConversionPath:
    source: str
    hops: tuple[str, ...]
    # a final conversion no converter makes: (from framework, to framework)
    unconvertible: tuple[str, str] | None = None

    @property
    def name(self) -> str:
        parts = list(self.hops)
        if self.unconvertible:
            parts.append(f"({self.unconvertible[0]} -> {self.unconvertible[1]}: no converter)")
        return SEPARATOR.join(parts) or "(source)"

    @property
    def target(self) -> str:
        if self.unconvertible:
            return self.unconvertible[1]
        return HOPS[self.hops[-1]].target if self.hops else self.source

    @property
    def precision(self) -> str:
        """The intended precision: the last hop asked for something other than float32."""
        asked = [HOPS[h].precision for h in self.hops if HOPS[h].precision != FLOAT32]
        return asked[-1] if asked else FLOAT32

    @property
    def no_converter_reason(self) -> str | None:
        return NO_CONVERTER[self.unconvertible] if self.unconvertible else None

    def steps(self) -> list[Hop]:
        return [HOPS[h] for h in self.hops]


def make_path(source: str, hops: list[str]) -> ConversionPath:
    """A path from ``source`` through ``hops``; one clear error if the hops do not chain."""
    if source not in SOURCE_FRAMEWORKS:
        raise ConvfailError(
            f"unknown source framework {source!r}", f"choose from {', '.join(SOURCE_FRAMEWORKS)}"
        )
    here = source
    for name in hops:
        hop = HOPS.get(name)
        if hop is None:
            raise ConvfailError(f"unknown hop {name!r}", f"choose from {', '.join(HOPS)}")
        if hop.source != here:
            raise ConvfailError(
                f"hop {name!r} converts from {hop.source}, but the path is at {here}",
                "list hops whose frameworks chain",
            )
        here = hop.target
    return ConversionPath(source, tuple(hops))


def find_path(source: str, target: str) -> ConversionPath:
    """The default path from ``source`` to ``target``; a path with no converter says why."""
    for path in default_paths():
        if path.source == source and path.target == target:
            return path
    if (source, target) in NO_CONVERTER:
        return ConversionPath(source, (), (source, target))
    raise ConvfailError(
        f"no conversion path from {source} to {target}",
        f"targets from {source}: "
        + ", ".join(sorted({p.target for p in default_paths() if p.source == source})),
    )


def default_paths() -> list[ConversionPath]:
    """Every path of the matrix, the source itself first (it gives the reference logits)."""
    plain = [
        ("torch", []),
        ("torch", ["torchscript-onnx"]),
        ("torch", ["dynamo-onnx"]),
        ("torch", ["litert-torch"]),
        ("torch", ["torchscript-onnx", "onnx2torch"]),
        ("keras", []),
        ("keras", ["tf2onnx-onnx"]),
        ("keras", ["tflite-float32"]),
        ("keras", ["tflite-float16"]),
        ("keras", ["tflite-dynamic-int8"]),
        ("keras", ["tflite-float32", "tflite-tf2onnx"]),
        ("keras", ["tflite-dynamic-int8", "tflite-tf2onnx"]),
        ("keras", ["tf2onnx-onnx", "onnx2torch"]),
    ]
    paths = [make_path(source, hops) for source, hops in plain]
    paths += [
        ConversionPath("torch", (), ("torch", "keras")),
        ConversionPath("torch", ("torchscript-onnx",), ("onnx", "keras")),
    ]
    return paths
