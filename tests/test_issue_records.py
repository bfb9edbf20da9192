"""The issue-records border file: one reader, one writer, one ``path:line`` error."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from convfail import issue_records
from convfail.errors import DatasetError


def records(count: int) -> list[dict]:
    return [
        {"schema": issue_records.VERSION, "repository": "o/r", "number": n, "title": f"é {n}"}
        for n in range(count, 0, -1)
    ]


def test_writer_sorts_and_gives_the_same_bytes(tmp_path: Path) -> None:
    path = issue_records.record_path("o/r", tmp_path)
    assert path.name == "o__r.jsonl"
    issue_records.write_records(path, records(5))
    first = path.read_bytes()
    issue_records.write_records(path, list(reversed(records(5))))
    assert path.read_bytes() == first and first.endswith(b"\n")
    assert [r["number"] for r in issue_records.read_records(path)] == [1, 2, 3, 4, 5]
    assert "é" in first.decode("utf-8")


def test_a_corrupted_line_in_the_middle_gives_one_path_line_error(tmp_path: Path) -> None:
    path = issue_records.write_records(issue_records.record_path("o/r", tmp_path), records(5))
    lines = path.read_text(encoding="utf-8").splitlines(keepends=True)
    lines[2] = lines[2][: len(lines[2]) // 2] + "\n"
    path.write_text("".join(lines), encoding="utf-8")
    with pytest.raises(DatasetError) as info:
        issue_records.read_records(path)
    message = str(info.value)
    assert f"{path}:3:" in message and "\n" not in message
    assert message.count(str(path)) == 1


def test_a_torn_last_line_is_named_as_a_truncation(tmp_path: Path) -> None:
    path = issue_records.write_records(issue_records.record_path("o/r", tmp_path), records(3))
    text = path.read_text(encoding="utf-8")
    path.write_text(text[:-7], encoding="utf-8")
    with pytest.raises(DatasetError, match=r":3: the last line is cut short"):
        issue_records.read_records(path)


@pytest.mark.parametrize(
    ("line", "why"),
    [
        ('{"title": "no number"}', "missing number"),
        ('{"number": "7"}', "an integer number"),
        ("[1, 2]", "one JSON object"),
        ('{"number": 9, "schema": "issue-record/99"}', "record format"),
        ('{"number": 1}', "issue 1 again"),
    ],
)
def test_every_bad_line_names_its_place(tmp_path: Path, line: str, why: str) -> None:
    path = tmp_path / "o__r.jsonl"
    path.write_text(json.dumps({"number": 1}) + "\n" + line + "\n" + '{"number": 3}\n')
    with pytest.raises(DatasetError, match=rf"o__r.jsonl:2: .*{why}"):
        issue_records.read_records(path)


def test_required_fields_and_missing_files(tmp_path: Path) -> None:
    path = tmp_path / "o__r.jsonl"
    assert issue_records.read_records(path, missing_ok=True) == []
    with pytest.raises(DatasetError, match="no mined issue records"):
        issue_records.read_records(path)
    path.write_text('{"number": 1}\n')
    with pytest.raises(DatasetError, match=r":1: .*missing repository"):
        issue_records.read_records(path, issue_records.MINED_FIELDS)


def test_a_renamed_repository_is_found_through_its_aliases(tmp_path: Path) -> None:
    record = {"schema": issue_records.VERSION, "repository": "o/new", "number": 1}
    path = issue_records.record_path("o/new", tmp_path)
    issue_records.write_records(path, [record | {"aliases": ["o/old"]}])
    assert issue_records.find_path("o/old", tmp_path) == path
    assert issue_records.find_path("o/other", tmp_path).name == "o__other.jsonl"
