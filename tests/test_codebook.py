"""The codebook file is valid, and each defect of a broken one gives one clear error."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from convfail.codebook import DIMENSIONS, load_codebook
from convfail.errors import CodebookError
from convfail.paths import codebook_path


@pytest.fixture
def raw() -> dict:
    return yaml.safe_load(codebook_path().read_text(encoding="utf-8"))


def write(tmp_path: Path, data: dict) -> Path:
    path = tmp_path / "codebook.yaml"
    path.write_text(yaml.safe_dump(data), encoding="utf-8")
    return path


def test_project_codebook_matches_the_taxonomy():
    book = load_codebook()
    assert list(book.dimensions) == list(DIMENSIONS)
    assert len(book["location"].categories) == 6
    assert len(book["symptom"].categories) == 6
    assert len(book["cause"].categories) == 14
    assert [s.name for s in book.subcauses("incompatibility")] == [
        "external",
        "internal",
        "resource",
    ]
    assert [s.name for s in book.subcauses("type_problem")] == ["node", "conventional", "tensor"]
    assert book.subcauses("shape_problem") == []
    # codes are the spreadsheets' "by Number" codes
    assert book.by_code("cause", 2).name == "incompatibility"
    assert book.by_code("location", 4).name == "load_model"
    assert book.by_code("symptom", 2).sheet_names == ("Wrong Code",)
    assert book.by_code("subcause", 2, "incompatibility").name == "external"
    assert "Incompatability" in book.category("cause", "incompatibility").sheet_names
    assert all(c.definition for d in book.dimensions.values() for c in d)


def test_unknown_code_and_name_are_refused_with_the_valid_values():
    book = load_codebook()
    with pytest.raises(
        CodebookError, match=r"code 99 is not a cause.*valid codes: 2=incompatibility"
    ):
        book.by_code("cause", 99)
    with pytest.raises(CodebookError, match="'bogus' is not a symptom"):
        book.category("symptom", "bogus")


def test_duplicate_code_names_the_file_and_entry(tmp_path, raw):
    raw["dimensions"]["symptom"]["categories"][1]["code"] = 1
    path = write(tmp_path, raw)
    with pytest.raises(CodebookError) as err:
        load_codebook(path)
    assert str(path) in str(err.value)
    assert "symptom 'wrong_model'" in str(err.value)
    assert "duplicate code 1" in str(err.value)


def test_unknown_parent(tmp_path, raw):
    raw["dimensions"]["subcause"]["categories"][0]["parent"] = "incompatibilty"
    with pytest.raises(
        CodebookError, match=r"subcause 'external'.*unknown parent cause 'incompatibilty'"
    ):
        load_codebook(write(tmp_path, raw))


def test_missing_definition(tmp_path, raw):
    raw["dimensions"]["cause"]["categories"][3]["definition"] = "  "
    with pytest.raises(CodebookError, match="cause 'shape_problem': missing definition"):
        load_codebook(write(tmp_path, raw))


def test_missing_dimension_and_bad_yaml(tmp_path, raw):
    del raw["dimensions"]["location"]
    with pytest.raises(CodebookError, match="missing dimension"):
        load_codebook(write(tmp_path, raw))
    bad = tmp_path / "bad.yaml"
    bad.write_text("version: [unclosed\n", encoding="utf-8")
    with pytest.raises(CodebookError, match="not valid YAML"):
        load_codebook(bad)
    with pytest.raises(CodebookError, match="codebook file not found"):
        load_codebook(tmp_path / "absent.yaml")


def test_subcause_with_parent_is_required(tmp_path, raw):
    del raw["dimensions"]["subcause"]["categories"][2]["parent"]
    with pytest.raises(CodebookError, match="subcause 'resource': missing parent cause"):
        load_codebook(write(tmp_path, raw))


@pytest.mark.parametrize(
    ("where", "expected"),
    [
        ("top", r"unknown key 'versoin'.*did you mean 'version'"),
        ("dimension", r"unknown key 'categorys' in cause.*did you mean 'categories'"),
        ("category", r"unknown key 'definiton' in symptom 'crash'.*did you mean 'definition'"),
    ],
)
def test_a_misspelt_key_is_refused_naming_it_and_the_file(tmp_path, raw, where, expected):
    if where == "top":
        raw["versoin"] = "x"
    elif where == "dimension":
        raw["dimensions"]["cause"]["categorys"] = []
    else:
        crash = next(c for c in raw["dimensions"]["symptom"]["categories"] if c["name"] == "crash")
        crash["definiton"] = "typo"
    path = write(tmp_path, raw)
    with pytest.raises(CodebookError, match=expected) as info:
        load_codebook(path)
    assert str(path) in str(info.value)
