"""The child process of one matrix unit: ``python -m difftest.matrix.worker SPEC.json``.

It reads the unit from the JSON file, appends every stage it enters to ``stage_file`` (so the
supervisor can name the stage of a crash or a hang), and writes its records to ``out_file``.
It dies with its supervisor: a matrix killed with SIGKILL, which can run no handler, leaves no
unit running on its own.
"""

from __future__ import annotations

import ctypes
import json
import os
import signal
import sys
from pathlib import Path

import numpy as np

from difftest.matrix.images import load_split
from difftest.matrix.paths import ConversionPath
from difftest.matrix.sources import input_size
from difftest.matrix.unit import run_unit

PR_SET_PDEATHSIG = 1


def _die_with(supervisor: int) -> None:
    """Ask Linux for SIGKILL when the supervising thread goes; if it went before the request
    was made (the parent is no longer ``supervisor``), go now."""
    ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    if os.getppid() != supervisor:
        sys.exit(1)


def main(spec_file: str) -> None:
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    spec = json.loads(Path(spec_file).read_text())
    _die_with(spec["supervisor"])
    path = ConversionPath(
        spec["source"],
        tuple(spec["hops"]),
        tuple(spec["unconvertible"]) if spec["unconvertible"] else None,
    )
    stage_file = Path(spec["stage_file"])

    def report(stage: str) -> None:
        with stage_file.open("a") as handle:
            handle.write(stage + "\n")

    images = load_split(input_size(spec["model"]), "test").images[: spec["images"]]
    workdir = Path(spec["workdir"])
    workdir.mkdir(parents=True, exist_ok=True)
    records = run_unit(
        spec["model"],
        path,
        np.ascontiguousarray(images),
        workdir,
        Path(spec["reference"]),
        spec["threads"],
        report,
        spec["runtime_images"],
    )
    Path(spec["out_file"]).write_text(json.dumps(records))


if __name__ == "__main__":
    main(sys.argv[1])
