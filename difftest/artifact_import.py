"""Import the ISSTA 2024 synthetic-model results into the difftest result schema.

Input: ``theme3-models/exporter_test_results/<fw>/<fw>_symbolic-cinit_opset_16_<N>.json``
of the published artifact — one JSON list per model size N (NNSmith graphs of N nodes), each
entry ``{model, path, result, error, [mismatch | mad | hang, onnx_model_path]}``.
Output: ``data/difftest/issta24-synthetic/results.jsonl`` with the keys of
:data:`convfail.campaign_files.RESULT_KEYS` (fields the artifact does not have are ``null``).

Outcome of each published entry (the paper's Table 11 merges some of these):

- ``hang`` when ``hang`` is set; ``success``/``mismatch`` when ``result`` is 0 (torch: the
  ``mismatch`` flag; TensorFlow: ``mad > 1e-7``, so a NaN ``mad`` counts as success, as in the
  paper — the record keeps ``max_abs_diff_nonfinite: "nan"``);
- ``source_failure`` for TensorFlow's own errors (``Value for attr 'T' of bool ...`` and
  ``{{function_node ...}}``): the model failed in TensorFlow before any conversion;
- ``ort_inference_failure`` for ONNX Runtime errors raised while running a node
  (``Non-zero status code returned while running``), ``ort_load_failure`` for other ONNX
  Runtime errors;
- ``crash`` for an empty error (``b''``: the converter process died without a message);
- ``conversion_failure`` otherwise (e.g. the 2 GiB protobuf limit).
"""

from __future__ import annotations

import json
import math
import re
from pathlib import Path

from convfail.atomic import atomic_write_text
from convfail.campaign_files import (
    CONVERSION_FAILURE,
    CRASH,
    HANG,
    MISMATCH,
    ORT_INFERENCE_FAILURE,
    ORT_LOAD_FAILURE,
    RESULT_KEYS,
    RESULTS_FILE,
    SOURCE_FAILURE,
    SUCCESS,
    dumps_record,
    result_key,
    tolerance_key,
)
from convfail.errors import ArtifactImportError
from convfail.importers import ImportContext
from difftest.signature import signature

CAMPAIGN = "issta24-synthetic"
SUBDIR = Path("theme3-models") / "exporter_test_results"
CONVERTER = {"tensorflow": ("tf2onnx", "tf2onnx"), "torch": ("torchscript", "torch.onnx")}
FILE_PATTERN = re.compile(r"^(tensorflow|torch)_symbolic-cinit_opset_(\d+)_(\d+)\.json$")
TOLERANCE = 1e-7
POLICY = "published"  # the paper's own verdicts, kept as published (no raw differences)
STAGE = {
    SOURCE_FAILURE: "source",
    CONVERSION_FAILURE: "convert",
    ORT_LOAD_FAILURE: "load",
    ORT_INFERENCE_FAILURE: "run",
    MISMATCH: "compare",
    SUCCESS: "compare",
    HANG: None,
    CRASH: None,
}


def _text(value) -> str:
    return "" if value is None or str(value) == "None" else str(value)


def classify(framework: str, entry: dict) -> tuple[str, dict | None]:
    """The outcome of one published entry and its comparison (or ``None``)."""
    error = _text(entry.get("error"))
    if _text(entry.get("hang")) == "1":
        return HANG, None
    if int(entry["result"]) == 0:
        if framework == "torch":
            mismatch = str(entry["mismatch"]) == "True"
            return (MISMATCH if mismatch else SUCCESS), {
                "max_abs_diff": None,
                "max_abs_diff_nonfinite": None,
                "mismatch": {tolerance_key(TOLERANCE): mismatch},
            }
        mad = float(entry["mad"])
        mismatch = mad > TOLERANCE  # NaN compares False: the paper counted those as successes
        comparison = {
            "max_abs_diff": mad if math.isfinite(mad) else None,
            "max_abs_diff_nonfinite": None if math.isfinite(mad) else repr(mad),
            "mismatch": {tolerance_key(TOLERANCE): mismatch},
        }
        return (MISMATCH if mismatch else SUCCESS), comparison
    if error.startswith(("Value for attr", "{{function_node")):
        return SOURCE_FAILURE, None
    if error.startswith("[ONNXRuntimeError]"):
        inference = "Non-zero status code returned while running" in error
        return (ORT_INFERENCE_FAILURE if inference else ORT_LOAD_FAILURE), None
    if error in ("", "b''"):
        return CRASH, None
    return CONVERSION_FAILURE, None


def _error_type(error: str) -> str:
    match = re.match(r"\[ONNXRuntimeError\]\s*:\s*\d+\s*:\s*(\w+)", error)
    return match.group(1) if match else ""


def read_results(artifact: Path) -> list[dict]:
    """Every published entry as a result record, sorted by key; raises on a malformed file."""
    base = artifact / SUBDIR
    if not base.is_dir():
        raise ArtifactImportError(
            f"exporter results not found: {base}", "pass the artifact's root folder"
        )
    records: dict[str, dict] = {}
    for path in sorted(base.glob("*/*.json")):
        match = FILE_PATTERN.match(path.name)
        if not match or match.group(1) != path.parent.name:
            raise ArtifactImportError(f"unexpected file {path}", "the artifact layout changed")
        framework, opset, size = match.group(1), int(match.group(2)), int(match.group(3))
        try:
            entries = json.loads(path.read_text(encoding="utf-8"))
        except ValueError as exc:
            raise ArtifactImportError(f"{path}: not JSON ({exc})") from None
        for n, entry in enumerate(entries):
            if not isinstance(entry, dict) or not {"model", "result"} <= entry.keys():
                raise ArtifactImportError(f"{path}: entry {n} lacks model/result")
            try:
                outcome, comparison = classify(framework, entry)
            except (KeyError, ValueError) as exc:
                raise ArtifactImportError(
                    f"{path}: entry {n} ({entry.get('model')}): {exc!r}"
                ) from None
            converter, tool = CONVERTER[framework]
            model_id = f"{framework}-n{size:03d}-{entry['model']}"
            error = "" if outcome in (SUCCESS, MISMATCH) else _text(entry.get("error"))
            record = dict.fromkeys(RESULT_KEYS)
            record.update(
                key=result_key(model_id, converter),
                campaign=CAMPAIGN,
                model_id=model_id,
                source="nnsmith",
                name=str(entry["model"]),
                framework=framework,
                converter=converter,
                tool=tool,
                opset=opset,
                nodes=size,
                policy=POLICY,
                outcome=outcome,
                stage=STAGE[outcome],
                error_type=_error_type(error),
                error=error,
                signature=signature(outcome, _error_type(error), error) if error else "",
                comparison=comparison,
                model={"generator": "nnsmith", "path": str(entry.get("path", ""))},
            )
            if record["key"] in records:
                raise ArtifactImportError(f"{path}: duplicate model {entry['model']}")
            records[record["key"]] = record
    if not records:
        raise ArtifactImportError(f"no exporter results under {base}")
    return [records[k] for k in sorted(records)]


def results_text(records: list[dict]) -> str:
    """The text of the results file holding ``records`` (already sorted by key)."""
    return "".join(dumps_record(r) for r in records)


def import_exporter_results(ctx: ImportContext) -> list[Path]:
    """The ``convfail.importers`` entry point: write the imported campaign's results file."""
    text = results_text(read_results(ctx.artifact))
    out = ctx.data_dir / "difftest" / CAMPAIGN / RESULTS_FILE
    atomic_write_text(out, text)
    return [out]
