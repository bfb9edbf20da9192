"""One job, stage by stage, in the current process: build, run source, convert, load, run, compare.

:func:`run_job` never raises for a failure of the model, the converter or the runtime: it returns
a result record with the outcome of the first failing stage. ``report(stage)`` is called before
each stage so that a supervising process knows where a hang or a crash happened.

A result record is one line of :data:`convfail.campaign_files.RESULTS_FILE`, keys
:data:`convfail.campaign_files.RESULT_KEYS`: ``stage`` is where it ended, ``error`` its first
2,000 characters, ``comparison`` (see :mod:`difftest.compare`) is ``null`` unless both runtimes
produced outputs (``outcome`` is then the verdict under the job's policy), ``graph_file`` is the
graph-structure file relative to the campaign folder.
"""

from __future__ import annotations

import os
import traceback
from collections.abc import Callable
from pathlib import Path

from convfail import campaign_files
from convfail.campaign_files import RESULT_KEYS, dumps_graph
from convfail.verdicts import parse_policy
from difftest.compare import comparison
from difftest.converters import CONVERTERS, get_converter
from difftest.graph_json import graph_structure
from difftest.jobs import Job
from difftest.outcomes import FAILURE_OF_STAGE
from difftest.signature import signature
from difftest.sources import build_source

MAX_ERROR = 2000


def base_record(job: Job) -> dict:
    converter = CONVERTERS.get(job.converter)
    record = dict.fromkeys(RESULT_KEYS)
    record.update(
        key=job.key,
        campaign=job.campaign,
        model_id=job.model_id,
        source=job.source,
        name=job.name,
        framework=job.framework,
        converter=job.converter,
        tool=converter.tool if converter else None,
        opset=job.opset,
        seed=job.seed,
        nodes=job.nodes,
        n_inputs=job.n_inputs,
        policy=job.policy,
        error="",
        error_type="",
        signature="",
        model={},
    )
    return record


def failed(record: dict, outcome: str, stage: str, error_type: str, message: str) -> dict:
    record.update(
        outcome=outcome,
        stage=stage,
        error_type=error_type,
        error=message[:MAX_ERROR],
        signature=signature(outcome, error_type, message),
    )
    return record


def _quiet_ort_session(model_bytes: bytes):
    import onnxruntime as ort  # ONNX Runtime is an optional extra; import on use

    options = ort.SessionOptions()
    options.log_severity_level = 3
    options.intra_op_num_threads = 1
    options.inter_op_num_threads = 1
    ort.set_default_logger_severity(3)
    return ort.InferenceSession(model_bytes, options, providers=["CPUExecutionProvider"])


def _write_atomic(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_bytes(data)
    os.replace(tmp, path)


def file_stem(job: Job) -> str:
    """The name, without suffix, of a job's ONNX file and graph-structure file."""
    return campaign_files.file_stem(job.model_id, job.converter)


def run_job(job: Job, report: Callable[[str], None] = lambda stage: None) -> dict:
    """Run ``job`` and return its result record."""
    record = base_record(job)
    stage = "build"
    try:
        report(stage)
        converter = get_converter(job.converter)
        source = build_source(job)
        record["model"] = source.info
        stage = "source"
        report(stage)
        inputs = source.make_inputs(job.seed, job.n_inputs)
        expected = [source.run(arrays) for arrays in inputs]
    except Exception as exc:  # the source model itself fails: not the converter's fault
        return failed(record, FAILURE_OF_STAGE["source"], stage, type(exc).__name__, _message(exc))

    try:
        report("convert")
        model = converter.convert(source, job.opset)
        model_bytes = model.SerializeToString()
    except Exception as exc:
        return failed(
            record, FAILURE_OF_STAGE["convert"], "convert", type(exc).__name__, _message(exc)
        )
    record["onnx_nodes"] = len(model.graph.node)
    _keep_files(job, model, model_bytes, record)

    try:
        report("load")
        session = _quiet_ort_session(model_bytes)
        names = [i.name for i in session.get_inputs()]
    except Exception as exc:
        return failed(record, FAILURE_OF_STAGE["load"], "load", type(exc).__name__, _message(exc))

    try:
        report("run")
        import onnxruntime as ort  # ONNX Runtime is an optional extra; import on use

        quiet = ort.RunOptions()
        quiet.log_severity_level = 3
        actual = [
            session.run(None, dict(zip(names, arrays, strict=True)), quiet) for arrays in inputs
        ]
    except Exception as exc:
        return failed(record, FAILURE_OF_STAGE["run"], "run", type(exc).__name__, _message(exc))

    report("compare")
    policy = parse_policy(job.policy)
    result = comparison(policy)
    for e, a in zip(expected, actual, strict=True):
        result.add(e, a)
    record["comparison"] = result.to_dict()
    record["stage"] = "compare"
    record["outcome"] = result.verdict(policy)
    return record


def _keep_files(job: Job, model, model_bytes: bytes, record: dict) -> None:
    stem = file_stem(job)
    if job.onnx_dir:
        _write_atomic(Path(job.onnx_dir) / f"{stem}.onnx", model_bytes)
    if job.graph_dir:
        text = dumps_graph(graph_structure(model, job.model_id, job.converter))
        _write_atomic(Path(job.graph_dir) / f"{stem}.json", text.encode())
        record["graph_file"] = campaign_files.graph_file(job.model_id, job.converter)


def _message(exc: BaseException) -> str:
    text = str(exc).strip()
    if not text:
        text = "".join(traceback.format_exception_only(type(exc), exc)).strip()
    return text
