"""A campaign: its configuration, its jobs, its results file, and running it (resumably).

Layout (``data/difftest/<campaign>/``): ``campaign.yaml`` (the configuration: what to test),
``results.jsonl`` (one record per job, see :mod:`difftest.runner`), ``graphs/`` (the structure of
every converted model). The ONNX files go to ``.cache/difftest/<campaign>/onnx/``.

Resume: every finished record is appended and flushed to ``results.jsonl`` as it arrives, so a
campaign killed halfway loses at most the jobs that were running. Running it again skips the keys
already in the file. When the campaign completes, the file is rewritten sorted by key, which makes
it independent of scheduling order.

Execution: a local pool of ``workers`` supervising threads (each job runs in its own forked
process, see :mod:`difftest.isolation`), or a Dask distributed cluster given its scheduler address.
"""

from __future__ import annotations

import json
import os
import shutil
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path

import yaml

from convfail.dataset import atomic_write_text
from convfail.errors import ConvfailError
from difftest.compare import DEFAULT_TOLERANCE
from difftest.converters import CONVERTERS
from difftest.isolation import DEFAULT_MEMORY_MB, DEFAULT_TIMEOUT_S, run_isolated
from difftest.jobs import Job
from difftest.outcomes import OUTCOMES

RESULTS = "results.jsonl"
CONFIG = "campaign.yaml"
GRAPHS = "graphs"
FRAMEWORK_OF = {name: converter.framework for name, converter in CONVERTERS.items()}
# settings that change results; the others (time-out, memory cap) only change how it runs
PLAN_FIELDS = (
    "source",
    "converters",
    "sizes",
    "per_size",
    "models",
    "seed",
    "opset",
    "n_inputs",
    "tolerance",
)


@dataclass
class CampaignConfig:
    """What a campaign tests. Synthetic campaigns use ``sizes`` x ``per_size``; zoo and probe
    campaigns use ``models`` (names)."""

    name: str
    source: str = "synthetic"
    converters: list[str] = field(default_factory=lambda: ["torchscript"])
    sizes: list[int] = field(default_factory=lambda: [20])
    per_size: int = 10
    models: list[str] = field(default_factory=list)
    seed: int = 0
    opset: int = 17
    n_inputs: int = 10
    tolerance: float = DEFAULT_TOLERANCE
    timeout_s: float = DEFAULT_TIMEOUT_S
    memory_mb: int = DEFAULT_MEMORY_MB

    def __post_init__(self) -> None:
        unknown = [c for c in self.converters if c not in FRAMEWORK_OF]
        if unknown:
            raise ConvfailError(
                f"unknown converter(s): {', '.join(unknown)}",
                f"choose from: {', '.join(FRAMEWORK_OF)}",
            )
        if self.source not in ("synthetic", "zoo", "probe"):
            raise ConvfailError(
                f"unknown model source {self.source!r}", "choose synthetic, zoo or probe"
            )
        if self.source != "synthetic" and not self.models:
            raise ConvfailError(f"a {self.source} campaign needs model names", "pass --model NAME")

    @property
    def frameworks(self) -> tuple[str, ...]:
        return tuple(sorted({FRAMEWORK_OF[c] for c in self.converters}))

    def to_yaml(self) -> str:
        return yaml.safe_dump(asdict(self), sort_keys=False)

    @classmethod
    def from_yaml(cls, text: str) -> CampaignConfig:
        data = yaml.safe_load(text) or {}
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in known})


def campaign_dir(root: Path, name: str) -> Path:
    return root / "data" / "difftest" / name


def plan(config: CampaignConfig, root: Path) -> list[Job]:
    """Every job of the campaign, in a fixed order."""
    from difftest.synthetic import CATALOGUE, model_seed

    out_dir = campaign_dir(root, config.name)
    common = dict(
        campaign=config.name,
        opset=config.opset,
        n_inputs=config.n_inputs,
        tolerance=config.tolerance,
        onnx_dir=str(root / ".cache" / "difftest" / config.name / "onnx"),
        graph_dir=str(out_dir / GRAPHS),
    )
    models: list[dict] = []
    if config.source == "synthetic":
        count = 0
        for size in config.sizes:
            for index in range(config.per_size):
                models.append(
                    dict(
                        model_id=f"syn-n{size:03d}-{index:04d}",
                        source="synthetic",
                        name=CATALOGUE[count % len(CATALOGUE)],
                        nodes=size,
                        seed=model_seed(config.seed, size, index),
                    )
                )
                count += 1
    else:
        for name in config.models:
            models.append(
                dict(
                    model_id=f"{config.source}-{name}",
                    source=config.source,
                    name=name,
                    seed=config.seed,
                )
            )
    return [
        Job(framework=FRAMEWORK_OF[conv], converter=conv, **model, **common)
        for model in models
        for conv in config.converters
    ]


