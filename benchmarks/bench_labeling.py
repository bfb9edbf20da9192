"""Page-to-page navigation time of the labelling app in a real browser, 1,000 synthetic issues.

A throw-away project gets a study of 1,000 issues (two converters) with mined bodies (Markdown,
code blocks, tracebacks) and three comments each; a rater has labelled half of them. The app runs
in this process (with suggestions on), and Debian's chromium (headless, via Playwright) presses
``n`` on issue after issue. Measured per step, wall clock from the keypress until the next issue
is on screen (what the rater waits for): the app's own navigation (the page prefetched and
swapped in), and, for comparison, a full page load of the same pages (a link opened, a reload).
Beside it the browser's floor: the same walk of full loads, from the same server with the same
headers, over an empty page (no text, no script, no style), which is what Chromium itself costs
per navigation on this machine; the app's own share is the difference. For both walks: requests
the server saw per load, and CPU per load of each Chromium process and of this process (server
and Playwright's client), read from ``/proc`` (CPU time varies less with the load than wall
clock). Also: keypress to "saved" for a choice, and the load average at start and end (the wall
clock includes Playwright's round trips, which grow with the load). Target: both under 100 ms at
p95.

    .venv/bin/python benchmarks/bench_labeling.py [--issues 1000] [--steps 200] [--trace DIR]
"""

from __future__ import annotations

import argparse
import collections
import json
import logging
import math
import os
import random
import re
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd
from flask import request

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from convfail.codebook import load_codebook  # noqa: E402
from convfail.dataset import csv_text, load_study  # noqa: E402
from convfail.issue_records import record_path, write_records  # noqa: E402
from convfail.records import ISSUE_COLUMNS  # noqa: E402
from labeling.guard import RequestGuard  # noqa: E402
from labeling.serve import start_server  # noqa: E402
from labeling.session import LabelingSession  # noqa: E402
from labeling.store import LabelStore  # noqa: E402
from labeling.suggestion_service import SuggestionService  # noqa: E402
from labeling.webapp import create_app  # noqa: E402

CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
WORDS = [
    "export",
    "onnx",
    "opset",
    "operator",
    "tensor",
    "shape",
    "dtype",
    "int64",
    "float16",
    "graph",
    "node",
    "trace",
    "script",
    "model",
    "convert",
    "fails",
    "error",
    "runtime",
    "symbolic",
    "aten",
    "unsupported",
    "constant",
    "folding",
    "transpose",
    "conv",
    "batchnorm",
    "dynamic",
    "axes",
    "protobuf",
    "checker",
    "inference",
    "session",
    "mismatch",
    "output",
]
REPOS = {"torch.onnx": "pytorch/pytorch", "tf2onnx": "onnx/tensorflow-onnx"}


def sentence(rng: random.Random, n: int) -> str:
    return " ".join(rng.choice(WORDS) for _ in range(n))


def traceback(rng: random.Random, frames: int) -> str:
    lines = ["Traceback (most recent call last):"]
    for i in range(frames):
        module = rng.choice(["torch/onnx/utils.py", "torch/jit/_trace.py", "tf2onnx/tfonnx.py"])
        lines.append(
            f'  File "/usr/lib/python3.10/site-packages/{module}", line {rng.randint(1, 2000)}'
            f", in {rng.choice(WORDS)}_{i}"
        )
        lines.append(f"    {rng.choice(WORDS)} = {rng.choice(WORDS)}({rng.choice(WORDS)}, dim={i})")
    lines.append(f"RuntimeError: {sentence(rng, 14)}")
    return "\n".join(lines)


