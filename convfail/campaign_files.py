"""The files of a differential-testing campaign, defined once for their writer and their readers.

``difftest`` writes a campaign into ``data/difftest/<campaign>/``; ``analysis`` reads it. Neither
restates the format: both go through this module.

- ``campaign.yaml`` (:data:`CONFIG_FILE`): what the campaign tests (written by difftest).
- ``results.jsonl`` (:data:`RESULTS_FILE`): one JSON object a line, one line per job, every key
  of :data:`RESULT_KEYS` present (``null`` when it does not apply), ``outcome`` one of
  :data:`OUTCOMES`, judged under the campaign's verdict policy (``policy``).
  ``comparison.differences`` keeps the raw differences (see :mod:`convfail.verdicts`), so
  :func:`convfail.verdicts.verdict` re-judges a record under any policy without re-running it.
  While a campaign runs, lines are appended, so a killed campaign can leave a *torn* last line
  (no newline or unparseable); a finished campaign is rewritten sorted by key.
- ``graphs/<name>.json`` (:data:`GRAPHS_DIR`): the structure of a converted graph, schema
  :data:`GRAPH_SCHEMA`; a reader refuses any other version rather than misreading it.

Reading never writes: a torn last line is reported (:attr:`Results.torn_tail`) and left out; only
:func:`repair_torn_tail`, which ``resume`` calls after saying so, cuts it off. A bad line in the
middle is damage, not an interrupted write, and is an error naming ``path:line``.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import yaml

from convfail.atomic import atomic_write_text
from convfail.errors import DatasetError

_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

CONFIG_FILE = "campaign.yaml"
RESULTS_FILE = "results.jsonl"
GRAPHS_DIR = "graphs"
GRAPH_SCHEMA = "graph-structure/1"

SOURCE_FAILURE = "source_failure"
CONVERSION_FAILURE = "conversion_failure"
ORT_LOAD_FAILURE = "ort_load_failure"
ORT_INFERENCE_FAILURE = "ort_inference_failure"
MISMATCH = "mismatch"
NONFINITE_MISMATCH = "nonfinite_mismatch"
SUCCESS = "success"
HANG = "hang"
CRASH = "crash"

# In the order tables show them: the stage that failed first, then the verdicts, then the
# supervisor's classes (the process hung or died on a signal).
OUTCOMES = (
    SOURCE_FAILURE,
    CONVERSION_FAILURE,
    ORT_LOAD_FAILURE,
    ORT_INFERENCE_FAILURE,
    MISMATCH,
    NONFINITE_MISMATCH,
    SUCCESS,
    HANG,
    CRASH,
)
# both runtimes produced outputs that were compared; a policy re-judges between these three
RAN = (MISMATCH, NONFINITE_MISMATCH, SUCCESS)

RESULT_KEYS = (
    "key",
    "campaign",
    "model_id",
    "source",
    "name",
    "framework",
    "converter",
    "tool",
    "opset",
    "seed",
    "nodes",
    "n_inputs",
    "policy",
    "outcome",
    "stage",
    "error_type",
    "error",
    "signature",
    "comparison",
    "model",
    "onnx_nodes",
    "graph_file",
)


def tolerance_key(tolerance: float) -> str:
    """The key of a tolerance in ``comparison.mismatch`` of imported published records (which
    have no raw differences): ``1e-07``, ``0.001``.

    ``repr`` of the float, so ``1e-3`` given as text, an int-free literal or a parsed YAML value
    all give the same key.
    """
    return repr(float(tolerance))


def result_key(model_id: str, converter: str) -> str:
    """The ``key`` of a record: one model through one converter."""
    return f"{model_id}/{converter}"


def file_stem(model_id: str, converter: str) -> str:
    """The name, without suffix, of the ONNX file and the graph-structure file of one job."""
    return f"{model_id}--{converter}"


def graph_file(model_id: str, converter: str) -> str:
    """A record's ``graph_file``: its graph-structure file, relative to the campaign folder."""
    return f"{GRAPHS_DIR}/{file_stem(model_id, converter)}.json"


