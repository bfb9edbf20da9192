"""Localization against the tools users have: verdicts and time.

1. Time, on healthy dynamo exports (ResNet-18 at 224x224 by default, resnet18-tiny): our
   localizer (source trace + one ONNX Runtime pass with every value marked as an output +
   alignment + parameter and attribute stages) vs
   ``torch.onnx.verification.verify_onnx_program(compare_intermediates=True)`` (recomputes
   each value separately).
2. Verdicts on injected faults in dynamo exports: is the injected node the first one flagged?
   Ours: the first divergent node. verify_onnx_program: the first value in graph order whose
   max |diff| exceeds ``--atol`` (it gives numbers, no verdict). Polygraphy (when installed):
   layer-wise comparison of the faulty model with the *healthy* ONNX model (it compares by
   tensor name, so it needs a same-named reference; it cannot compare with the PyTorch source),
   first mismatching tensor in graph order under its default tolerances.
3. Side by side, whole processes (``--side-by-side``), on one planted weight fault per model:
   ``convfail difftest localize`` as a user runs it (source model file + faulty ONNX file; its
   settings stage re-converts only when the other stages explain nothing), the two
   ``polygraphy run --onnx-outputs mark all`` runs a layer-wise check takes (save the healthy
   model's values, compare the faulty one with them), and a Python process that re-exports the
   source with dynamo and calls ``verify_onnx_program(compare_intermediates=True)`` on the
   faulty model. Each tool's verdict (the first node it flags) and its wall and CPU seconds,
   start-up included, with the time ratios.

    .venv/bin/python benchmarks/bench_localize.py [--big resnet18] [--faults-per-type 1]
    .venv/bin/python benchmarks/bench_localize.py --side-by-side [--big resnet18-tiny] [--json F]

``--side-by-side`` prints each tool's verdict, CPU and wall seconds and the ratios, and writes
them with the load averages and versions to benchmarks/results/bench_localize_side_by_side.json
(``--big resnet18-tiny``: the tiny model only).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import resource
import subprocess
import sys
import tempfile
import time
import warnings
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

import numpy as np

from difftest.converters import _torch_args
from difftest.jobs import Job
from difftest.localize.graph_trace import runtime_values
from difftest.localize.inject import inject_faults
from difftest.localize.pipeline import localize
from difftest.sources import build_source

warnings.filterwarnings("ignore")


def _export(source):
    import torch  # torch is an optional extra; import on use

    return torch.onnx.export(source.model, _torch_args(source), dynamo=True, verbose=False)


def _program_with(model_proto, program):
    # torch (and its onnx_ir) is an optional extra; import on use
    import onnx_ir as ir
    import torch

    return torch.onnx.ONNXProgram(ir.serde.deserialize_model(model_proto), program.exported_program)


def _verify_first(program, args, producer, atol: float) -> tuple[int | None, float]:
    # torch is an optional extra; import on use
    from torch.onnx.verification import verify_onnx_program

    start = time.perf_counter()
    infos = verify_onnx_program(program, args, compare_intermediates=True)
    elapsed = time.perf_counter() - start
    flagged = [producer[i.name] for i in infos if i.name in producer and i.max_abs_diff > atol]
    return (min(flagged) if flagged else None), elapsed


def _polygraphy_first(healthy, faulty, sample, producer) -> int | None:
    # Polygraphy is an optional extra; import on use
    from polygraphy.backend.onnx import BytesFromOnnx, ModifyOutputs
    from polygraphy.backend.onnxrt import OnnxrtRunner, SessionFromOnnx
    from polygraphy.comparator import Comparator, CompareFunc

    names = [n for n in runtime_values(healthy) if n in set(runtime_values(faulty))]
    runners = [
        OnnxrtRunner(SessionFromOnnx(BytesFromOnnx(ModifyOutputs(m, outputs=names))), name=n)
        for n, m in (("healthy", healthy), ("faulty", faulty))
    ]
    feed = {healthy.graph.input[0].name: sample}
    results = Comparator.run(runners, data_loader=[feed])
    accuracy = Comparator.compare_accuracy(results, compare_func=CompareFunc.simple())
    result = accuracy if hasattr(accuracy, "values") else accuracy[0]  # AccuracyResults list
    (iterations,) = result.values()
    per_output = iterations[0]
    failing = [producer[n] for n, ok in per_output.items() if not bool(ok) and n in producer]
    return min(failing) if failing else None


def timing(name: str) -> dict:
    # torch is an optional extra; import on use
    import torch
    from torch.onnx.verification import verify_onnx_program

    source = build_source(Job("bench", name, "zoo", name, "torch", "dynamo"))
    program = _export(source)
    args = _torch_args(source)
    samples = [[a.numpy() for a in args]]
    start = time.perf_counter()
    loc = localize(source, program.model_proto, samples)
    ours = time.perf_counter() - start
    start = time.perf_counter()
    with torch.no_grad():
        infos = verify_onnx_program(program, args, compare_intermediates=True)
    theirs = time.perf_counter() - start
    return {
        "model": name,
        "onnx_nodes": len(program.model_proto.graph.node),
        "ours_s": round(ours, 2),
        "ours_graph_pass_s": round(loc.timings["graph_s"], 2),
        "ours_stages_s": {k: round(v, 2) for k, v in loc.timings.items()},
        "verify_onnx_program_s": round(theirs, 2),
        "values_compared_by_verify": len(infos),
        "speedup": round(theirs / ours, 1),
        "ours_agrees": loc.agrees,
    }


def verdicts(per_type: int, atol: float) -> dict:
    # torch is an optional extra; import on use
    import torch

    try:
        import polygraphy  # noqa: F401  (optional: only says whether it is installed)

        have_polygraphy = True
    except ImportError:
        have_polygraphy = False
    rows = []
    models = [("synthetic", "", s, 30) for s in (1, 2, 3)] + [("zoo", "resnet18-tiny", 0, 0)]
    for kind, name, seed, nodes in models:
        source = build_source(
            Job("b", f"m{seed}", kind, name, "torch", "dynamo", seed=seed, nodes=nodes)
        )
        program = _export(source)
        healthy = program.model_proto
        samples = source.make_inputs(seed, 1)
        base = localize(source, healthy, samples)
        if not base.agrees:
            continue
        args = tuple(torch.from_numpy(a) for a in samples[0])
        for fault in inject_faults(healthy, base.alignment, seed, per_type):
            start = time.perf_counter()
            loc = localize(source, fault.model, samples, trace=base.trace)
            ours_s = time.perf_counter() - start
            if loc.agrees:
                continue
            producer = {o: i for i, n in enumerate(fault.model.graph.node) for o in n.output}
            try:
                verify_first, verify_s = _verify_first(
                    _program_with(fault.model, program), args, producer, atol
                )
            except Exception as exc:
                verify_first, verify_s = f"error: {type(exc).__name__}", None
            poly = None
            if have_polygraphy and fault.kind != "transpose":
                try:
                    poly = _polygraphy_first(healthy, fault.model, samples[0][0], producer)
                except Exception as exc:
                    poly = f"error: {type(exc).__name__}"
            applicable = have_polygraphy and fault.kind != "transpose"
            rows.append(
                {
                    "model": f"{kind}-{name or seed}",
                    "fault": fault.kind,
                    "node": fault.node,
                    "ours_hit": fault.node in [d.node for d in loc.divergences][:1],
                    "ours_s": round(ours_s, 3),
                    "verify_hit": verify_first == fault.node,
                    "verify_s": verify_s and round(verify_s, 3),
                    "polygraphy_hit": (poly == fault.node) if applicable else None,
                    "polygraphy_error": poly if isinstance(poly, str) else None,
                }
            )
    n = len(rows)
    summary = {
        "faults": n,
        "ours_first_node_correct": sum(r["ours_hit"] for r in rows),
        "verify_first_node_correct": sum(r["verify_hit"] for r in rows),
        "ours_mean_s": round(float(np.mean([r["ours_s"] for r in rows])), 3) if rows else None,
        "verify_mean_s": round(float(np.mean([r["verify_s"] for r in rows if r["verify_s"]])), 3)
        if rows
        else None,
        "verify_atol": atol,
    }
    if have_polygraphy:
        applicable = [r for r in rows if r["polygraphy_hit"] is not None]
        summary["polygraphy_applicable"] = len(applicable)
        summary["polygraphy_first_node_correct"] = sum(
            bool(r["polygraphy_hit"]) for r in applicable
        )
    else:
        summary["polygraphy"] = "not installed"
    return {"summary": summary, "rows": rows}


RESULTS = Path(__file__).resolve().parent / "results"
FAILED_OUTPUT = re.compile(r"FAILED \| Output: '([^']+)'")
BIN = Path(sys.executable).parent


def _timed(command: list[str], cwd: Path) -> tuple[subprocess.CompletedProcess, float, float]:
    """Run ``command``; its output, wall seconds and CPU seconds (user + system)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    done = subprocess.run(command, cwd=cwd, capture_output=True, text=True, check=False)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime
    return done, wall, cpu


