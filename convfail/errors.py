"""Error types that speak to people.

Every error the project raises on purpose derives from :class:`ConvfailError` and carries a
message saying what went wrong and a hint saying what to do. The CLI prints them as one line
and exits non-zero; any other exception reaching the user is a bug.
"""

from __future__ import annotations


class ConvfailError(Exception):
    """Base class: ``message`` says what is wrong, ``hint`` what the user can do about it."""

    exit_code = 1

    def __init__(self, message: str, hint: str = "") -> None:
        super().__init__(message, hint)  # both in args, so the error survives pickling
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return f"{self.message} ({self.hint})" if self.hint else self.message


class CodebookError(ConvfailError):
    """The codebook file is malformed, or a label uses a code the codebook does not define."""


class DatasetError(ConvfailError):
    """A dataset file under ``data/`` is missing, malformed or inconsistent."""


class ArtifactImportError(ConvfailError):
    """A third-party input (the published artifact) does not have the expected shape."""


class StudyNotFoundError(DatasetError):
    """The named study has no folder under ``data/studies/``."""
