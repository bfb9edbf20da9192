"""The miner against GitHub's documented behaviour, as the fake GitHub answers it.

Each test builds the case GitHub documents (a pull request's number, a transfer, a deletion, a
rename, a reopening, a disconnection, a timeout, a limit without ``retry-after``...) and checks
that the dataset stays true: records updated or retired with a reason, nothing lost, and the
same evidence in both modes where both can see it.
"""

from __future__ import annotations

import json
import logging
import socket
from pathlib import Path

import pytest

from convfail import issue_records
from mining import rules, studies
from mining.errors import MiningError
from mining.scope import Scope, resolve
from mining.testing.fakegithub import FakeGitHub
from mining.testing.harness import TOKEN, make_miner
from mining.testing.model import Event, Issue, Repo, Source, generate_repo
from mining.transport import CONNECT_RETRIES, Transport

MODES = pytest.mark.parametrize("token", [TOKEN, None], ids=["graphql", "rest"])
SCOPE = Scope("o/conv")
pytest_plugins = ["mining_fixtures"]


def by_number(path: Path) -> dict[int, dict]:
    return {r["number"]: r for r in map(json.loads, path.read_text().splitlines())}


def closed_issues(repo: Repo) -> list[int]:
    return sorted(
        n for n, i in repo.issues.items() if i.state == "closed" and not i.is_pull_request
    )


def issue(number: int, events: list[Event], **fields) -> Issue:
    closed = [e.created_at for e in events if e.kind == "closed"]
    return Issue(
        number=number,
        title=f"issue {number}",
        body="",
        created_at="2020-01-01T00:00:00Z",
        updated_at=max(["2020-01-01T00:00:00Z", *(e.created_at for e in events)]),
        state="closed" if closed else "open",
        state_reason=next((e.state_reason for e in reversed(events) if e.kind == "closed"), None),
        closed_at=closed[-1] if closed else None,
        events=events,
        **fields,
    )


@MODES
def test_pull_requests_are_never_stored_and_hydrate_refuses_them(small_fake, tmp_path, token):
    repo = small_fake.repos["o/conv"]
    pulls = sorted(n for n, i in repo.issues.items() if i.is_pull_request)
    assert pulls, "the repository has pull requests"
    miner = make_miner(small_fake, tmp_path, token=token)
    records = by_number(miner.crawl(SCOPE).dataset)
    assert not set(pulls) & set(records)
    wanted = [closed_issues(repo)[0], pulls[0]]
    missing = miner.hydrate("o/conv", wanted)
    assert missing == {pulls[0]: "a pull request, not an issue"}
    assert miner.store.get("o/conv", wanted[0])["comments"] is not None


@MODES
def test_hydrate_reports_each_missing_issue_and_keeps_the_batch(small_fake, tmp_path, token):
    repo = small_fake.repos["o/conv"]
    elsewhere = small_fake.add_repo(Repo("o/elsewhere"))
    keep, moved, deleted = closed_issues(repo)[:3]
    miner = make_miner(small_fake, tmp_path, token=token)
    miner.crawl(SCOPE)
    repo.transfer(moved, elsewhere, "2031-01-01T00:00:00Z")
    repo.delete(deleted)
    missing = miner.hydrate("o/conv", [keep, moved, deleted, 99_999])
    assert missing[moved] == "transferred to o/elsewhere#1"
    assert missing[deleted] == "deleted"
    assert missing[99_999].startswith("not found")
    assert miner.store.get("o/conv", keep)["comments"] is not None
    records = by_number(miner.folder / "o__conv.jsonl")
    assert records[moved]["retired"] == "transferred to o/elsewhere#1"
    assert records[deleted]["retired"] == "deleted" and records[keep]["retired"] is None


