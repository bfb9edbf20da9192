"""Where the localizer's inputs come from: a campaign record, or a saved model plus ONNX file.

A campaign record names everything needed to rebuild the source model from its seed
(:func:`difftest.sources.build_source`); its ONNX file is read from the campaign's cache, or
re-converted with the record's converter and opset when the cache is gone. A saved source model
is a pickled PyTorch module (``torch.save(module)``) or a TensorFlow SavedModel directory; its
inputs are random arrays shaped like the ONNX model's inputs (or read from an ``.npz``).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import onnx

from convfail.campaign_files import CONFIG_FILE, RAN, RESULTS_FILE, read_results
from convfail.errors import ConvfailError
from convfail.paths import campaign_dir, campaign_onnx_dir, project_root
from difftest.converters import get_converter
from difftest.jobs import Job
from difftest.runner import file_stem
from difftest.sources import InputSpec, SourceModel, _tf_model, _torch_model, build_source


@dataclass
class Case:
    """A converted model, its source and the inputs to compare them on."""

    title: str
    source: SourceModel
    model: onnx.ModelProto
    samples: list[list[np.ndarray]]
    meta: dict


def from_campaign(campaign: str, key: str, n_inputs: int) -> Case:
    """The record ``key`` of ``campaign``, its source model rebuilt from the record's seed."""
    directory = campaign_dir(campaign)
    if not (directory / CONFIG_FILE).is_file():
        raise ConvfailError(
            f"no campaign named {campaign!r} ({directory / CONFIG_FILE} is missing)",
            "list campaigns with `ls data/difftest`",
        )
    records = read_results(directory / RESULTS_FILE).by_key()
    if key not in records:
        raise ConvfailError(
            f"campaign {campaign!r} has no record {key!r}",
            "give MODEL_ID/CONVERTER as in the `key` column of results.jsonl",
        )
    record = records[key]
    if record["outcome"] not in RAN:
        where = f" at stage {record['stage']}" if record.get("stage") else ""
        raise ConvfailError(
            f"record {key!r} is a {record['outcome']}{where} "
            f"({record.get('error_type') or 'no error type'}): there are no outputs to compare",
            f"localize a compared record: `convfail difftest status {campaign} --outcome mismatch "
            "--keys`",
        )
    if record.get("seed") is None:
        raise ConvfailError(
            f"record {key!r} was imported from the published artifact and cannot be rebuilt",
            "localize records of campaigns run here (e.g. fresh-synthetic)",
        )
    job = Job(
        campaign,
        record["model_id"],
        record["source"],
        record.get("name") or "",
        record["framework"],
        record["converter"],
        opset=record["opset"],
        seed=record["seed"],
        nodes=record.get("nodes") or 0,
        n_inputs=n_inputs,
    )
    source = build_source(job)
    onnx_file = campaign_onnx_dir(campaign) / f"{file_stem(job)}.onnx"
    if onnx_file.is_file():
        model, origin = load_onnx(onnx_file), str(onnx_file.relative_to(project_root()))
    else:
        try:
            model = get_converter(job.converter).convert(source, job.opset)
        except Exception as exc:
            raise ConvfailError(
                f"cannot re-convert {key}: {type(exc).__name__}: {exc}"[:300],
                "only records that converted can be localized",
            ) from exc
        origin = f"re-converted with {job.converter} (opset {job.opset}): cache file missing"
    samples = source.make_inputs(job.seed, n_inputs)
    meta = {
        "campaign": campaign,
        "key": key,
        "converter": job.converter,
        "opset": job.opset,
        "onnx": origin,
        "recorded_outcome": record["outcome"],
        "recorded_policy": record.get("policy"),
        "recorded_inputs": record.get("n_inputs"),
    }
    return Case(f"{campaign}:{key}", source, model, samples, meta)


def _shapes(model: onnx.ModelProto) -> list[tuple[str, tuple[int, ...], int]]:
    initializers = {t.name for t in model.graph.initializer}
    out = []
    for i in model.graph.input:
        if i.name in initializers:
            continue
        dims = tuple(
            d.dim_value if d.HasField("dim_value") else 1 for d in i.type.tensor_type.shape.dim
        )
        out.append((i.name, dims, i.type.tensor_type.elem_type))
    return out


