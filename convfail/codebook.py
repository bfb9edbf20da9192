"""The failure taxonomy as data: load, validate and look up ``data/codebook.yaml``.

A category is identified by its dimension and stable code (``cause`` 2), has a canonical name
used everywhere in the project's files (``incompatibility``), the name the paper prints, the
names the original spreadsheets used (typos included, so imports can check code/name pairs) and
a definition for the person labelling. Sub-causes belong to a parent cause.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from convfail.config import reject_unknown_keys
from convfail.errors import CodebookError
from convfail.paths import codebook_path

DIMENSIONS = ("location", "symptom", "cause", "subcause")
CATEGORY_KEYS = ("code", "name", "paper_name", "sheet_names", "definition", "parent", "catch_all")


@dataclass(frozen=True)
class Category:
    """One value of one dimension."""

    dimension: str
    code: int
    name: str
    paper_name: str
    sheet_names: tuple[str, ...]
    definition: str
    parent: str | None = None
    catch_all: bool = False

    @property
    def key(self) -> str:
        """Unique name within the dimension (sub-causes are qualified by their cause)."""
        return f"{self.parent}/{self.name}" if self.parent else self.name


@dataclass(frozen=True)
class Dimension:
    name: str
    description: str
    categories: tuple[Category, ...]

    def __iter__(self) -> Iterator[Category]:
        return iter(self.categories)

    @property
    def names(self) -> list[str]:
        return [c.name for c in self.categories]


@dataclass(frozen=True)
class Codebook:
    version: str
    source: Path
    dimensions: dict[str, Dimension] = field(default_factory=dict)

    def __getitem__(self, dimension: str) -> Dimension:
        try:
            return self.dimensions[dimension]
        except KeyError:
            raise CodebookError(
                f"unknown codebook dimension '{dimension}'",
                f"use one of: {', '.join(self.dimensions)}",
            ) from None

    def category(self, dimension: str, name: str, parent: str | None = None) -> Category:
        """Look a category up by canonical name (sub-causes need their parent cause)."""
        for cat in self[dimension]:
            if cat.name == name and cat.parent == parent:
                return cat
        where = f" under cause '{parent}'" if parent else ""
        raise CodebookError(
            f"'{name}' is not a {dimension}{where} in codebook {self.version} ({self.source})",
            f"valid values: {', '.join(self.valid_names(dimension, parent))}",
        )

    def by_code(self, dimension: str, code: int, parent: str | None = None) -> Category:
        """Look a category up by its numeric code, as the spreadsheets' "by Number" columns hold."""
        for cat in self[dimension]:
            if cat.code == code and cat.parent == parent:
                return cat
        where = f" under cause '{parent}'" if parent else ""
        valid = ", ".join(f"{c.code}={c.name}" for c in self[dimension] if c.parent == parent)
        raise CodebookError(
            f"code {code} is not a {dimension}{where} in codebook {self.version} ({self.source})",
            f"valid codes: {valid}",
        )

    def valid_names(self, dimension: str, parent: str | None = None) -> list[str]:
        return [c.name for c in self[dimension] if c.parent == parent]

    def subcauses(self, cause: str) -> list[Category]:
        """Sub-causes of a cause; empty when the cause has none."""
        return [c for c in self["subcause"] if c.parent == cause]

    def paper_label(self, dimension: str, name: str, parent: str | None = None) -> str:
        return self.category(dimension, name, parent).paper_name


def _fail(path: Path, entry: str, problem: str) -> CodebookError:
    return CodebookError(f"{path}: {entry}: {problem}", "fix the codebook file and run again")


def _parse_category(path: Path, dim: str, raw: object, index: int) -> Category:
    entry = f"{dim}[{index}]"
    if not isinstance(raw, dict):
        raise _fail(path, entry, "each category must be a mapping")
    if "name" in raw:
        entry = f"{dim} '{raw['name']}'"
    reject_unknown_keys(raw, CATEGORY_KEYS, path, entry, CodebookError)
    for key in ("code", "name", "definition"):
        value = raw.get(key)
        if value is None or (isinstance(value, str) and not value.strip()):
            raise _fail(path, entry, f"missing {key}")
    code = raw["code"]
    if not isinstance(code, int) or isinstance(code, bool):
        raise _fail(path, entry, f"code must be an integer, got {code!r}")
    sheet_names = raw.get("sheet_names", [])
    if isinstance(sheet_names, str):
        sheet_names = [sheet_names]
    return Category(
        dimension=dim,
        code=code,
        name=str(raw["name"]),
        paper_name=str(raw.get("paper_name") or raw["name"]),
        sheet_names=tuple(str(s) for s in sheet_names),
        definition=" ".join(str(raw["definition"]).split()),
        parent=raw.get("parent"),
        catch_all=bool(raw.get("catch_all", False)),
    )


def load_codebook(path: Path | None = None) -> Codebook:
    """Read and validate a codebook file; any defect raises one :class:`CodebookError`."""
    path = Path(path) if path else codebook_path()
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise CodebookError(
            f"codebook file not found: {path}", "restore data/codebook.yaml from git"
        ) from None
    except yaml.YAMLError as exc:
        raise _fail(path, "file", f"not valid YAML ({exc.__class__.__name__})") from None
    if not isinstance(raw, dict) or "version" not in raw or "dimensions" not in raw:
        raise _fail(path, "file", "expected top-level keys 'version' and 'dimensions'")
    reject_unknown_keys(raw, ("version", "dimensions"), path, error=CodebookError)
    dims_raw = raw["dimensions"]
    reject_unknown_keys(dims_raw or {}, DIMENSIONS, path, "dimensions", CodebookError)
    missing = [d for d in DIMENSIONS if d not in (dims_raw or {})]
    if missing:
        raise _fail(path, "dimensions", f"missing dimension(s): {', '.join(missing)}")
    dimensions: dict[str, Dimension] = {}
    for dim in DIMENSIONS:
        body = dims_raw[dim] or {}
        reject_unknown_keys(body, ("description", "categories"), path, dim, CodebookError)
        cats = [_parse_category(path, dim, c, i) for i, c in enumerate(body.get("categories", []))]
        if not cats:
            raise _fail(path, dim, "has no categories")
        seen_codes: dict[tuple[str | None, int], Category] = {}
        seen_names: dict[tuple[str | None, str], Category] = {}
        for cat in cats:
            if (cat.parent, cat.code) in seen_codes:
                other = seen_codes[(cat.parent, cat.code)]
                raise _fail(
                    path, f"{dim} '{cat.name}'", f"duplicate code {cat.code} (also '{other.name}')"
                )
            if (cat.parent, cat.name) in seen_names:
                raise _fail(path, f"{dim} '{cat.name}'", "duplicate name")
            seen_codes[(cat.parent, cat.code)] = cat
            seen_names[(cat.parent, cat.name)] = cat
            if dim != "subcause" and cat.parent is not None:
                raise _fail(path, f"{dim} '{cat.name}'", "only sub-causes may have a parent")
        dimensions[dim] = Dimension(dim, str(body.get("description", "")).strip(), tuple(cats))
    causes = {c.name for c in dimensions["cause"]}
    for sub in dimensions["subcause"]:
        if sub.parent is None:
            raise _fail(path, f"subcause '{sub.name}'", "missing parent cause")
        if sub.parent not in causes:
            raise _fail(path, f"subcause '{sub.name}'", f"unknown parent cause '{sub.parent}'")
    return Codebook(version=str(raw["version"]), source=path, dimensions=dimensions)


def default_codebook() -> Codebook:
    """The codebook of the project the command runs in (``data/codebook.yaml``)."""
    return load_codebook()
