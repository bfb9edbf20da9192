"""One registry of every table, figure and statistic of the paper.

An *artifact* is a function from an :class:`AnalysisContext` to an :class:`ArtifactResult`: a
tidy table and/or figures, plus the comparisons of our numbers with the published ones and the
notes that name the paper's own inconsistencies. ``convfail reproduce`` walks the registry,
writes ``paper_figures/`` and the reproduction report; notebooks call the same functions. An
:class:`Outcome` is one artifact built and written: the runner makes them, the report and the
CLI read them, so the type lives here, beside the artifact it describes.

Modules that define artifacts are listed in :data:`ARTIFACT_MODULES` with the ids each one
registers (with the :func:`artifact` decorator, when imported). Building one artifact imports
only its own module: a module pulls in its theme's libraries (statsmodels for the survey, the
operator schemas of onnx for RQ3, the graph analysis for RQ4), and a user asking for Table 8
should not wait for all of them. A test keeps the list equal to what the modules register.
The list runs from the slowest module to the quickest (RQ4's sequence analysis and its two
forest plots take about 40% of a full run): the runner hands modules to its workers in this
order, so the longest one starts first and the others share the second core meanwhile.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

import pandas as pd
from matplotlib.figure import Figure

from convfail.codebook import Codebook, default_codebook
from convfail.dataset import FINAL_RATER, Study, load_study
from convfail.errors import DatasetError
from convfail.records import ISSUE_KEY, LABEL_DIMENSIONS

ARTIFACT_MODULES: dict[str, tuple[str, ...]] = {
    "analysis.sequences.artifacts": (
        "rq4_sequence_tests",
        "table12_sequences",
        "table15_operators",
    ),
    "analysis.failures.artifacts": (
        "agreement_drift",
        "agreement_pilot",
        "findings_failures",
        "table08_locations",
        "table09_symptoms",
        "table10_causes_by_symptom",
        "table14_causes",
        "table16_causes_by_symptom_full",
    ),
    "analysis.survey.artifacts": (
        "survey_finding1_tools",
        "survey_finding2_purposes",
        "survey_finding3_problems",
        "survey_frameworks",
        "survey_table03_demographics",
        "survey_table04_deployment",
        "survey_table05_addressing",
    ),
    "analysis.evolution.artifacts": (
        "fig5_opset_changes",
        "fig6_failures_over_time",
        "opset_history",
        "rq3_undated_issues",
        "spearman_rq3",
    ),
    "analysis.outcomes.artifacts": ("table11_conversion_outcomes",),
    "analysis.conversions.artifacts": ("conversion_matrix",),
}


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
    # Why the artifact was not built for this study (a dimension it did not code), else empty.
    skipped: str = ""


@dataclass
class AnalysisContext:
    """What artifacts read: a study (loaded lazily, validated against the codebook).

    ``allow_partial_final``: analyse an adjudication (``labels/final.csv``) that does not yet
    cover every sampled issue; without it such a study is refused, since its tables would
    silently count only the adjudicated issues.
    """

    study_name: str = "issta24"
    codebook: Codebook = field(default_factory=default_codebook)
    allow_partial_final: bool = False

    @cached_property
    def study(self) -> Study:
        study = load_study(self.study_name, self.codebook)
        if FINAL_RATER in study.labels and not self.allow_partial_final:
            done, total = final_coverage(study)
            if done < total:
                raise DatasetError(
                    f"study '{self.study_name}': labels/final.csv adjudicates {done} of {total} "
                    "sampled issues",
                    "finish the adjudication, or pass --allow-partial-final to analyse those "
                    f"{done} only",
                )
        return study

    @property
    def is_reference_study(self) -> bool:
        """Published values only apply to the study the paper analysed."""
        return self.study_name == "issta24"

    def label_source(self) -> str:
        """Which label file the analysis reads, and for ``final.csv`` how complete it is."""
        rater = self.study.primary_rater
        if rater != FINAL_RATER:
            return f"labels/{rater}.csv (rater '{rater}'; the study has no final.csv)"
        done, total = final_coverage(self.study)
        state = "complete" if done == total else "partial, allowed by --allow-partial-final"
        return f"labels/final.csv (adjudicated {done} of {total} sampled issues: {state})"

    @cached_property
    def coded_dimensions(self) -> frozenset[str]:
        """The label dimensions the study coded: at least one issue has a value."""
        labelled = self.study.labelled_issues()
        return frozenset(d for d in LABEL_DIMENSIONS if (labelled[d] != "").any())

    def uncoded(self, dimensions: Iterable[str]) -> list[str]:
        return [d for d in dimensions if d not in self.coded_dimensions]


def final_coverage(study: Study) -> tuple[int, int]:
    """How many sampled issues (``in_sample`` not false) ``final.csv`` labels, of how many."""
    sampled = study.issues[study.issues["in_sample"].str.lower() != "false"][ISSUE_KEY]
    final = study.labels[FINAL_RATER][ISSUE_KEY]
    return len(sampled.merge(final, on=ISSUE_KEY)), len(sampled)


@dataclass(frozen=True)
class Artifact:
    id: str
    title: str
    paper_ref: str
    build: Callable[[AnalysisContext], ArtifactResult]
    per_study: bool = True
    # Label dimensions the artifact counts: a study that did not code one of them gets the
    # artifact skipped, with the reason, instead of a table of zeros.
    needs: tuple[str, ...] = ()


@dataclass
class Outcome:
    """One artifact built and written: what the report and the command's summary read."""

    artifact: Artifact
    result: ArtifactResult
    files: list[Path]


REGISTRY: dict[str, Artifact] = {}


def artifact(
    id: str,
    title: str,
    paper_ref: str = "",
    per_study: bool = True,
    needs: tuple[str, ...] = (),
) -> Callable[
    [Callable[[AnalysisContext], ArtifactResult]], Callable[[AnalysisContext], ArtifactResult]
]:
    """Register ``build`` as artifact ``id``; ``per_study`` artifacts run for any study,
    ``needs`` names the label dimensions it counts."""

    def register(build: Callable[[AnalysisContext], ArtifactResult]):
        if id in REGISTRY and REGISTRY[id].build is not build:
            raise ValueError(f"artifact id '{id}' registered twice")
        REGISTRY[id] = Artifact(id, title, paper_ref, build, per_study, needs)
        return build

    return register


def artifact_ids() -> list[str]:
    """Every artifact id, without importing any artifact module."""
    return sorted(i for ids in ARTIFACT_MODULES.values() for i in ids)


def artifacts(per_study_only: bool = False, only: Iterable[str] = ()) -> list[Artifact]:
    """The registered artifacts in id order: all of them, or those in ``only`` (whose modules
    alone are imported)."""
    wanted = set(only)
    for module, ids in ARTIFACT_MODULES.items():
        if not wanted or wanted & set(ids):
            importlib.import_module(module)
    found = sorted(REGISTRY.values(), key=lambda a: a.id)
    if wanted:
        found = [a for a in found if a.id in wanted]
    return [a for a in found if a.per_study] if per_study_only else found


def build_artifact(artifact_id: str, ctx: AnalysisContext | None = None) -> ArtifactResult:
    """Build one artifact by id (importing only its module): what notebooks call."""
    found = artifacts(only=[artifact_id])
    if not found:
        raise KeyError(f"no artifact '{artifact_id}'; known: {', '.join(artifact_ids())}")
    return found[0].build(ctx or AnalysisContext())