def _planted_case(name: str, folder: Path) -> dict:
    """The zoo model ``name`` saved as a source file, its dynamo export with one weight fault,
    the healthy export beside it (Polygraphy's reference) and the input they are compared on."""
    # torch and onnx are optional extras; import on use
    import onnx
    import torch

    source = build_source(Job("bench", name, "zoo", name, "torch", "dynamo"))
    healthy = _export(source).model_proto
    samples = source.make_inputs(0, 1)
    base = localize(source, healthy, samples)
    fault = next(
        f
        for f in inject_faults(healthy, base.alignment, 0, 3)
        if f.kind == "weight-perturbed"
        and not localize(source, f.model, samples, trace=base.trace).agrees
    )
    torch.save(source.model, folder / "model.pt")
    onnx.save(healthy, folder / "healthy.onnx")
    onnx.save(fault.model, folder / "faulty.onnx")
    np.savez(folder / "inputs.npz", *samples[0])
    return {"node": fault.node, "description": fault.description}


def _first_flagged(faulty_path: Path, names: list[str]) -> int | None:
    import onnx  # onnx is an optional extra; import on use

    model = onnx.load(faulty_path)
    producer = {o: i for i, n in enumerate(model.graph.node) for o in n.output}
    flagged = [producer[n] for n in names if n in producer]
    return min(flagged) if flagged else None


