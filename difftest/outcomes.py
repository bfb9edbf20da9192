"""Outcome classes of one model through one converter, and their order in tables.

The stage where something went wrong decides the class. ``source_failure`` is kept apart from
``conversion_failure``: the ISSTA data counted 781 TensorFlow models that failed to run in
TensorFlow itself as converter failures. ``hang`` and ``crash`` record the stage that was running
when the timeout hit or the process died on a signal.
"""

from __future__ import annotations

SOURCE_FAILURE = "source_failure"
CONVERSION_FAILURE = "conversion_failure"
ORT_LOAD_FAILURE = "ort_load_failure"
ORT_INFERENCE_FAILURE = "ort_inference_failure"
MISMATCH = "mismatch"
SUCCESS = "success"
HANG = "hang"
CRASH = "crash"

OUTCOMES = [
    SOURCE_FAILURE,
    CONVERSION_FAILURE,
    ORT_LOAD_FAILURE,
    ORT_INFERENCE_FAILURE,
    MISMATCH,
    SUCCESS,
    HANG,
    CRASH,
]
FAILURE_OF_STAGE = {
    "source": SOURCE_FAILURE,
    "convert": CONVERSION_FAILURE,
    "load": ORT_LOAD_FAILURE,
    "run": ORT_INFERENCE_FAILURE,
}
STAGES = ["build", "source", "convert", "load", "run", "compare"]
