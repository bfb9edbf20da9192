"""From mined records to studies: seeded sampling, hydrating issta24 without touching its labels,
mined creation dates winning, and the filter's precision/recall against judgements."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pandas as pd
import yaml

from convfail.dataset import apply_mined_dates, load_study, read_csv
from convfail.records import ISSUE_COLUMNS
from mining import rules, studies
from mining.testing.fakegithub import FakeGitHub
from mining.testing.harness import TOKEN
from mining.testing.model import generate_repo

pytest_plugins = ["mining_fixtures"]
REPO_ROOT = Path(__file__).resolve().parents[1]


def run_cli(*args: str, env: dict[str, str] | None = None):
    from click.testing import CliRunner

    from convfail.cli import cli

    return CliRunner().invoke(cli, list(args), env=env, catch_exceptions=True)


def mine_issues(fake: FakeGitHub, *scope: str) -> None:
    result = run_cli(
        "mine", "issues", *scope, "--api-url", fake.url, "-q", env={"GITHUB_TOKEN": TOKEN}
    )
    assert result.exit_code == 0, result.output


def mine_tf2onnx(project: Path, fake: FakeGitHub) -> list[dict]:
    mine_issues(fake, "--preset", "tf2onnx")
    path = project / "data" / "issues" / "onnx__tensorflow-onnx.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_sample_is_seeded_recorded_and_reproducible(project: Path, fake) -> None:
    records = mine_tf2onnx(project, fake)
    args = ["mine", "sample", "--study", "fresh", "--n", "20", "--seed", "7", "--preset", "tf2onnx"]
    assert run_cli(*args).exit_code == 0
    folder = project / "data" / "studies" / "fresh"
    first = {p.name: p.read_bytes() for p in folder.iterdir()}
    assert run_cli(*args).exit_code == 0
    assert {p.name: p.read_bytes() for p in folder.iterdir()} == first
    study = load_study("fresh")
    assert list(read_csv(folder / "issues.csv").columns) == ISSUE_COLUMNS
    assert len(study.issues) == 20
    settings = yaml.safe_load((folder / "study.yaml").read_text())
    assert settings["sampling"]["seed"] == 7 and settings["sampling"]["rule_set"] == "issta24"
    population = read_csv(folder / "population.csv")
    excluded = {"pending on user response", "question"}
    in_scope = [r for r in records if r["state"] == "closed" and not excluded & set(r["labels"])]
    assert len(population) == len(in_scope)
    fixed = {r["number"] for r in in_scope if rules.is_fixed(r)}
    assert set(study.issues["number"]) <= fixed
    assert (study.issues["created_at_source"] == "mined").all()
    # another seed, another sample; labels protect a study from being resampled differently
    (folder / "labels").mkdir()
    (folder / "labels" / "alice.csv").write_text("repository,number\n")
    refused = run_cli(*args[:-4], "--seed", "8", "--preset", "tf2onnx")
    assert refused.exit_code != 0 and "already has labels" in str(refused.exception)
    assert {p.name: p.read_bytes() for p in folder.iterdir() if p.is_file()} == first


def test_hydrate_issta24_fills_mined_data_without_rewriting_labels(project: Path) -> None:
    source = REPO_ROOT / "data" / "studies" / "issta24"
    target = project / "data" / "studies" / "issta24"
    shutil.copytree(source, target)
    before = {p.relative_to(target): p.read_bytes() for p in target.rglob("*") if p.is_file()}
    issues = read_csv(target / "issues.csv")
    fake = FakeGitHub(token=TOKEN)
    for repository, group in issues.groupby("repository"):
        numbers = sorted(int(n) for n in group["number"])
        fake.add_repo(
            generate_repo(
                str(repository), len(numbers), seed=3, numbers=numbers[1:], pull_share=0.0
            )
        )
    missing_number = int(
        issues[issues["repository"] == "pytorch/pytorch"]["number"].astype(int).min()
    )
    with fake:
        result = run_cli(
            "mine",
            "hydrate",
            "--study",
            "issta24",
            "--api-url",
            fake.url,
            "-q",
            env={"GITHUB_TOKEN": TOKEN},
        )
    assert result.exit_code == 0, result.output
    assert f"not hydrated: {missing_number} (not found" in result.output
    after = {p.relative_to(target): p.read_bytes() for p in target.rglob("*") if p.is_file()}
    assert {k: v for k, v in after.items() if k.name != "mined.csv"} == before
    mined = read_csv(target / "mined.csv")
    mined["number"] = mined["number"].astype(int)
    assert len(mined) == len(issues) - 2  # the first issue of each repository does not exist
    assert (mined["hydrated"] == "true").all()
    records = [
        json.loads(line)
        for line in (project / "data" / "issues" / "pytorch__pytorch.jsonl")
        .read_text()
        .splitlines()
    ]
    assert all(
        r["comments"] is not None and len(r["comments"]) == r["comment_count"] for r in records
    )
    study = load_study("issta24")
    merged = study.issues.merge(mined, on=["repository", "number"], suffixes=("", "_mined"))
    assert (merged["created_at"] == merged["created_at_mined"].str[:10]).all()
    assert (merged["created_at_source"] == "mined").all()
    unmined = study.issues[study.issues["number"] == missing_number]
    assert (unmined["created_at_source"] != "mined").all()
    assert set(study.labels) == {"primary", "drift_a", "drift_b", "pilot_r1", "pilot_r2"}


def test_validate_reports_precision_and_recall(project: Path, fake, tmp_path: Path) -> None:
    records = [r for r in mine_tf2onnx(project, fake) if r["state"] == "closed"][:60]
    truth = [rules.is_fixed(r) for r in records]
    judged = truth[:]
    flipped_positive = next(i for i, t in enumerate(truth) if t)
    flipped_negative = next(i for i, t in enumerate(truth) if not t)
    judged[flipped_positive] = False  # the filter keeps it, the judge says no fix: a false positive
    judged[flipped_negative] = True  # the filter drops it, the judge saw a fix: a false negative
    file = tmp_path / "judgements.csv"
    pd.DataFrame(
        {
            "repository": [r["repository"] for r in records],
            "number": [r["number"] for r in records],
            "fixed": ["yes" if j else "no" for j in judged],
        }
    ).to_csv(file, index=False)
    result = run_cli("mine", "validate", "--judgements", str(file), "--rules", "issta24")
    assert result.exit_code == 0, result.output
    positives = sum(truth)
    precision = (positives - 1) / positives
    recall = (positives - 1) / positives
    row = next(
        line for line in result.output.splitlines() if line.strip().startswith("all")
    ).split()
    assert float(row[7]) == round(precision, 3) and float(row[8]) == round(recall, 3)


def test_sample_of_an_empty_population_fails_and_writes_nothing(project: Path) -> None:
    fake = FakeGitHub(token=TOKEN)
    repo = generate_repo("o/conv", 30, seed=2)
    for issue in repo.issues.values():  # closed, but with no evidence of a fix
        issue.events = [e for e in issue.events if e.kind not in rules_kinds()]
    fake.add_repo(repo)
    with fake:
        mine_issues(fake, "--repo", "o/conv")
    result = run_cli("mine", "sample", "--study", "empty", "--seed", "1", "--repo", "o/conv")
    assert result.exit_code != 0
    message = str(result.exception)
    assert "no issue in scope is closed with a fix" in message and "\n" not in message
    assert not (project / "data" / "studies" / "empty").exists()


def rules_kinds() -> set[str]:
    return {"closed", "referenced", "cross-referenced", "connected"}


def test_mined_rows_of_a_renamed_repository_join_the_study_on_its_own_name(tmp_path):
    record = {
        "repository": "o/new",
        "number": 7,
        "created_at": "2021-03-04T05:06:07Z",
        "closed_at": None,
        "updated_at": "2021-03-05T00:00:00Z",
        "state": "closed",
        "state_reason": "completed",
        "comment_count": 0,
        "comments": [],
        "fix_rules": {"issta24": ["connected"], "strict": []},
    }
    rows = studies.mined_rows([record], {"o/new": "o/old"})
    assert rows.loc[0, "repository"] == "o/old"
    assert "o__new" in rows.loc[0, "record"]
    studies.write_mined(tmp_path, [record], {"o/new": "o/old"})
    issues = pd.DataFrame(
        {"repository": ["o/old"], "number": [7], "created_at": [""], "created_at_source": [""]}
    )
    dated = apply_mined_dates(issues, tmp_path / "mined.csv")
    assert dated.loc[0, "created_at"] == "2021-03-04"
    assert dated.loc[0, "created_at_source"] == "mined"
