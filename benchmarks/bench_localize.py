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

    .venv/bin/python benchmarks/bench_localize.py [--big resnet18] [--faults-per-type 1]
"""

from __future__ import annotations

import argparse
import json
import time
import warnings

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
    parser.add_argument("--json", help="also write the results to this file")
    args = parser.parse_args()
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