@MODES
def test_a_reopened_issue_is_retired_by_the_next_incremental_run(small_fake, tmp_path, token):
    repo = small_fake.repos["o/conv"]
    miner = make_miner(small_fake, tmp_path, token=token)
    miner.crawl(SCOPE)
    number = closed_issues(repo)[0]
    repo.reopen(number, "2031-01-01T00:00:00Z")
    report = miner.crawl(SCOPE)
    assert report.mode == "incremental"
    record = by_number(report.dataset)[number]
    assert record["state"] == "open" and record["retired"] == "reopened"
    assert [e["kind"] for e in record["events"]][-1] == "reopened"
    assert not rules.is_fixed(record)
    repo.close(number, "2031-02-01T00:00:00Z", commit_id="f" * 40)
    again = by_number(miner.crawl(SCOPE).dataset)[number]
    assert again["retired"] is None and rules.is_fixed(again)


@MODES
def test_a_full_crawl_retires_what_left_and_the_population_matches_github(
    small_fake, tmp_path, token
):
    repo = small_fake.repos["o/conv"]
    elsewhere = small_fake.add_repo(Repo("o/elsewhere"))
    miner = make_miner(small_fake, tmp_path, token=token)
    miner.crawl(SCOPE)
    moved, deleted, reopened = closed_issues(repo)[:3]
    repo.transfer(moved, elsewhere, "2031-01-01T00:00:00Z")
    repo.delete(deleted)
    # a reopening that does not bump updatedAt is invisible to incremental runs
    repo.issues[reopened].state = "open"
    report = miner.crawl(SCOPE, full=True)
    records = by_number(report.dataset)
    assert records[moved]["retired"] == "transferred to o/elsewhere#1"
    assert records[deleted]["retired"] == "deleted"
    assert records[reopened]["retired"] == "reopened"
    population = studies.population(records.values(), SCOPE, "issta24")
    assert sorted(population["number"]) == closed_issues(repo)


@MODES
def test_a_renamed_repository_is_kept_under_its_new_name(tmp_path, token):
    fake = FakeGitHub(token=TOKEN, anonymous_limit=100_000)
    fake.add_repo(generate_repo("o/old", 40, seed=6, long_timeline_share=0.0))
    with fake:
        miner = make_miner(fake, tmp_path, token=token)
        miner.crawl(Scope("o/old"))
        assert (tmp_path / "issues" / "o__old.jsonl").is_file()
        fake.rename("o/old", "o/new")
        report = miner.crawl(Scope("o/old"), full=True)
    assert report.dataset.name == "o__new.jsonl"
    assert not (tmp_path / "issues" / "o__old.jsonl").exists()
    records = by_number(report.dataset)
    assert {r["repository"] for r in records.values()} == {"o/new"}
    assert all(r["aliases"] == ["o/old"] for r in records.values())
    repo = fake.repos["o/new"]
    closed_by_commit = [
        n
        for n in closed_issues(repo)
        if any(e.commit_id for e in repo.issues[n].events if e.kind == "closed")
    ]
    assert closed_by_commit
    for number in closed_by_commit:
        assert "closed_by_commit_same_repository" in records[number]["fix_rules"]["strict"]


