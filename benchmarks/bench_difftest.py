"""Throughput of differential testing: synthetic models through one converter.

Each model: build from its seed, run in its framework on 10 inputs, convert, load in ONNX
Runtime, run, compare, write the graph-structure JSON and the ONNX file, isolated from the
supervisor (see :mod:`difftest.isolation`). Reports models per minute per core for each worker
count asked (default 1 and 2) and the speed-up. A short warm-up campaign starts the fork server
and its workers first (their one-off import of torch or TensorFlow is not per-model work).

    .venv/bin/python benchmarks/bench_difftest.py [--models 60] [--converter dynamo]
        [--nodes 20] [--workers 1 --workers 2]
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from pathlib import Path

from difftest.campaign import CampaignConfig, run_campaign
from difftest.converters import CONVERTERS


def _run(name: str, converter: str, nodes: int, models: int, workers: int) -> float:
    config = CampaignConfig(name=name, sizes=[nodes], per_size=models, converters=[converter])
    start = time.perf_counter()
    counts = run_campaign(config, workers=workers, progress=False)
    elapsed = time.perf_counter() - start
    assert sum(counts.values()) == models
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", type=int, default=60, help="models per measurement")
    parser.add_argument("--converter", default="torchscript", choices=sorted(CONVERTERS))
    parser.add_argument("--nodes", type=int, default=20, help="nodes per synthetic graph")
    parser.add_argument(
        "--workers", type=int, action="append", help="worker counts to measure (default 1 and 2)"
    )
    args = parser.parse_args()
    counts = args.workers or [1, 2]
    seconds: dict[int, float] = {}
    with tempfile.TemporaryDirectory() as tmp:
        (Path(tmp) / "data").mkdir()
        os.environ["CONVFAIL_HOME"] = tmp  # the campaigns go to a throw-away project
        _run("warmup", args.converter, args.nodes, max(counts), max(counts))
        for workers in counts:
            seconds[workers] = _run(
                f"workers-{workers}", args.converter, args.nodes, args.models, workers
            )
    result = {
        "benchmark": f"difftest_synthetic{args.nodes}_{args.converter}",
        "models": args.models,
        "load_average_1min_after": round(os.getloadavg()[0], 2),
        **{f"seconds_{w}_workers": round(s, 2) for w, s in seconds.items()},
        **{
            f"models_per_min_per_core_{w}_workers": round(args.models / (s / 60) / w, 1)
            for w, s in seconds.items()
        },
        "target_models_per_min_per_core": 100,
    }
    if len(seconds) > 1:
        low, high = min(seconds), max(seconds)
        result[f"speedup_{low}_to_{high}_workers"] = round(seconds[low] / seconds[high], 2)
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
