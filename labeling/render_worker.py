"""Renders issue Markdown in a child process, for the work done ahead of the rater.

A server thread rendering a 45 KB body holds the interpreter lock for tens of milliseconds at a
stretch, and every request served meanwhile waits for that lock again at each read and write of
its socket: a page the server makes in 3 ms took 40-80 ms to arrive (README, "Tests and
benchmark"). So the background rendering happens in one child process; the server's thread only
waits on the pipe, which releases the lock, and files the results in the render cache of
:mod:`labeling.markdown`. When the child cannot be had (it died, or a script without a
``__main__`` guard cannot be re-imported by a spawned child), the thread renders by itself
from then on, as it did before: slower pages for others, the same text.
"""

from __future__ import annotations

import logging
import multiprocessing
import signal
import threading
from concurrent.futures import ProcessPoolExecutor

from labeling.markdown import is_rendered, remember, render_uncached

log = logging.getLogger(__name__)

Text = tuple[str, str]  # (Markdown, repository its #N references point to)


def _leave_interrupts_to_the_server() -> None:
    """Ctrl-C in the terminal reaches the child too; the server stops it, without a traceback."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)


def render_all(texts: list[Text]) -> list[str]:
    """What the child runs: each text rendered exactly as the server would."""
    return [render_uncached(text, repository) for text, repository in texts]


class RenderWorker:
    """One child process shared by everything that renders ahead in this server."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._pool: ProcessPoolExecutor | None = None
        self._in_thread = False

    def _executor(self) -> ProcessPoolExecutor:
        with self._lock:
            if self._pool is None:
                # spawn, not fork: the server has threads (a forked child could inherit a held lock)
                context = multiprocessing.get_context("spawn")
                self._pool = ProcessPoolExecutor(
                    max_workers=1,
                    mp_context=context,
                    initializer=_leave_interrupts_to_the_server,
                )
            return self._pool

    def render(self, texts: list[Text]) -> None:
        """Render the texts not cached yet in the child and cache them; returns when done."""
        missing = [t for t in dict.fromkeys(texts) if not is_rendered(*t)]
        if not missing:
            return
        if self._in_thread:
            rendered = render_all(missing)
        else:
            try:
                rendered = self._executor().submit(render_all, missing).result()
            except Exception as exc:  # no child: render here (the child's error is its own)
                log.warning("rendering ahead in this process from now on (no child: %s)", exc)
                self._in_thread = True
                rendered = render_all(missing)
        for (text, repository), html in zip(missing, rendered, strict=True):
            remember(text, repository, html)


SHARED = RenderWorker()