@dataclass(frozen=True)
class Results:
    """The records of one results file, in file order, and whether its last line was torn."""

    path: Path
    records: list[dict]
    torn_tail: bool

    def by_key(self) -> dict[str, dict]:
        return {r["key"]: r for r in self.records}


def read_results(path: Path) -> Results:
    """Every complete record of ``path``; a missing file has none. Never modifies the file."""
    path = Path(path)
    if not path.is_file():
        return Results(path, [], False)
    lines = path.read_bytes().split(b"\n")
    # a file that ends with a newline splits into a final empty element; anything else there is
    # a last line the writer may not have finished: kept when it is a whole record, else torn
    complete, tail = lines[:-1], lines[-1]
    records = [_parse(path, number, line) for number, line in enumerate(complete, 1) if line]
    if not tail:
        return Results(path, records, False)
    try:
        records.append(_parse(path, len(lines), tail))
    except DatasetError:
        return Results(path, records, True)
    return Results(path, records, False)


def _parse(path: Path, number: int, line: bytes) -> dict:
    try:
        record = json.loads(line)
    except ValueError as exc:
        raise DatasetError(
            f"{path}:{number}: not a JSON record ({exc})",
            "the file is damaged in the middle; restore it from git or rerun the campaign",
        ) from None
    if not isinstance(record, dict) or not isinstance(record.get("key"), str):
        raise DatasetError(
            f"{path}:{number}: not a result record (no 'key')",
            "the file is damaged in the middle; restore it from git or rerun the campaign",
        )
    missing = [key for key in RESULT_KEYS if key not in record]
    if missing:
        raise DatasetError(
            f"{path}:{number}: not a whole result record (no {', '.join(map(repr, missing))})",
            "the file is damaged or written by another tool; rerun the campaign",
        )
    if record.get("outcome") not in OUTCOMES:
        raise DatasetError(
            f"{path}:{number}: unknown outcome {record.get('outcome')!r}",
            f"use one of {', '.join(OUTCOMES)}",
        )
    return record


def repair_torn_tail(path: Path) -> bool:
    """Cut a torn last line off ``path`` (for ``resume`` only); True when there was one."""
    path = Path(path)
    if not path.is_file():
        return False
    data = path.read_bytes()
    keep = data.rfind(b"\n") + 1
    if keep == len(data):
        return False
    with path.open("r+b") as fh:
        fh.truncate(keep)
    return True


def dumps_record(record: dict) -> str:
    """One line of the results file: sorted keys, no NaN (JSON has none), a newline."""
    return json.dumps(record, sort_keys=True, ensure_ascii=False, allow_nan=False) + "\n"


