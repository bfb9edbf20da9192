"""``convfail difftest matrix``: every model x source x path x runtime, resumable and isolated.

Each unit (a model along one path) runs in a child process of its own (:mod:`worker`) with a
timeout and a memory cap, so a converter that segfaults or hangs becomes a ``crash`` or ``hang``
record naming its stage, and the run goes on. The records of a unit are appended to
``data/difftest/<name>/matrix.jsonl`` when it ends; a unit already there is never redone, so a
killed run resumes where it stopped; SIGTERM or Ctrl-C ends the running units and their
children (:mod:`stopping`) and keeps every finished record. The source units run first: they
write the reference logits every conversion of that model is measured against. ``workers``
units run at a time (each a process of its own, so two use two cores). Converted models and
logits live in ``.cache/matrix/<name>/``.
"""

from __future__ import annotations

import json
import os
import resource
import signal
import subprocess
import sys
import tempfile
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import yaml

from convfail.campaign_files import CRASH, HANG
from convfail.errors import ConvfailError
from convfail.matrix_files import RESULTS, read_results, results_path
from convfail.paths import cache_dir, campaign_dir
from difftest.matrix.images import N_TEST, SPLIT_SEED
from difftest.matrix.paths import ConversionPath, default_paths
from difftest.matrix.runtimes import TVM_IMAGES
from difftest.matrix.sources import MODELS
from difftest.matrix.stopping import MatrixStopped, UnitGroups, kill_group
from difftest.matrix.training import read_card, weights_dir
from difftest.matrix.unit import base, ended, unit_key

CONFIG = "matrix.yaml"
DEFAULT_TIMEOUT_S = 1800.0
DEFAULT_MEMORY_MB = 12288


def _check_config(name: str, config: dict, fresh: bool) -> None:
    """Save the settings of a new matrix; refuse to resume one with other settings. Models
    may be added on a resume (their units are new); images, threads and paths may not change."""
    folder = campaign_dir(name)
    path = folder / CONFIG
    if fresh and folder.exists():
        for file in (path, folder / RESULTS):
            file.unlink(missing_ok=True)
    if path.exists():
        earlier = yaml.safe_load(path.read_text())
        if {**earlier, "models": None} != {**config, "models": None}:
            raise ConvfailError(
                f"matrix {name!r} was started with other settings ({path})",
                "resume with the same options, or pass --fresh to start again",
            )
        config = {**config, "models": list(dict.fromkeys(earlier["models"] + config["models"]))}
    folder.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(config, sort_keys=False))


def _limit_memory(pid: int, memory_mb: int) -> None:
    """Cap the address space of the started child. Set from here rather than in a
    ``preexec_fn``, which is unsafe in a process with threads (``--workers``); the child has
    only begun starting Python when it applies."""
    if memory_mb > 0:
        limit = memory_mb * 1024 * 1024
        resource.prlimit(pid, resource.RLIMIT_AS, (limit, limit))


