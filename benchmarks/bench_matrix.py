"""Throughput of the conversion matrix: the wall time of the whole matrix of the cached models,
and images/s of every runtime beside the source framework's own speed.

By default the matrix runs in a throw-away project (this checkout's trained weights and Keras
mirrors in .cache/matrix/ are linked in, so nothing is trained and data/ is not touched). With
``--records NAME`` nothing runs: the numbers come from the records of a finished matrix run,
``data/difftest/NAME/matrix.jsonl`` (its wall time is the one the run printed). Train first with
``convfail difftest matrix-train``.

    .venv/bin/python benchmarks/bench_matrix.py [--model mobilenet_v2 ...] [--images 1000]
        [--workers 2] [--records conversions]
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from collections import Counter, defaultdict
from pathlib import Path

from convfail.paths import cache_dir
from difftest.matrix.images import N_TEST
from difftest.matrix.mirror_cache import mirrors_dir
from difftest.matrix.runner import DEFAULT_MEMORY_MB, read_results, run_matrix
from difftest.matrix.torch_archs import ARCHITECTURES
from difftest.matrix.training import read_card, weights_dir


def _run(models: list[str], images: int, workers: int, memory_mb: int) -> list[dict]:
    weights, mirrors = weights_dir(), mirrors_dir()
    with tempfile.TemporaryDirectory() as tmp:
        home = Path(tmp)
        (home / "data").mkdir()
        (home / "pyproject.toml").write_text("")
        os.environ["CONVFAIL_HOME"] = str(home)
        (cache_dir() / "matrix").mkdir(parents=True)
        (cache_dir() / "matrix" / "weights").symlink_to(weights)
        if mirrors.exists():
            (cache_dir() / "matrix" / "mirrors").symlink_to(mirrors)
        start = time.perf_counter()
        records = run_matrix(
            "bench", models, images, workers=workers, memory_mb=memory_mb, log=lambda line: None
        )
        elapsed = time.perf_counter() - start
    print(
        f"matrix: {len(models)} model(s) ({', '.join(models)}), {images} images, "
        f"{workers} worker(s), {len(records)} records in {elapsed:.0f} s"
    )
    outcomes = Counter(record["outcome"] for record in records)
    print("  outcomes: " + ", ".join(f"{n} {outcome}" for outcome, n in sorted(outcomes.items())))
    return records


def _speeds(records: list[dict]) -> None:
    """Best images/s per model and runtime, with the source framework's own on its line."""
    speeds: dict[tuple[str, str], list[float]] = defaultdict(list)
    sources: dict[tuple[str, str], float] = {}
    for record in records:
        if not record.get("images_per_s"):
            continue
        if record["path"] == "(source)":
            sources[(record["model"], record["source"])] = record["images_per_s"]
        else:
            speeds[(record["model"], record["runtime"])].append(record["images_per_s"])
    for (model, source), value in sorted(sources.items()):
        print(f"  {model:<14} {source + ' (source)':<20} {value:>9.1f} images/s")
    for (model, runtime), values in sorted(speeds.items()):
        torch_s, keras_s = sources.get((model, "torch")), sources.get((model, "keras"))
        print(
            f"  {model:<14} {runtime:<20} {max(values):>9.1f} images/s (best of {len(values)}; "
            f"torch {torch_s}, keras {keras_s})"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", action="append", choices=sorted(ARCHITECTURES))
    parser.add_argument("--images", type=int, default=N_TEST)
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument(
        "--memory-mb",
        type=int,
        default=DEFAULT_MEMORY_MB,
        help="memory cap per unit (0: none; ResNet101's Keras -> tf2onnx unit needs > 12 GB)",
    )
    parser.add_argument("--records", help="report a finished run's records instead of running")
    args, _ = parser.parse_known_args()
    if args.records:
        records = read_results(args.records)
        if not records:
            print(f"matrix {args.records!r} has no records: run `convfail difftest matrix` first")
            return
        print(f"matrix {args.records!r}: {len(records)} records")
        _speeds(records)
        return
    models = [m for m in (args.model or ARCHITECTURES) if read_card(m)]
    if not models:
        print(f"no trained model in {weights_dir()}: run `convfail difftest matrix-train`")
        return
    _speeds(_run(models, args.images, args.workers, args.memory_mb))


if __name__ == "__main__":
    main()
