"""Theme 1 (RQ1): the survey's tables as pure functions of the imported survey.

Each function returns the tidy frame of :mod:`analysis.survey.stats`: one row per share, with
its count, denominator, what the denominator counts (``basis``) and a Wilson 95% CI. Option and
theme order and labels come from the catalogue. Denominators are the respondents who actually
answered (a cell holding only the export artefact ``AnswerDisplayOrder`` is no answer; the row
of question texts is never a response).
"""

from __future__ import annotations

import pandas as pd

from analysis.survey.data import SurveyData
from analysis.survey.stats import frame, option_shares, proportion

DEMOGRAPHICS = ["Q1", "Q2", "Q5", "Q67"]
PROBLEM_OPTIONS = ["crashes", "performance_differences", "other"]
DERIVED = "derived"
OTHER = "other"
ALL = "all respondents"


def _answered_basis(qid: str) -> str:
    return f"answered {qid}"


def closed_question(data: SurveyData, qid: str) -> list[dict]:
    """Each option's share among the respondents who answered ``qid``."""
    question = data.catalogue.question(qid)
    return option_shares(
        data.selections(qid), qid, question.labels(), data.answered(qid), _answered_basis(qid)
    )


def table03_demographics(data: SurveyData) -> pd.DataFrame:
    """Table 3: experience in ML and SE, organisation size, deployment environments."""
    return frame(row for qid in DEMOGRAPHICS for row in closed_question(data, qid))


def frameworks(data: SurveyData) -> pd.DataFrame:
    """Frameworks used for model development (Q60), of those who answered and of everyone."""
    question = data.catalogue.question("Q60")
    everyone = pd.Series(True, index=data.respondents["response_id"])
    rows = closed_question(data, "Q60")
    rows += option_shares(data.selections("Q60"), "Q60", question.labels(), everyone, ALL)
    return frame(rows)


def finding1_tools(data: SurveyData) -> pd.DataFrame:
    """Finding 1: ONNX use, other interoperability tools, and who uses none."""
    n = data.size
    onnx = data.selections("Q61")
    uses_onnx = onnx["yes"]
    others = data.selections("Q62")
    uses_other = others.any(axis=1)
    rows = [
        proportion("Q61", "yes", "Uses ONNX", int(uses_onnx.sum()), n, ALL),
        *closed_question(data, "Q61"),
        proportion(
            "Q62", "any", "Uses another interoperability tool", int(uses_other.sum()), n, ALL
        ),
        *closed_question(data, "Q62"),
        proportion(
            DERIVED,
            "onnx_or_other_tool",
            "Uses ONNX or another tool",
            int((uses_onnx | uses_other).sum()),
            n,
            ALL,
        ),
        proportion(
            DERIVED,
            "no_tool",
            "No to ONNX and no other tool",
            int((onnx["no"] & ~uses_other).sum()),
            n,
            ALL,
        ),
        proportion(
            DERIVED,
            "no_purpose_answer",
            "Did not answer the purposes question (Q63)",
            int((~data.answered("Q63")).sum()),
            n,
            ALL,
        ),
        # The two readings that give the paper's "the rest (41%)" exactly (see the report).
        proportion(
            DERIVED,
            "rest_after_onnx_and_other_users",
            "Total minus ONNX users minus other-tool users (the paper's wording)",
            n - int(uses_onnx.sum()) - int(uses_other.sum()),
            n,
            ALL,
        ),
        proportion(
            DERIVED,
            "rest_after_q63_cells",
            "Total minus the non-empty Q63 cells, row of question texts included",
            n - int(data.answered("Q63").sum()) - 1,
            n,
            ALL,
        ),
    ]
    return frame(rows)


def finding2_purposes(data: SurveyData) -> pd.DataFrame:
    """Finding 2: purposes of interoperability tools (Q63), of those who answered."""
    return frame(closed_question(data, "Q63"))


def finding3_problems(data: SurveyData) -> pd.DataFrame:
    """Finding 3: who meets problems with ONNX, and which ones (Q65)."""
    question = data.catalogue.question("Q65")
    selections = data.selections("Q65")
    answered = data.answered("Q65")
    meets = selections[PROBLEM_OPTIONS].any(axis=1) & answered
    base = int(answered.sum())
    basis = _answered_basis("Q65")
    rows = [
        proportion(
            "Q65", "meets_problems", "Ticked at least one problem", int(meets.sum()), base, basis
        ),
        proportion(
            "Q65",
            "no_problems",
            question.labels()["no_problems"],
            int(selections["no_problems"].sum()),
            base,
            basis,
        ),
        proportion(
            "Q65",
            "no_problems_and_a_problem",
            "Ticked 'no common problems' and a problem",
            int((selections["no_problems"] & meets).sum()),
            base,
            basis,
        ),
        *option_shares(
            selections[PROBLEM_OPTIONS], "Q65", question.labels(), meets, "ticked a problem"
        ),
    ]
    return frame(rows)


def coded_themes(data: SurveyData, qid: str) -> pd.DataFrame:
    """Reported themes of a coded open question plus the paper's ``other`` row.

    ``other`` is what the coding sheet's ``other_themes`` says the paper binned: the answers with
    one of those themes, of the answers with any theme; without it, the answers with no
    reported theme, of every coded answer. An answer may carry several themes, so the shares
    add up to more than 100%.
    """
    sheet = data.catalogue.coding_sheet(qid)
    coded = data.coded_answers(qid)
    names = [t.name for t in sheet.themes]
    if sheet.other_themes:
        coded = coded[coded[names].any(axis=1)] if len(coded) else coded
        other = coded[list(sheet.other_themes)].any(axis=1)
        basis = f"coded answers to {qid} with a theme"
    else:
        other = ~coded[sheet.reported].any(axis=1) if len(coded) else pd.Series(dtype=bool)
        basis = f"coded answers to {qid}"
    n = len(coded)
    labels = sheet.labels()
    rows = [
        proportion(qid, name, labels[name], int(coded[name].sum()), n, basis)
        for name in sheet.reported
    ]
    rows.append(proportion(qid, OTHER, "Other", int(other.sum()), n, basis))
    return frame(rows)


def table04_deployment(data: SurveyData) -> pd.DataFrame:
    """Table 4: what respondents consider when deploying directly vs. via ONNX (Q64)."""
    return coded_themes(data, "Q64")


def table05_addressing(data: SurveyData) -> pd.DataFrame:
    """Table 5: how respondents address problems with ONNX (Q66)."""
    return coded_themes(data, "Q66")


def coding_coverage(data: SurveyData, qid: str) -> dict[str, int]:
    """How the coding sheet relates to the export: answers in each, linked, themed."""
    coded = data.coded_answers(qid)
    sheet = data.catalogue.coding_sheet(qid)
    in_export = int(data.answered(qid).sum())
    linked = coded["response_id"].ne("")
    themed = (
        coded[[t.name for t in sheet.themes]].any(axis=1)
        if sheet.themes
        else pd.Series(False, index=coded.index)
    )
    return {
        "answers_in_export": in_export,
        "answers_in_coding_sheet": len(coded),
        "linked_to_a_response": int(linked.sum()),
        "with_a_theme": int(themed.sum()),
        "export_answers_not_coded": in_export - int(linked.sum()),
    }
