"""Throughput of the conversion matrix: the whole matrix of the cached models, and images/s of
every runtime beside the source framework's own speed.

The run goes to a throw-away project (the trained weights of this checkout's .cache/matrix/ are
linked in, so nothing is trained and data/ is not touched). Train first with
``convfail difftest matrix-train``.

    .venv/bin/python benchmarks/bench_matrix.py [--model mobilenet_v2 ...] [--images 1000]
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from collections import defaultdict
from pathlib import Path

from convfail.paths import cache_dir
from difftest.matrix.images import N_TEST
from difftest.matrix.runner import run_matrix
from difftest.matrix.torch_archs import ARCHITECTURES
from difftest.matrix.training import read_card, weights_dir


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", action="append", choices=sorted(ARCHITECTURES))
    parser.add_argument("--images", type=int, default=N_TEST)
    args, _ = parser.parse_known_args()
    models = [m for m in (args.model or ARCHITECTURES) if read_card(m)]
    if not models:
        print(f"no trained model in {weights_dir()}: run `convfail difftest matrix-train`")
        return
    weights = weights_dir()
    with tempfile.TemporaryDirectory() as tmp:
        home = Path(tmp)
        (home / "data").mkdir()
        (home / "pyproject.toml").write_text("")
        os.environ["CONVFAIL_HOME"] = str(home)
        (cache_dir() / "matrix").mkdir(parents=True)
        (cache_dir() / "matrix" / "weights").symlink_to(weights)
        start = time.perf_counter()
        records = run_matrix("bench", models, args.images, log=lambda line: None)
        elapsed = time.perf_counter() - start
    print(
        f"matrix: {len(models)} model(s) ({', '.join(models)}), {args.images} images, "
        f"{len(records)} records in {elapsed:.0f} s"
    )
    speeds: dict[tuple[str, str], list[float]] = defaultdict(list)
    for record in records:
        if record.get("images_per_s"):
            speeds[(record["model"], record["runtime"])].append(record["images_per_s"])
    for (model, runtime), values in sorted(speeds.items()):
        print(f"  {model:<14} {runtime:<12} {max(values):>9.1f} images/s (best of {len(values)})")


if __name__ == "__main__":
    main()