class ResultStore:
    """``results.jsonl`` of one campaign: append-only while running, sorted when complete."""

    def __init__(self, directory: Path) -> None:
        self.path = directory / RESULTS

    def load(self) -> dict[str, dict]:
        """Finished records by key. A torn last line (the campaign was killed while writing) is
        dropped, and the file is truncated to its last complete line."""
        if not self.path.is_file():
            return {}
        records, good_bytes = {}, 0
        with self.path.open("rb") as fh:
            for line in fh:
                try:
                    if not line.endswith(b"\n"):
                        raise ValueError("torn line")
                    record = json.loads(line)
                except ValueError:
                    break
                records[record["key"]] = record
                good_bytes += len(line)
        if good_bytes != self.path.stat().st_size:
            with self.path.open("r+b") as fh:
                fh.truncate(good_bytes)
        return records

    def append(self, record: dict) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self.path.open("a", encoding="utf-8", newline="\n") as fh:
            fh.write(dumps_record(record))
            fh.flush()
            os.fsync(fh.fileno())

    def finalise(self, records: dict[str, dict]) -> None:
        atomic_write_text(self.path, "".join(dumps_record(records[k]) for k in sorted(records)))


def dumps_record(record: dict) -> str:
    return json.dumps(record, sort_keys=True, ensure_ascii=False, allow_nan=False) + "\n"


def read_results(path: Path) -> list[dict]:
    """Every record of a results file (for status and tests)."""
    return list(ResultStore(path.parent).load().values()) if path.is_file() else []


def prepare(config: CampaignConfig, root: Path, fresh: bool = False) -> Path:
    """Create or check the campaign folder; refuse to mix results of different configurations."""
    directory = campaign_dir(root, config.name)
    saved = directory / CONFIG
    if fresh and directory.exists():
        shutil.rmtree(directory)
        shutil.rmtree(root / ".cache" / "difftest" / config.name, ignore_errors=True)
    if saved.is_file():
        old = CampaignConfig.from_yaml(saved.read_text(encoding="utf-8"))
        changed = [f for f in PLAN_FIELDS if getattr(old, f) != getattr(config, f)]
        if changed:
            raise ConvfailError(
                f"campaign {config.name!r} exists with different settings ({', '.join(changed)})",
                "rerun with the same settings to resume, choose another name, or pass --fresh",
            )
    directory.mkdir(parents=True, exist_ok=True)
    atomic_write_text(saved, config.to_yaml())
    return directory


def _local(pending: list[Job], config: CampaignConfig, workers: int) -> Iterator[dict]:
    with ThreadPoolExecutor(max_workers=workers) as pool:
        futures = [
            pool.submit(run_isolated, job, config.timeout_s, config.memory_mb, config.frameworks)
            for job in pending
        ]
        try:
            for future in as_completed(futures):
                yield future.result()
        finally:
            for future in futures:
                future.cancel()


def _dask(pending: list[Job], config: CampaignConfig, scheduler: str) -> Iterator[dict]:
    try:
        from distributed import Client
        from distributed import as_completed as dask_completed
    except ImportError:
        raise ConvfailError(
            "Dask distributed is not installed", "pip install 'convfail[convert]'"
        ) from None
    try:
        client = Client(scheduler, timeout="10s")
    except OSError as exc:
        raise ConvfailError(
            f"cannot reach the Dask scheduler at {scheduler}: {exc}",
            "start one with `dask scheduler` or drop --scheduler",
        ) from None
    with client:
        futures = client.map(
            run_isolated,
            pending,
            timeout_s=config.timeout_s,
            memory_mb=config.memory_mb,
            preload=config.frameworks,
            pure=False,
            key=[f"difftest-{j.campaign}-{j.key}" for j in pending],
        )
        try:
            for future in dask_completed(futures):
                yield future.result()
        finally:
            client.cancel(futures)


def run_campaign(
    config: CampaignConfig,
    root: Path,
    workers: int = 1,
    scheduler: str | None = None,
    fresh: bool = False,
    limit: int | None = None,
    progress: bool = True,
) -> Counter:
    """Run (or resume) a campaign; return the counts of every outcome in its results file."""
    from tqdm import tqdm

    directory = prepare(config, root, fresh)
    store = ResultStore(directory)
    done = store.load()
    jobs = plan(config, root)
    pending = [job for job in jobs if job.key not in done]
    if limit is not None:
        pending = pending[:limit]
    counts = Counter(record["outcome"] for record in done.values())
    bar = tqdm(
        total=len(jobs),
        initial=len(done),
        disable=not progress,
        unit="model",
        desc=config.name,
        dynamic_ncols=True,
    )
    stream = (
        _dask(pending, config, scheduler) if scheduler else _local(pending, config, max(1, workers))
    )
    try:
        for record in stream:
            store.append(record)
            done[record["key"]] = record
            counts[record["outcome"]] += 1
            bar.update()
            bar.set_postfix_str(short_counts(counts), refresh=False)
    finally:
        bar.close()
    if all(job.key in done for job in jobs):
        store.finalise(done)
    return counts


def short_counts(counts: Counter) -> str:
    abbrev = {
        "source_failure": "src",
        "conversion_failure": "conv",
        "ort_load_failure": "load",
        "ort_inference_failure": "infer",
        "mismatch": "mism",
        "success": "ok",
        "hang": "hang",
        "crash": "crash",
    }
    return " ".join(f"{abbrev[o]}={counts[o]}" for o in OUTCOMES if counts.get(o))
