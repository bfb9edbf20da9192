"""The survey's question catalogue (``data/survey/catalogue.yaml``) as typed objects.

The catalogue is data, not code: which columns an export may have, what each question asks,
its type, its options and which result of the study it serves, plus the themes of the coded open
answers. The importer validates an export against it and the analysis takes labels and option
order from it, so a new export of the same instrument needs no code change.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import yaml

from convfail.config import reject_unknown_keys
from convfail.errors import DatasetError
from convfail.paths import survey_dir

# libyaml's parser when PyYAML has it (the same data, several times faster than pure Python)
_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

QUESTION_TYPES = {"single", "multi", "text", "skip"}
CATALOGUE_FILE = "catalogue.yaml"


@dataclass(frozen=True)
class Option:
    name: str
    label: str
    short: str
    aliases: tuple[str, ...] = ()


@dataclass(frozen=True)
class Question:
    id: str
    text: str
    type: str
    serves: str
    short: str = ""
    options: tuple[Option, ...] = ()
    other_text: str | None = None

    @property
    def option_names(self) -> list[str]:
        return [o.name for o in self.options]

    def option_by_label(self) -> dict[str, Option]:
        """Every accepted spelling of every option, to its option."""
        return {spelling: o for o in self.options for spelling in (o.label, *o.aliases)}

    def labels(self) -> dict[str, str]:
        return {o.name: o.short for o in self.options}


@dataclass(frozen=True)
class Theme:
    name: str
    label: str
    short: str
    reported: bool
    aliases: tuple[str, ...] = ()


@dataclass(frozen=True)
class CodingSheet:
    """How one sheet of the qualitative coding workbook is laid out."""

    question: str
    sheet: str
    text_column: str
    ignore_columns: tuple[str, ...]
    themes: tuple[Theme, ...]
    # The paper's "Other" row: empty when it counts the answers with no reported theme (Table 4),
    # else the unreported themes it bins (Table 5's "Other (i.e., documentation, config)"), and
    # then its shares are of the answers that carry a theme.
    other_themes: tuple[str, ...] = ()

    def theme_by_label(self) -> dict[str, Theme]:
        return {spelling: t for t in self.themes for spelling in (t.label, *t.aliases)}

    @property
    def reported(self) -> list[str]:
        return [t.name for t in self.themes if t.reported]

    def labels(self) -> dict[str, str]:
        return {t.name: t.short for t in self.themes}


@dataclass(frozen=True)
class Catalogue:
    instrument: str
    questions: tuple[Question, ...]
    coding: tuple[CodingSheet, ...]
    artefacts: tuple[str, ...] = ("AnswerDisplayOrder",)
    question_id_row: int = 1
    question_text_row: int = 2
    first_response_row: int = 3
    source: Path | None = field(default=None, compare=False)

    def question(self, qid: str) -> Question:
        for q in self.questions:
            if q.id == qid:
                return q
        raise DatasetError(f"question '{qid}' is not in the survey catalogue {self.source}")

    def coding_sheet(self, qid: str) -> CodingSheet:
        for sheet in self.coding:
            if sheet.question == qid:
                return sheet
        raise DatasetError(f"no coding sheet for question '{qid}' in the survey catalogue")

    def columns(self) -> dict[str, Question]:
        """Every export column the catalogue knows, to the question it belongs to."""
        known = {}
        for q in self.questions:
            known[q.id] = q
            if q.other_text:
                known[q.other_text] = q
        return known


def default_catalogue_path() -> Path:
    return survey_dir() / CATALOGUE_FILE


def load_catalogue(path: Path | None = None) -> Catalogue:
    """Read and validate a catalogue; every defect is one :class:`DatasetError`."""
    path = path or default_catalogue_path()
    try:
        raw = yaml.load(path.read_text(encoding="utf-8"), Loader=_LOADER) or {}
    except FileNotFoundError:
        raise DatasetError(
            f"survey catalogue not found: {path}", "restore data/survey/catalogue.yaml"
        ) from None
    except yaml.YAMLError as exc:
        raise DatasetError(f"{path}: not valid YAML ({exc})") from None
    _reject_unknown(raw, path)
    try:
        questions = tuple(_question(q) for q in raw["questions"])
        coding = tuple(_coding(c) for c in raw.get("coding") or [])
        export = raw.get("export") or {}
        catalogue = Catalogue(
            instrument=str(raw["instrument"]),
            questions=questions,
            coding=coding,
            artefacts=tuple(export.get("artefacts") or ()),
            question_id_row=int(export.get("question_id_row", 1)),
            question_text_row=int(export.get("question_text_row", 2)),
            first_response_row=int(export.get("first_response_row", 3)),
            source=path,
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise DatasetError(
            f"{path}: malformed survey catalogue ({exc!r})", "see the comments at its top"
        ) from None
    _validate(catalogue, path)
    return catalogue


CATALOGUE_KEYS = {
    "": ("instrument", "export", "questions", "coding"),
    "export": ("artefacts", "question_id_row", "question_text_row", "first_response_row"),
    "question": ("id", "text", "type", "serves", "short", "options", "other_text"),
    "option": ("name", "label", "short", "aliases"),
    "coding": (
        "question",
        "sheet",
        "text_column",
        "ignore_columns",
        "themes",
        "other_themes",
    ),
    "theme": ("name", "label", "short", "reported", "aliases"),
}


def _reject_unknown(raw: object, path: Path) -> None:
    """Every mapping of the catalogue holds only keys its reader uses (a typo is an error)."""
    if not isinstance(raw, dict):
        raise DatasetError(
            f"{path}: a survey catalogue is a mapping", "see the comments at its top"
        )

    def check(mapping: object, kind: str, where: str) -> None:
        if isinstance(mapping, dict):
            reject_unknown_keys(mapping, CATALOGUE_KEYS[kind], path, where, DatasetError)

    check(raw, "", "")
    check(raw.get("export"), "export", "export")
    for q in raw.get("questions") or []:
        where = f"question {q.get('id', '?')}" if isinstance(q, dict) else "questions"
        check(q, "question", where)
        for o in (q.get("options") or []) if isinstance(q, dict) else []:
            check(o, "option", f"{where}, option {o.get('name', '?')}")
    for c in raw.get("coding") or []:
        where = f"coding of {c.get('question', '?')}" if isinstance(c, dict) else "coding"
        check(c, "coding", where)
        for t in (c.get("themes") or []) if isinstance(c, dict) else []:
            check(t, "theme", f"{where}, theme {t.get('name', '?')}")


def _question(raw: dict) -> Question:
    options = tuple(
        Option(
            name=str(o["name"]),
            label=str(o["label"]),
            short=str(o.get("short") or o["label"]),
            aliases=tuple(o.get("aliases") or ()),
        )
        for o in raw.get("options") or []
    )
    return Question(
        id=str(raw["id"]),
        text=str(raw["text"]),
        type=str(raw["type"]),
        serves=str(raw["serves"]),
        short=str(raw.get("short") or raw["id"]),
        options=options,
        other_text=raw.get("other_text"),
    )


def _coding(raw: dict) -> CodingSheet:
    themes = tuple(
        Theme(
            name=str(t["name"]),
            label=str(t["label"]),
            short=str(t.get("short") or t["label"]),
            reported=bool(t.get("reported", False)),
            aliases=tuple(t.get("aliases") or ()),
        )
        for t in raw.get("themes") or []
    )
    return CodingSheet(
        question=str(raw["question"]),
        sheet=str(raw["sheet"]),
        text_column=str(raw["text_column"]),
        ignore_columns=tuple(raw.get("ignore_columns") or ()),
        themes=themes,
        other_themes=tuple(raw.get("other_themes") or ()),
    )


def _validate(catalogue: Catalogue, path: Path) -> None:
    seen: set[str] = set()
    for q in catalogue.questions:
        if q.type not in QUESTION_TYPES:
            raise DatasetError(
                f"{path}: question {q.id} has type '{q.type}'",
                f"use one of {sorted(QUESTION_TYPES)}",
            )
        for column in filter(None, (q.id, q.other_text)):
            if column in seen:
                raise DatasetError(f"{path}: column '{column}' is declared twice")
            seen.add(column)
        if q.type in {"single", "multi"} and not q.options:
            raise DatasetError(f"{path}: {q.type} question {q.id} has no options")
        names = q.option_names
        if len(set(names)) != len(names) or len(set(q.option_by_label())) != sum(
            1 + len(o.aliases) for o in q.options
        ):
            raise DatasetError(f"{path}: question {q.id} repeats an option name or label")
    for sheet in catalogue.coding:
        if sheet.question not in seen:
            raise DatasetError(
                f"{path}: coding sheet '{sheet.sheet}' codes unknown question {sheet.question}"
            )
        names = [t.name for t in sheet.themes]
        if len(set(names)) != len(names):
            raise DatasetError(f"{path}: coding sheet '{sheet.sheet}' repeats a theme name")
        strays = sorted(set(sheet.other_themes) - set(names))
        if strays:
            raise DatasetError(
                f"{path}: coding sheet '{sheet.sheet}' bins unknown theme(s) {strays} as other",
                f"choose from: {', '.join(names)}",
            )
