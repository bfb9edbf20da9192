"""ONNX opset history, derived from the installed ``onnx`` package's operator schemas.

Every operator of the default domain (``ai.onnx``) has one schema per version; a schema's
``since_version`` is the opset that introduced it. The first version of an operator is an
*addition*, every later one an *update*. That is how the paper's Figure 5 counts changes, and
because the package carries the whole history, the counts extend to the newest opset the installed
package knows (the paper stopped at opset 18).

Each operator also gets a ``kind``, decided *as of a horizon opset* (the newest opset of the
period looked at), the way ONNX's own operator documentation sorts them:

- ``operator``: a primitive operator (its newest schema up to the horizon has no function body);
- ``function``: its newest schema up to the horizon is defined as a function of other operators
  (a function body, possibly context-dependent); the documentation lists these in a separate
  table, and the published artifact's ``onnx_opset_diff.json`` leaves them out;
- ``experimental``: a schema version marked experimental (``Upsample``-1); never counted by
  the artifact either.

Release dates are not in the package; they come from ``data/onnx/opset_releases.csv`` (one row
per opset, a source per row; see its datasheet).
"""

from __future__ import annotations

import json
from collections import defaultdict
from pathlib import Path

import onnx
import pandas as pd
from onnx import defs, helper
from onnx.defs import OpSchema

from convfail.dataset import read_csv
from convfail.errors import DatasetError
from convfail.paths import artifact_dir, onnx_data_dir

DEFAULT_DOMAINS = ("", "ai.onnx")
KINDS = ("operator", "function", "experimental")
PAPER_KINDS = ("operator",)
PAPER_LAST_OPSET = 18
HISTORY_COLUMNS = ["opset", "operator", "change", "kind", "deprecated"]
RELEASE_COLUMNS = [
    "opset",
    "onnx_version",
    "release_date",
    "release_date_source",
    "pypi_version",
    "pypi_upload_date",
    "note",
]
ARTIFACT_OPSET_FILE = "theme2-failures/onnx_opset_diff.json"
_DEPRECATED_SUFFIX = " (deprecated)"


def installed_onnx() -> tuple[str, int]:
    """The installed ``onnx`` version and the newest opset of its default domain."""
    return onnx.__version__, int(defs.onnx_opset_version())


def onnx_release_table() -> pd.DataFrame:
    """The package's own table of ONNX releases and the opset each one ships (``VERSION_TABLE``)."""
    rows = [{"onnx_version": row[0], "opset": int(row[2])} for row in helper.VERSION_TABLE]
    return pd.DataFrame(rows)


def _schemas() -> list:
    return [s for s in defs.get_all_schemas_with_history() if s.domain in DEFAULT_DOMAINS]


def opset_history(horizon: int | None = None) -> pd.DataFrame:
    """One row per operator version up to ``horizon`` (default: the newest opset installed).

    Columns: ``opset``, ``operator``, ``change`` (``added``/``updated``), ``kind`` (see the module
    docstring; decided as of ``horizon``) and ``deprecated`` (the operator's newest schema up to
    the horizon is deprecated). Sorted by opset, then operator.
    """
    horizon = horizon or installed_onnx()[1]
    versions: dict[str, list] = defaultdict(list)
    for schema in _schemas():
        if schema.since_version <= horizon:
            versions[schema.name].append(schema)
    rows = []
    for name, schemas in versions.items():
        schemas.sort(key=lambda s: s.since_version)
        common = [s for s in schemas if s.support_level == OpSchema.SupportType.COMMON]
        newest = common[-1] if common else schemas[-1]
        is_function = bool(newest.has_function or newest.has_context_dependent_function)
        first_common = common[0].since_version if common else None
        for schema in schemas:
            experimental = schema.support_level != OpSchema.SupportType.COMMON
            kind = "experimental" if experimental else ("function" if is_function else "operator")
            first = schema is schemas[0] if experimental else schema.since_version == first_common
            rows.append(
                {
                    "opset": int(schema.since_version),
                    "operator": name,
                    "change": "added" if first else "updated",
                    "kind": kind,
                    "deprecated": bool(newest.deprecated),
                }
            )
    frame = pd.DataFrame(rows, columns=HISTORY_COLUMNS)
    return frame.sort_values(["opset", "operator"]).reset_index(drop=True)


