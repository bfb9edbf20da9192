"""The fault-injection evaluation across the conversion matrix (issue 14's evidence).

For every model and every path of :data:`PATHS` the healthy conversion is checked for a false
alarm, rewritten harmlessly (:mod:`.benign_rewrites`, more false-alarm checks) and given faults of
FetaFix's six types (:mod:`.fetafix_faults`). Each fault that changes the outputs is localized:
*top-1* is right when the first divergent node reported is the planted node, *stage* when the
stage given (the localizer's cause; for a node at the image input, :mod:`.input_faults`) is the
type's. Each is then repaired: a *targeted* repair changes the faulty model and must agree with
the source on held-out inputs of another seed; when none does, the path's re-conversion is tried
as a *workaround*, reported apart. Label discrepancy and max |diff| against the source are
measured on held-out digits before and after. Localization and repair are scored separately.
"""

from __future__ import annotations

import json
import tempfile
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import asdict, dataclass, fields
from pathlib import Path

import numpy as np
import onnx
import pandas as pd

from convfail.dataset import atomic_write_text, csv_text, read_csv
from convfail.errors import ConvfailError, DatasetError
from difftest.localize.benign_rewrites import benign_rewrites
from difftest.localize.conversion_path import predict, source_model
from difftest.localize.fetafix_faults import FETAFIX_TYPES, PlantedFault, channel_axis, plant_faults
from difftest.localize.input_faults import stage_of
from difftest.localize.pipeline import localize
from difftest.localize.repair import repair
from difftest.matrix.hops import Artifact
from difftest.matrix.images import load_split
from difftest.matrix.labels import top1_discrepancy_pct
from difftest.matrix.paths import make_path
from difftest.matrix.sources import input_size, source_artifact

# (source framework, hops): the matrix's paths that end in ONNX, the format stages 2-4 read
PATHS = (
    ("torch", ("torchscript-onnx",)),
    ("keras", ("tf2onnx-onnx",)),
    ("keras", ("tflite-float32", "tflite-tf2onnx")),
)
# targets of the matrix this evaluation plants no faults in, and why (reported as data)
NOT_EVALUATED = {
    "tflite": "faults are planted in ONNX graphs; `localize-path` runs stages 2-4 on a .tflite "
    "target (LiteRT's tensors on tf2onnx's reading of it), not evaluated here",
    "torch (onnx2torch)": "faults are planted in ONNX graphs; `localize-path` runs stages 2-4 on "
    "onnx2torch's module (its fx values), not evaluated here",
}
HELD_OUT_SEED = 1000
KIND_SHOWN = {  # the planted preprocessing/layout kind -> what input_faults should see
    "normalization": "normalization",
    "channel-order": "channel order",
    "input-size": "input size",
    "height-width": "layout",
}


@dataclass
class EvalRow:
    """One planted fault, benign rewrite or clean conversion of one model along one path."""

    model: str
    path: str
    fetafix_type: str  # one of FETAFIX_TYPES, "benign" or "clean"
    kind: str
    node: str
    op_type: str
    description: str
    effective: bool = False  # the localizer finds the outputs differ
    false_alarm: bool = False  # benign or clean, yet reported as differing
    reported_node: str = ""
    reported_op: str = ""
    top1_right: bool = False
    expected_stage: str = ""
    reported_stage: str = ""
    stage_right: bool = False
    input_kind: str = ""  # what the image-input node's output shows (input_faults)
    input_kind_right: bool = False
    targeted_repair: bool = False  # targeted steps, outputs agree, also on held-out inputs
    targeted_steps: int = 0
    workaround: bool = False  # the re-conversion agreed where no targeted repair did
    repair_summary: str = ""
    held_out_inputs: int = 0
    images: int = 0
    discrepancy_before_pct: float = 0.0
    discrepancy_after_pct: float | None = None
    max_abs_diff_before: float = 0.0
    max_abs_diff_after: float | None = None


@dataclass(frozen=True)
class EvalSettings:
    """What one run evaluates; every choice that changes the rows is here (and in the JSON)."""

    models: tuple[str, ...]
    paths: tuple[tuple[str, tuple[str, ...]], ...] = PATHS
    per_type: int = 2
    n_inputs: int = 2
    n_images: int = 200
    seed: int = 0


def path_name(framework: str, hops: tuple[str, ...]) -> str:
    return f"{framework}>{'>'.join(hops)}"