def append_result(path: Path, record: dict) -> None:
    """Append one record and flush it to disk, so a kill loses at most the line being written.

    A last line left without its newline (a kill between the record and its newline) is ended
    first, so the new record never runs into it."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("ab+") as fh:
        size = fh.seek(0, os.SEEK_END)
        unended = False
        if size:
            fh.seek(size - 1)
            unended = fh.read(1) != b"\n"
        fh.write((b"\n" if unended else b"") + dumps_record(record).encode("utf-8"))
        fh.flush()
        os.fsync(fh.fileno())


def write_results(path: Path, records: Iterable[dict]) -> None:
    """The finished file: every record, sorted by key, written atomically."""
    ordered = sorted(records, key=lambda r: r["key"])
    atomic_write_text(Path(path), "".join(dumps_record(r) for r in ordered))


def dumps_graph(structure: dict) -> str:
    """Deterministic text of a graph structure: sorted keys, compact, one trailing newline."""
    return json.dumps(structure, sort_keys=True, separators=(",", ":"), default=_plain) + "\n"


def _plain(value: object) -> object:
    if hasattr(value, "item"):
        return value.item()
    raise TypeError(f"not JSON-serialisable: {type(value).__name__}")


def read_graph(path: Path) -> dict:
    """A graph-structure file, refused with one line when broken or of another version."""
    path = Path(path)
    try:
        structure = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise DatasetError(f"{path}: graph file is missing", "rerun the campaign") from None
    except ValueError as exc:
        raise DatasetError(f"{path}: not a graph-structure JSON file ({exc})") from None
    if not isinstance(structure, dict) or "nodes" not in structure:
        raise DatasetError(f"{path}: not a graph-structure file (no 'nodes')")
    if structure.get("schema") != GRAPH_SCHEMA:
        raise DatasetError(
            f"{path}: graph schema {structure.get('schema')!r}, this convfail reads "
            f"{GRAPH_SCHEMA!r}",
            "rerun the campaign with this version of convfail",
        )
    return structure


def campaign_folders(root: Path) -> list[Path]:
    """Campaign folders under ``root`` made by ``difftest run``: a config and a results file."""
    return sorted(
        p.parent for p in Path(root).glob(f"*/{CONFIG_FILE}") if (p.parent / RESULTS_FILE).is_file()
    )


def planned_jobs(settings: dict) -> int:
    """How many jobs the settings of a ``campaign.yaml`` plan: every synthetic model (sizes x
    models per size) or every named model, each through every converter."""
    if settings["source"] == "synthetic":
        models = len(settings["sizes"]) * settings["per_size"]
    else:
        models = len(settings["models"])
    return models * len(settings["converters"])


@dataclass(frozen=True)
class CampaignProgress:
    """How far one campaign folder is: records written against jobs planned."""

    folder: Path
    done: int
    planned: int

    @property
    def complete(self) -> bool:
        return self.done >= self.planned

    def unfinished_note(self) -> str:
        """Why the analysis leaves this campaign out, in words that stay the same while it grows
        (so a report stays byte-identical from one run to the next)."""
        name = self.folder.name
        return (
            f"{name}: unfinished ({self.planned:,} jobs planned), left out until it completes; "
            f"`convfail difftest status {name}` shows how far it is, "
            f"`convfail difftest resume {name}` continues it."
        )


def campaign_progress(folder: Path) -> CampaignProgress:
    """Records in the results file (whole lines; a torn last line does not count) and jobs its
    configuration plans. Reads only; a campaign may be running."""
    folder = Path(folder)
    config = folder / CONFIG_FILE
    try:
        settings = yaml.load(config.read_text(encoding="utf-8"), Loader=_LOADER)
        planned = planned_jobs(settings)
    except (yaml.YAMLError, KeyError, TypeError) as exc:
        raise DatasetError(
            f"{config}: not a campaign configuration ({exc})",
            "rerun the campaign with `convfail difftest run` to rewrite it",
        ) from None
    return CampaignProgress(folder, _records_written(folder / RESULTS_FILE), planned)


def _records_written(path: Path) -> int:
    """The records :func:`read_results` would return, counted by lines rather than parsed: only
    an unterminated last line is parsed, to tell a whole record from a torn one."""
    if not path.is_file():
        return 0
    data = path.read_bytes()
    lines = data.count(b"\n")
    tail = data.rsplit(b"\n", 1)[-1]
    if not tail:
        return lines
    try:
        _parse(path, lines + 1, tail)
    except DatasetError:
        return lines
    return lines + 1


def finished_campaigns(root: Path) -> tuple[list[Path], list[CampaignProgress]]:
    """The campaign folders under ``root`` whose every planned job has a record, and the progress
    of the others. The analysis reads only the finished ones: one still running would change
    between two reads, and difftest plans size by size, so a part of a campaign over-represents
    its smallest graphs."""
    finished, unfinished = [], []
    for folder in campaign_folders(root):
        progress = campaign_progress(folder)
        if progress.complete:
            finished.append(folder)
        else:
            unfinished.append(progress)
    return finished, unfinished
