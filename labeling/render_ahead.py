"""Prepares the issues a rater is about to open, so their pages are served from caches.

A real issue body is tens of kilobytes of Markdown (logs, tracebacks); rendering it and computing
its hints takes 10-150 ms, too much to do while the rater waits for the next page. Each page view
queues its neighbours (the next and previous issue under the current filter) and, at start, the
issues from where the rater resumes; one daemon thread renders them into the caches of
:func:`labeling.markdown.render_markdown` and the suggestion service. Work on a queued issue is
idempotent: a page that arrives first simply does it itself. (After a retraining, hints of
prepared issues are computed on request again: one vectorisation, about 10 ms.)
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Callable, Iterable

from labeling.issue_texts import IssueText

log = logging.getLogger(__name__)
BACKLOG = 64  # a rater never gets this far ahead; older wishes are dropped


class RenderAhead:
    def __init__(self, prepare: Callable[[IssueText], object]) -> None:
        self._prepare = prepare
        self._queue: queue.Queue[IssueText] = queue.Queue(maxsize=BACKLOG)
        self._seen: set[tuple[str, int]] = set()
        self._lock = threading.Lock()
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

    def _work(self) -> None:
        while True:
            issue = self._queue.get()
            try:
                self._prepare(issue)
            except Exception as exc:  # a page that fails to prepare still renders on request
                log.warning("render ahead: %s#%s failed (%s)", *issue.key, exc)
