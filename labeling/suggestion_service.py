"""Keeps the suggestion model of a running server fresh without slowing a page down.

Training runs in a background thread: at start, and again after saves (at most one training at
a time; a save during training schedules one more). Until the first model is ready, pages show
no hints. The model learns from the rater's own labels, plus a reference study's labels when
the server was started with ``--suggest-from``; it never sees another rater of the same study.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

from labeling.suggest import Suggester, Suggestion

TrainingData = tuple[list[str], list[dict[str, str]]]


class SuggestionService:
    def __init__(self, training_data: Callable[[], TrainingData]) -> None:
        self._training_data = training_data
        self._model: Suggester | None = None
        self._lock = threading.Lock()
        self._running = False
        self._again = False
        self.ready = threading.Event()

    def suggest(self, document: str) -> dict[str, Suggestion]:
        model = self._model
        return model.suggest(document) if model is not None else {}

    def request_retrain(self) -> None:
        with self._lock:
            if self._running:
                self._again = True
                return
            self._running = True
        threading.Thread(target=self._train_loop, name="suggestion-training", daemon=True).start()

    def _train_loop(self) -> None:
        try:
            while True:
                documents, labels = self._training_data()
                self._model = Suggester().fit(documents, labels)
                self.ready.set()
                with self._lock:
                    if not self._again:
                        self._running = False
                        return
                    self._again = False
        except BaseException:
            with self._lock:
                self._running = False
            raise
