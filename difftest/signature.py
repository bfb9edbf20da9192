"""Normalised error signatures: group failures into "unique errors".

Two failures are the same error when their messages differ only in things that vary per model:
node and tensor names, numbers, shapes, addresses, file paths. :func:`normalise` keeps the error
type, the operator names and the message's words and replaces the rest with placeholders, e.g.

    [ONNXRuntimeError] : 9 : NOT_IMPLEMENTED : Could not find an implementation for Greater(13)
    node with name 'Greater_0'
    -> NOT_IMPLEMENTED : Could not find an implementation for Greater(<n>) node with name <name>
"""

from __future__ import annotations

import hashlib
import re

MAX_LENGTH = 240

_RULES: list[tuple[re.Pattern, str]] = [
    (re.compile(r"\[ONNXRuntimeError\]\s*:\s*\d+\s*:\s*"), ""),
    (re.compile(r"Status Message:.*"), ""),  # ORT repeats a source location and the details
    (re.compile(r"(?:[A-Za-z]:)?(?:/[\w.\-+@]+){2,}(?::\d+)?"), "<path>"),
    (re.compile(r"0x[0-9a-fA-F]+"), "<addr>"),
    (re.compile(r"'(?![a-z_]+::\w+'|tensor\()[^']*'|\"[^\"]*\"|`[^`]*`"), "<name>"),
    (re.compile(r"\([^()\s]*/[^()\s]*\)?"), "<name>"),
    (re.compile(r"\{\{node [^}]*\}\}"), "{{node <name>}}"),
    (re.compile(r"\{[\d\s,\-]*\}|\[[\d\s,\-?Nne]*\]|\([\d\s\-]*,[\d\s,\-]*\)"), "<shape>"),
    (re.compile(r"(?<![\w.])[-+]?\d+(?:\.\d+)?(?:e[-+]?\d+)?(?!\w)"), "<n>"),
    (re.compile(r"\s+"), " "),
]


def first_line(message: str) -> str:
    """The first non-empty line (tracebacks and IR dumps follow it)."""
    for line in message.strip().splitlines():
        if line.strip():
            return line.strip()
    return ""


def normalise(message: str) -> str:
    text = first_line(message)
    for pattern, replacement in _RULES:
        text = pattern.sub(replacement, text)
    return text.strip(" :.")[:MAX_LENGTH]


def signature(outcome: str, error_type: str, message: str) -> str:
    """``outcome | error type | normalised message``: the key of a unique error."""
    return f"{outcome} | {error_type} | {normalise(message)}"


def signature_id(sig: str) -> str:
    """A short stable id of a signature, for file names and tables."""
    return hashlib.sha1(sig.encode()).hexdigest()[:10]