def verify_child(folder: Path, atol: float) -> None:
    """The ``verify_onnx_program`` process: re-export the source, check the faulty model."""
    # torch and onnx are optional extras; import on use
    import onnx
    import torch

    model = torch.load(folder / "model.pt", weights_only=False).eval()
    data = np.load(folder / "inputs.npz")
    args = tuple(torch.from_numpy(data[k]) for k in sorted(data.files))
    program = torch.onnx.export(model, args, dynamo=True, verbose=False)
    faulty = onnx.load(folder / "faulty.onnx")
    producer = {o: i for i, n in enumerate(faulty.graph.node) for o in n.output}
    first, _ = _verify_first(_program_with(faulty, program), args, producer, atol)
    print(json.dumps({"first": first}))


def side_by_side(name: str, atol: float) -> dict:
    """One planted fault in ``name``: the three tools as whole processes, verdicts and time."""
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        case = _planted_case(name, folder)
        ours_cmd = [str(BIN / "convfail"), "difftest", "localize", "--source", "model.pt"]
        ours_cmd += ["--onnx", "faulty.onnx", "--inputs-npz", "inputs.npz"]
        done, ours_s, ours_cpu = _timed([*ours_cmd, "--out", "ours"], folder)
        report = json.loads((folder / "ours" / "localization.json").read_text())
        ours_first = report["first_divergent"][0]["node"] if report["first_divergent"] else None
        poly = ["--onnxrt", "--onnx-outputs", "mark", "all"]
        run = [str(BIN / "polygraphy"), "run"]
        save = [*run, "healthy.onnx", *poly, "--save-outputs", "ref.json"]
        _, save_s, save_cpu = _timed(save, folder)
        compare = [*run, "faulty.onnx", *poly, "--load-outputs", "ref.json"]
        done, cmp_s, cmp_cpu = _timed(compare, folder)
        failed = FAILED_OUTPUT.findall(done.stdout + done.stderr)
        poly_first = _first_flagged(folder / "faulty.onnx", failed)
        child = [sys.executable, __file__, "--verify-child", tmp, "--atol", str(atol)]
        done, verify_s, verify_cpu = _timed(child, folder)
        lines = done.stdout.strip().splitlines()
        verify_first = json.loads(lines[-1])["first"] if lines else f"error: {done.stderr[-200:]}"
    poly_s, poly_cpu = save_s + cmp_s, save_cpu + cmp_cpu
    return {
        "model": name,
        "fault": case,
        "seed": 0,
        "load_average": os.getloadavg()[0],
        "ours": {
            "first": ours_first,
            "hit": ours_first == case["node"],
            "wall_s": ours_s,
            "cpu_s": ours_cpu,
        },
        "polygraphy": {
            "first": poly_first,
            "hit": poly_first == case["node"],
            "wall_s": poly_s,
            "cpu_s": poly_cpu,
            "needs": "the healthy ONNX model as reference",
        },
        "verify_onnx_program": {
            "first": verify_first,
            "hit": verify_first == case["node"],
            "wall_s": verify_s,
            "cpu_s": verify_cpu,
        },
        "ratio_polygraphy_over_ours_wall": round(poly_s / ours_s, 2),
        "ratio_verify_over_ours_wall": round(verify_s / ours_s, 2),
        "ratio_polygraphy_over_ours_cpu": round(poly_cpu / ours_cpu, 2),
        "ratio_verify_over_ours_cpu": round(verify_cpu / ours_cpu, 2),
    }


