"""Throughput of differential testing: 20-node synthetic models, TorchScript exporter.

Each model: build from its seed, run in PyTorch on 10 inputs, export, load in ONNX Runtime, run,
compare, write the graph-structure JSON and the ONNX file, in its own forked process. Reports
models per minute per core with 1 worker and with 2 workers, and the speed-up. The fork server
is warmed up first (its one-off import of torch is not per-model work).

    .venv/bin/python benchmarks/bench_difftest.py [--models 60]
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from pathlib import Path

from difftest.campaign import CampaignConfig, run_campaign


def _run(name: str, models: int, workers: int) -> float:
    config = CampaignConfig(name=name, sizes=[20], per_size=models, converters=["torchscript"])
    start = time.perf_counter()
    counts = run_campaign(config, workers=workers, progress=False)
    elapsed = time.perf_counter() - start
    assert sum(counts.values()) == models
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", type=int, default=60, help="models per measurement")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        (Path(tmp) / "data").mkdir()
        os.environ["CONVFAIL_HOME"] = tmp  # the campaigns go to a throw-away project
        _run("warmup", 2, 1)
        one = _run("one-worker", args.models, 1)
        two = _run("two-workers", args.models, 2)
    per_core_1 = args.models / (one / 60)
    per_core_2 = args.models / (two / 60) / 2
    result = {
        "benchmark": "difftest_synthetic20_torchscript",
        "models": args.models,
        "seconds_1_worker": round(one, 2),
        "seconds_2_workers": round(two, 2),
        "models_per_min_per_core_1_worker": round(per_core_1, 1),
        "models_per_min_per_core_2_workers": round(per_core_2, 1),
        "speedup_1_to_2_workers": round(one / two, 2),
        "target_models_per_min_per_core": 100,
    }
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