def section(rng: random.Random, repo: str) -> str:
    """One piece of a real-looking issue: prose with references, code, a log, a table, a list."""
    kind = rng.choice(["prose", "code", "trace", "details", "list", "table"])
    if kind == "prose":
        return (
            f"{sentence(rng, 40)} see #{rng.randint(1, 99999)} and {repo}#{rng.randint(1, 99999)}, "
            f"cc @user{rng.randint(1, 99)}; ~~{sentence(rng, 3)}~~ "
            f"https://github.com/{repo}/pull/{rng.randint(1, 99999)}. {sentence(rng, 30)}"
        )
    if kind == "code":
        body = "\n".join(
            f"x{i} = torch.{rng.choice(WORDS)}(x{i - 1}, {rng.randint(0, 9)})" for i in range(30)
        )
        return f"```python\nimport torch\n{body}\ntorch.onnx.export(model, x0, 'm.onnx')\n```"
    if kind == "trace":
        return f"```\n{traceback(rng, rng.randint(10, 40))}\n```"
    if kind == "details":
        log = "\n".join(
            f"[W shape_inference.cpp:{rng.randint(1, 999)}] {sentence(rng, 12)}" for _ in range(40)
        )
        return f"<details><summary>full log</summary>\n\n```\n{log}\n```\n</details>"
    if kind == "list":
        return "\n".join(f"- [{rng.choice(' x')}] {sentence(rng, 10)}" for _ in range(8))
    rows = "\n".join(
        f"| {rng.choice(WORDS)} | {rng.randint(7, 18)} | {rng.choice(WORDS)} |" for _ in range(10)
    )
    return f"| op | opset | status |\n|---|---|---|\n{rows}"


def body(rng: random.Random, repo: str) -> str:
    """A Markdown body of lognormal size, median about 45 KB (real converter issues paste logs)."""
    target = int(rng.lognormvariate(math.log(44_000), 0.6))
    parts = [f"## Bug\n\n{sentence(rng, 60)}"]
    size = len(parts[0])
    while size < target:
        parts.append(section(rng, repo))
        size += len(parts[-1]) + 2
    return "\n\n".join(parts)


def make_project(root: Path, issues: int, codebook) -> None:
    (root / "data" / "studies" / "bench" / "labels").mkdir(parents=True)
    (root / "data" / "issues").mkdir(parents=True)
    (root / "pyproject.toml").write_text("", encoding="utf-8")
    shutil.copy(ROOT / "data" / "codebook.yaml", root / "data" / "codebook.yaml")
    rng = random.Random(0)
    rows, records = [], {repo: [] for repo in REPOS.values()}
    for i in range(issues):
        converter = "torch.onnx" if i % 2 == 0 else "tf2onnx"
        repo, number = REPOS[converter], 1000 + i
        title = sentence(rng, 8)
        rows.append(
            {
                "converter": converter,
                "repository": repo,
                "number": number,
                "url": f"https://github.com/{repo}/issues/{number}",
                "title": title,
                "in_sample": "true",
            }
        )
        comments = [
            {
                "author": {"login": f"user{k}"},
                "created_at": f"2023-01-0{k + 1}",
                "body": f"{sentence(rng, 40)}\n\n```\n{traceback(rng, 8)}\n```",
            }
            for k in range(3)
        ]
        records[repo].append(
            {
                "number": number,
                "title": title,
                "body": body(rng, repo),
                "comments": comments,
                "state": "closed",
            }
        )
    frame = pd.DataFrame([{c: row.get(c, "") for c in ISSUE_COLUMNS} for row in rows])
    (root / "data" / "studies" / "bench" / "issues.csv").write_text(
        csv_text(frame, ISSUE_COLUMNS), encoding="utf-8"
    )
    for repo, items in records.items():
        write_records(record_path(repo, root / "data" / "issues"), items)
    store = LabelStore(root / "data" / "studies" / "bench", "bench", codebook)
    labels = []
    for row in rows[::2]:
        cause = rng.choice(codebook.valid_names("cause"))
        subs = codebook.valid_names("subcause", cause)
        labels.append(
            {
                "repository": row["repository"],
                "number": row["number"],
                "location": rng.choice(codebook.valid_names("location")),
                "symptom": rng.choice(codebook.valid_names("symptom")),
                "cause": cause,
                "subcause": rng.choice(subs) if subs else "",
                "note": "",
                "codebook_version": codebook.version,
                "labelled_at": "2023-01-01T00:00:00Z",
                "source_file": "",
                "source_sheet": "",
                "source_row": "",
            }
        )
    store.write_all(labels)


FLOOR_PAGE = (
    '<!doctype html><html lang="en"><head><meta charset="utf-8"><title>floor</title></head>'
    '<body data-next="/bench-floor/{following}"></body></html>'
)


