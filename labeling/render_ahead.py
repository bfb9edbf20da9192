"""Prepares the issues a rater is about to open, so their pages are served from caches.

A real issue body is tens of kilobytes of Markdown (logs, tracebacks); rendering it and computing
its hints takes 10-150 ms (several times that on a busy machine), too much to do while the rater
waits for the next page. Each page view queues the previous issue and the next few under the
current filter (``AHEAD``: one step ahead is not enough when a step is quicker than a render)
and, at start, the issues from where the rater resumes; one daemon thread has them rendered (in a
child process, :mod:`labeling.render_worker`) into the cache of
:func:`labeling.markdown.render_markdown`, and fills the suggestion service's. A page asked for
while its issue is being prepared waits for that work (:meth:`RenderAhead.exclusive`) instead of
doing it a second time beside it, which would slow both. (After a retraining, hints of prepared
issues are computed on request again: one vectorisation, about 10 ms.)
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager

from labeling.issue_texts import IssueText

log = logging.getLogger(__name__)
BACKLOG = 64  # a rater never gets this far ahead; older wishes are dropped
AHEAD = 3  # issues prepared in the direction the rater moves


class RenderAhead:
    def __init__(self, prepare: Callable[[IssueText], object]) -> None:
        self._prepare = prepare
        self._queue: queue.Queue[IssueText] = queue.Queue(maxsize=BACKLOG)
        self._seen: set[tuple[str, int]] = set()
        self._lock = threading.Lock()
        self._working: dict[tuple[str, int], threading.Lock] = {}
        threading.Thread(target=self._work, name="render-ahead", daemon=True).start()

    def ahead(self, issues: Iterable[IssueText | None]) -> None:
        """Queue issues not prepared before (full backlog: the wish is dropped, not waited on)."""
        for issue in issues:
            if issue is None:
                continue
            with self._lock:
                if issue.key in self._seen:
                    continue
                self._seen.add(issue.key)
            try:
                self._queue.put_nowait(issue)
            except queue.Full:
                with self._lock:
                    self._seen.discard(issue.key)

    @contextmanager
    def exclusive(self, key: tuple[str, int]) -> Iterator[None]:
        """Hold ``key``'s issue: the background thread and pages never prepare it side by side."""
        with self._lock:
            working = self._working.setdefault(key, threading.Lock())
        with working:
            yield

    def _work(self) -> None:
        while True:
            issue = self._queue.get()
            try:
                with self.exclusive(issue.key):
                    self._prepare(issue)
            except Exception as exc:  # a page that fails to prepare still renders on request
                log.warning("render ahead: %s#%s failed (%s)", *issue.key, exc)
