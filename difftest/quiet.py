"""Keep the converters' and frameworks' chatter off the terminal unless asked (``-v``).

TensorFlow's C++ start-up lines (CPU instructions, oneDNN, absl ``W0000``/``I0000``) are
silenced by environment variables, which only work when set before TensorFlow loads: the
``difftest`` group sets them first thing, and the campaign's fork server inherits them. Python
log records and warnings of TensorFlow, absl, tf2onnx, onnxscript and the torch exporters
(dynamo, torch.export) are raised to errors only. Errors still show: a failure is never hidden.
"""

from __future__ import annotations

import logging
import os
import warnings

# environment read by TensorFlow's native logging and absl at import
QUIET_ENVIRONMENT = {
    "TF_CPP_MIN_LOG_LEVEL": "3",
    "TF_ENABLE_ONEDNN_OPTS": "0",
    "ABSL_MIN_LOG_LEVEL": "3",
    "GRPC_VERBOSITY": "ERROR",
}
NOISY_LOGGERS = (
    "tensorflow",
    "absl",
    "tf2onnx",
    "onnxscript",
    "torch.onnx",
    "torch._dynamo",
    "torch.export",
    "torch._export",
    "torch.fx",
)
NOISY_WARNING_MODULES = r"(tensorflow|tf2onnx|keras|absl|onnxscript|torch|onnx)(\..*)?"


def configure(verbose: bool) -> None:
    """Quiet by default; ``verbose`` leaves every library's own logging as it is."""
    if verbose:
        return
    for name, value in QUIET_ENVIRONMENT.items():
        os.environ.setdefault(name, value)
    for name in NOISY_LOGGERS:
        logging.getLogger(name).setLevel(logging.ERROR)
    warnings.filterwarnings("ignore", module=NOISY_WARNING_MODULES)
