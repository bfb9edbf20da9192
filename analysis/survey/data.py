"""The imported survey (``data/survey/``) as frames the survey tables are computed from.

Reads only the files the importer wrote and the catalogue; knows nothing of spreadsheets. A
follow-up survey with the same instrument is another folder with the same files.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from analysis.survey.catalogue import CATALOGUE_FILE, Catalogue, load_catalogue
from convfail.dataset import read_csv
from convfail.errors import DatasetError
from convfail.paths import survey_dir

THEME_SEPARATOR = ";"


@dataclass
class SurveyData:
    catalogue: Catalogue
    respondents: pd.DataFrame
    answers: pd.DataFrame
    coded: pd.DataFrame
    folder: Path

    @property
    def size(self) -> int:
        """The number of responses (the rows of the export below the question texts)."""
        return len(self.respondents)

    def selections(self, qid: str) -> pd.DataFrame:
        """One row per response, one boolean column per option of a closed question."""
        question = self.catalogue.question(qid)
        if question.type not in {"single", "multi"}:
            raise DatasetError(f"question {qid} is a {question.type} question, not a closed one")
        rows = self.answers[self.answers["question"] == qid]
        unknown = sorted(set(rows["answer"]) - set(question.option_names))
        if unknown:
            raise DatasetError(
                f"{self.folder / 'answers.csv'}: {qid} has answers {unknown} "
                "that the catalogue does not list",
                "re-import the survey with the current catalogue",
            )
        wide = pd.crosstab(rows["response_id"], rows["answer"]).astype(bool)
        return wide.reindex(
            index=self.respondents["response_id"], columns=question.option_names, fill_value=False
        )

    def answered(self, qid: str) -> pd.Series:
        """Whether each response answered the question (an artefact-only cell is no answer)."""
        ids = set(self.answers.loc[self.answers["question"] == qid, "response_id"])
        return self.respondents["response_id"].isin(ids).set_axis(self.respondents["response_id"])

    def coded_answers(self, qid: str) -> pd.DataFrame:
        """The coded answers of an open question, one boolean column per theme of its sheet."""
        sheet = self.catalogue.coding_sheet(qid)
        rows = self.coded[self.coded["question"] == qid].reset_index(drop=True)
        themes = rows["themes"].str.split(THEME_SEPARATOR).apply(lambda t: {x for x in t if x})
        unknown = (
            sorted(set().union(*themes) - {t.name for t in sheet.themes}) if len(themes) else []
        )
        if unknown:
            raise DatasetError(
                f"{self.folder / 'coded_answers.csv'}: {qid} has themes {unknown} "
                "that the catalogue does not list"
            )
        flags = pd.DataFrame(
            {t.name: themes.apply(lambda s, n=t.name: n in s) for t in sheet.themes},
            index=rows.index,
        )
        return pd.concat([rows, flags], axis=1)


def load_survey(folder: Path | None = None, catalogue: Catalogue | None = None) -> SurveyData:
    """Load an imported survey folder (default ``data/survey``)."""
    folder = folder or survey_dir()
    if not (folder / "respondents.csv").is_file():
        raise DatasetError(
            f"no imported survey at {folder}",
            "import it with 'convfail data import-artifact --only survey'",
        )
    catalogue = catalogue or load_catalogue(
        folder / CATALOGUE_FILE if (folder / CATALOGUE_FILE).is_file() else None
    )
    respondents = read_csv(folder / "respondents.csv", ["response_id"])
    answers = read_csv(folder / "answers.csv", ["response_id", "question", "answer", "text"])
    coded_path = folder / "coded_answers.csv"
    coded = (
        read_csv(coded_path, ["question", "response_id", "themes", "text"])
        if coded_path.is_file()
        else pd.DataFrame(columns=["question", "response_id", "themes", "text"])
    )
    strays = sorted(set(answers["response_id"]) - set(respondents["response_id"]))
    if strays:
        raise DatasetError(f"{folder / 'answers.csv'}: answers of unknown response(s) {strays[:5]}")
    return SurveyData(catalogue, respondents, answers, coded, folder)


def duplicate_respondents(respondents: pd.DataFrame, answers: pd.DataFrame) -> list[str]:
    """One line per response that repeats an earlier one answer for answer (every question)."""
    signature: dict[str, list[tuple[str, str, str]]] = {}
    ordered = answers.sort_values(["response_id", "question", "answer", "text"])
    for row in ordered.itertuples(index=False):
        signature.setdefault(row.response_id, []).append((row.question, row.answer, row.text))
    first_seen: dict[tuple, str] = {}
    rows = dict(zip(respondents["response_id"], respondents["source_row"], strict=True))
    lines = []
    for response_id in respondents["response_id"]:
        if response_id not in signature:
            continue
        key = tuple(signature[response_id])
        if key in first_seen:
            earlier = first_seen[key]
            lines.append(
                f"response {response_id} (row {rows[response_id]}) repeats {earlier} "
                f"(row {rows[earlier]}) answer for answer ({len(key)} answers); both are kept - "
                "remove one from the export if it is a double submission"
            )
        else:
            first_seen[key] = response_id
    return lines
