"""How long `convfail reproduce` takes after set-up, against a baseline checkout in the same run.

Targets: the full run <= 4 s wall, one table (``--only table08_locations``) <= 1.0 s. Each case
runs the command end to end as a user would: a fresh process each time, so imports count, into a
temporary folder. Wall and CPU time (user + system of the child processes) are measured for the
whole process. With ``--baseline CHECKOUT`` (another worktree with its own ``.venv``, e.g. main
as it was) the two versions alternate run by run, so machine load hits both alike, and the
output gives the ratio of the medians. ``--pdf-cost`` adds a third case, the current full run
with every PDF left out (the PNGs, tables and report as usual), to show what the PDFs cost.
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
TARGETS = {"full": 4.0, "table08": 1.0, "no-pdf": 4.0}
# The command line of ``convfail reproduce`` with the runner's file writer skipping PDFs: the
# same run in every other respect, so the difference to "full" is what writing PDFs costs.
WITHOUT_PDF = (
    "import sys; import analysis.runner as runner; from convfail.cli import main; "
    "write = runner.write_figure_file; "
    "runner.write_figure_file = lambda fig, path: path.suffix == '.pdf' or write(fig, path); "
    "main()"
)


def command(convfail: Path, case: str) -> list[str]:
    """How to start ``case``: the installed ``convfail``, or its Python running WITHOUT_PDF."""
    if case == "no-pdf":
        return [str(convfail.parent / "python"), "-c", WITHOUT_PDF]
    return [str(convfail)]


def timed(command: list[str], checkout: Path, extra: list[str], out: Path) -> tuple[float, float]:
    """Wall and CPU seconds of one ``reproduce`` run of ``command`` in ``checkout``."""
    before = os.times()
    start = time.perf_counter()
    subprocess.run(
        [*command, "reproduce", "--out", str(out), *extra],
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


def _median_wall(runs: list[tuple[float, float]]) -> float:
    return statistics.median(w for w, _ in runs)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument(
        "--baseline", type=Path, help="another checkout with its own .venv, measured alongside"
    )
    parser.add_argument(
        "--pdf-cost", action="store_true", help="also time the current full run without PDFs"
    )
    args, _ = parser.parse_known_args()
    current = Path(__file__).resolve().parent.parent
    versions = {"current": (Path(sys.executable).parent / "convfail", current)}
    if args.baseline:
        base = args.baseline.resolve()
        versions["baseline"] = (base / ".venv" / "bin" / "convfail", base)
    runs_of = [(case, name) for case in CASES for name in versions]
    if args.pdf_cost:
        runs_of.append(("no-pdf", "current"))
    times: dict[tuple[str, str], list[tuple[float, float]]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for _ in range(args.repeat):
            for case, name in runs_of:
                convfail, checkout = versions[name]
                out = Path(tmp) / name / case
                extra = CASES.get(case, [])
                run = timed(command(convfail, case), checkout, extra, out)
                times.setdefault((name, case), []).append(run)
    for case in [*CASES, *(["no-pdf"] if args.pdf_cost else [])]:
        for name in [n for n in versions if (n, case) in times]:
            runs = times[(name, case)]
            wall = statistics.median(w for w, _ in runs)
            cpu = statistics.median(c for _, c in runs)
            each = ", ".join(f"{w:.2f}" for w, _ in runs)
            print(
                f"{case:<8} {name:<8} median of {args.repeat}: wall {wall:.2f} s, cpu {cpu:.2f} s "
                f"(target {TARGETS[case]:.1f} s wall; runs {each})"
            )
        if ("baseline", case) in times:
            ratio = _median_wall(times[("baseline", case)]) / _median_wall(times[("current", case)])
            print(f"{case:<8} baseline / current wall: {ratio:.2f}x")
        if case == "no-pdf":
            full, png_only = times[("current", "full")], times[("current", case)]
            wall = _median_wall(full) - _median_wall(png_only)
            cpu = statistics.median(c for _, c in full) - statistics.median(c for _, c in png_only)
            print(f"PDFs cost (full minus no-pdf, medians): wall {wall:.2f} s, cpu {cpu:.2f} s")
    load = os.getloadavg()[0]
    print(f"load average at the end: {load:.1f} on {os.cpu_count()} cores")


if __name__ == "__main__":
    main()
