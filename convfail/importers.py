"""The plug-in point for importers of third-party data (``convfail data import-artifact``).

Each stage that can import part of the published artifact declares a function under the
``convfail.importers`` entry point. The function receives an :class:`ImportContext`, reads only
inputs, validates everything, and returns the files it wrote; it must raise before writing
anything when an input is malformed.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from importlib.metadata import entry_points
from pathlib import Path

from convfail.codebook import Codebook
from convfail.errors import ArtifactImportError

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


LICENCE_FILE = "LICENSE-issta24-artifact"


def artifact_licence(licence: Path) -> dict[str, str]:
    """The artifact's licence text, to ship beside every dataset derived from it (Apache-2.0
    asks derived data to keep the notice)."""
    if not licence.is_file():
        raise ArtifactImportError(
            f"licence file not found: {licence}", "the artifact ships LICENSE"
        )
    return {LICENCE_FILE: licence.read_text(encoding="utf-8")}
