"""A campaign: its configuration, its jobs, and running it (resumably) into its campaign files.

The folder (:func:`convfail.paths.campaign_dir`) holds the files of
:mod:`convfail.campaign_files`: the configuration (what to test), the results (one record per job,
see :mod:`difftest.runner`) and the structure of every converted model. The ONNX files go to the
campaign's cache (:func:`convfail.paths.campaign_cache_dir`), ``onnx/``.

Resume: every finished record is appended and flushed to the results file as it arrives, so a
campaign killed halfway loses at most the jobs that were running; a torn last line is cut off,
with a note on stderr, before appending resumes. Running it again skips the keys already in the
file. When the campaign completes, the file is rewritten sorted by key, which makes it
independent of scheduling order.

Execution: a local pool of ``workers`` supervising threads (each hands its jobs to a worker
process, see :mod:`difftest.isolation`), or a Dask distributed cluster given its scheduler address.
"""

from __future__ import annotations

import shutil
import sys
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path

import yaml
from tqdm import tqdm

from convfail.atomic import atomic_write_text
from convfail.campaign_files import (
    CONFIG_FILE,
    CONVERSION_FAILURE,
    CRASH,
    GRAPHS_DIR,
    HANG,
    MISMATCH,
    NONFINITE_MISMATCH,
    ORT_INFERENCE_FAILURE,
    ORT_LOAD_FAILURE,
    OUTCOMES,
    RAN,
    RESULTS_FILE,
    SOURCE_FAILURE,
    SUCCESS,
    append_result,
    read_results,
    repair_torn_tail,
    write_results,
)
from convfail.config import ConfigError, reject_unknown_keys
from convfail.errors import ConvfailError
from convfail.paths import campaign_cache_dir, campaign_dir, campaign_onnx_dir
from convfail.verdicts import DEFAULT, PAPER, Policy, parse_policy, rejudgeable, verdict
from difftest.converters import CONVERTERS
from difftest.isolation import DEFAULT_MEMORY_MB, DEFAULT_TIMEOUT_S, run_isolated
from difftest.jobs import Job
from difftest.synthetic import CATALOGUE, model_seed

SHORT = {
    SOURCE_FAILURE: "src",
    CONVERSION_FAILURE: "conv",
    ORT_LOAD_FAILURE: "load",
    ORT_INFERENCE_FAILURE: "infer",
    MISMATCH: "mism",
    NONFINITE_MISMATCH: "nonfin",
    SUCCESS: "ok",
    HANG: "hang",
    CRASH: "crash",
}
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
    "policy",
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
    policy: str = DEFAULT
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
        self.policy = parse_policy(self.policy).name
        if self.source != "synthetic" and not self.models:
            raise ConvfailError(f"a {self.source} campaign needs model names", "pass --model NAME")

    @property
    def frameworks(self) -> tuple[str, ...]:
        return tuple(sorted({FRAMEWORK_OF[c] for c in self.converters}))

    def to_yaml(self) -> str:
        return yaml.safe_dump(asdict(self), sort_keys=False)

    @classmethod
    def from_yaml(cls, text: str, path: Path) -> CampaignConfig:
        """The configuration saved at ``path`` (its ``text``); a key it does not know is an error,
        so that a typo is not silently dropped."""
        try:
            data = yaml.safe_load(text) or {}
        except yaml.YAMLError as exc:
            raise ConfigError(f"{path}: not YAML ({exc})".replace("\n", " ")) from None
        if not isinstance(data, dict):
            raise ConfigError(f"{path}: not a mapping of settings")
        reject_unknown_keys(data, [f.name for f in fields(cls)], path)
        return cls(**data)

    @classmethod
    def read(cls, campaign: str) -> CampaignConfig:
        """The configuration saved in the folder of ``campaign``."""
        path = campaign_dir(campaign) / CONFIG_FILE
        return cls.from_yaml(path.read_text(encoding="utf-8"), path)


