"""Theme 1 artifacts of the reproduction: Table 3, frameworks, Findings 1-3, Tables 4 and 5.

Each ``build_*`` function turns an imported survey into an :class:`ArtifactResult` (tidy table,
LaTeX, bar chart with Wilson CIs, and - for the published survey - the checks against the paper
and notes naming its quirks). The registered artifacts run them on ``data/survey``; a follow-up
survey with the same instrument runs them on its own folder with ``reference=False``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from analysis.published import checks_for
from analysis.registry import AnalysisContext, ArtifactResult, artifact
from analysis.runner import write_result
from analysis.survey import tables
from analysis.survey.data import SurveyData, duplicate_respondents, load_survey
from analysis.survey.render import proportion_bars, proportion_latex


def _titles(data: SurveyData) -> dict[str, str]:
    titles = {q.id: q.short for q in data.catalogue.questions}
    titles[tables.DERIVED] = "Interoperability tools (derived)"
    return titles


def _result(
    data: SurveyData,
    artifact_id: str,
    table: pd.DataFrame,
    caption: str,
    reference: bool,
    notes: list[str],
) -> ArtifactResult:
    titles = _titles(data)
    result = ArtifactResult(
        table=table,
        latex=proportion_latex(table, caption, f"tab:{artifact_id}", titles),
        figures={artifact_id: proportion_bars(table, caption, titles)},
    )
    if reference:
        result.checks = checks_for(artifact_id, table, "count")
        result.notes = notes
    return result


def build_table03(data: SurveyData, reference: bool = False) -> ArtifactResult:
    table = tables.table03_demographics(data)
    first = data.respondents.iloc[0]
    own = data.answers.loc[data.answers["response_id"] == first["response_id"], "question"]
    low, high = table["denominator"].min(), table["denominator"].max()
    bases = str(low) if low == high else f"{low}-{high}"
    notes = [
        f"Every share is of the respondents who answered the question ({bases} of {data.size}); "
        "every question was optional.",
        f"Response {first['response_id']} (export row {first['source_row']}) answered only "
        f"{', '.join(sorted(set(own)))}: no consent, no experience. The paper counts it among "
        "the 92 responses (its Desktop answer is one of the 19), and so do we.",
        *(
            f"Possible double submission: {line}; the paper counts both, and so do we."
            for line in duplicate_respondents(data.respondents, data.answers)
        ),
    ]
    caption = "Demographics of the survey respondents"
    return _result(data, "survey_table03_demographics", table, caption, reference, notes)


def build_frameworks(data: SurveyData, reference: bool = False) -> ArtifactResult:
    table = tables.frameworks(data)
    answered = int(data.answered("Q60").sum())
    notes = [
        f"Shares are given of the {answered} who answered Q60 and of all {data.size} "
        "respondents; with the original analysis' denominator quirk (the row of question texts "
        f"counted) the base would be {answered + 1}. The paper's framework percentages are "
        "known to differ slightly from these counts, most likely by the base they use; they "
        "are not in the published values we hold, so none are checked.",
    ]
    caption = "Frameworks used for model development"
    return _result(data, "survey_frameworks", table, caption, reference, notes)


def build_finding1(data: SurveyData, reference: bool = False) -> ArtifactResult:
    table = tables.finding1_tools(data)
    row = table.set_index(["question", "category", "basis"])
    no_tool = int(row.loc[(tables.DERIVED, "no_tool", tables.ALL), "count"])
    users = data.selections("Q61")["yes"] | data.selections("Q62").any(axis=1)
    purposes_without_tool = int((data.answered("Q63") & ~users).sum())
    notes = [
        "ONNX use (42%) is of all 92 respondents, as in the paper; of the 90 who answered Q61 "
        "it is 43%.",
        "'Uses no interoperability tool' (the paper's 'the rest (41%)'): two derivations give "
        "38/92 exactly and the shipped data cannot tell them apart: 92 minus 39 ONNX users minus "
        "15 other-tool users (the paper's own wording, respondents using both counted twice), "
        "or 92 minus the 54 non-empty cells of the purposes question Q63, the row of question "
        "texts included, as the original analysis' denominators do. Both are rows of the table. "
        f"By their own answers, {no_tool}/{data.size} respondents said No to ONNX and named "
        "no other tool.",
        f"Q63 was shown to everyone: {purposes_without_tool} respondents who use neither ONNX "
        "nor another tool still answered it.",
    ]
    caption = "ONNX and other interoperability tools"
    return _result(data, "survey_finding1_tools", table, caption, reference, notes)


def build_finding2(data: SurveyData, reference: bool = False) -> ArtifactResult:
    table = tables.finding2_purposes(data)
    notes = [
        "The paper's 54 tool users fit two derivations exactly: 39 ONNX users + 15 other-tool "
        "users, or the 53 answers to Q63 plus the export's row of question texts. The data "
        "cannot tell them apart; the shares here are of the 53 who answered Q63. The counts 37 "
        "and 28 are the same under every reading."
    ]
    caption = "Purposes of interoperability tools"
    return _result(data, "survey_finding2_purposes", table, caption, reference, notes)


def build_finding3(data: SurveyData, reference: bool = False) -> ArtifactResult:
    table = tables.finding3_problems(data)
    notes = [
        "The paper's 32/54 is (54 non-empty Q65 cells - 22 'no common problems') / 54. The 54 "
        "include the row of question texts and 2 cells that hold only the export artefact "
        "'AnswerDisplayOrder' (no answer); the 32 also drops the 4 respondents who ticked 'no "
        "common problems' together with a problem, whose problems are in the crash and "
        "performance counts (19 each).",
        "Correct: 33 of the 51 who answered ticked at least one problem; problem shares are of "
        "those 33.",
    ]
    caption = "Problems met with ONNX"
    return _result(data, "survey_finding3_problems", table, caption, reference, notes)


def _coverage_note(data: SurveyData, qid: str) -> str:
    c = tables.coding_coverage(data, qid)
    return (
        f"Coding sheet vs export for {qid}: {c['answers_in_coding_sheet']} coded answers "
        f"({c['with_a_theme']} with a theme), {c['linked_to_a_response']} linked to a response "
        f"by their text; the export holds {c['answers_in_export']} answers, "
        f"{c['export_answers_not_coded']} of them not in the coding sheet (not coded by the "
        "authors). An answer can carry several themes; 'Other' = answers with no reported theme."
    )


def build_table04(data: SurveyData, reference: bool = False) -> ArtifactResult:
    table = tables.table04_deployment(data)
    notes = [
        _coverage_note(data, "Q64"),
        "The paper's Simplicity 8, Inference speed 5 and Portability 5 are each one higher than "
        "the coding sheet (7, 4, 4); the artifact holds no coding that gives them. Minor themes "
        "(Stability, Documentation, Maintenance) occur only beside a reported theme.",
        "The paper prints 35% for 13/32 (deploy directly from the framework); 13/32 is 41%.",
    ]
    caption = "Deployment considerations (coded open answers)"
    return _result(data, "survey_table04_deployment", table, caption, reference, notes)


def build_table05(data: SurveyData, reference: bool = False) -> ArtifactResult:
    table = tables.table05_addressing(data)
    notes = [
        _coverage_note(data, "Q66"),
        "The paper's reading, reproduced: its row 'Other (i.e., documentation, config)' counts "
        "the answers coded Documentation or Conversion config (3), and its shares are of the 16 "
        "answers that carry a theme (the sheet's 17th answer has none). The sheet's other minor "
        "themes (case-by-case, use the DL framework) are in no row of the paper's table.",
    ]
    caption = "Ways of addressing problems with ONNX (coded open answers)"
    return _result(data, "survey_table05_addressing", table, caption, reference, notes)


@dataclass(frozen=True)
class SurveyArtifact:
    """One survey artifact, listed once: the registry entry and the follow-up surveys' builder.

    ``coded_question``: the open question whose coded answers the artifact counts; a follow-up
    survey without a coding of it skips the artifact.
    """

    id: str
    title: str
    paper_ref: str
    build: Callable[[SurveyData, bool], ArtifactResult]
    coded_question: str | None = None


SURVEY_ARTIFACTS = [
    SurveyArtifact("survey_table03_demographics", "Survey: demographics", "Table 3", build_table03),
    SurveyArtifact(
        "survey_frameworks", "Survey: frameworks used", "Finding 1 (frameworks)", build_frameworks
    ),
    SurveyArtifact(
        "survey_finding1_tools",
        "Survey: ONNX and other interoperability tools",
        "Finding 1",
        build_finding1,
    ),
    SurveyArtifact(
        "survey_finding2_purposes",
        "Survey: purposes of interoperability tools",
        "Finding 2",
        build_finding2,
    ),
    SurveyArtifact(
        "survey_finding3_problems", "Survey: problems met with ONNX", "Finding 3", build_finding3
    ),
    SurveyArtifact(
        "survey_table04_deployment",
        "Survey: deployment considerations",
        "Table 4",
        build_table04,
        coded_question="Q64",
    ),
    SurveyArtifact(
        "survey_table05_addressing",
        "Survey: ways of addressing problems",
        "Table 5",
        build_table05,
        coded_question="Q66",
    ),
]


def _register(spec: SurveyArtifact) -> None:
    """The published survey's artifact: ``spec.build`` on ``data/survey``, with the checks."""

    @artifact(spec.id, spec.title, spec.paper_ref, per_study=False)
    def build(ctx: AnalysisContext) -> ArtifactResult:
        return spec.build(load_survey(), True)


for _spec in SURVEY_ARTIFACTS:
    _register(_spec)


def write_follow_up(data: SurveyData, out: Path) -> tuple[list[Path], list[str]]:
    """Every survey artifact of a follow-up survey written to ``out`` (no published checks).

    Returns the files and one line per artifact skipped: a coded table whose question has no
    coded answers in this survey.
    """
    files, skipped = [], []
    for spec in SURVEY_ARTIFACTS:
        question = spec.coded_question
        if question and data.coded[data.coded["question"] == question].empty:
            skipped.append(f"{spec.id}: skipped, no coded answers to {question}")
            continue
        files += write_result(spec.build(data, False), spec.id, out)
    return files, skipped