def converted_model(
    model: str, framework: str, hops: tuple[str, ...], workdir: Path, reuse: Path | None
) -> Path:
    """The path's final ONNX file: from ``reuse`` (a matrix run's ``models/`` folder, named as
    the runner names it) when it has one, else converted hop by hop into ``workdir``."""
    folder = f"{model}--{framework}--{'+'.join(hops)}"
    for base in (reuse, workdir):
        if base is not None and (base / folder / f"{hops[-1]}.onnx").exists():
            return base / folder / f"{hops[-1]}.onnx"
    target = workdir / folder
    target.mkdir(parents=True, exist_ok=True)
    artifact = source_artifact(model, framework)
    for hop in make_path(framework, list(hops)).steps():
        artifact = hop.convert(artifact, target)
    return artifact.path


class LabelCheck:
    """Logits of ONNX models on the held-out digits, against the source's."""

    def __init__(self, source: Artifact, images: np.ndarray, layout: str, workdir: Path):
        self.images, self.layout, self.size = images, layout, source.size
        self.reference = predict(source, images)
        self.workdir = workdir

    def compare(self, model: onnx.ModelProto) -> tuple[float, float]:
        """(top-1 discrepancy %, max |diff|) of ``model`` against the source. The model goes
        through a file of this call's own (runs in parallel share the work folder)."""
        with tempfile.TemporaryDirectory(dir=self.workdir) as folder:
            path = Path(folder) / "checked.onnx"
            onnx.save(model, path)
            artifact = Artifact("onnx", self.layout, path=path, size=self.size)
            logits = predict(artifact, self.images)
        return top1_discrepancy_pct(self.reference, logits), float(
            np.abs(logits - self.reference).max()
        )


def _rank4_nodes(loc) -> list[int]:
    return [
        i
        for i, node in enumerate(loc.model.graph.node)
        if node.output
        and node.output[0] in loc.alignment.values
        and loc.alignment.values[node.output[0]].matched
        and len(loc.alignment.values[node.output[0]].shape) == 5
    ]


def _fault_row(
    model: str, path: str, fault: PlantedFault, source, base, labels, held, healthy, channel
) -> EvalRow:
    row = EvalRow(
        model,
        path,
        fault.fetafix_type,
        fault.kind,
        fault.node_name,
        fault.op_type,
        fault.description,
        expected_stage=fault.expected_stage,
    )
    loc = localize(source, fault.model, base.samples, base.tolerance, trace=base.trace)
    row.images = len(labels.images)
    row.discrepancy_before_pct, row.max_abs_diff_before = labels.compare(fault.model)
    if loc.agrees:
        return row
    row.effective = True
    if loc.divergences:
        first = loc.divergences[0]
        row.reported_node, row.reported_op = first.name, first.op_type
        row.top1_right = first.name == fault.node_name
        row.reported_stage, row.input_kind = stage_of(loc, first, channel)
        row.stage_right = row.reported_stage == fault.expected_stage
        row.input_kind_right = row.input_kind == KIND_SHOWN.get(fault.kind, "")
    result = repair(source, loc, ("re-conversion along the same path", healthy), held)
    row.targeted_steps = len(result.targeted)
    row.targeted_repair = bool(result.changed and result.agrees_after and result.held_out_agrees)
    row.workaround = bool(result.workaround is not None and result.workaround_agrees)
    row.repair_summary = result.summary()
    row.held_out_inputs = len(held)
    if result.changed:
        row.discrepancy_after_pct, row.max_abs_diff_after = labels.compare(result.model)
    return row


