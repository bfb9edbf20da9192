"""Keeps the suggestion model of a running server fresh without slowing a page down.

Training runs in a child process (so it never holds the server's interpreter lock while pages
are served), started from a background thread: at start, and again after every
``RETRAIN_EVERY`` saves (one training at a time; saves during a training schedule one more).
Until the first model is ready, pages show no hints; hints are cached per issue text for the
current model. Training is background work that takes a core for seconds (tens of seconds of
CPU for 500 long issues): the child runs at a lower CPU priority, so that on a busy machine the
server and the rater's browser get the processor first, and it is sent only the part of each
issue the classifier reads (:func:`labeling.suggest.classifier_text`; about a ninth of the bytes of
whole bodies, pickled while the server's interpreter lock is held). The model learns from the
rater's own labels, plus a reference study's labels when the server was started with
``--suggest-from``; it never sees another rater of the same study.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import threading
from collections.abc import Callable
from multiprocessing.connection import Connection

from labeling.suggest import Suggester, Suggestion, classifier_text

TrainingData = tuple[list[str], list[dict[str, str]]]
RETRAIN_EVERY = 10
TRAINING_NICENESS = 10  # added to the server's own: pages first, the model when a core is free
log = logging.getLogger(__name__)


def lower_priority(pid: int) -> None:
    """Make process ``pid`` yield the CPU to this one (19 is the lowest priority there is)."""
    niceness = min(19, os.getpriority(os.PRIO_PROCESS, 0) + TRAINING_NICENESS)
    try:
        os.setpriority(os.PRIO_PROCESS, pid, niceness)
    except OSError as exc:  # it ended already, or the system refuses: it trains at our priority
        log.debug("suggestions: training keeps the server's priority (%s)", exc)


def _train_in_child(connection: Connection, documents: list[str], labels: list[dict]) -> None:
    connection.send(Suggester().fit(documents, labels))
    connection.close()


class SuggestionService:
    def __init__(self, training_data: Callable[[], TrainingData]) -> None:
        self._training_data = training_data
        self._state: tuple[Suggester, dict[str, dict[str, Suggestion]]] | None = None
        self._lock = threading.Lock()  # the counters: taken on every save, so held only briefly
        # A spawned child's start returns once it has read its data and imported its modules: a
        # second or two, several on a busy machine. Under the counters' lock that held up the
        # save that came next (14.9 s for save 11 of 50 at load 13), so starting has its own.
        self._start_lock = threading.Lock()
        self._running = False
        self._again = False
        self._saves = 0
        self._closed = False
        self._process: multiprocessing.process.BaseProcess | None = None
        self.ready = threading.Event()

    def suggest(self, document: str) -> dict[str, Suggestion]:
        state = self._state  # one read: the model and its own cache of hints
        if state is None:
            return {}
        model, hints = state
        if document not in hints:
            hints[document] = model.suggest(document)
        return hints[document]

    def label_saved(self) -> None:
        """Count a save; retrain once enough new labels came in."""
        with self._lock:
            self._saves += 1
            due = self._saves >= RETRAIN_EVERY
        if due:
            self.request_retrain()

    def request_retrain(self) -> None:
        with self._lock:
            self._saves = 0
            if self._running:
                self._again = True
                return
            self._running = True
        threading.Thread(target=self._train_loop, name="suggestion-training", daemon=True).start()

    def close(self) -> None:
        """Stop a training in progress (the server is going away)."""
        with self._lock:
            self._closed = True
        with self._start_lock:
            process = self._process
        if process is not None and process.is_alive():
            process.terminate()

    def _fit_in_child_process(
        self, documents: list[str], labels: list[dict[str, str]]
    ) -> Suggester:
        """Fit in a fresh process and bring the model back (this thread only waits on a pipe)."""
        context = multiprocessing.get_context("spawn")
        receiver, sender = context.Pipe(duplex=False)
        process = context.Process(
            target=_train_in_child,
            args=(sender, [classifier_text(d) for d in documents], labels),
            name="suggest-fit",
            daemon=True,
        )
        with self._start_lock:
            if self._closed:
                raise RuntimeError("service closed")
            process.start()
            self._process = process
        lower_priority(process.pid)
        sender.close()
        try:
            return receiver.recv()
        finally:
            receiver.close()
            process.join()

    def _train_loop(self) -> None:
        while True:
            try:
                documents, labels = self._training_data()
                self._state = (self._fit_in_child_process(documents, labels), {})
            except Exception as exc:  # a failed training keeps the previous model
                if not self._closed:
                    log.warning(
                        "suggestions: training failed (%s); keeping the previous model", exc
                    )
            self.ready.set()
            with self._lock:
                if self._closed or not self._again:
                    self._running = False
                    return
                self._again = False
