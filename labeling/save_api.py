"""One save request of the page's script, and the answer the page needs to show what happened.

The answer always says why a save failed, in words a rater can act on: a conflict with another
tab (both answers, so the rater chooses), a value the codebook refuses, or the disk refusing the
write (full, read-only, no permission). The page keeps the unsaved choice on screen either way.
"""

from __future__ import annotations

import errno
from collections.abc import Callable
from dataclasses import dataclass

from convfail.errors import ConvfailError
from labeling.store import HistoryNotWritten, LabelConflict, row_version

EXPECTED = "expected repository, number and field + value (or changes), optionally base"
DISK_REASONS = {
    errno.ENOSPC: "the disk is full",
    errno.EDQUOT: "the disk quota is used up",
    errno.EROFS: "the labels folder is on a read-only file system",
    errno.EACCES: "no permission to write the labels folder",
    errno.EPERM: "no permission to write the labels folder",
}


@dataclass(frozen=True)
class SaveRequest:
    repository: str
    number: int
    changes: dict[str, str]
    base: str | None = None
    seconds: float | None = None
    undo: bool = False

    @classmethod
    def parse(cls, payload: object) -> SaveRequest | str:
        """The request, or the line that says what is wrong with it."""
        if not isinstance(payload, dict):
            return EXPECTED
        try:
            repository, number = str(payload["repository"]), int(payload["number"])
            if "changes" in payload:
                changes = {str(k): str(v or "") for k, v in dict(payload["changes"]).items()}
            else:
                changes = {str(payload["field"]): str(payload.get("value") or "")}
            base = payload.get("base")
            seconds = payload.get("seconds")
            return cls(
                repository,
                number,
                changes,
                None if base is None else str(base),
                None if seconds is None else max(0.0, float(seconds)),
                bool(payload.get("undo", False)),
            )
        except (KeyError, TypeError, ValueError):
            return EXPECTED


def disk_reason(exc: OSError) -> str:
    reason = DISK_REASONS.get(exc.errno or 0, exc.strerror or str(exc))
    return f"not saved: {reason} ({exc.filename or 'labels folder'})"


def save_response(
    save: Callable[[SaveRequest], dict[str, str]], wanted: SaveRequest
) -> tuple[dict, int]:
    """Run ``save`` and turn the outcome into the JSON body and HTTP status of the answer."""
    try:
        row = save(wanted)
    except HistoryNotWritten as exc:
        return {"label": exc.row, "version": row_version(exc.row), "warning": str(exc)}, 200
    except LabelConflict as exc:
        conflict = {"theirs": exc.theirs, "version": exc.version, "yours": exc.yours}
        return {"error": str(exc), "conflict": conflict}, 409
    except ConvfailError as exc:
        return {"error": str(exc)}, 422
    except OSError as exc:
        status = 507 if exc.errno in (errno.ENOSPC, errno.EDQUOT) else 503
        return {"error": disk_reason(exc)}, status
    return {"label": row, "version": row_version(row)}, 200
