"""The divergence figure is drawn for any report, also with non-finite errors, byte for byte
the same each time."""

from __future__ import annotations

from PIL import Image

from difftest.localize.divergence_plot import HEIGHT, RED, WIDTH, draw_divergence


def _report(errors: list) -> dict:
    nodes = [
        {
            "index": k,
            "op_type": "Conv",
            "scaled_error": e,
            "matched": e != "inf" and e <= 1,
            "bad": e == "inf" or e > 1,
        }
        for k, e in enumerate(errors)
    ]
    first = [{"node": k} for k, n in enumerate(nodes) if n["bad"]][:1]
    return {"title": "case", "nodes": nodes, "first_divergent": first}


def test_figure_marks_diverging_nodes_and_is_deterministic(tmp_path):
    report = _report([0.01, 0.2, 35.0, "inf", 12.0])
    draw_divergence(report, tmp_path / "a.png")
    draw_divergence(report, tmp_path / "b.png")
    assert (tmp_path / "a.png").read_bytes() == (tmp_path / "b.png").read_bytes()
    image = Image.open(tmp_path / "a.png").convert("RGB")
    assert image.size == (WIDTH, HEIGHT)
    assert RED in {colour for _, colour in image.getcolors(WIDTH * HEIGHT)}


def test_figure_of_an_agreeing_or_one_node_model_is_still_drawn(tmp_path):
    for k, errors in enumerate(([0.5, 0.1], [0.3], [])):
        draw_divergence(_report(errors), tmp_path / f"{k}.png")
        colours = Image.open(tmp_path / f"{k}.png").convert("RGB").getcolors(WIDTH * HEIGHT)
        assert RED not in {colour for _, colour in colours}