def plan(config: CampaignConfig) -> list[Job]:
    """Every job of the campaign, in a fixed order."""
    common = dict(
        campaign=config.name,
        opset=config.opset,
        n_inputs=config.n_inputs,
        policy=config.policy,
        onnx_dir=str(campaign_onnx_dir(config.name)),
        graph_dir=str(campaign_dir(config.name) / GRAPHS_DIR),
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


def prepare(config: CampaignConfig, fresh: bool = False) -> Path:
    """Create or check the campaign folder; refuse to mix results of different configurations."""
    directory = campaign_dir(config.name)
    saved = directory / CONFIG_FILE
    if fresh and directory.exists():
        shutil.rmtree(directory)
        shutil.rmtree(campaign_cache_dir(config.name), ignore_errors=True)
    if saved.is_file():
        old = CampaignConfig.read(config.name)
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
    try:  # Dask is an optional extra; import on use
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


def finished_records(directory: Path) -> dict[str, dict]:
    """The records already in the results file, by key, after cutting off a torn last line (a
    campaign killed while writing it), which is said on stderr first."""
    path = directory / RESULTS_FILE
    results = read_results(path)
    if results.torn_tail:
        print(
            f"{path}: the last line is torn (the campaign was killed while writing it); "
            "cutting it off, its model runs again",
            file=sys.stderr,
        )
        repair_torn_tail(path)
    return results.by_key()


def run_campaign(
    config: CampaignConfig,
    workers: int = 1,
    scheduler: str | None = None,
    fresh: bool = False,
    limit: int | None = None,
    progress: bool = True,
) -> Counter:
    """Run (or resume) a campaign; return the counts of every outcome in its results file."""
    directory = prepare(config, fresh)
    done = finished_records(directory)
    jobs = plan(config)
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
            append_result(directory / RESULTS_FILE, record)
            done[record["key"]] = record
            counts[record["outcome"]] += 1
            bar.update()
            bar.set_postfix_str(short_counts(counts), refresh=False)
    finally:
        bar.close()
    if all(job.key in done for job in jobs):
        write_results(directory / RESULTS_FILE, done.values())
    return counts


@dataclass(frozen=True)
class CampaignStatus:
    """What ``status`` shows, read from the results file without changing it (a torn last line
    is left out and flagged): outcome counts per converter under ``policy``, the unique errors,
    the keys of every record by outcome, and how many records could not be re-judged."""

    path: Path
    policy: Policy
    by_converter: dict[str, Counter]
    signatures: Counter
    keys: dict[str, list[str]]
    torn_tail: bool
    not_rejudged: int


def campaign_status(campaign: str, policy: Policy | None = None) -> CampaignStatus:
    """The status of ``campaign`` under ``policy`` (the campaign's own when None); an error when
    it has no results yet."""
    path = campaign_dir(campaign) / RESULTS_FILE
    results = read_results(path)
    if not results.records:
        raise ConvfailError(f"no results for campaign {campaign!r} at {path}", "run it first")
    if policy is None:
        saved = results.records[0].get("policy") or DEFAULT
        policy = parse_policy(saved if saved in (DEFAULT, PAPER) or "," in saved else DEFAULT)
    by_converter: dict[str, Counter] = {}
    keys: dict[str, list[str]] = {}
    for r in results.records:
        outcome = verdict(r, policy)
        by_converter.setdefault(r["converter"], Counter())[outcome] += 1
        keys.setdefault(outcome, []).append(r["key"])
    not_rejudged = sum(r["outcome"] in RAN and not rejudgeable(r) for r in results.records)
    signatures = Counter(r["signature"] for r in results.records if r["signature"])
    return CampaignStatus(
        path, policy, by_converter, signatures, keys, results.torn_tail, not_rejudged
    )


def short_counts(counts: Counter) -> str:
    """``src=1 conv=2 ok=7``: the outcomes seen, in table order, for a progress line."""
    return " ".join(f"{SHORT[o]}={counts[o]}" for o in OUTCOMES if counts.get(o))
