"""One registry of every table, figure and statistic of the paper.

An *artifact* is a function from an :class:`AnalysisContext` to an :class:`ArtifactResult`: a
tidy table and/or figures, plus the comparisons of our numbers with the published ones and the
notes that name the paper's own inconsistencies. ``convfail reproduce`` walks the registry,
writes ``paper_figures/`` and the reproduction report; notebooks call the same functions. An
:class:`Outcome` is one artifact built and written: the runner makes them, the report and the
CLI read them, so the type lives here, beside the artifact it describes.

Modules that define artifacts are listed in :data:`ANALYSIS_MODULES`; each registers its
artifacts with the :func:`artifact` decorator when imported.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

import pandas as pd
from matplotlib.figure import Figure

from convfail.codebook import Codebook, default_codebook
from convfail.dataset import Study, load_study

ANALYSIS_MODULES = [
    "analysis.failures.artifacts",
    "analysis.evolution.artifacts",
    "analysis.survey.artifacts",
    "analysis.outcomes.artifacts",
    "analysis.sequences.artifacts",
    "analysis.conversions.artifacts",
]


@dataclass(frozen=True)
class Check:
    """One published number beside ours."""

    artifact: str
    cell: str
    published: float | str | None
    ours: float | str | None
    tolerance: float = 0.0
    note: str = ""
    # When the paper's number only comes out with a known quirk of its analysis: the value the
    # data really gives. Ours equal to it is "explained" (``note`` says why), anything else a
    # mismatch, so an explained cell still catches a regression.
    expected_discrepancy: float | str | None = None

    @property
    def status(self) -> str:
        """``match``, ``mismatch``, ``explained`` (a mismatch whose reason is on record),
        ``missing`` (we have no such cell) or ``new`` (nothing was published)."""
        if self.published is None:
            return "new"
        if self.ours is None:
            return "missing"
        if self._same(self.published):
            return "match"
        if self.expected_discrepancy is not None and self._same(self.expected_discrepancy):
            return "explained"
        return "mismatch"

    def _same(self, value: float | str) -> bool:
        if isinstance(value, str) or isinstance(self.ours, str):
            return str(value) == str(self.ours)
        return abs(float(value) - float(self.ours)) <= self.tolerance


@dataclass
class ArtifactResult:
    """What an artifact produces; every part is optional."""

    table: pd.DataFrame | None = None
    latex: str | None = None
    figures: dict[str, Figure] = field(default_factory=dict)
    checks: list[Check] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


@dataclass
class AnalysisContext:
    """What artifacts read: a study (loaded lazily, validated against the codebook)."""

    study_name: str = "issta24"
    codebook: Codebook = field(default_factory=default_codebook)

    @cached_property
    def study(self) -> Study:
        return load_study(self.study_name, self.codebook)

    @property
    def is_reference_study(self) -> bool:
        """Published values only apply to the study the paper analysed."""
        return self.study_name == "issta24"


@dataclass(frozen=True)
class Artifact:
    id: str
    title: str
    paper_ref: str
    build: Callable[[AnalysisContext], ArtifactResult]
    per_study: bool = True


@dataclass
class Outcome:
    """One artifact built and written: what the report and the command's summary read."""

    artifact: Artifact
    result: ArtifactResult
    files: list[Path]


REGISTRY: dict[str, Artifact] = {}


def artifact(
    id: str, title: str, paper_ref: str = "", per_study: bool = True
) -> Callable[
    [Callable[[AnalysisContext], ArtifactResult]], Callable[[AnalysisContext], ArtifactResult]
]:
    """Register ``build`` as artifact ``id``; ``per_study`` artifacts run for any study."""

    def register(build: Callable[[AnalysisContext], ArtifactResult]):
        if id in REGISTRY and REGISTRY[id].build is not build:
            raise ValueError(f"artifact id '{id}' registered twice")
        REGISTRY[id] = Artifact(id, title, paper_ref, build, per_study)
        return build

    return register


def artifacts(per_study_only: bool = False) -> list[Artifact]:
    """Every registered artifact, in id order."""
    for module in ANALYSIS_MODULES:
        importlib.import_module(module)
    found = sorted(REGISTRY.values(), key=lambda a: a.id)
    return [a for a in found if a.per_study] if per_study_only else found
