"""Where things live: the project root, its data folders and the read-only reference inputs.

The root is found from ``CONVFAIL_HOME`` or by walking up from the working directory to the
folder holding ``pyproject.toml`` and ``data/``; that keeps every command independent of the
laptop it runs on (the published artifact's absolute paths are what we avoid).
"""

from __future__ import annotations

import os
from pathlib import Path

from convfail.errors import ConvfailError

STUDIES = "studies"
ISSUES = "issues"
LABELS = "labels"
SURVEY = "survey"


def project_root() -> Path:
    """The checkout the commands work on."""
    env = os.environ.get("CONVFAIL_HOME")
    if env:
        return Path(env).resolve()
    here = Path.cwd().resolve()
    for candidate in (here, *here.parents):
        if (candidate / "pyproject.toml").is_file() and (candidate / "data").is_dir():
            return candidate
    package_checkout = Path(__file__).resolve().parent.parent
    if (package_checkout / "data").is_dir():
        return package_checkout
    raise ConvfailError(
        f"no convfail project found at or above {here}",
        "run the command inside a convfail checkout or set CONVFAIL_HOME",
    )


def data_dir() -> Path:
    return project_root() / "data"


def issues_dir() -> Path:
    """The mined issue records, one JSONL file per repository (see ``convfail.issue_records``)."""
    return data_dir() / ISSUES


def studies_dir() -> Path:
    return data_dir() / STUDIES


def study_dir(study: str) -> Path:
    return studies_dir() / study


def difftest_dir() -> Path:
    """Home of the differential-testing campaigns (see :mod:`convfail.campaign_files`)."""
    return data_dir() / "difftest"


def campaign_dir(campaign: str) -> Path:
    return difftest_dir() / campaign


def campaign_cache_dir(campaign: str) -> Path:
    """A campaign's rebuildable bulk (converted models), kept out of git."""
    return cache_dir() / "difftest" / campaign


def campaign_onnx_dir(campaign: str) -> Path:
    """The converted models of a campaign, one ``<model_id>--<converter>.onnx`` per job."""
    return campaign_cache_dir(campaign) / "onnx"


def localization_dir() -> Path:
    """The shipped localization evidence (fault injection, known faults)."""
    return difftest_dir() / "localization"


def localize_cache_dir() -> Path:
    """Default home of the report folders of ``difftest localize`` and ``repair``."""
    return cache_dir() / "difftest" / "localize"


def labels_dir(study: Path) -> Path:
    """The label files of a study folder: one CSV per rater, ``final.csv`` adjudicated."""
    return study / LABELS


def label_file(study: Path, rater: str) -> Path:
    return labels_dir(study) / f"{rater}.csv"


def survey_dir(name: str = "") -> Path:
    """An imported survey: the published one (``data/survey``) or ``data/survey-<name>``."""
    return data_dir() / (f"{SURVEY}-{name}" if name else SURVEY)


def onnx_data_dir() -> Path:
    """What the project records about ONNX itself (opset release dates)."""
    return data_dir() / "onnx"


def codebook_path() -> Path:
    return data_dir() / "codebook.yaml"


def reference_data_dir() -> Path:
    """The project's own reference tables (published values, Shen et al. counts)."""
    return data_dir() / "reference"


def paper_figures_dir() -> Path:
    return project_root() / "paper_figures"


def study_figures_dir(study: str) -> Path:
    """``convfail analyze``'s outputs for one study."""
    return paper_figures_dir() / STUDIES / study


def survey_figures_dir(name: str) -> Path:
    """``convfail survey analyze``'s outputs for one imported survey folder."""
    return paper_figures_dir() / "surveys" / name


def shared_reference_dir() -> Path:
    """The read-only third-party inputs (``../shared/reference`` beside the checkout)."""
    env = os.environ.get("CONVFAIL_REFERENCE")
    if env:
        return Path(env).resolve()
    return project_root().parent / "shared" / "reference"


def artifact_dir() -> Path:
    return shared_reference_dir() / "issta24-artifact"


def cache_dir() -> Path:
    """Git-ignored home of anything large or raw that can always be rebuilt."""
    return project_root() / ".cache"


def onnx_corpus_cache_dir() -> Path:
    """Op-graph structures of test-suite corpora of ONNX models, keyed by their files."""
    return cache_dir() / "onnx-corpus"
