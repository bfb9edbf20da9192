"""Throughput of differential testing: synthetic models through one converter.

Each model: build from its seed, run in its framework on 10 inputs, convert, load in ONNX
Runtime, run, compare, write the graph-structure JSON and the ONNX file, isolated from the
supervisor (see :mod:`difftest.isolation`). Reports models per minute per core for each worker
count asked (default 1 and 2) and the speed-up. A short warm-up campaign starts the fork server
and its workers first (their one-off import of torch or TensorFlow is not per-model work).

``--stages`` instead runs the jobs in this process, one after another after one warm-up job, as
a worker runs them (same per-process caches), and reports CPU seconds per model and per stage
(the runner's stages; ``convert`` includes writing the two files): CPU time stays meaningful on
a machine shared with other jobs, where wall time does not.

    .venv/bin/python benchmarks/bench_difftest.py [--models 60] [--converter dynamo]
        [--nodes 20] [--workers 1 --workers 2] [--stages]
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from collections import defaultdict
from dataclasses import replace
from pathlib import Path

from difftest import cia_cache, torchlib_cache
from difftest.campaign import CampaignConfig, plan, run_campaign
from difftest.converters import CONVERTERS
from difftest.runner import run_job


def _run(name: str, converter: str, nodes: int, models: int, workers: int) -> float:
    config = CampaignConfig(name=name, sizes=[nodes], per_size=models, converters=[converter])
    start = time.perf_counter()
    counts = run_campaign(config, workers=workers, progress=False)
    elapsed = time.perf_counter() - start
    assert sum(counts.values()) == models
    return elapsed


def _stages(converter: str, nodes: int, models: int, tmp: Path) -> dict:
    config = CampaignConfig(
        name="stages", sizes=[nodes], per_size=models + 1, converters=[converter]
    )
    folder = {"onnx_dir": str(tmp / "onnx"), "graph_dir": str(tmp / "graphs")}
    jobs = [replace(job, **folder) for job in plan(config)]
    if jobs[0].framework == "torch":
        import torch  # torch is an optional extra; import on use

        torch.set_num_threads(1)
        torchlib_cache.install()
        cia_cache.install()
    run_job(jobs[0])  # warm-up: first use of the converter, not per-model work
    cpu: dict[str, float] = defaultdict(float)
    last = {"stage": "", "at": time.process_time()}

    def report(stage: str) -> None:
        now = time.process_time()
        if last["stage"]:
            cpu[last["stage"]] += now - last["at"]
        last.update(stage=stage, at=now)

    start = time.process_time()
    outcomes: dict[str, int] = defaultdict(int)
    for job in jobs[1:]:
        record = run_job(job, report=report)
        report("")
        outcomes[record["outcome"]] += 1
    total = time.process_time() - start
    return {
        "benchmark": f"difftest_stages_synthetic{nodes}_{converter}",
        "models": models,
        "outcomes": dict(sorted(outcomes.items())),
        "cpu_seconds_per_model": round(total / models, 3),
        "models_per_min_per_core_cpu": round(60 * models / total, 1),
        "cpu_seconds_per_model_by_stage": {k: round(v / models, 4) for k, v in cpu.items()},
        "load_average_1min_after": round(os.getloadavg()[0], 2),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", type=int, default=60, help="models per measurement")
    parser.add_argument("--converter", default="torchscript", choices=sorted(CONVERTERS))
    parser.add_argument("--nodes", type=int, default=20, help="nodes per synthetic graph")
    parser.add_argument(
        "--workers", type=int, action="append", help="worker counts to measure (default 1 and 2)"
    )
    parser.add_argument(
        "--stages", action="store_true", help="CPU per stage, jobs in this process (see above)"
    )
    args = parser.parse_args()
    if args.stages:
        os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
        with tempfile.TemporaryDirectory() as tmp:
            result = _stages(args.converter, args.nodes, args.models, Path(tmp))
        print(json.dumps(result, indent=2))
        return
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