def load_onnx(path: Path) -> onnx.ModelProto:
    """The ONNX model at ``path``; one line when the file is not one."""
    try:
        return onnx.load(path)
    except Exception as exc:  # protobuf raises DecodeError, RuntimeWarning, ... on damaged files
        raise ConvfailError(
            f"{path}: not a readable ONNX model ({type(exc).__name__}: {_first_line(exc)})",
            "pass the .onnx file the converter wrote (it may be truncated or not ONNX)",
        ) from None


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return (text.splitlines() or [""])[0][:200]


def _saved_model_source(path: Path, specs: list[InputSpec]) -> SourceModel:
    """A SavedModel (``tf.saved_model.save`` or Keras ``model.export``) run through its serving
    signature, by keyword. The loaded object is kept by the closure: its variables die with it.
    The ONNX inputs are matched to the signature's arguments by name (``features:0`` is
    ``features``), else in order, and renamed after them so that re-conversion can trace them."""
    import tensorflow as tf  # TensorFlow is an optional extra; import on use

    try:
        loaded = tf.saved_model.load(str(path))
        signature = loaded.signatures["serving_default"]
    except Exception as exc:
        raise ConvfailError(
            f"{path}: not a readable SavedModel with a serving_default signature "
            f"({type(exc).__name__}: {_first_line(exc)})",
            "pass the folder tf.saved_model.save or Keras model.export wrote",
        ) from None
    arguments = sorted(signature.structured_input_signature[1])
    outputs = sorted(signature.structured_outputs)
    by_name = {spec.name.split(":")[0]: spec for spec in specs}
    if set(by_name) != set(arguments):
        by_name = dict(zip(arguments, specs, strict=False))
    if len(by_name) != len(specs):
        raise ConvfailError(
            f"{path}: its signature takes {arguments}, the ONNX model {[s.name for s in specs]}",
            "pass the ONNX file converted from this SavedModel",
        )
    order = [next(a for a, s in by_name.items() if s is spec) for spec in specs]
    renamed = [replace(spec, name=name) for spec, name in zip(specs, order, strict=True)]

    def call(*arrays):
        result = loaded.signatures["serving_default"](**dict(zip(order, arrays, strict=True)))
        return [result[name] for name in outputs]

    return _tf_model(call, renamed, {"saved_model": str(path)})


def _torch_source(path: Path, specs: list[InputSpec]) -> SourceModel:
    """A whole module saved with ``torch.save``; one line when its class cannot be imported."""
    import torch  # torch is an optional extra; import on use

    try:
        module = torch.load(path, weights_only=False)
    except (ImportError, AttributeError) as exc:
        raise ConvfailError(
            f"{path}: the class of the saved module cannot be imported ({_first_line(exc)})",
            "run from the folder (or with the PYTHONPATH) where the model's code is importable",
        ) from None
    except Exception as exc:  # pickle and zip errors of a damaged or foreign file
        raise ConvfailError(
            f"{path}: not a torch.save file ({type(exc).__name__}: {_first_line(exc)})",
            "save the whole module with torch.save(module, path)",
        ) from None
    if not isinstance(module, torch.nn.Module):
        raise ConvfailError(
            f"{path} holds a {type(module).__name__}, not a module",
            "save the whole module with torch.save(module, path)",
        )
    return _torch_model(module.eval(), specs, {})


def from_files(source_path: Path, onnx_path: Path, inputs_npz: Path | None, n_inputs: int) -> Case:
    """A saved source model and its ONNX file, compared on ``inputs_npz`` or seeded inputs."""
    if not onnx_path.is_file():
        raise ConvfailError(f"no ONNX file at {onnx_path}", "pass the converted model with --onnx")
    model = load_onnx(onnx_path)
    specs = []
    for name, dims, elem in _shapes(model):
        kind = "float" if elem == onnx.TensorProto.FLOAT else "tokens:100"
        specs.append(InputSpec(name, dims, kind))
    if source_path.is_dir():
        source = _saved_model_source(source_path, specs)
    elif source_path.is_file():
        source = _torch_source(source_path, specs)
    else:
        raise ConvfailError(
            f"no source model at {source_path}", "pass a .pt file or SavedModel dir"
        )
    if inputs_npz is not None:
        data = np.load(inputs_npz)
        samples = [[data[k] for k in sorted(data.files)]]
    else:
        samples = source.make_inputs(0, n_inputs)
    meta = {"source_file": str(source_path), "onnx": str(onnx_path)}
    return Case(f"{source_path.name} vs {onnx_path.name}", source, model, samples, meta)
