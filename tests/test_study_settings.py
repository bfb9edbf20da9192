"""``study.yaml`` is read strictly: a misspelt setting is an error naming it, not a default."""

from __future__ import annotations

import shutil

import pytest

from convfail.dataset import load_study
from convfail.errors import DatasetError
from convfail.paths import study_dir


@pytest.fixture
def study_copy(tmp_path):
    folder = tmp_path / "issta24"
    shutil.copytree(study_dir("issta24"), folder)
    return folder


def test_shipped_settings_are_accepted(study_copy):
    assert load_study("issta24", root=study_copy).primary_rater == "primary"


def test_misspelt_setting_is_refused(study_copy):
    settings = study_copy / "study.yaml"
    settings.write_text(settings.read_text().replace("primary_rater:", "primary_rator:"))
    with pytest.raises(DatasetError, match=r"unknown key 'primary_rator'.*'primary_rater'"):
        load_study("issta24", root=study_copy)


def test_settings_that_are_not_a_mapping_are_refused(study_copy):
    (study_copy / "study.yaml").write_text("- just\n- a list\n")
    with pytest.raises(DatasetError, match="not a mapping"):
        load_study("issta24", root=study_copy)