def floor_page(step: int) -> str:
    """The empty page of the floor walk; its ``data-next`` leads on like an issue page's."""
    return FLOOR_PAGE.format(following=step + 1)


def process_kind(command: list[bytes]) -> str:
    """What a process below this one is: a Chromium process by its ``--type``, Playwright's
    driver, or one of the server's children (the render worker, the suggestion training)."""
    program = command[0].rsplit(b"/", 1)[-1] if command else b""
    if b"chrom" in program:
        types = [a[7:].decode() for a in command if a.startswith(b"--type=")]
        return f"chromium {types[0] if types else 'browser'}"
    if program == b"node":
        return "playwright driver"
    return "server children"


def process_cpu_ms() -> dict[str, float]:
    """CPU time so far (user + system, ms) of this process (the server and Playwright's client)
    and of the processes below it by kind, from ``/proc``."""
    tick = os.sysconf("SC_CLK_TCK")
    parents, cpu, commands = {}, {}, {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            # Chromium rewrites its command line as one string joined by spaces
            command = (entry / "cmdline").read_bytes().replace(b"\0", b" ").split()
        except OSError:  # the process ended while being read
            continue
        fields = stat[stat.rindex(")") + 2 :].split()
        pid = int(entry.name)
        parents[pid], commands[pid] = int(fields[1]), command
        cpu[pid] = (int(fields[11]) + int(fields[12])) * 1000 / tick
    me = os.getpid()
    totals = collections.Counter({"this process": cpu.get(me, 0.0)})
    for pid in cpu:
        ancestor = parents[pid]
        while ancestor in parents and ancestor != me:
            ancestor = parents[ancestor]
        if ancestor == me and pid != me:
            totals[process_kind(commands[pid])] += cpu[pid]
    return dict(totals)


def cpu_per_load(before: dict[str, float], after: dict[str, float], loads: int) -> dict:
    return {kind: round((after[kind] - before.get(kind, 0.0)) / loads, 1) for kind in after}


TRACE_CATEGORIES = ["toplevel", "devtools.timeline", "blink", "loading"]
TRACE_LOADS = 20
# A renderer main-thread event's own time (its children's taken out) goes to the first stage whose
# pattern its name matches; what matches none is navigation, IPC and the rest.
STAGES = (
    ("html_parse", re.compile(r"ParseHTML|HTMLDocumentParser|PreloadScan")),
    ("style", re.compile(r"UpdateLayoutTree|[Ss]tyle")),
    ("layout", re.compile(r"Layout|InlineNode|Shape")),
    ("paint", re.compile(r"Paint|Composit|Raster")),
    ("script", re.compile(r"EvaluateScript|FunctionCall|V8|v8\.|Microtask|EventDispatch|Script")),
)


def stage_of(name: str) -> str:
    return next((stage for stage, pattern in STAGES if pattern.search(name)), "other")


def trace_costs(path: Path, loads: int) -> dict:
    """Per load, from a Chromium trace: the renderer main thread's CPU time by stage, and the CPU
    time of each busy thread of every process in its top-level tasks. Thread time (``tdur``), not
    wall time: on a loaded machine a descheduled thread's events last longer but cost no more."""
    trace = json.loads(path.read_text(encoding="utf-8"))
    events = trace["traceEvents"] if isinstance(trace, dict) else trace
    threads = {
        (e["pid"], e["tid"]): e["args"]["name"]
        for e in events
        if e.get("ph") == "M" and e.get("name") == "thread_name"
    }
    spans = sorted(
        (e for e in events if e.get("ph") == "X" and "dur" in e),
        key=lambda e: (e["pid"], e["tid"], e["ts"], -e["dur"]),
    )
    stages: collections.Counter = collections.Counter()
    busy: collections.Counter = collections.Counter()
    open_spans: list[tuple[tuple, str, float]] = []  # (thread, stage, end) of enclosing events
    for e in spans:
        thread = (e["pid"], e["tid"])
        name = threads.get(thread, "?")
        while open_spans and (open_spans[-1][0] != thread or open_spans[-1][2] <= e["ts"]):
            open_spans.pop()
        cost = e.get("tdur", e["dur"])
        if not open_spans:
            busy[re.sub(r"\d+$", "", name)] += cost
        if name != "CrRendererMain":
            open_spans.append((thread, "", e["ts"] + e["dur"]))
            continue
        if open_spans:
            stages[open_spans[-1][1]] -= cost
        stage = stage_of(e["name"])
        stages[stage] += cost
        open_spans.append((thread, stage, e["ts"] + e["dur"]))
    per_load = 1000 * loads  # trace times are in microseconds
    return {
        "renderer_main_ms_per_load": {k: round(v / per_load, 1) for k, v in stages.most_common()},
        "thread_busy_ms_per_load": {k: round(v / per_load, 1) for k, v in busy.most_common(8)},
    }


def summary(values: list[float]) -> dict:
    ordered = sorted(values)
    return {
        "n": len(values),
        "median_ms": round(statistics.median(values), 1),
        "p95_ms": round(ordered[int(0.95 * (len(ordered) - 1))], 1),
        "max_ms": round(max(values), 1),
    }


def expected_number(url: str) -> str:
    return url.split("?")[0].rstrip("/").rsplit("/", 1)[1]


def navigate_in_app(page, steps: int, url: str) -> tuple[list[float], list[float], list[float]]:
    """Keypress ``n`` until the next issue's page is in the document (wall clock), and the app's
    own measures inside the browser: ``label:navigate`` (the swap done) and ``label:shown`` (the
    frame after it laid out and painted)."""
    page.goto(url)
    times = []
    for _ in range(steps):
        following = page.get_attribute("body", "data-next")
        page.wait_for_timeout(30)  # a rater reads for longer than that; lets the prefetch land
        start = time.perf_counter()
        page.keyboard.press("n")
        page.wait_for_selector(
            f'body[data-number="{expected_number(following)}"]', state="attached"
        )
        times.append((time.perf_counter() - start) * 1000)
    inside, shown = page.evaluate(
        """() => ['label:navigate', 'label:shown'].map(
             (name) => performance.getEntriesByName(name).map((e) => e.duration))"""
    )
    return times, inside, shown


NAVIGATION_TIMING = """() => { const n = performance.getEntriesByType('navigation')[0];
  return [n.responseEnd - n.requestStart, n.domContentLoadedEventEnd, n.loadEventEnd]; }"""


def full_page_loads(page, steps: int, base: str, url: str, requests: collections.Counter) -> dict:
    """The same walk with a full page load per issue (``load`` event): wall clock, the browser's
    own navigation timing (request to last byte, DOM ready, load done), the requests the server
    saw and the CPU of every process, each per load."""
    page.goto(url)
    requests.clear()
    before = process_cpu_ms()
    times, timings = [], []
    for _ in range(steps):
        following = page.get_attribute("body", "data-next")
        start = time.perf_counter()
        page.goto(base + following)
        times.append((time.perf_counter() - start) * 1000)
        timings.append(page.evaluate(NAVIGATION_TIMING))
    after = process_cpu_ms()
    row = {"wall": summary(times)}
    for i, name in enumerate(("response", "dom_ready", "load_event")):
        row[f"browser_{name}"] = summary([t[i] for t in timings])
    row["requests_per_load"] = {k: round(v / steps, 2) for k, v in sorted(requests.items())}
    row["cpu_ms_per_load"] = cpu_per_load(before, after, steps)
    return row


def traced_loads(browser, page, base: str, url: str, path: Path, requests) -> dict:
    """``TRACE_LOADS`` full loads from ``url`` under Chromium's tracing, saved to ``path``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    page.goto(url)
    browser.start_tracing(page=page, path=str(path), categories=TRACE_CATEGORIES)
    full_page_loads(page, TRACE_LOADS, base, url, requests)
    browser.stop_tracing()
    return {"trace": str(path), **trace_costs(path, TRACE_LOADS)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--issues", type=int, default=1000)
    parser.add_argument("--steps", type=int, default=200)
    parser.add_argument(
        "--trace",
        type=Path,
        metavar="DIR",
        help=f"also trace {TRACE_LOADS} full loads of the app and of the floor page in Chromium "
        "(written to DIR) and report where their time goes (tracing slows the browser)",
    )
    args = parser.parse_args()
    # Playwright is a dev extra, needed only when the benchmark drives the browser
    from playwright.sync_api import sync_playwright

    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        codebook = load_codebook(ROOT / "data" / "codebook.yaml")
        make_project(root, args.issues, codebook)
        study = load_study("bench", codebook, root=root / "data" / "studies" / "bench")
        session = LabelingSession(study, "bench", codebook, root / "data")

        def training():
            labels = session.labels()
            keys = [k for k in labels if session.issue(*k)]
            return [session.issue(*k).document() for k in keys], [labels[k] for k in keys]

        service = SuggestionService(training)
        service.request_retrain()
        service.ready.wait(300)
        guard = RequestGuard()
        app = create_app(session, guard, service)
        app.add_url_rule("/bench-floor/<int:step>", "bench_floor", floor_page)
        requests: collections.Counter = collections.Counter()

        @app.before_request
        def count_request():
            requests[request.path.split("/")[1] or "/"] += 1

        server = start_server(app, guard)
        logging.getLogger("werkzeug").setLevel(logging.ERROR)
        base = f"http://127.0.0.1:{server.server_port}"
        first = session.issues[0]
        sizes = sorted(len(t.body or "") for t in session.issues)
        results = {
            "issues": args.issues,
            "steps": args.steps,
            "body_kb_median": round(statistics.median(sizes) / 1000, 1),
            "body_kb_p95": round(sizes[int(0.95 * (len(sizes) - 1))] / 1000, 1),
            "load_average_at_start": round(os.getloadavg()[0], 2),
        }
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(
                executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS
            )
            page = browser.new_page()
            start_url = f"{base}/issue/{first.repository}/{first.number}"
            navigate_in_app(page, 10, start_url)  # warm-up
            wall, inside, shown = navigate_in_app(page, args.steps, start_url)
            results["next_in_app"] = summary(wall)
            results["next_in_app_browser_measure"] = summary(inside)
            results["next_in_app_browser_shown"] = summary(shown)
            wall, _, _ = navigate_in_app(page, args.steps, start_url + "?filter=unlabelled")
            results["next_in_app_unlabelled_filter"] = summary(wall)
            floor_url = f"{base}/bench-floor/0"
            floor = full_page_loads(page, args.steps, base, floor_url, requests)
            loads = full_page_loads(page, args.steps, base, start_url, requests)
            for name, row in (("full_page_load", loads), ("floor_page_load", floor)):
                results[name] = row.pop("wall")
                results.update({f"{name}_{key}": value for key, value in row.items()})
            if args.trace:
                for name, url in (("full_page_load", start_url), ("floor_page_load", floor_url)):
                    results[f"trace_{name}"] = traced_loads(
                        browser, page, base, url, args.trace / f"{name}.json", requests
                    )
            saves = []
            page.goto(start_url)
            for i in range(50):
                page.evaluate("() => { document.getElementById('status').dataset.state = 'idle'; }")
                start = time.perf_counter()
                page.keyboard.press("q" if i % 2 == 0 else "w")
                page.wait_for_selector('#status[data-state="saved"]')
                saves.append((time.perf_counter() - start) * 1000)
            results["save_choice"] = summary(saves)
            results["save_choice_browser_measure"] = summary(
                page.evaluate(
                    "() => performance.getEntriesByName('label:save').map((e) => e.duration)"
                )
            )
            browser.close()
        server.shutdown()
        service.close()
    results["load_average_at_end"] = round(os.getloadavg()[0], 2)
    print(json.dumps(results, indent=2))
    out = ROOT / "benchmarks" / "results" / "bench_labeling.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    for name in ("next_in_app", "full_page_load"):
        p95 = results[name]["p95_ms"]
        verdict = "meets" if p95 < 100 else "MISSES"
        print(f"{name} p95 {p95} ms: {verdict} the 100 ms target")
    floor, loads = results["floor_page_load"], results["full_page_load"]
    share = [loads[k] - floor[k] for k in ("median_ms", "p95_ms")]
    print(
        f"browser floor (empty page, same server and headers) {floor['median_ms']} / "
        f"{floor['p95_ms']} ms median / p95; the app's share of a full load "
        f"{share[0]:.1f} / {share[1]:.1f} ms"
    )


if __name__ == "__main__":
    main()
