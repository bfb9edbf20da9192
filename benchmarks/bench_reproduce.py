"""How long `convfail reproduce` takes after set-up, against a baseline checkout in the same run.

Targets: the full run <= 4 s wall, one table (``--only table08_locations``) <= 1.0 s. Each case
runs the command end to end as a user would: a fresh process each time, so imports count, into a
temporary folder. Wall and CPU time (user + system of the child processes) are measured for the
whole process. With ``--baseline CHECKOUT`` (another worktree with its own ``.venv``, e.g. main
as it was) the two versions alternate run by run, so machine load hits both alike, and the
output gives the ratio of the medians.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

CASES = {"full": [], "table08": ["--only", "table08_locations"]}
TARGETS = {"full": 4.0, "table08": 1.0}


def timed(convfail: Path, checkout: Path, extra: list[str], out: Path) -> tuple[float, float]:
    """Wall and CPU seconds of one ``convfail reproduce`` run in ``checkout``."""
    before = os.times()
    start = time.perf_counter()
    subprocess.run(
        [str(convfail), "reproduce", "--out", str(out), *extra],
        check=True,
        capture_output=True,
        cwd=checkout,
    )
    wall = time.perf_counter() - start
    after = os.times()
    cpu = (after.children_user - before.children_user) + (
        after.children_system - before.children_system
    )
    return wall, cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument(
        "--baseline", type=Path, help="another checkout with its own .venv, measured alongside"
    )
    args, _ = parser.parse_known_args()
    current = Path(__file__).resolve().parent.parent
    versions = {"current": (Path(sys.executable).parent / "convfail", current)}
    if args.baseline:
        base = args.baseline.resolve()
        versions["baseline"] = (base / ".venv" / "bin" / "convfail", base)
    times: dict[tuple[str, str], list[tuple[float, float]]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for _ in range(args.repeat):
            for case, extra in CASES.items():
                for name, (convfail, checkout) in versions.items():
                    out = Path(tmp) / name / case
                    times.setdefault((name, case), []).append(timed(convfail, checkout, extra, out))
    for case in CASES:
        for name in versions:
            runs = times[(name, case)]
            wall = statistics.median(w for w, _ in runs)
            cpu = statistics.median(c for _, c in runs)
            each = ", ".join(f"{w:.2f}" for w, _ in runs)
            print(
                f"{case:<8} {name:<8} median of {args.repeat}: wall {wall:.2f} s, cpu {cpu:.2f} s "
                f"(target {TARGETS[case]:.1f} s wall; runs {each})"
            )
        if "baseline" in versions:
            ratio = statistics.median(w for w, _ in times[("baseline", case)]) / statistics.median(
                w for w, _ in times[("current", case)]
            )
            print(f"{case:<8} baseline / current wall: {ratio:.2f}x")
    load = os.getloadavg()[0]
    print(f"load average at the end: {load:.1f} on {os.cpu_count()} cores")


if __name__ == "__main__":
    main()
