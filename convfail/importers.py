"""The plug-in point for importers of third-party data (``convfail data import-artifact``).

Each stage that can import part of the published artifact declares a function under the
``convfail.importers`` entry point. The function receives an :class:`ImportContext`, reads only
inputs, validates everything, and returns the files it wrote; it must raise before writing
anything when an input is malformed.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from importlib.metadata import entry_points
from pathlib import Path

from convfail.codebook import Codebook, load_codebook
from convfail.errors import ArtifactImportError, ConvfailError
from convfail.paths import artifact_dir, data_dir, shared_reference_dir

IMPORTER_GROUP = "convfail.importers"


@dataclass(frozen=True)
class ImportContext:
    artifact: Path
    data_dir: Path
    codebook: Codebook
    created_dates: Path | None = None


Importer = Callable[[ImportContext], list[Path]]


def registered_importers() -> dict[str, Importer]:
    """Importers by name, in name order (stable, so imports run in the same order every time)."""
    found = {ep.name: ep for ep in entry_points(group=IMPORTER_GROUP)}
    return {name: found[name].load() for name in sorted(found)}


def import_artifact_data(
    path: Path | None, created_dates: Path | None, only: tuple[str, ...] = ()
) -> Iterator[tuple[str, list[Path]]]:
    """Run the registered importers (or ``only`` those) on the artifact at ``path``.

    ``path`` defaults to ``../shared/reference/issta24-artifact``; the creation dates to the
    ``issue-created-dates.csv`` beside the artifact, else the shared reference's. Every input
    is checked before the first importer runs. Yields each importer's name and files written.
    """
    artifact = path or artifact_dir()
    if not artifact.is_dir():
        raise ConvfailError(
            f"artifact folder not found: {artifact}",
            "pass the path of a checkout of the issta24 artifact",
        )
    if created_dates is None:
        sibling = artifact.parent / DATES_FILE
        created_dates = sibling if sibling.is_file() else shared_reference_dir() / DATES_FILE
    if not created_dates.is_file():
        raise ConvfailError(
            f"creation-date file not found: {created_dates}", "pass --created-dates"
        )
    importers = registered_importers()
    unknown = [name for name in only if name not in importers]
    if unknown:
        raise ConvfailError(
            f"unknown importer(s): {', '.join(unknown)}", f"choose from: {', '.join(importers)}"
        )
    ctx = ImportContext(
        artifact=artifact.resolve(),
        data_dir=data_dir(),
        codebook=load_codebook(),
        created_dates=created_dates.resolve(),
    )
    for name, importer in importers.items():
        if not only or name in only:
            yield name, importer(ctx)


DATES_FILE = "issue-created-dates.csv"
LICENCE_FILE = "LICENSE-issta24-artifact"


def artifact_licence(licence: Path) -> dict[str, str]:
    """The artifact's licence text, to ship beside every dataset derived from it (Apache-2.0
    asks derived data to keep the notice)."""
    if not licence.is_file():
        raise ArtifactImportError(
            f"licence file not found: {licence}", "the artifact ships LICENSE"
        )
    return {LICENCE_FILE: licence.read_text(encoding="utf-8")}