def run_isolated_unit(
    name: str,
    model: str,
    path: ConversionPath,
    images: int,
    threads: int,
    timeout_s: float,
    memory_mb: int,
    tvm_images: int = TVM_IMAGES,
    groups: UnitGroups | None = None,
) -> list[dict] | None:
    """One unit in a child process (a session of its own); a crash or a hang becomes its record.
    None when ``groups`` was told to stop and killed the unit before it had a result."""
    groups = groups or UnitGroups()
    work = cache_dir() / "matrix" / name
    key = unit_key(model, path).replace("|", "--").replace(" > ", "+").replace(" ", "_")
    with tempfile.TemporaryDirectory() as tmp:
        spec = {
            "model": model,
            "source": path.source,
            "hops": list(path.hops),
            "unconvertible": list(path.unconvertible) if path.unconvertible else None,
            "images": images,
            "runtime_images": {"tvm": tvm_images},
            "threads": threads,
            "workdir": str(work / "models" / key),
            "reference": str(work / "logits" / f"{model}--{path.source}.npy"),
            "stage_file": str(Path(tmp) / "stage"),
            "out_file": str(Path(tmp) / "out.json"),
            "supervisor": os.getpid(),
        }
        spec_file = Path(tmp) / "spec.json"
        spec_file.write_text(json.dumps(spec))
        env = {**os.environ, "OMP_NUM_THREADS": str(threads), "TF_CPP_MIN_LOG_LEVEL": "2"}
        child = subprocess.Popen(
            [unit_interpreter(path), "-m", "difftest.matrix.worker", str(spec_file)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
            start_new_session=True,
        )
        groups.started(child.pid)
        try:
            _limit_memory(child.pid, memory_mb)
            _, stderr = child.communicate(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            kill_group(child.pid)
            child.communicate()
            stage = _last_stage(Path(spec["stage_file"]))
            return [
                ended(
                    base(model, path),
                    HANG,
                    "Timeout",
                    f"no result after {timeout_s:g} s (stage {stage})",
                )
            ]
        finally:
            kill_group(child.pid)  # whatever the unit started and left behind
            groups.ended(child.pid)
        out = Path(spec["out_file"])
        if out.exists():
            return json.loads(out.read_text())
        if groups.stopping:
            return None
        stage = _last_stage(Path(spec["stage_file"]))
        tail = [line for line in stderr.splitlines() if line.strip()][-1:] or [""]
        how = (
            f"killed by signal {-child.returncode}"
            if child.returncode < 0
            else f"exited with code {child.returncode}"
        )
        return [
            ended(
                base(model, path),
                CRASH,
                "Exit",
                f"{how} without a result (stage {stage}): {tail[0][:500]}",
            )
        ]


def unit_interpreter(path: ConversionPath) -> str:
    """The Python that runs the unit: the environment of its own that a hop of ``path`` names,
    when `make matrix-envs` has built it, else this one (where the hop is then missing)."""
    for hop in path.steps():
        python = Path(sys.prefix) / hop.environment / "bin" / "python"
        if hop.environment and python.exists():
            return str(python)
    return sys.executable


def _last_stage(path: Path) -> str:
    lines = path.read_text().split() if path.exists() else []
    return lines[-1] if lines else "start"


def run_matrix(
    name: str,
    models: list[str],
    images: int = N_TEST,
    threads: int = 1,
    timeout_s: float = DEFAULT_TIMEOUT_S,
    memory_mb: int = DEFAULT_MEMORY_MB,
    fresh: bool = False,
    limit: int | None = None,
    paths: list[ConversionPath] | None = None,
    log: Callable[[str], None] = print,
    workers: int = 1,
    tvm_images: int = TVM_IMAGES,
    require_weights: bool = False,
) -> list[dict]:
    """Run (or resume) matrix ``name`` over ``paths`` (default: every path); return every
    record it holds at the end. ``require_weights`` (the CLI's choice): refuse at once, in one
    line, when a model is untrained, rather than record a ``source_failure`` per unit."""
    unknown = sorted(set(models) - set(MODELS))
    if unknown:
        raise ConvfailError(
            f"unknown model(s) {', '.join(unknown)}", f"choose from {', '.join(MODELS)}"
        )
    if not 1 <= images <= N_TEST:
        raise ConvfailError(f"{images} images asked for", f"the held-out set has 1 to {N_TEST}")
    if workers < 1 or tvm_images < 1:
        raise ConvfailError(
            f"{workers} worker(s) and {tvm_images} TVM image(s) asked for", "give 1 or more of each"
        )
    untrained = [m for m in models if read_card(m) is None] if require_weights else []
    if untrained:
        raise ConvfailError(
            f"no trained weights for {', '.join(untrained)} in {weights_dir()}",
            "train once with `convfail difftest matrix-train"
            + "".join(f" --model {m}" for m in untrained)
            + "`, or leave them out with --model",
        )
    paths = paths or default_paths()
    config = {
        "name": name,
        "models": list(models),
        "images": images,
        "tvm_images": min(tvm_images, images),
        "split_seed": SPLIT_SEED,
        "threads": threads,
        "paths": [f"{p.source}: {p.name}" for p in paths],
    }
    _check_config(name, config, fresh)
    done = {r["unit"] for r in read_results(name)}
    ordered = [(m, p) for m in models for p in paths if not p.hops and not p.unconvertible]
    ordered += [(m, p) for m in models for p in paths if p.hops or p.unconvertible]
    pending = [(m, p) for m, p in ordered if unit_key(m, p) not in done]
    pending = pending[:limit] if limit else pending
    lock = threading.Lock()
    finished = [0]
    groups = UnitGroups()

    def one(unit: tuple[str, ConversionPath]) -> None:
        model, path = unit
        if groups.stopping:
            return
        records = run_isolated_unit(
            name, model, path, images, threads, timeout_s, memory_mb, tvm_images, groups
        )
        if records is None:
            return
        with lock:
            with results_path(name).open("a") as handle:
                for record in records:
                    handle.write(json.dumps(record, sort_keys=True) + "\n")
                handle.flush()
                os.fsync(handle.fileno())
            finished[0] += 1
            outcomes = ", ".join(f"{r['runtime'] or '-'}: {r['outcome']}" for r in records)
            log(f"[{finished[0]}/{len(pending)}] {model} {path.source}: {path.name} -> {outcomes}")

    sources = [unit for unit in pending if not (unit[1].hops or unit[1].unconvertible)]
    conversions = [unit for unit in pending if unit not in sources]
    with groups.handling_signals(), ThreadPoolExecutor(workers) as pool:
        for phase in (sources, conversions):  # the conversions need the sources' logits
            list(pool.map(one, phase))
    if groups.stopping:
        raise MatrixStopped(
            f"matrix {name!r} stopped by {signal.Signals(groups.signum).name} after "
            f"{finished[0]} of {len(pending)} unit(s); every finished record is kept in "
            f"{results_path(name)}",
            f"rerun `convfail difftest matrix {name}` with the same options to resume",
            groups.signum,
        )
    return read_results(name)
