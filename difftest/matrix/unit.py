"""One unit of the matrix in the current process: a model along one path, into every runtime of
the path's target.

The source model is built once, each hop converts once, and each runtime loads the result once
and reads all the images in batches. Nothing here raises for a failure of a converter or a
runtime: a hop that fails ends the path with a ``conversion_failure`` record naming that hop, a
runtime that fails gives a ``runtime_failure`` record; a missing converter or runtime is an
outcome with its reason. ``report(stage)`` tells a supervising process where a crash happened.
"""

from __future__ import annotations

import json
import time
import traceback
from collections.abc import Callable
from pathlib import Path

import numpy as np

from convfail.campaign_files import CONVERSION_FAILURE, SOURCE_FAILURE, SUCCESS
from convfail.verdicts import DEFAULT, parse_policy
from difftest.compare import comparison
from difftest.matrix.hops import Artifact
from difftest.matrix.labels import label_metrics
from difftest.matrix.noise import measure_noise, noise_policy
from difftest.matrix.paths import ConversionPath
from difftest.matrix.runtimes import RUNTIMES, runtimes_for
from difftest.matrix.sources import source_artifact
from difftest.signature import signature

# the tensors are judged by the project's default policy widened to the source's own noise
# floor (:mod:`noise`), or by the default itself when no noise floor was measured; labels by
# the label metrics
VERDICT_POLICY = parse_policy(DEFAULT)
MAX_ERROR = 2000

# outcomes only a matrix unit has (the others are the campaigns' names, from the core)
RUNTIME_FAILURE = "runtime_failure"
NO_CONVERTER, CONVERTER_MISSING, RUNTIME_MISSING = (
    "no_converter",
    "converter_missing",
    "runtime_missing",
)


def unit_key(model: str, path: ConversionPath) -> str:
    return f"{model}|{path.source}|{path.name}"


def base(model: str, path: ConversionPath, runtime: str = "") -> dict:
    return {
        "unit": unit_key(model, path),
        "model": model,
        "source": path.source,
        "target": path.target,
        "path": path.name,
        "runtime": runtime,
        "precision": path.precision,
        "images": 0,
        "top1_discrepancy_pct": None,
        "top5_tau_mean": None,
        "max_abs_diff": None,
        "outcome": "",
        "hops": [],
        "error": "",
        "signature": "",
    }


def ended(record: dict, outcome: str, error_type: str = "", message: str = "") -> dict:
    record.update(
        outcome=outcome,
        error=message[:MAX_ERROR],
        signature=signature(outcome, error_type, message) if message else "",
    )
    return record


def run_unit(
    model: str,
    path: ConversionPath,
    images: np.ndarray,
    workdir: Path,
    reference: Path,
    threads: int = 1,
    report: Callable[[str], None] = lambda stage: None,
    runtime_images: dict[str, int] | None = None,
) -> list[dict]:
    """Records of ``model`` along ``path``: one per runtime of the target (one if it ended
    early). ``reference`` holds the source framework's logits; the source unit writes it.
    ``runtime_images`` caps the images of a slow runtime (the first ones of the set)."""
    if path.no_converter_reason:
        return [ended(base(model, path), NO_CONVERTER, "NoConverter", path.no_converter_reason)]
    for hop in path.steps():
        reason = hop.missing()
        if reason:
            return [ended(base(model, path), CONVERTER_MISSING, "Missing", f"{hop.name}: {reason}")]
    report("source")
    try:
        artifact = source_artifact(model, path.source)
    except Exception as error:  # the source model itself could not be built: data, not a crash
        return [ended(base(model, path), SOURCE_FAILURE, type(error).__name__, str(error))]
    hops: list[dict] = []
    for hop in path.steps():
        report(f"convert:{hop.name}")
        started = time.perf_counter()
        step = {
            "hop": hop.name,
            "tool": hop.tool,
            "from": hop.source,
            "to": hop.target,
            "precision": hop.precision,
        }
        try:
            artifact = hop.convert(artifact, workdir)
        except Exception as error:  # the converter's failure is the finding
            step.update(outcome=CONVERSION_FAILURE, seconds=_since(started), error=_message(error))
            hops.append(step)
            record = base(model, path)
            record["hops"] = hops
            return [ended(record, CONVERSION_FAILURE, type(error).__name__, _message(error))]
        step.update(outcome=SUCCESS, seconds=_since(started), **artifact.info)
        hops.append(step)
    if not path.hops:
        return [_run_source(model, path, artifact, images, reference, threads, report)]
    expected = np.load(reference)
    noise = read_noise(reference)
    caps = runtime_images or {}
    return [
        _run_runtime(
            model,
            path,
            hops,
            artifact,
            runtime,
            images[: caps.get(runtime.name)],
            expected[: caps.get(runtime.name)],
            noise,
            threads,
            report,
        )
        for runtime in runtimes_for(artifact.framework)
    ]


