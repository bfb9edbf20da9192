"""How long `convfail reproduce` takes after set-up, against a baseline checkout in the same run.

Targets: the full run <= 4 s wall, one table (``--only table08_locations``) <= 1.0 s. Each case
runs the command end to end as a user would: a fresh process each time, so imports count, into a
temporary folder. Wall and CPU time (user + system of the child processes) are measured for the
whole process. With ``--baseline CHECKOUT`` (another worktree with its own ``.venv``, e.g. main
as it was) the two versions alternate run by run, so machine load hits both alike, and the
output gives the ratio of the medians. ``--pdf-cost`` adds a third case, the current full run
with every PDF left out (the PNGs, tables and report as usual), to show what the PDFs cost.
``--stages`` runs the full build in one process, serially, and prints the CPU of its stages
(imports, building the artifacts, PNG and PDF saving, the report). ``--floor`` measures what no
version of the command can go below: a fresh Python importing only pandas, matplotlib and its
PDF backend (one table with a figure needs all three), and the CPU of saving the cheapest
possible figure (one bar, the runner's settings) times the 19 figures of a full run.
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


# A fresh interpreter importing what one table with a figure cannot do without.
IMPORTS_ONLY = "import pandas, matplotlib.figure, matplotlib.backends.backend_pdf"
# The cheapest figure the runner could write: one bar at half the paper's width, saved as the
# runner saves (200-dpi PNG and PDF, tight box, no time stamps), best of several tries each.
CHEAPEST_SAVE = """
import sys, tempfile, time
from pathlib import Path
from analysis.render.plotting import write_figure_file
from matplotlib.figure import Figure
figure = Figure(figsize=(3.4, 2.4))
figure.add_subplot().bar(['a'], [1])
folder = Path(tempfile.mkdtemp())
for suffix in ('.png', '.pdf'):
    costs = []
    for i in range(int(sys.argv[1])):
        start = time.process_time()
        write_figure_file(figure, folder / f'f{i}{suffix}')
        costs.append(time.process_time() - start)
    print(min(costs))
"""
# The full run in one process, one artifact after another, with the CPU of each stage summed.
STAGES = """
import time
from collections import Counter
from pathlib import Path
start = time.process_time()
from analysis import runner
from analysis.registry import AnalysisContext, artifacts
spent = Counter()
def timing(stage, function):
    def timed(*args):
        begin = time.process_time()
        try:
            return function(*args)
        finally:
            spent[stage(*args)] += time.process_time() - begin
    return timed
runner.build_or_skip = timing(lambda item, ctx: 'build', runner.build_or_skip)
runner.write_figure_file = timing(lambda fig, path: path.suffix[1:], runner.write_figure_file)
runner.write_report = timing(lambda *args: 'report', runner.write_report)
chosen = artifacts()
spent['imports'] = time.process_time() - start
runner.run(AnalysisContext(), chosen, Path(__import__('sys').argv[1]), progress=False, jobs=1)
total = time.process_time() - start
print(', '.join(f'{k} {v:.2f} s' for k, v in spent.items()) + f'; total {total:.2f} s CPU')
"""
FILES_OF_A_FULL_RUN = 38  # 19 figures, PNG and PDF


def floor(python: Path, checkout: Path, repeat: int) -> None:
    """Print the floor of one table (start-up and imports) and of the full run's figure files."""
    runs = [timed_python([str(python), "-c", IMPORTS_ONLY], checkout) for _ in range(repeat)]
    wall = statistics.median(w for w, _ in runs)
    cpu = statistics.median(c for _, c in runs)
    print(
        f"floor    Python + pandas + matplotlib + PDF backend: wall {wall:.2f} s, cpu {cpu:.2f} s"
    )
    done = subprocess.run(
        [str(python), "-c", CHEAPEST_SAVE, str(max(repeat, 5))],
        check=True,
        capture_output=True,
        text=True,
        cwd=checkout,
    )
    png, pdf = (float(line) for line in done.stdout.split())
    total = FILES_OF_A_FULL_RUN / 2 * (png + pdf)
    print(
        f"floor    cheapest figure: PNG {png:.3f} s + PDF {pdf:.3f} s CPU; "
        f"x {FILES_OF_A_FULL_RUN // 2} figures: {total:.2f} s CPU"
    )


def timed_python(command: list[str], checkout: Path) -> tuple[float, float]:
    """Wall and CPU seconds of one process."""
    before = os.times()
    start = time.perf_counter()
    subprocess.run(command, check=True, capture_output=True, cwd=checkout)
    wall = time.perf_counter() - start
    after = os.times()
    return wall, (after.children_user - before.children_user) + (
        after.children_system - before.children_system
    )


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
    parser.add_argument(
        "--floor",
        action="store_true",
        help="only measure the floor of one table and of the figures",
    )
    parser.add_argument(
        "--stages", action="store_true", help="only time the stages of a serial full build"
    )
    args, _ = parser.parse_known_args()
    current = Path(__file__).resolve().parent.parent
    if args.stages:
        with tempfile.TemporaryDirectory() as tmp:
            done = subprocess.run(
                [sys.executable, "-c", STAGES, tmp],
                check=True,
                capture_output=True,
                text=True,
                cwd=current,
            )
        print(f"stages   {done.stdout.strip()}")
        return
    if args.floor:
        floor(Path(sys.executable), current, args.repeat)
        return
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
