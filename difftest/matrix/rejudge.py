"""Re-judge a finished matrix against its sources' noise floors, without converting again.

A matrix run before the noise floor existed judged every conversion by the default float32
policy. Its conversion records keep the raw differences (``comparison.differences``), which
decide any allclose policy exactly, so only the sources have to run again: each source unit is
redone in its own process (its reference logits and its noise floor, :mod:`noise`), its record
gains the ``noise`` it measured, and every conversion of that model and source is judged again
under the policy that floor gives. Records without raw differences and outcomes that are not
verdicts (failures, crashes) are left as they are. The file is replaced in one step after each
source, so a stop keeps the floors measured so far and a rerun measures the rest.
"""

from __future__ import annotations

import json
from collections.abc import Callable

import yaml

from convfail.atomic import atomic_write_text
from convfail.campaign_files import RAN
from convfail.errors import ConvfailError
from convfail.matrix_files import read_results, results_path
from convfail.paths import campaign_dir
from convfail.verdicts import judge, rejudgeable
from difftest.matrix.noise import noise_policy
from difftest.matrix.paths import make_path
from difftest.matrix.runner import CONFIG, DEFAULT_MEMORY_MB, DEFAULT_TIMEOUT_S, run_isolated_unit

SOURCE_PATH = "(source)"


def rejudge_matrix(
    name: str,
    models: list[str] | None = None,
    timeout_s: float = DEFAULT_TIMEOUT_S,
    memory_mb: int = DEFAULT_MEMORY_MB,
    log: Callable[[str], None] = print,
) -> list[dict]:
    """Measure the noise floor of every source of matrix ``name`` (of ``models``, default all)
    that has none, re-judge its conversions under it, and return every record."""
    config_path = campaign_dir(name) / CONFIG
    records = read_results(name)
    if not records or not config_path.exists():
        raise ConvfailError(
            f"matrix {name!r} has no records to re-judge ({results_path(name)})",
            f"run `convfail difftest matrix {name}` first",
        )
    config = yaml.safe_load(config_path.read_text())
    for record in records:
        if record["path"] != SOURCE_PATH or record["outcome"] != "success" or "noise" in record:
            continue
        if models and record["model"] not in models:
            continue
        fresh = run_isolated_unit(
            name,
            record["model"],
            make_path(record["source"], []),
            config["images"],
            config["threads"],
            timeout_s,
            memory_mb,
        )
        measured = (fresh or [{}])[0]
        if "noise" not in measured:
            log(f"{record['unit']}: no noise floor ({measured.get('error') or 'stopped'})")
            continue
        record["noise"] = measured["noise"]
        _judge_conversions(records, record)
        _write(name, records)  # after each source: a stop keeps the floors measured so far
        log(f"{record['unit']}: noise floor {record['noise']['comparison']['max_abs_diff']:.3g}")
    return records


def _judge_conversions(records: list[dict], source: dict) -> None:
    """Judge every conversion of ``source``'s model and framework under its noise floor."""
    policy = noise_policy(source["noise"]["comparison"])
    for record in records:
        if (record["model"], record["source"]) != (source["model"], source["source"]):
            continue
        if record["path"] != SOURCE_PATH and record["outcome"] in RAN and rejudgeable(record):
            record.update(outcome=judge(record["comparison"], policy), policy=policy.name)


def _write(name: str, records: list[dict]) -> None:
    atomic_write_text(
        results_path(name), "".join(json.dumps(r, sort_keys=True) + "\n" for r in records)
    )
