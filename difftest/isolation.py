"""Run jobs in worker processes, with a timeout and a memory cap, and survive their crashes.

A job runs in a *worker*: a long-lived child process, forked from a *fork server* that has
already imported the heavy libraries (torch, ONNX Runtime, and TensorFlow when the campaign
needs it), that runs jobs one after another. A worker pays the converters' first-use costs
(dynamo's tracing machinery and torchlib registry, TensorFlow's runtime and tf2onnx's graph
tools, several seconds each) once instead of once per model. The supervising process (a pool
thread or a Dask worker) stays small and never links those native libraries itself; the fork
server is single-threaded, which makes forking it safe, unlike forking a threaded Dask worker.

The worker sends the stage it enters, then the result, through a pipe. The supervisor records:

- ``hang`` when the job is still running at the timeout (the worker is then killed with
  SIGKILL);
- ``crash`` when the worker dies on a signal (SIGSEGV, SIGABRT, SIGKILL from the OOM killer, ...)
  or exits without a result; the stage it was in is kept in the record.

Either way the worker is gone and the next job starts a fresh one, so one model's crash or hang
never touches another's record. A worker is also replaced after :data:`JOBS_PER_WORKER` jobs,
which bounds what a slow leak in a converter can accumulate. Idle workers wait in a pool shared
by the threads of this process (one per supervising thread at most) and exit when its pipe
closes or the fork server goes.

Before a worker's first job through a converter it converts a tiny probe model with it (stage
``warm-up``, bounded by :data:`WARM_UP_TIMEOUT_S`), so the job's own timeout measures the job,
not the converter's first-use cost: on a loaded machine that cost alone can exceed a timeout and
record a model that is merely first as a hang.

The memory cap is ``RLIMIT_AS`` set in the worker: an allocation beyond it fails inside the job
(usually a ``MemoryError``/``bad_alloc`` classified at its stage, or an abort recorded as a crash)
instead of taking the machine down.
"""

from __future__ import annotations

import atexit
import contextlib
import ctypes
import multiprocessing
import os
import resource
import signal
import threading
import time
from dataclasses import replace
from multiprocessing.connection import Connection

from convfail.campaign_files import CRASH, HANG
from difftest import cia_cache, torchlib_cache
from difftest.jobs import Job
from difftest.runner import base_record, failed, run_job

DEFAULT_TIMEOUT_S = 120.0
DEFAULT_MEMORY_MB = 8192
# replacing a worker costs one warm-up (a few seconds for dynamo): negligible every 200 jobs
JOBS_PER_WORKER = 200
# a converter's first use in a process (imports, registries, runtimes): seconds idle, minutes
# on a machine whose cores are held by other jobs
WARM_UP_TIMEOUT_S = 900.0
WARM_UP = "warm-up"
WARM_UP_PROBE = "ok-relu"  # a probe of both frameworks, exact in both runtimes
_OURS = [
    "difftest.runner",
    "difftest.converters",
    "difftest.sources",
    "difftest.compare",
    "difftest.graph_json",
    "difftest.synthetic",
]
PRELOAD = {
    "torch": ["torch", "torch.onnx", "onnx", "onnxruntime", "difftest.torch_models", *_OURS],
    "tensorflow": ["tensorflow", "tf2onnx", "onnx", "onnxruntime", "difftest.tf_models", *_OURS],
}
_lock = threading.Lock()
_context: multiprocessing.context.BaseContext | None = None


def _fork_context(frameworks: tuple[str, ...]):
    """The fork-server context of this process, started with the libraries ``frameworks`` need.

    The preload list is fixed when the server starts (first job in this process); a later call
    with another framework still works, its children just import that framework themselves.
    """
    global _context
    with _lock:
        if _context is None:
            os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # the server inherits our stderr
            ctx = multiprocessing.get_context("forkserver")
            modules = sorted({m for f in frameworks for m in PRELOAD.get(f, [])})
            ctx.set_forkserver_preload(["difftest.isolation", *modules])
            _context = ctx
        return _context


def _silence_output() -> None:
    """Native libraries print to fd 1 and 2 directly; the record already holds the error."""
    null = os.open(os.devnull, os.O_WRONLY)
    os.dup2(null, 1)
    os.dup2(null, 2)
    os.close(null)


def _die_with_parent() -> None:
    """Ask Linux to SIGKILL this child when the fork server goes (the campaign was killed), so
    that a hanging model does not outlive its campaign."""
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG


