"""``divergence.png``: the scaled error of every ONNX node along the graph, drawn with Pillow.

Every localization writes this picture, so it is drawn directly (points, a log axis, the
tolerance line, the first divergent nodes marked) instead of through matplotlib, whose import
and text layout cost a small model's localization more CPU than all its stages together.
"""

from __future__ import annotations

import math
from pathlib import Path

from PIL import Image, ImageDraw, ImageFont

ERROR_CAP = 1e6  # non-finite and huge errors are drawn at this height
WIDTH, HEIGHT = 1080, 432
LEFT, RIGHT, TOP, BOTTOM = 96, 1060, 36, 340  # the plotting area
BLUE, GREY, RED, LINE = (31, 119, 180), (153, 153, 153), (214, 39, 40), (217, 217, 217)
GROUPS = (
    ("agrees with a source value", BLUE, lambda n: n.get("matched") and not n["bad"]),
    ("no source counterpart (internal)", GREY, lambda n: not n.get("matched") and not n["bad"]),
    ("diverges", RED, lambda n: n["bad"]),
)


def _height(node: dict) -> float:
    error = node["scaled_error"]
    error = error if isinstance(error, float | int) and math.isfinite(error) else ERROR_CAP
    return max(min(error, ERROR_CAP), 1e-6)


def _x_ticks(low: int, high: int) -> list[int]:
    span = max(high - low, 1)
    step = next(s for s in (1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000) if span / s <= 10)
    return list(range(math.ceil(low / step) * step, high + 1, step))


def _dashed(draw: ImageDraw.ImageDraw, y: float) -> None:
    for x in range(LEFT, RIGHT, 12):
        draw.line([(x, y), (min(x + 7, RIGHT), y)], fill="black", width=1)


def draw_divergence(report: dict, path: Path) -> None:
    """Write the figure of ``report`` (its ``nodes`` and ``first_divergent``) to ``path``."""
    nodes = report["nodes"]
    image = Image.new("RGB", (WIDTH, HEIGHT), "white")
    draw = ImageDraw.Draw(image)
    font, small = ImageFont.load_default(15), ImageFont.load_default(12)
    xs = [n["index"] for n in nodes] or [0]
    ys = [math.log10(_height(n)) for n in nodes] or [0.0]
    low_y, high_y = math.floor(min(*ys, -1.0)), math.ceil(max(*ys, 1.0))
    low_x, high_x = min(xs), max(max(xs), min(xs) + 1)
    pad = (high_x - low_x) * 0.03

    def at(x: float, y: float) -> tuple[float, float]:
        px = LEFT + (x - low_x + pad) / (high_x - low_x + 2 * pad) * (RIGHT - LEFT)
        return px, BOTTOM - (y - low_y) / (high_y - low_y) * (BOTTOM - TOP)

    for decade in range(low_y, high_y + 1):
        _, py = at(low_x, decade)
        draw.line([(LEFT - 5, py), (LEFT, py)], fill="black")
        draw.text((LEFT - 8, py), f"1e{decade}", fill="black", font=small, anchor="rm")
    for tick in _x_ticks(low_x, high_x):
        px, _ = at(tick, low_y)
        draw.line([(px, BOTTOM), (px, BOTTOM + 5)], fill="black")
        draw.text((px, BOTTOM + 8), str(tick), fill="black", font=small, anchor="mt")
    points = [at(x, y) for x, y in zip(xs, ys, strict=False)]
    if len(points) > 1:
        draw.line(points, fill=LINE, width=1)
    _dashed(draw, at(low_x, 0.0)[1])
    for _, colour, member in GROUPS:
        for (px, py), node in zip(points, nodes, strict=False):
            if member(node):
                draw.ellipse([px - 3.5, py - 3.5, px + 3.5, py + 3.5], fill=colour)
    first = {d["node"] for d in report["first_divergent"]}
    for (px, py), node in zip(points, nodes, strict=False):
        if node["index"] in first:
            draw.line([(px - 6, py - 6), (px + 6, py + 6)], fill="black", width=2)
            draw.line([(px - 6, py + 6), (px + 6, py - 6)], fill="black", width=2)
            draw.text((px + 6, py - 8), node["op_type"], fill="black", font=small, anchor="ld")
    draw.rectangle([LEFT, TOP, RIGHT, BOTTOM], outline="black")
    middle = (LEFT + RIGHT) / 2
    draw.text((middle, TOP - 10), report.get("title", ""), fill="black", font=font, anchor="md")
    draw.text(
        (middle, BOTTOM + 30), "ONNX node index (graph order)", fill="black", font=font, anchor="mt"
    )
    label = Image.new("RGB", (260, 22), "white")
    ImageDraw.Draw(label).text(
        (130, 11), "scaled error vs source", fill="black", font=font, anchor="mm"
    )
    image.paste(label.rotate(90, expand=True), (8, (TOP + BOTTOM) // 2 - 130))
    _legend(draw, small, [g for g in GROUPS if any(g[2](n) for n in nodes)])
    image.save(path, format="PNG", optimize=False)


def _legend(draw: ImageDraw.ImageDraw, font: ImageFont.ImageFont, groups: list) -> None:
    entries = [(label, colour) for label, colour, _ in groups] + [("tolerance", None)]
    widths = [24 + draw.textlength(label, font=font) + 24 for label, _ in entries]
    x, y = (LEFT + RIGHT - sum(widths)) / 2, HEIGHT - 22
    for (label, colour), width in zip(entries, widths, strict=True):
        if colour is None:
            for dx in (0, 10):
                draw.line([(x + dx, y), (x + dx + 6, y)], fill="black")
        else:
            draw.ellipse([x + 4, y - 4, x + 12, y + 4], fill=colour)
        draw.text((x + 22, y), label, fill="black", font=font, anchor="lm")
        x += width
