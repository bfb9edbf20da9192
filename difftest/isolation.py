"""Run one job in its own process, with a timeout and a memory cap.

Each job gets a fresh child process forked from a *fork server* that has already imported the
heavy libraries (torch, ONNX Runtime, and TensorFlow when the campaign needs it), so a child
starts in milliseconds instead of seconds, and the supervising process (a pool thread or a Dask
worker) stays small and never links those native libraries itself. The fork server is
single-threaded, which makes forking it safe, unlike forking a threaded Dask worker.

The child sends the stage it enters, then its result, through a pipe. The supervisor records:

- ``hang`` when the child is still running at the timeout (it is then killed with SIGKILL);
- ``crash`` when the child dies on a signal (SIGSEGV, SIGABRT, SIGKILL from the OOM killer, ...)
  or exits without a result; the stage it was in is kept in the record.

The memory cap is ``RLIMIT_AS`` set in the child: an allocation beyond it fails inside the job
(usually a ``MemoryError``/``bad_alloc`` classified at its stage, or an abort recorded as a crash)
instead of taking the machine down.
"""

from __future__ import annotations

import contextlib
import ctypes
import multiprocessing
import os
import resource
import signal
import threading
import time
from multiprocessing.connection import Connection

from convfail.campaign_files import CRASH, HANG
from difftest.jobs import Job
from difftest.runner import base_record, failed, run_job

DEFAULT_TIMEOUT_S = 120.0
DEFAULT_MEMORY_MB = 8192
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


def _child(job: Job, memory_mb: int, conn: Connection, quiet: bool) -> None:
    _die_with_parent()
    if quiet:
        _silence_output()
    if memory_mb > 0:
        limit = memory_mb * 1024 * 1024
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    if job.framework == "torch":
        import torch  # torch is an optional extra; import on use

        torch.set_num_threads(1)

    record = run_job(job, report=lambda stage: conn.send(("stage", stage)))
    conn.send(("result", record))
    conn.close()


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
    """Run ``job`` in a child process and return its result record, whatever happens to it."""
    ctx = _fork_context(preload)
    _allow_children()
    receive, send = ctx.Pipe(duplex=False)
    process = ctx.Process(target=_child, args=(job, memory_mb, send, quiet), daemon=True)
    process.start()
    send.close()
    stage, record = "start", None
    deadline = time.monotonic() + timeout_s
    try:
        while record is None:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                process.kill()
                process.join()
                return failed(
                    base_record(job),
                    HANG,
                    stage,
                    "Timeout",
                    f"no result after {timeout_s:g} s (stage {stage})",
                )
            if receive.poll(min(remaining, 1.0)):
                try:
                    kind, payload = receive.recv()
                except EOFError:
                    break
                if kind == "stage":
                    stage = payload
                else:
                    record = payload
            elif not process.is_alive() and not receive.poll(0):
                break
    finally:
        receive.close()
    process.join(timeout=10)
    if record is not None:
        return record
    if process.is_alive():
        process.kill()
        process.join()
    code = process.exitcode
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
