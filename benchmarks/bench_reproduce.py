"""How long `convfail reproduce` takes after set-up (target: a few seconds).

Runs the command end to end as a user would (a fresh process each time, so imports count),
``--repeat`` times, into a temporary folder, and prints min / median / max wall time.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeat", type=int, default=5)
    args, _ = parser.parse_known_args()
    convfail = Path(sys.executable).parent / "convfail"
    times = []
    with tempfile.TemporaryDirectory() as out:
        for _ in range(args.repeat):
            start = time.perf_counter()
            subprocess.run(
                [str(convfail), "reproduce", "--out", out], check=True, capture_output=True
            )
            times.append(time.perf_counter() - start)
    print(
        f"convfail reproduce: {args.repeat} runs, wall time min {min(times):.2f} s, "
        f"median {statistics.median(times):.2f} s, max {max(times):.2f} s"
    )


if __name__ == "__main__":
    main()
