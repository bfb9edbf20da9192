"""What only the producer of a campaign needs about outcomes: which stage failure gives which.

The outcome names themselves, and their order in tables, are part of the campaign files
(:mod:`convfail.campaign_files`). The stage where something went wrong decides the class.
``source_failure`` is kept apart from ``conversion_failure``: the ISSTA data counted 781
TensorFlow models that failed to run in TensorFlow itself as converter failures. ``hang`` and
``crash`` record the stage that was running when the timeout hit or the process died on a signal.
"""

from __future__ import annotations

from convfail.campaign_files import (
    CONVERSION_FAILURE,
    ORT_INFERENCE_FAILURE,
    ORT_LOAD_FAILURE,
    SOURCE_FAILURE,
)

FAILURE_OF_STAGE = {
    "source": SOURCE_FAILURE,
    "convert": CONVERSION_FAILURE,
    "load": ORT_LOAD_FAILURE,
    "run": ORT_INFERENCE_FAILURE,
}
STAGES = ["build", "source", "convert", "load", "run", "compare"]