def opset_counts(history: pd.DataFrame, kinds: tuple[str, ...] = PAPER_KINDS) -> pd.DataFrame:
    """Additions, updates and their sum per opset (every opset from 1 to the newest listed)."""
    chosen = history[history["kind"].isin(kinds)]
    counts = chosen.groupby(["opset", "change"]).size().unstack(fill_value=0)
    opsets = range(1, int(history["opset"].max()) + 1)
    counts = counts.reindex(index=opsets, columns=["added", "updated"], fill_value=0)
    counts["changes"] = counts["added"] + counts["updated"]
    return counts.rename_axis(None, axis=1).reset_index().astype(int)


def release_dates(path: Path | None = None) -> pd.DataFrame:
    """``data/onnx/opset_releases.csv``: the release date of each opset, with its source."""
    path = path or onnx_data_dir() / "opset_releases.csv"
    frame = read_csv(path, RELEASE_COLUMNS)
    try:
        frame["opset"] = frame["opset"].astype(int)
        frame["release_date"] = pd.to_datetime(frame["release_date"], format="%Y-%m-%d")
    except ValueError as exc:
        raise DatasetError(
            f"{path}: bad opset number or date ({exc})", "dates are YYYY-MM-DD"
        ) from None
    undocumented = frame.loc[frame["release_date_source"].str.strip() == "", "opset"].tolist()
    if undocumented:
        raise DatasetError(
            f"{path}: opset(s) {undocumented} have a date without a source",
            "fill in release_date_source for every row",
        )
    if frame["opset"].duplicated().any():
        raise DatasetError(f"{path}: an opset is listed twice", "keep one row per opset")
    return frame.sort_values("opset").reset_index(drop=True)


def releases(
    history: pd.DataFrame, dates: pd.DataFrame, kinds: tuple[str, ...] = PAPER_KINDS
) -> pd.DataFrame:
    """Per opset: additions, updates, changes, ONNX version and release date (NaT if unknown)."""
    counts = opset_counts(history, kinds)
    keep = ["opset", "onnx_version", "release_date", "release_date_source"]
    return counts.merge(dates[keep], on="opset", how="left")


def undated_opsets(history: pd.DataFrame, dates: pd.DataFrame) -> list[int]:
    """Opsets the installed package knows but the dates file does not (add a row for each)."""
    return sorted(set(range(1, int(history["opset"].max()) + 1)) - set(dates["opset"]))


def load_artifact_opset_diff(path: Path | None = None) -> dict[int, dict]:
    """The published artifact's opset lists, names without the ``(deprecated)`` suffix."""
    path = path or artifact_dir() / ARTIFACT_OPSET_FILE
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise DatasetError(
            f"published opset lists not found: {path}", "check ../shared/reference"
        ) from None
    out = {}
    for opset, entry in raw.items():
        out[int(opset)] = {
            "added": sorted(n.removesuffix(_DEPRECATED_SUFFIX) for n in entry["added"]),
            "updated": sorted(n.removesuffix(_DEPRECATED_SUFFIX) for n in entry["updated"]),
            "date": entry.get("date", ""),
        }
    return out


def compare_with_artifact(history: pd.DataFrame, artifact: dict[int, dict]) -> pd.DataFrame:
    """Per opset and change: our count, the artifact's, and the names only one side has.

    ``history`` is compared as given: pass the paper's view (``kind == "operator"``, horizon 18)
    to check the artifact, or everything to see what the artifact leaves out.
    """
    rows = []
    for opset in sorted(artifact):
        for change in ("added", "updated"):
            ours = set(
                history.loc[(history["opset"] == opset) & (history["change"] == change), "operator"]
            )
            theirs = set(artifact[opset][change])
            rows.append(
                {
                    "opset": opset,
                    "change": change,
                    "ours": len(ours),
                    "artifact": len(theirs),
                    "only_ours": " ".join(sorted(ours - theirs)),
                    "only_artifact": " ".join(sorted(theirs - ours)),
                }
            )
    return pd.DataFrame(rows)
