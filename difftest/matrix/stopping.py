"""Stopping a matrix cleanly: SIGTERM or Ctrl-C ends every unit process and all it started.

Each unit runs in a session (and so a process group) of its own, so one ``killpg`` reaches the
unit's children too (tf2onnx's command line, litert-torch's overlay interpreter), and a Ctrl-C
typed at the terminal reaches the matrix alone, which then decides what happens. On SIGTERM or
SIGINT the runner stops starting units, kills the groups still running, keeps every record it
has written, and ends with one line saying how to resume. A unit killed this way leaves no
record, so the resume redoes it.
"""

from __future__ import annotations

import contextlib
import os
import signal
import threading
from collections.abc import Iterator

from convfail.errors import ConvfailError

STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT)


class MatrixStopped(ConvfailError):
    """The matrix was stopped by a signal; the exit code is the shell's 128 + signal number."""

    def __init__(self, message: str, hint: str, signum: int) -> None:
        super().__init__(message, hint)
        self.exit_code = 128 + signum


class UnitGroups:
    """The process groups of the running units, and whether a stop was asked for."""

    def __init__(self) -> None:
        self._live: set[int] = set()
        self._stop = threading.Event()
        self.signum = 0

    @property
    def stopping(self) -> bool:
        return self._stop.is_set()

    def started(self, pid: int) -> None:
        """Register a unit started with ``start_new_session`` (its pid is its group id). Checked
        after adding, so a unit started while a stop is under way is killed either here or by
        :meth:`stop`."""
        self._live.add(pid)
        if self.stopping:
            kill_group(pid)

    def ended(self, pid: int) -> None:
        self._live.discard(pid)

    def stop(self, signum: int, frame: object = None) -> None:
        """The signal handler: no unit starts any more, the running ones are killed."""
        self.signum = self.signum or signum
        self._stop.set()
        for pid in list(self._live):
            kill_group(pid)

    @contextlib.contextmanager
    def handling_signals(self) -> Iterator[None]:
        """SIGTERM and SIGINT call :meth:`stop` while inside; only the main thread can set
        signal handlers, so elsewhere (a caller's thread) the signals keep their meaning."""
        if threading.current_thread() is not threading.main_thread():
            yield
            return
        previous = {sig: signal.signal(sig, self.stop) for sig in STOP_SIGNALS}
        try:
            yield
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)


def kill_group(pid: int) -> None:
    """SIGKILL the process group ``pid`` leads; it may be gone already."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, signal.SIGKILL)