@MODES
def test_evidence_per_event_and_who_closed(tmp_path, token):
    fake = FakeGitHub(token=TOKEN, anonymous_limit=100_000)
    repo = fake.add_repo(Repo("o/conv"))
    pr = Source("o/conv", 50, True, "merged")
    repo.add(
        issue(
            1,
            [
                Event("closed", "2020-01-02T00:00:00Z", state_reason="not_planned"),
                Event("reopened", "2020-01-03T00:00:00Z", state_reason="reopened"),
                Event("closed", "2020-01-04T00:00:00Z", closer_pr=pr, state_reason="completed"),
            ],
            author=None,
        )
    )
    repo.add(
        issue(
            2,
            [
                Event("connected", "2020-01-02T00:00:00Z", source=pr),
                Event("disconnected", "2020-01-03T00:00:00Z", source=pr),
                Event(
                    "closed",
                    "2020-01-05T00:00:00Z",
                    actor="stale[bot]",
                    actor_is_bot=True,
                    commit_id="a" * 40,
                    commit_repository="o/conv",
                    state_reason="not_planned",
                ),
            ],
        )
    )
    repo.add(
        issue(
            3,
            [
                Event("cross-referenced", "2020-01-02T00:00:00Z", source=pr, will_close=True),
                Event("connected", "2020-01-03T00:00:00Z", source=pr),
                Event("closed", "2020-01-04T00:00:00Z"),
            ],
        )
    )
    with fake:
        records = by_number(make_miner(fake, tmp_path, token=token).crawl(SCOPE).dataset)
    first, second, third = records[1], records[2], records[3]
    assert set(first) == set(issue_records.FIELDS)
    assert first["author"] == "ghost" and second["author"] == "octocat"
    assert [(e["kind"], e["state_reason"]) for e in first["events"]] == [
        ("closed", "not_planned"),
        ("reopened", "reopened"),
        ("closed", "completed"),
    ]
    assert second["closed_by"] == "stale[bot]" and second["closed_by_bot"] is True
    assert first["closed_by"] == "octocat" and first["closed_by_bot"] is False
    # a bot's closure is no fix for `strict`; the published filter still counts the commit
    assert "closed_by_commit_same_repository" not in second["fix_rules"]["strict"]
    assert "closed_with_commit" in second["fix_rules"]["issta24"]
    # a disconnection undoes the connection
    assert "connected" not in second["fix_rules"]["issta24"]
    assert "connected" in third["fix_rules"]["issta24"]
    if token:  # REST does not say which pull request closed, will close or was connected
        closing = first["events"][-1]
        assert closing["merge_commit"] == pr.merge_commit and closing["pr_number"] == 50
        assert third["events"][0]["will_close"] is True
        assert "connected_merged_pull_request" not in second["fix_rules"]["strict"]
        assert "connected_merged_pull_request" in third["fix_rules"]["strict"]


def test_timeouts_are_retried_then_halve_the_page_which_grows_back(small_fake, tmp_path):
    # four timeouts in a row outlast the transport's three retries: the page is halved once
    small_fake.inject("timeout", times=4, path="/graphql", match="IssuesPage")
    miner = make_miner(small_fake, tmp_path, page_size=10, timeline_window=100)
    report = miner.crawl(SCOPE)
    sizes = [
        json.loads(r.body)["variables"]["first"]
        for r in small_fake.log
        if b"IssuesPage" in r.body and r.status == 200
    ]
    assert sizes[0] == 5 and 10 in sizes[1:]
    assert sorted(by_number(report.dataset)) == closed_issues(small_fake.repos["o/conv"])


def test_a_timeout_in_an_overflow_query_is_retried(tmp_path):
    fake = FakeGitHub(token=TOKEN)
    fake.add_repo(generate_repo("o/conv", 40, seed=9, long_timeline_share=0.2))
    with fake:
        fake.inject("timeout", times=2, path="/graphql", match="query Batch")
        report = make_miner(fake, tmp_path).crawl(SCOPE)
        assert fake.count("/graphql", 502) == 2
    repo = fake.repos["o/conv"]
    evidence = {"closed", "referenced", "cross-referenced", "connected"}
    for number, record in by_number(report.dataset).items():
        truth = [e for e in repo.issues[number].events if e.kind in evidence]
        assert len(record["events"]) == len(truth)


def test_a_rest_incremental_run_cannot_skip_an_issue_updated_between_pages(tmp_path):
    fake = FakeGitHub(token=TOKEN, anonymous_limit=100_000)
    repo = fake.add_repo(generate_repo("o/conv", 300, seed=8, pull_share=0.0))
    with fake:
        miner = make_miner(fake, tmp_path, token=None)
        miner.crawl(SCOPE)
        changed = closed_issues(repo)[:150]
        for k, number in enumerate(changed):
            repo.touch(number, f"2031-01-01T00:{k // 60:02d}:{k % 60:02d}Z")
        lists = []

        def bump_during_the_crawl(path: str, query: dict[str, str]) -> None:
            if path == "/repos/o/conv/issues" and "since" in query:
                lists.append(query)
                if len(lists) == 3:  # after the probe and the first page of the crawl
                    repo.touch(changed[0], "2031-06-01T00:00:00Z")

        fake.before_get = bump_during_the_crawl
        report = miner.crawl(SCOPE)
    records = by_number(report.dataset)
    assert report.mode == "incremental" and len(lists) >= 3
    stale = [n for n in changed if records[n]["updated_at"] != repo.issues[n].updated_at]
    assert stale == []