def _versions() -> dict[str, str]:
    out = {}
    for package in ("torch", "onnx", "onnxruntime", "polygraphy"):
        try:
            out[package] = version(package)
        except PackageNotFoundError:
            out[package] = "not installed"
    return out


TOOLS = (("ours", "ours"), ("polygraphy", "Polygraphy"), ("verify_onnx_program", "verify"))


def side_by_side_table(rows: list[dict]) -> str:
    """Verdicts, whole-process CPU and wall seconds, ratios and targets, one block per model."""
    lines = []
    for row in rows:
        lines.append(f"{row['model']}: planted at node {row['fault']['node']}")
        for key, label in TOOLS:
            tool = row[key]
            verdict = "right" if tool["hit"] else "WRONG"
            lines.append(
                f"  {label:11s} flags {tool['first']!s:>4} ({verdict}); CPU {tool['cpu_s']:6.2f} s,"
                f" wall {tool['wall_s']:7.2f} s"
            )
        poly, verify = row["ratio_polygraphy_over_ours_cpu"], row["ratio_verify_over_ours_cpu"]
        lines.append(
            f"  CPU ratios to ours: Polygraphy {poly}x (target >= 1: "
            f"{'met' if poly >= 1 else 'missed'}), verify {verify}x (target >= 10: "
            f"{'met' if verify >= 10 else 'missed'}); wall ratios "
            f"{row['ratio_polygraphy_over_ours_wall']}x, {row['ratio_verify_over_ours_wall']}x"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--big", default="resnet18", help="zoo model for the timing run")
    parser.add_argument("--faults-per-type", type=int, default=1)
    parser.add_argument(
        "--atol",
        type=float,
        default=1e-4,
        help="verify_onnx_program: max |diff| that flags a value",
    )
    parser.add_argument(
        "--json",
        help="also write the results to this file [--side-by-side: always written, default "
        "benchmarks/results/bench_localize_side_by_side.json]",
    )
    parser.add_argument(
        "--side-by-side",
        action="store_true",
        help="only part 3: the three tools as whole processes on --big and resnet18-tiny",
    )
    parser.add_argument("--verify-child", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.verify_child:
        verify_child(args.verify_child, args.atol)
        return
    if args.side_by_side:
        load_before = os.getloadavg()
        rows = [
            side_by_side(name, args.atol) for name in dict.fromkeys(["resnet18-tiny", args.big])
        ]
        result = {"load_average_before": load_before, "load_average_after": os.getloadavg()}
        result |= {"versions": _versions(), "rows": rows}
        out = Path(args.json) if args.json else RESULTS / "bench_localize_side_by_side.json"
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps(result, indent=2, sort_keys=True) + "\n", encoding="utf-8")
        print(side_by_side_table(rows))
        print(f"load average before {load_before}, after {os.getloadavg()}; JSON: {out}")
        return
    out = {
        "timing": [timing(name) for name in dict.fromkeys([args.big, "resnet18-tiny"])],
        "verdicts": verdicts(args.faults_per_type, args.atol),
    }
    print(json.dumps({"timing": out["timing"], "verdicts": out["verdicts"]["summary"]}, indent=2))
    if args.json:
        with open(args.json, "w", encoding="utf-8") as handle:
            json.dump(out, handle, indent=2, sort_keys=True)


if __name__ == "__main__":
    main()
