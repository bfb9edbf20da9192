"""Keyboard shortcuts for every choice of the codebook, derived from the codebook itself.

Each top-level dimension takes keys from its own keyboard row (location the digits, symptom the
``qwerty`` row, cause the home and bottom rows), so a rater learns "digits = where, top row =
what, home row = why". Sub-causes are only on screen for one cause at a time, so the sub-causes
of every cause share the digit keys the location left free. A dimension that outgrows its row
borrows from the spare keys; reserved keys (navigation, note, undo, GitHub, search, help) are
never assigned.
"""

from __future__ import annotations

from convfail.codebook import Codebook

NAVIGATION_KEYS = {
    "next": ["n", "ArrowRight"],
    "previous": ["p", "ArrowLeft"],
    "note": ["m"],
    "undo": ["u"],
    "open on GitHub": ["o"],
    "search": ["/"],
    "help": ["?"],
}
RESERVED = {k for keys in NAVIGATION_KEYS.values() for k in keys}
ROWS = {
    "location": "1234567890",
    "symptom": "qwertyi",
    "cause": "asdfghjklzxcvb",
}
SPARE = ",.;'[]-="
TOP_DIMENSIONS = ("location", "symptom", "cause")


def assign_shortcuts(codebook: Codebook) -> dict[str, dict[str, str]]:
    """``{dimension: {category key: shortcut}}``; sub-causes keyed ``cause/subcause``."""
    spare = list(SPARE)
    used: set[str] = set()
    result: dict[str, dict[str, str]] = {}
    for dim in TOP_DIMENSIONS:
        pool = [k for k in ROWS[dim] if k not in used | RESERVED]
        result[dim] = {}
        for cat in codebook[dim]:
            key = pool.pop(0) if pool else (spare.pop(0) if spare else "")
            if key:
                used.add(key)
                result[dim][cat.key] = key
    free_digits = [k for k in ROWS["location"] if k not in used]
    result["subcause"] = {}
    for cause in codebook["cause"]:
        pool = list(free_digits) + [k for k in spare if k not in used]
        for sub in codebook.subcauses(cause.name):
            if pool:
                result["subcause"][sub.key] = pool.pop(0)
    return result