def _serve(conn: Connection, memory_mb: int, quiet: bool) -> None:
    """The worker: run the jobs that arrive on ``conn`` until it closes."""
    _die_with_parent()
    if quiet:
        _silence_output()
    if memory_mb > 0:
        limit = memory_mb * 1024 * 1024
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    warm: set[str] = set()
    while True:
        try:
            job = conn.recv()
        except EOFError:
            return
        if job.framework == "torch":
            import torch  # torch is an optional extra; import on use

            torch.set_num_threads(1)
            torchlib_cache.install()
            cia_cache.install()
        if job.converter not in warm:
            conn.send(("stage", WARM_UP))
            run_job(_warm_up_job(job))
            warm.add(job.converter)
        record = run_job(job, report=lambda stage: conn.send(("stage", stage)))
        conn.send(("result", record))


def _warm_up_job(job: Job) -> Job:
    """The probe that takes ``job``'s converter through its first use; it keeps no files."""
    return replace(
        job,
        model_id=f"warm-up-{job.converter}",
        source="probe",
        name=WARM_UP_PROBE,
        n_inputs=1,
        onnx_dir="",
        graph_dir="",
    )


class _Worker:
    """A worker process and the supervisor's end of its pipe."""

    def __init__(self, ctx, memory_mb: int, quiet: bool) -> None:
        self.conn, theirs = ctx.Pipe(duplex=True)
        self.process = ctx.Process(target=_serve, args=(theirs, memory_mb, quiet), daemon=True)
        self.process.start()
        theirs.close()
        self.settings = (memory_mb, quiet)
        self.jobs = 0

    def stop(self) -> None:
        self.conn.close()
        if self.process.is_alive():
            self.process.kill()
        self.process.join()


_idle: list[_Worker] = []


def _take_worker(ctx, memory_mb: int, quiet: bool) -> _Worker:
    with _lock:
        for worker in _idle:
            if worker.settings == (memory_mb, quiet):
                _idle.remove(worker)
                return worker
    return _Worker(ctx, memory_mb, quiet)


def _give_back(worker: _Worker) -> None:
    if worker.jobs >= JOBS_PER_WORKER or not worker.process.is_alive():
        worker.stop()
        return
    with _lock:
        _idle.append(worker)


@atexit.register
def stop_workers() -> None:
    """Stop every idle worker of this process (the busy ones stop when their job returns)."""
    with _lock:
        workers = list(_idle)
        _idle.clear()
    for worker in workers:
        worker.stop()


def _allow_children() -> None:
    """Dask runs tasks in daemonic worker processes, which multiprocessing forbids to start
    children. Ours are safe to start there: they are forked by the fork server and die with it
    (``PR_SET_PDEATHSIG``), so the worker's daemon flag is lifted for them."""
    config = multiprocessing.current_process()._config
    if config.get("daemon"):
        config["daemon"] = False


def run_isolated(
    job: Job,
    timeout_s: float = DEFAULT_TIMEOUT_S,
    memory_mb: int = DEFAULT_MEMORY_MB,
    preload: tuple[str, ...] = ("torch",),
    quiet: bool = True,
) -> dict:
    """Run ``job`` in a worker process and return its result record, whatever happens to it."""
    ctx = _fork_context(preload)
    _allow_children()
    worker = _take_worker(ctx, memory_mb, quiet)
    try:
        worker.conn.send(job)
    except OSError:  # the idle worker died (killed from outside): a fresh one takes the job
        worker.stop()
        worker = _Worker(ctx, memory_mb, quiet)
        worker.conn.send(job)
    stage, record = "start", None
    limit = timeout_s
    deadline = time.monotonic() + limit
    while record is None:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            worker.stop()
            return failed(
                base_record(job),
                HANG,
                stage,
                "Timeout",
                f"no result after {limit:g} s (stage {stage})",
            )
        if worker.conn.poll(min(remaining, 1.0)):
            try:
                kind, payload = worker.conn.recv()
            except EOFError:
                break
            if kind == "stage":
                if stage == WARM_UP or payload == WARM_UP:  # the job's own clock starts after it
                    limit = WARM_UP_TIMEOUT_S if payload == WARM_UP else timeout_s
                    deadline = time.monotonic() + limit
                stage = payload
            else:
                record = payload
        elif not worker.process.is_alive() and not worker.conn.poll(0):
            break
    if record is not None:
        worker.jobs += 1
        _give_back(worker)
        return record
    worker.conn.close()
    worker.process.join(timeout=10)
    if worker.process.is_alive():
        worker.process.kill()
        worker.process.join()
    code = worker.process.exitcode
    if code is not None and code < 0:
        name = signal.Signals(-code).name
        return failed(base_record(job), CRASH, stage, name, f"killed by {name} (stage {stage})")
    return failed(
        base_record(job),
        CRASH,
        stage,
        "Exit",
        f"exited with code {code} without a result (stage {stage})",
    )