def evaluate_case(
    model: str,
    framework: str,
    hops: tuple[str, ...],
    settings: EvalSettings,
    workdir: Path,
    reuse: Path | None = None,
) -> Iterator[EvalRow]:
    """Rows of one model along one path: the clean conversion, benign rewrites, planted faults."""
    path = path_name(framework, hops)
    workdir.mkdir(parents=True, exist_ok=True)
    onnx_file = converted_model(model, framework, hops, workdir, reuse)
    artifact = source_artifact(model, framework)
    source = source_model(artifact)
    healthy = onnx.load(onnx_file)
    images = load_split(input_size(model), "test").images[: settings.n_images]
    labels = LabelCheck(artifact, images, artifact.layout, workdir)
    samples = source.make_inputs(settings.seed, settings.n_inputs)
    held = source.make_inputs(HELD_OUT_SEED + settings.seed, settings.n_inputs)
    base = localize(source, healthy, samples)
    clean = EvalRow(model, path, "clean", "conversion", "", "", f"{onnx_file.name} as converted")
    clean.images = len(images)
    clean.discrepancy_before_pct, clean.max_abs_diff_before = labels.compare(healthy)
    clean.false_alarm = not base.agrees
    yield clean
    if not base.agrees:
        return  # not a clean base to plant faults in; the row above says so
    for name, rewritten in benign_rewrites(healthy, _rank4_nodes(base)):
        loc = localize(source, rewritten, samples, trace=base.trace)
        row = EvalRow(model, path, "benign", name, "", "", name, false_alarm=not loc.agrees)
        if not loc.agrees and loc.divergences:
            row.reported_node = loc.divergences[0].name
        yield row
    channel = channel_axis(healthy)
    for fault in plant_faults(healthy, base.alignment, settings.seed, settings.per_type):
        yield _fault_row(model, path, fault, source, base, labels, held, healthy, channel)


def _ratio(part: int, whole: int) -> float | None:
    return round(part / whole, 3) if whole else None


def _scores(rows: list[EvalRow]) -> dict:
    effective = [r for r in rows if r.effective]
    n = len(effective)
    return {
        "planted": len(rows),
        "effective": n,
        "top1": _ratio(sum(r.top1_right for r in effective), n),
        "stage": _ratio(sum(r.stage_right for r in effective), n),
        "targeted_repair": _ratio(sum(r.targeted_repair for r in effective), n),
        "workaround_only": sum(r.workaround and not r.targeted_repair for r in effective),
        "not_repaired": sum(not r.targeted_repair and not r.workaround for r in effective),
    }


TARGETS = {"top1": 0.95, "stage": 0.9, "targeted_repair": 0.85}


def summarise(rows: list[EvalRow]) -> dict:
    """Scores overall, per FetaFix type, per path and per model; false alarms; the targets."""
    faults = [r for r in rows if r.fetafix_type in FETAFIX_TYPES]
    out = {"all": _scores(faults)}
    out["by_type"] = {t: _scores([r for r in faults if r.fetafix_type == t]) for t in FETAFIX_TYPES}
    out["by_path"] = {
        p: _scores([r for r in faults if r.path == p]) for p in sorted({r.path for r in faults})
    }
    out["by_model"] = {
        m: _scores([r for r in faults if r.model == m]) for m in sorted({r.model for r in faults})
    }
    for group in ("clean", "benign"):
        members = [r for r in rows if r.fetafix_type == group]
        out[f"{group}_false_alarms"] = {
            "checked": len(members),
            "alarms": sum(r.false_alarm for r in members),
        }
    inputs = [
        r for r in faults if r.effective and r.fetafix_type in ("preprocessing", "input-layout")
    ]
    out["input_kind_right"] = _ratio(sum(r.input_kind_right for r in inputs), len(inputs))
    out["targets"] = {
        name: {"target": goal, "value": out["all"][name], "met": (out["all"][name] or 0) >= goal}
        for name, goal in TARGETS.items()
    }
    out["targets"]["no_false_alarm_clean"] = {"met": out["clean_false_alarms"]["alarms"] == 0}
    out["targets_not_evaluated"] = NOT_EVALUATED
    return out


def row_dict(row: EvalRow) -> dict:
    return asdict(row)


ROWS_FILE = "matrix_faults.csv"
SUMMARY_FILE = "matrix_faults_summary.json"
COLUMNS = [f.name for f in fields(EvalRow)]


def _write(out_dir: Path, rows: list[EvalRow], settings: EvalSettings, extra: dict) -> dict:
    frame = pd.DataFrame([row_dict(r) for r in rows], columns=COLUMNS)
    out_dir.mkdir(parents=True, exist_ok=True)
    atomic_write_text(out_dir / ROWS_FILE, csv_text(frame, COLUMNS))
    summary = summarise(rows)
    summary["settings"] = {
        **asdict(settings),
        "paths": [path_name(f, h) for f, h in settings.paths],
        "held_out_seed": HELD_OUT_SEED + settings.seed,
    }
    summary.update(extra)
    text = json.dumps(summary, indent=2, sort_keys=True) + "\n"
    atomic_write_text(out_dir / SUMMARY_FILE, text)
    return summary


