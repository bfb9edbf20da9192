"""The README's walk-through, end to end against the local fake GitHub (no network):
mine ▸ study new ▸ hydrate ▸ two raters label over the app's HTTP API ▸ adjudicate ▸ analyze."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from convfail.cli import cli
from convfail.codebook import load_codebook
from convfail.dataset import FINAL_RATER, load_study, read_csv
from convfail.errors import ConvfailError
from convfail.issue_records import read_records, record_path
from labeling.adjudication import Adjudication
from labeling.api_client import LabelClient
from labeling.guard import RequestGuard
from labeling.serve import start_server
from labeling.session import LabelingSession
from labeling.webapp import create_app
from mining.testing.fakegithub import FakeGitHub
from mining.testing.harness import TOKEN
from mining.testing.model import generate_repo

pytest_plugins = ["mining_fixtures"]
REPO_ROOT = Path(__file__).resolve().parents[1]
REPOSITORY = "onnx/tensorflow-onnx"


def run(*args: str) -> str:
    result = CliRunner().invoke(cli, list(args), env={"GITHUB_TOKEN": TOKEN})
    assert result.exit_code == 0, f"{args}: {result.output}{result.exception!r}"
    return result.output


def serve(study: str, rater: str, raters: list[str] | None = None):
    """The label app of one rater (or, with ``raters``, the adjudicator) on a free local port."""
    book = load_codebook()
    loaded = load_study(study, book)
    adjudication = Adjudication(loaded.path, raters, book) if raters else None
    if adjudication:
        adjudication.seed_agreed()
    session = LabelingSession(loaded, rater, book, loaded.path.parents[1])
    guard = RequestGuard()
    server = start_server(create_app(session, guard, adjudication=adjudication), guard)
    return server, f"http://127.0.0.1:{server.server_port}"


def answers(cause_index: int) -> dict[str, str]:
    """A complete, valid label; ``cause_index`` picks the cause (and its first sub-cause)."""
    book = load_codebook()
    cause = book.valid_names("cause")[cause_index]
    subcauses = book.valid_names("subcause", cause)
    return {
        "location": book.valid_names("location")[0],
        "symptom": book.valid_names("symptom")[0],
        "cause": cause,
        "subcause": subcauses[0] if subcauses else "",
    }


@pytest.mark.slow
def test_walkthrough_from_mining_to_comparison(project: Path) -> None:
    for shipped in ("studies/issta24", "reference", "onnx"):  # what the analysis reads
        shutil.copytree(REPO_ROOT / "data" / shipped, project / "data" / shipped)
    fake_repo = generate_repo(REPOSITORY, 40, seed=5, long_timeline_share=0.0)
    with FakeGitHub(token=TOKEN) as fake:
        fake.add_repo(fake_repo)
        # 1. mine the converter's closed issues
        run("mine", "issues", "--preset", "tf2onnx", "--api-url", fake.url, "-q")
        records = read_records(record_path(REPOSITORY))
        numbers = [r["number"] for r in records if not r.get("retired")][:4]
        assert len(numbers) == 4
        # 2. a study from four of them
        listed = ",".join(map(str, numbers))
        out = run("study", "new", "walk", "--from-mined", REPOSITORY, "--numbers", listed)
        assert "4 issue(s)" in out
        # 3. their full text
        run("mine", "hydrate", "--study", "walk", "--api-url", fake.url, "-q")
    mined = read_csv(project / "data" / "studies" / "walk" / "mined.csv")
    assert list(mined["hydrated"]) == ["true"] * 4
    # 4. two raters label every issue through the app's HTTP API; they disagree on the last
    for rater, last_cause in (("alice", 0), ("bob", 1)):
        server, url = serve("walk", rater)
        client = LabelClient(url)
        try:
            for number in numbers:
                cause = last_cause if number == numbers[-1] else 0
                saved = client.save(REPOSITORY, number, answers(cause))
                assert saved["complete"]
        finally:
            server.shutdown()
    # 5. adjudicate: agreed issues are copied, the one disagreement is settled over HTTP
    server, url = serve("walk", FINAL_RATER, ["alice", "bob"])
    try:
        LabelClient(url, adjudicating=True).save(REPOSITORY, numbers[-1], answers(1))
    finally:
        server.shutdown()
    study = load_study("walk", load_codebook())
    assert study.primary_rater == FINAL_RATER
    final = study.labels[FINAL_RATER].set_index("number")
    assert list(final.index) == numbers
    assert final.loc[numbers[-1], "cause"] == answers(1)["cause"]
    assert final.loc[numbers[0], "cause"] == answers(0)["cause"]
    # 6. the analysis of the new study beside the ISSTA 2024 one
    out = run("analyze", "--study", "walk", "--compare", "issta24")
    assert "comparison with 'issta24':" in out
    causes = read_csv(project / "paper_figures" / "studies" / "walk" / "comparison" / "cause.csv")
    counts = {
        (row.study, row.cause): int(row.count) for row in causes.itertuples() if int(row.count)
    }
    walk = {cause: n for (name, cause), n in counts.items() if name == "walk"}
    assert walk == {answers(0)["cause"]: 3, answers(1)["cause"]: 1}
    assert sum(n for (name, _), n in counts.items() if name == "issta24") == 200


def test_label_client_says_why_a_save_was_refused(project: Path) -> None:
    urls = project / "issues.txt"
    urls.write_text("https://github.com/pytorch/pytorch/issues/7\n")
    run("study", "new", "tiny", "--from-urls", str(urls))
    server, url = serve("tiny", "alice")
    try:
        client = LabelClient(url)
        with pytest.raises(ConvfailError, match=r"pytorch/pytorch#7 not saved \(422\)"):
            client.save("pytorch/pytorch", 7, {"cause": "no_such_cause"})
        with pytest.raises(ConvfailError, match=r"pytorch/pytorch#8: the app has no such issue"):
            client.save("pytorch/pytorch", 8, {"cause": answers(0)["cause"]})
        assert client.save("pytorch/pytorch", 7, answers(0))["complete"]
    finally:
        server.shutdown()
        server.server_close()
    with pytest.raises(ConvfailError, match="no label app answers at"):
        LabelClient(url).save("pytorch/pytorch", 7, answers(0))
    assert list(load_study("tiny").labels["alice"]["cause"]) == [answers(0)["cause"]]