def _run_source(model, path, artifact, images, reference: Path, threads, report) -> dict:
    """The source framework on the images: the reference logits and its own speed."""
    runtime = RUNTIMES[path.source]
    report(f"run:{runtime.name}")
    record = base(model, path, runtime.name)
    try:
        logits, load_s, run_s = runtime.timed_predict(artifact, images, threads)
    except Exception as error:  # the source framework failed on the images
        return ended(record, SOURCE_FAILURE, type(error).__name__, _message(error))
    record.update(_speed(len(images), load_s, run_s))
    report(f"noise:{runtime.name}")
    try:
        noise = measure_noise(runtime, artifact, images, logits, threads)
    except Exception as error:  # the source failed on another batch size or thread count
        return ended(record, SOURCE_FAILURE, type(error).__name__, _message(error))
    reference.parent.mkdir(parents=True, exist_ok=True)
    np.save(reference, logits)
    noise_file(reference).write_text(json.dumps(noise))
    record.update(
        noise=noise,
        images=len(images),
        top1_discrepancy_pct=0.0,
        top5_tau_mean=1.0,
        max_abs_diff=0.0,
        **artifact.info,
    )
    return ended(record, SUCCESS)


def _run_runtime(
    model, path, hops, artifact: Artifact, runtime, images, expected, noise, threads, report
) -> dict:
    record = base(model, path, runtime.name)
    record["hops"] = hops
    reason = runtime.missing()
    if reason:
        return ended(record, RUNTIME_MISSING, "Missing", reason)
    report(f"run:{runtime.name}")
    try:
        logits, load_s, run_s = runtime.timed_predict(artifact, images, threads)
    except Exception as error:  # the runtime's failure on the converted model is the finding
        return ended(record, RUNTIME_FAILURE, type(error).__name__, _message(error))
    record.update(_speed(len(images), load_s, run_s))
    metrics = label_metrics(expected, logits)
    policy = noise_policy(noise["comparison"]) if noise else VERDICT_POLICY
    check = comparison(policy)
    check.add([expected], [logits])
    record.update(metrics, comparison=check.to_dict(), policy=policy.name)
    return ended(record, check.verdict(policy))


def noise_file(reference: Path) -> Path:
    """The source's noise floor, beside its reference logits."""
    return reference.with_suffix(".noise.json")


def read_noise(reference: Path) -> dict | None:
    """The noise floor the source unit measured; None for a reference without one."""
    path = noise_file(reference)
    return json.loads(path.read_text()) if path.exists() else None


def _speed(images: int, load_s: float, run_s: float) -> dict:
    """Load time apart from run time: images/s is the run alone (batched, model loaded)."""
    return {
        "load_seconds": round(load_s, 3),
        "seconds": round(run_s, 3),
        "images_per_s": round(images / max(run_s, 1e-9), 1),
    }


def _since(started: float) -> float:
    return round(time.perf_counter() - started, 3)


def _message(error: Exception) -> str:
    text = str(error).strip() or traceback.format_exception_only(error)[-1].strip()
    return f"{type(error).__name__}: {text}"
