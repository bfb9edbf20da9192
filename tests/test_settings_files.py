"""The analysis' own settings files are read strictly: a misspelt key names itself and the file."""

from __future__ import annotations

import pytest

from analysis import published
from analysis.survey.catalogue import default_catalogue_path, load_catalogue
from convfail.errors import DatasetError


@pytest.mark.parametrize(
    ("right", "wrong", "expected"),
    [
        ("  artefacts:", "  artefact:", r"unknown key 'artefact' in export.*'artefacts'"),
        ("    serves: screening", "    serve: screening", r"unknown key 'serve' in question Q52"),
    ],
)
def test_a_misspelt_catalogue_key_is_refused(tmp_path, right, wrong, expected):
    text = default_catalogue_path().read_text(encoding="utf-8")
    assert right in text
    broken = tmp_path / "catalogue.yaml"
    broken.write_text(text.replace(right, wrong, 1), encoding="utf-8")
    with pytest.raises(DatasetError, match=expected) as info:
        load_catalogue(broken)
    assert str(broken) in str(info.value)


def test_a_misspelt_published_key_is_refused(tmp_path, monkeypatch):
    reference = tmp_path / "reference"
    reference.mkdir()
    (reference / "published_issta24.yaml").write_text(
        "artifacts:\n  table08_locations:\n    tolerence: 0.1\n    cells: []\n", encoding="utf-8"
    )
    monkeypatch.setattr(published, "reference_data_dir", lambda: reference)
    with pytest.raises(DatasetError, match=r"unknown key 'tolerence' in table08_locations"):
        published.published_cells("table08_locations")
