"""`convfail study new`: a study from mined records, a CSV or issue URLs, each bad line named."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from convfail.cli import cli
from convfail.dataset import load_study, read_csv
from convfail.issue_records import record_path, write_records
from convfail.records import ISSUE_COLUMNS
from labeling.new_study import parse_numbers

pytest_plugins = ["mining_fixtures"]


def run(*args: str):
    return CliRunner().invoke(cli, list(args), catch_exceptions=True)


def failure(result) -> str:
    assert result.exit_code != 0, result.output
    return str(result.exception)


def record(repository: str, number: int, title: str, **extra) -> dict:
    kind = "pull" if extra.get("retired") == "a pull request, not an issue" else "issues"
    return {
        "repository": repository,
        "number": number,
        "url": f"https://github.com/{repository}/{kind}/{number}",
        "title": title,
        "created_at": f"2025-0{number % 9 + 1}-02T10:00:00Z",
        "retired": None,
    } | extra


@pytest.fixture
def mined(project: Path) -> Path:
    """Mined records of tf2onnx: issues 1-9, 4 is a pull request, 8 was deleted."""
    records = [
        record("onnx/tensorflow-onnx", n, f"Opset {n} conversion fails") for n in range(1, 10)
    ]
    records[3] = record(
        "onnx/tensorflow-onnx", 4, "Fix opset", retired="a pull request, not an issue"
    )
    records[7] = record("onnx/tensorflow-onnx", 8, "Gone", retired="deleted")
    records[5]["title"] = "Crash in Resize"
    return write_records(record_path("onnx/tensorflow-onnx"), records)


def study_files(project: Path, name: str) -> dict[str, bytes]:
    folder = project / "data" / "studies" / name
    return {p.name: p.read_bytes() for p in folder.iterdir() if p.is_file()}


def test_from_mined_numbers_writes_issues_and_provenance(project: Path, mined: Path) -> None:
    result = run(
        "study", "new", "picked", "--from-mined", "onnx/tensorflow-onnx", "--numbers", "1,2,5-7"
    )
    assert result.exit_code == 0, result.output
    assert "next: convfail mine hydrate --study picked" in result.output
    study = load_study("picked")
    assert list(study.issues["number"]) == [1, 2, 5, 6, 7]
    assert set(study.issues["converter"]) == {"tf2onnx"}
    assert study.issues.loc[study.issues["number"] == 6, "title"].item() == "Crash in Resize"
    assert (study.issues["created_at_source"] == "mined").all()
    assert list(read_csv(study.path / "issues.csv").columns) == ISSUE_COLUMNS
    settings = yaml.safe_load((study.path / "study.yaml").read_text())
    provenance = settings["provenance"]
    assert provenance["input"]["kind"] == "mined"
    assert provenance["input"]["records"] == "data/issues/onnx__tensorflow-onnx.jsonl"
    assert provenance["input"]["numbers"] == "1,2,5-7"
    assert provenance["command"] == (
        "convfail study new picked --from-mined onnx/tensorflow-onnx --numbers 1,2,5-7"
    )
    assert provenance["made_at"].endswith("Z")
    assert settings["converters"] == {"tf2onnx": "onnx/tensorflow-onnx"}


def test_from_mined_query_skips_retired_records(project: Path, mined: Path) -> None:
    result = run(
        "study", "new", "opset", "--from-mined", "onnx/tensorflow-onnx", "--query", "OPSET"
    )
    assert result.exit_code == 0, result.output
    assert list(load_study("opset").issues["number"]) == [1, 2, 3, 5, 7, 9]
    nothing = run("study", "new", "none", "--from-mined", "onnx/tensorflow-onnx", "--query", "zzz")
    assert "no mined title contains 'zzz'" in failure(nothing)


def test_from_mined_refuses_pull_requests_and_unknown_numbers(project: Path, mined: Path) -> None:
    result = run(
        "study", "new", "bad", "--from-mined", "onnx/tensorflow-onnx", "--numbers", "3-4,8,12"
    )
    message = failure(result)
    assert "3 input lines are wrong, nothing written" in message
    assert "onnx/tensorflow-onnx#4: a pull request, not an issue" in message
    assert "onnx/tensorflow-onnx#8: the mined record is retired (deleted)" in message
    assert "onnx/tensorflow-onnx#12: not in the mined records" in message
    assert not (project / "data" / "studies" / "bad").exists()


def test_from_urls_names_each_bad_line_and_writes_nothing(project: Path, tmp_path: Path) -> None:
    urls = tmp_path / "issues.txt"
    urls.write_text(
        "# chosen by hand\n"
        "https://github.com/pytorch/pytorch/issues/100\n"
        "\n"
        "https://github.com/pytorch/pytorch/pull/101\n"
        "http://github.com/pytorch/pytorch/issues/102\n"
        "https://github.com/PyTorch/pytorch/issues/100\n"
        "https://github.com/pytorch/pytorch/issues/100#issuecomment-1\n"
        "https://github.com/acme/convert/issues/7\n"
    )
    message = failure(run("study", "new", "byhand", "--from-urls", str(urls)))
    lines = message.splitlines()
    assert len(lines) == 6
    assert f"{urls}:4: https://github.com/pytorch/pytorch/pull/101 is a pull request" in message
    assert (
        f"{urls}:5: 'http://github.com/pytorch/pytorch/issues/102' is not an issue URL" in message
    )
    assert f"{urls}:6: PyTorch/pytorch#100 again (first at {urls}:2)" in message
    assert f"{urls}:7: " in message and "issuecomment" in message
    assert f"{urls}:8: no converter known for acme/convert; pass --converter" in message
    assert not (project / "data" / "studies" / "byhand").exists()


def test_from_urls_with_a_new_converter(project: Path, tmp_path: Path) -> None:
    urls = tmp_path / "issues.txt"
    urls.write_text(
        "https://github.com/acme/convert/issues/7\nhttps://github.com/pytorch/pytorch/issues/5\n"
    )
    result = run(
        "study", "new", "mixed", "--from-urls", str(urls), "--converter", "acme/convert=acme2onnx"
    )
    assert result.exit_code == 0, result.output
    issues = load_study("mixed").issues
    assert dict(zip(issues["repository"], issues["converter"], strict=True)) == {
        "acme/convert": "acme2onnx",
        "pytorch/pytorch": "torch.onnx",
    }
    assert list(issues["source_row"]) == ["1", "2"]
    assert (issues["title"] == "").all()
    assert "2 issue(s) have no mined text yet" in result.output
    settings = yaml.safe_load((project / "data" / "studies" / "mixed" / "study.yaml").read_text())
    assert settings["provenance"]["input"]["kind"] == "urls"
    assert len(settings["provenance"]["input"]["sha256"]) == 64


def test_from_csv_takes_its_converter_column(project: Path, tmp_path: Path) -> None:
    table = tmp_path / "issues.csv"
    table.write_text(
        "repository,number,converter\n"
        "acme/convert,3,acme2onnx\n"
        "pytorch/pytorch,x,\n"
        "nonsense,4,\n"
        "acme/convert,3,acme2onnx\n"
    )
    message = failure(run("study", "new", "tabled", "--from-csv", str(table)))
    assert f"{table}:3: 'x' is not an issue number" in message
    assert f"{table}:4: 'nonsense' is not a repository" in message
    assert f"{table}:5: acme/convert#3 again (first at {table}:2)" in message
    table.write_text("repository,number,converter\nacme/convert,3,acme2onnx\npytorch/pytorch,9,\n")
    assert run("study", "new", "tabled", "--from-csv", str(table)).exit_code == 0
    assert list(load_study("tabled").issues["converter"]) == ["acme2onnx", "torch.onnx"]


def test_never_overwrites_a_labelled_study(project: Path, tmp_path: Path) -> None:
    urls = tmp_path / "issues.txt"
    urls.write_text("https://github.com/pytorch/pytorch/issues/5\n")
    args = ["study", "new", "kept", "--from-urls", str(urls)]
    assert run(*args).exit_code == 0
    assert "already exists" in failure(run(*args))
    assert run(*args, "--replace").exit_code == 0
    folder = project / "data" / "studies" / "kept"
    (folder / "labels" / "alice.csv").write_text("repository,number\n")
    before = study_files(project, "kept")
    assert "already has labels (alice.csv)" in failure(run(*args, "--replace"))
    assert study_files(project, "kept") == before


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        ([], "exactly one of --from-mined, --from-csv, --from-urls"),
        (["--from-mined", "a/b"], "needs exactly one of --numbers or --query"),
        (["--from-mined", "a/b", "--numbers", "1,x"], "'x' is not a number or a range"),
        (["--from-mined", "a/b", "--numbers", "9-3"], "not an increasing range"),
        (["--from-mined", "a/b", "--numbers", "1"], "no mined issue records"),
        (["--from-mined", "a/b", "--query", "q", "--converter", "a/b"], "is not REPO=NAME"),
    ],
)
def test_bad_options_say_what_to_do(project: Path, args: list[str], expected: str) -> None:
    assert expected in failure(run("study", "new", "x", *args))


def test_study_name_becomes_a_folder_name(project: Path) -> None:
    assert "not a usable study name" in failure(run("study", "new", "../up", "--from-mined", "a/b"))


def test_parse_numbers_keeps_order_and_ranges() -> None:
    assert parse_numbers("5, 1-3 ,9") == [5, 1, 2, 3, 9]


def test_urls_of_numbers_the_records_call_pull_requests_are_refused(
    project: Path, mined: Path, tmp_path: Path
) -> None:
    urls = tmp_path / "issues.txt"
    urls.write_text(
        "https://github.com/onnx/tensorflow-onnx/issues/3\n"
        "https://github.com/onnx/tensorflow-onnx/issues/4\n"
    )
    message = failure(run("study", "new", "prs", "--from-urls", str(urls)))
    assert f"{urls}:2: a pull request, not an issue (the mined record says so)" in message
    urls.write_text("https://github.com/onnx/tensorflow-onnx/issues/3\n")
    assert run("study", "new", "prs", "--from-urls", str(urls)).exit_code == 0
    issue = load_study("prs").issues.iloc[0]
    assert (issue["title"], issue["created_at"]) == ("Opset 3 conversion fails", "2025-04-02")


def test_source_date_epoch_makes_the_files_byte_identical(project: Path, tmp_path: Path) -> None:
    urls = tmp_path / "issues.txt"
    urls.write_text("https://github.com/pytorch/pytorch/issues/5\n")
    args = ["study", "new", "again", "--from-urls", str(urls), "--replace"]
    runner = CliRunner(env={"SOURCE_DATE_EPOCH": "1767225600"})
    assert runner.invoke(cli, args).exit_code == 0
    first = study_files(project, "again")
    assert b"made_at: '2026-01-01T00:00:00Z'" in first["study.yaml"]
    assert runner.invoke(cli, args).exit_code == 0
    assert study_files(project, "again") == first
