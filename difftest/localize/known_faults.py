"""Real behavioural differences of today's converters, rebuilt as tiny source models.

The ISSTA 2023 torch runs blamed (``theme3-models/log_data.json``) bicubic and trilinear
upsampling, GELU and division, among others; the fresh campaign's mismatches point at NaN
handling. Each case here is one PyTorch model and the inputs that expose the difference, so the
localizer can say whether it is still present with the installed torch / ONNX Runtime and name
the node. :func:`localize_known` writes one report folder (with a reproducer) per case and
converter and returns a summary row; :func:`write_known_faults` does it for every case, and for
the mismatch records of the fresh campaign, into one table.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Iterable
from pathlib import Path

import numpy as np
import pandas as pd

from convfail.dataset import atomic_write_text, csv_text
from difftest.converters import get_converter
from difftest.localize.inputs import from_campaign
from difftest.localize.pipeline import localize
from difftest.localize.report import to_json, write_report, write_reproducer_for
from difftest.localize.settings import run_model
from difftest.sources import InputSpec, SourceModel, _torch_model

NAN = float("nan")
TABLE_FILE = "real_faults.csv"
REAL_RECORDS = (
    ("fresh-synthetic", "syn-n035-0002/torchscript"),
    ("fresh-synthetic", "syn-n045-0002/torchscript"),
    ("fresh-synthetic", "syn-n030-0001/torchscript"),
    ("fresh-synthetic", "syn-n065-0000/tf2onnx"),
    ("fresh-synthetic", "syn-n060-0001/tf2onnx"),
)
REAL_COLUMNS = [
    "case",
    "converter",
    "present",
    "node",
    "cause",
    "scaled_error",
    "max_abs_diff",
    "reproduces",
    "why",
    "detail",
]


def _inputs_nan(shape: tuple[int, ...], seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    x = rng.standard_normal(shape).astype(np.float32)
    x.flat[rng.choice(x.size, size=max(1, x.size // 8), replace=False)] = NAN
    return x


def _inputs_normal(shape: tuple[int, ...], seed: int) -> np.ndarray:
    return np.random.default_rng(seed).standard_normal(shape).astype(np.float32)


def _models() -> dict[str, tuple[Callable, tuple[int, ...], Callable, str]]:
    # torch is an optional extra; import on use
    import torch
    import torch.nn.functional as F

    def conv_then(fn):
        torch.manual_seed(0)
        conv = torch.nn.Conv2d(3, 4, 3, padding=1)

        class Net(torch.nn.Module):
            def __init__(self) -> None:
                super().__init__()
                self.conv = conv

            def forward(self, x):
                return fn(self.conv(x))

        return Net()

    return {
        "sign-nan": (
            lambda: conv_then(torch.sign),
            (1, 3, 8, 8),
            _inputs_nan,
            "torch.sign(NaN) is 0; ONNX Sign propagates NaN",
        ),
        "reducemin-nan": (
            lambda: conv_then(lambda y: torch.amin(y, dim=(2, 3))),
            (1, 3, 8, 8),
            _inputs_nan,
            "torch amin propagates NaN; does ORT ReduceMin?",
        ),
        "maxpool-nan": (
            lambda: conv_then(lambda y: F.max_pool2d(y, 2)),
            (1, 3, 8, 8),
            _inputs_nan,
            "torch max_pool2d propagates NaN; ORT MaxPool skips it",
        ),
        "upsample-bicubic": (
            lambda: conv_then(lambda y: F.interpolate(y, scale_factor=2, mode="bicubic")),
            (1, 3, 8, 8),
            _inputs_normal,
            "blamed in 2023 (log_data.json): bicubic upsampling",
        ),
        "upsample-bicubic-aligned": (
            lambda: conv_then(
                lambda y: F.interpolate(y, scale_factor=2, mode="bicubic", align_corners=True)
            ),
            (1, 3, 8, 8),
            _inputs_normal,
            "bicubic with align_corners=True",
        ),
        "upsample-trilinear": (
            lambda: conv_then(
                lambda y: F.interpolate(y.unsqueeze(1), scale_factor=2, mode="trilinear")
            ),
            (1, 3, 8, 8),
            _inputs_normal,
            "blamed in 2023 (log_data.json): trilinear upsampling",
        ),
        "gelu-tanh": (
            lambda: conv_then(lambda y: F.gelu(y, approximate="tanh")),
            (1, 3, 8, 8),
            _inputs_normal,
            "blamed in 2023 (log_data.json): GELU",
        ),
        "floor-divide": (
            lambda: conv_then(lambda y: torch.div(y * 10, 3, rounding_mode="floor")),
            (1, 3, 8, 8),
            _inputs_normal,
            "blamed in 2023 (log_data.json): division",
        ),
        "trunc-divide": (
            lambda: conv_then(lambda y: torch.div(y * 10, 3, rounding_mode="trunc")),
            (1, 3, 8, 8),
            _inputs_normal,
            "division with rounding_mode='trunc'",
        ),
    }


CASE_NAMES = (
    "sign-nan",
    "maxpool-nan",
    "reducemin-nan",
    "upsample-bicubic",
    "upsample-bicubic-aligned",
    "upsample-trilinear",
    "gelu-tanh",
    "floor-divide",
    "trunc-divide",
)


def build_case(name: str) -> tuple[SourceModel, list[list[np.ndarray]], str]:
    """(SourceModel, samples, why) of a known case."""
    builder, shape, make, why = _models()[name]
    source = _torch_model(builder().eval(), [InputSpec("x", shape)], {"why": why})
    samples = [[make(shape, seed)] for seed in range(2)]
    return source, samples, why


def localize_known(name: str, converter: str, out_dir: Path) -> dict:
    """Convert, localize, write the report and reproducer; return one summary row."""
    source, samples, why = build_case(name)
    row = {"case": name, "converter": converter, "why": why}
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            model = get_converter(converter).convert(source, 17)
    except Exception as exc:
        return {
            **row,
            "present": "conversion fails",
            "detail": f"{type(exc).__name__}: {exc}"[:200],
        }
    loc = localize(source, model, samples)
    row["max_abs_diff"] = _max_abs_diff(loc.expected, run_model(model, samples))
    directory = out_dir / f"{name}--{converter}"
    reproducer = write_reproducer_for(loc, directory) if not loc.agrees else None
    meta = {"title": f"{name} ({converter})", "why": why}
    report = to_json(loc, meta, reproducer=reproducer, timings=False)
    write_report(report, directory)
    first = loc.divergences[0] if loc.divergences else None
    return {
        **row,
        "present": "no" if loc.agrees else "yes",
        "node": f"{first.node}:{first.op_type}" if first else "",
        "cause": first.cause if first else "",
        "scaled_error": report["first_divergent"][0]["error"] if first else "",
        "reproduces": reproducer["check"]["reproduces"] if reproducer else "",
        "detail": first.detail if first else "",
    }


def _max_abs_diff(expected, actual) -> float | str:
    """Largest finite |difference|; "nan-mismatch" when NaN appears on one side only."""
    worst = 0.0
    for e, a in zip(expected, actual, strict=True):
        for x, y in zip(e, a, strict=True):
            x, y = np.asarray(x, np.float64), np.asarray(y, np.float64)
            if np.any(np.isnan(x) != np.isnan(y)):
                return "nan-mismatch"
            finite = np.isfinite(x) & np.isfinite(y)
            if finite.any():
                worst = max(worst, float(np.abs(x[finite] - y[finite]).max()))
    return worst


def localize_record(campaign: str, key: str, out_dir: Path) -> dict:
    """Localize one mismatch record of a campaign, write its report; return one summary row."""
    case = from_campaign(campaign, key, 2)
    loc = localize(case.source, case.model, case.samples)
    directory = out_dir / key.replace("/", "--")
    reproducer = write_reproducer_for(loc, directory) if not loc.agrees else None
    meta = {"title": case.title, **case.meta}
    report = to_json(loc, meta, reproducer=reproducer, timings=False)
    write_report(report, directory)
    first = loc.divergences[0] if loc.divergences else None
    return {
        "case": f"{campaign}:{key.split('/')[0]}",
        "converter": case.meta["converter"],
        "present": "no" if loc.agrees else "yes",
        "node": f"{first.node}:{first.op_type}" if first else "",
        "cause": first.cause if first else "",
        "scaled_error": report["first_divergent"][0]["error"] if first else "",
        "max_abs_diff": "",
        "reproduces": reproducer["check"]["reproduces"] if reproducer else "",
        "why": f"campaign mismatch ({case.meta['recorded_outcome']})",
        "detail": first.detail if first else "",
    }


def write_known_faults(
    out_dir: Path,
    converters: Iterable[str],
    records: bool,
    progress: Callable[[list], Iterable] = iter,
) -> tuple[list[dict], Path]:
    """Every known case through every converter (and, with ``records``, the listed campaign
    records), one report folder each under ``out_dir``; the summary table goes beside it.
    ``progress`` wraps the list of known cases (a progress bar)."""
    jobs = [(name, converter) for name in CASE_NAMES for converter in converters]
    rows = [localize_known(name, converter, out_dir) for name, converter in progress(jobs)]
    if records:
        rows += [localize_record(campaign, key, out_dir) for campaign, key in REAL_RECORDS]
    table = [{c: _cell(r.get(c, "")) for c in REAL_COLUMNS} for r in rows]
    path = out_dir.parent / TABLE_FILE
    atomic_write_text(path, csv_text(pd.DataFrame(table), REAL_COLUMNS))
    return rows, path


def _cell(value: object) -> str:
    if isinstance(value, float):
        return f"{value:.6g}"
    return str(value)