# what must be equal for rows of an earlier run to stand beside new ones
RESUME_KEYS = ("per_type", "n_inputs", "n_images", "seed")


def _parse(text: str, kind: str) -> object:
    if kind == "bool":
        return text == "True"
    if kind == "int":
        return int(text)
    if kind.startswith("float"):
        return None if text == "" else float(text)
    return text


def read_evaluation(out_dir: Path) -> tuple[dict[str, list[EvalRow]], dict]:
    """The rows an earlier run left in ``out_dir``, by finished case, and its summary (both
    empty when there is none). A case listed as done whose rows are missing is taken as not
    done, so a damaged folder is redone rather than trusted."""
    summary_path, rows_path = out_dir / SUMMARY_FILE, out_dir / ROWS_FILE
    if not summary_path.exists() or not rows_path.exists():
        return {}, {}
    try:
        summary = json.loads(summary_path.read_text())
        frame = read_csv(rows_path, COLUMNS)
    except (json.JSONDecodeError, DatasetError) as exc:
        raise ConvfailError(
            f"{out_dir}: the earlier evaluation cannot be read ({exc})",
            "move the folder away, or give --out or --include-run another folder",
        ) from None
    kinds = {f.name: str(f.type) for f in fields(EvalRow)}
    by_case: dict[str, list[EvalRow]] = {}
    for record in frame.to_dict("records"):
        row = EvalRow(**{k: _parse(v, kinds[k]) for k, v in record.items()})
        by_case.setdefault(f"{row.model} {row.path}", []).append(row)
    done = {case: by_case[case] for case in summary.get("cases_done", []) if case in by_case}
    return done, summary


def _check_resumable(out_dir: Path, earlier: dict, settings: EvalSettings) -> None:
    """Refuse to put rows of other settings beside the new ones: the scores would mix them."""
    saved = earlier.get("settings", {})
    for key in RESUME_KEYS:
        if key in saved and saved[key] != getattr(settings, key):
            option = "--" + key.replace("n_", "").replace("_", "-")
            raise ConvfailError(
                f"{out_dir} was written with {key} {saved[key]}, not {getattr(settings, key)}",
                f"rerun with the same {option}, or give --out or --include-run another folder",
            )


def write_matrix_evaluation(
    out_dir: Path,
    settings: EvalSettings,
    workdir: Path,
    reuse: Path | None = None,
    progress: Callable[[Iterator[EvalRow]], Iterable[EvalRow]] = iter,
    earlier_runs: Sequence[Path] = (),
) -> dict:
    """Evaluate, write the rows (no times: identical runs give identical files) and the summary
    (with the settings and the wall and CPU time), return the summary. Both files are rewritten
    after every finished model and path, the summary listing the cases done (``complete`` false
    until the last), so a run stopped early still says exactly what it measured. The cases
    that the runs in ``earlier_runs`` (``out_dir`` itself to resume, or the folders of runs made
    in parallel) finished with the same settings are kept, not redone, with their times added;
    rows of other models they hold stay in the files."""
    wall, cpu = time.perf_counter(), time.process_time()
    finished: dict[str, list[EvalRow]] = {}
    spent = {"wall_s": 0.0, "cpu_s": 0.0}
    for folder in earlier_runs:
        done, earlier = read_evaluation(folder)
        _check_resumable(folder, earlier, settings)
        for case, case_rows in done.items():
            finished.setdefault(case, case_rows)
        spent = {k: spent[k] + float(earlier.get(k, 0.0)) for k in spent}
    cases = [(m, f, h) for m in settings.models for f, h in settings.paths]
    wanted = [f"{m} {path_name(f, h)}" for m, f, h in cases]

    def save() -> dict:
        extra = {
            "cases_done": list(finished),
            "complete": all(c in finished for c in wanted),
            "wall_s": round(spent["wall_s"] + time.perf_counter() - wall, 1),
            "cpu_s": round(spent["cpu_s"] + time.process_time() - cpu, 1),
        }
        rows = [row for case_rows in finished.values() for row in case_rows]
        return _write(out_dir, rows, settings, extra)

    summary: dict = {}
    for (model, framework, hops), case in zip(cases, wanted, strict=True):
        if case not in finished:
            finished[case] = list(
                progress(evaluate_case(model, framework, hops, settings, workdir, reuse))
            )
            summary = save()
    return summary or save()
