"""Strict reading of the project's YAML settings files: an unknown key is an error, not a no-op.

A misspelt key (``per_sise: 100`` in a ``campaign.yaml``, ``primary_rator`` in a ``study.yaml``)
would otherwise be dropped without a word and the run would use the default. Every settings
reader checks its mappings with :func:`reject_unknown_keys`.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Mapping
from pathlib import Path

from convfail.errors import ConvfailError


class ConfigError(ConvfailError):
    """A settings file holds a key its reader does not know, or is not a mapping."""


def reject_unknown_keys(
    mapping: Mapping[str, object],
    known: Iterable[str],
    path: Path | str,
    where: str = "",
    error: type[ConvfailError] = ConfigError,
) -> None:
    """Raise one ``error`` naming the first unknown key, the file and the place in it."""
    known = sorted(known)
    unknown = sorted(str(k) for k in mapping if k not in known)
    if not unknown:
        return
    key = unknown[0]
    place = f" in {where}" if where else ""
    close = difflib.get_close_matches(key, known, n=1)
    hint = f"did you mean '{close[0]}'? " if close else ""
    raise error(
        f"{path}: unknown key '{key}'{place}",
        f"{hint}known keys: {', '.join(known)}",
    )