def test_a_secondary_limit_without_retry_after_waits_and_goes_on(small_fake, tmp_path):
    small_fake.inject("secondary_bare", path="/graphql", skip=1)
    miner = make_miner(small_fake, tmp_path)
    report = miner.crawl(SCOPE)
    assert miner.transport.stats.slept >= miner.transport.secondary_wait
    assert sorted(by_number(report.dataset)) == closed_issues(small_fake.repos["o/conv"])


def test_anonymous_304s_are_charged_authorized_ones_are_not(small_fake):
    target = "/repos/o/conv/issues/1/timeline"
    for token, identity, charged in ((None, "anonymous", 1), (TOKEN, "token", 0)):
        transport = Transport(small_fake.url, token)
        etag = transport.get(target).etag
        used = small_fake.bucket(identity, "core").used
        assert transport.get(target, etag=etag).status == 304
        assert small_fake.bucket(identity, "core").used - used == charged


def test_a_name_that_does_not_resolve_fails_at_once_in_one_line() -> None:
    transport = Transport("http://nonexistent.invalid", None, backoff=5.0)
    with pytest.raises(MiningError) as info:
        transport.get("/repos/o/conv/issues")
    assert "cannot resolve nonexistent.invalid" in str(info.value)
    assert "\n" not in str(info.value) and transport.stats.retries == 0


@pytest.mark.parametrize("address", ["", "api.github.com", "ftp://example.org"])
def test_an_address_that_is_not_http_is_one_line(address: str) -> None:
    with pytest.raises(MiningError, match="not an API address"):
        Transport(address, None)


def test_a_refused_connection_is_retried_a_few_times_then_one_line() -> None:
    with socket.socket() as probe:  # a port nothing listens on: bound, never listening
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
        transport = Transport(f"http://127.0.0.1:{port}", None, backoff=0.01)
        with pytest.raises(MiningError) as info:
            transport.get("/repos/o/conv/issues")
    message = str(info.value)
    assert f"cannot connect to 127.0.0.1 after {CONNECT_RETRIES} retries" in message
    assert "Connection refused" in message and "\n" not in message


def test_more_labels_than_a_page_holds_are_reported(small_fake, tmp_path, caplog) -> None:
    caplog.set_level(logging.WARNING)
    repo = small_fake.repos["o/conv"]
    number = closed_issues(repo)[0]
    repo.issues[number].labels = [f"label {k:03d}" for k in range(120)]
    make_miner(small_fake, tmp_path).crawl(SCOPE)
    assert f"o/conv#{number} has 120 labels; only the first 100 are kept" in caplog.text


def test_state_all_is_honoured_for_the_default_presets() -> None:
    assert {s.state for s in resolve((), (), (), (), "all")} == {"all"}
    assert {s.state for s in resolve(("tf2onnx",), (), (), (), "open")} == {"open"}


@MODES
def test_the_token_is_in_no_file_the_miner_writes(small_fake, tmp_path, token):
    small_fake.inject("secondary", path="/graphql" if token else "/repos", skip=1)
    miner = make_miner(small_fake, tmp_path, token=token)
    miner.crawl(SCOPE)
    miner.hydrate("o/conv", closed_issues(small_fake.repos["o/conv"])[:3])
    miner.store.close()
    miner.transport.archive.close()
    for path in tmp_path.rglob("*"):
        if path.is_file():
            assert TOKEN.encode() not in path.read_bytes(), path
