"""Record types shared by the stages: the columns of the study files, in file order.

A study (``data/studies/<name>/``) holds ``issues.csv`` (one row per issue) and
``labels/<rater>.csv`` (one row per issue a rater coded). Issues are keyed by
``(repository, number)``; the converter is a property of the repository.
"""

from __future__ import annotations

from dataclasses import dataclass

ISSUE_COLUMNS = [
    "converter",
    "repository",
    "number",
    "url",
    "title",
    "in_sample",
    "artifact_id",
    "pilot_artifact_id",
    "created_at",
    "created_at_source",
    "source_file",
    "source_sheet",
    "source_row",
]

# The keys of a study's ``study.yaml``; a reader refuses any other (a typo must not pass).
STUDY_SETTINGS_KEYS = (
    "name",
    "title",
    "codebook_version",
    "primary_rater",
    "converters",
    "raters",
    "source",
    "sampling",
    "provenance",
)

LABEL_DIMENSIONS = ["location", "symptom", "cause", "subcause"]

LABEL_COLUMNS = [
    "repository",
    "number",
    *LABEL_DIMENSIONS,
    "note",
    "codebook_version",
    "labelled_at",
    "source_file",
    "source_sheet",
    "source_row",
]

ISSUE_KEY = ["repository", "number"]

# The converters of the ISSTA study; a new study may name others in its study.yaml.
CONVERTER_REPOSITORIES = {
    "torch.onnx": "pytorch/pytorch",
    "tf2onnx": "onnx/tensorflow-onnx",
}


@dataclass(frozen=True)
class IssueRef:
    """An issue of a GitHub repository."""

    repository: str
    number: int

    @property
    def url(self) -> str:
        return f"https://github.com/{self.repository}/issues/{self.number}"

    def __str__(self) -> str:
        return f"{self.repository}#{self.number}"
