"""The miner against the fake GitHub over real HTTP: pagination, overflow, faults, incremental,
replay, and the token kept out of everything stored or shown."""

from __future__ import annotations

import json
import logging
import math
from pathlib import Path

import pytest

from mining.errors import RateLimitExhausted, ReplayMiss
from mining.scope import PRESETS, Scope
from mining.testing.harness import TOKEN, make_miner
from mining.testing.model import Event, Source

pytest_plugins = ["mining_fixtures"]
TF = PRESETS["tf2onnx"]


def lines(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def expected_numbers(fake, scope: Scope) -> list[int]:
    repo = fake.repos[scope.repository]
    return sorted(
        n
        for n, i in repo.issues.items()
        if not i.is_pull_request and (i.state == scope.state or scope.state == "all")
    )


def test_full_crawl_paginates_and_keeps_every_event(fake, tmp_path: Path) -> None:
    miner = make_miner(fake, tmp_path, page_size=40)
    report = miner.crawl(TF)
    records = lines(report.dataset)
    assert [r["number"] for r in records] == expected_numbers(fake, TF)
    assert report.requests >= math.ceil(len(records) / 40)  # pages of 40, plus overflow batches
    repo = fake.repos[TF.repository]
    busy = [r for r in records if len(r["events"]) > 25]
    assert busy, "the population has long timelines"
    for r in records:
        truth = [
            e
            for e in repo.issues[r["number"]].events
            if e.kind in {"closed", "referenced", "cross-referenced", "connected"}
        ]
        assert len(r["events"]) == len(truth), r["number"]
    assert report.dataset.read_text().endswith("\n")


def test_graphql_page_size_adapts_to_timeouts(fake, tmp_path: Path) -> None:
    fake.timeout_nodes = 30 * 25  # pages of more than 30 issues x 25 events "time out"
    miner = make_miner(fake, tmp_path, page_size=100)
    report = miner.crawl(TF)
    assert fake.count("/graphql", 502) >= 2
    assert [r["number"] for r in lines(report.dataset)] == expected_numbers(fake, TF)


@pytest.mark.parametrize("kind", ["502", "reset", "truncated", "secondary", "429", "rate_limited"])
def test_faults_are_survived_with_identical_records(fake, tmp_path: Path, kind: str) -> None:
    clean = make_miner(fake, tmp_path / "clean").crawl(TF).dataset.read_bytes()
    fake.inject(kind, times=2, path="/graphql", skip=1)
    faulty = make_miner(fake, tmp_path / "faulty")
    assert faulty.crawl(TF).dataset.read_bytes() == clean
    assert faulty.transport.stats.requests > 3


def test_primary_limit_waits_for_reset(fake, tmp_path: Path) -> None:
    miner = make_miner(fake, tmp_path)
    miner.transport.stats.rate.clear()
    fake.exhaust("graphql", reset_in=1.0)
    report = miner.crawl(TF)
    assert miner.transport.stats.slept >= 0.5
    assert len(lines(report.dataset)) == len(expected_numbers(fake, TF))


def test_no_wait_stops_cleanly_and_the_next_run_resumes(fake, tmp_path: Path) -> None:
    # a window of 100 events: no overflow, so every page is saved as soon as it arrives
    miner = make_miner(fake, tmp_path, page_size=50, no_wait=True, timeline_window=100)
    fake.inject("primary", path="/graphql", skip=3)  # the name lookup, then two pages
    with pytest.raises(RateLimitExhausted, match=r"resumes|again later"):
        miner.crawl(TF)
    assert miner.store.count(TF.repository) == 100
    fake.reset_log()
    report = make_miner(fake, tmp_path, page_size=50, timeline_window=100).crawl(TF)
    assert [r["number"] for r in lines(report.dataset)] == expected_numbers(fake, TF)
    first_pages = [r for r in fake.log if b"IssuesPage" in r.body and b'"after":null' in r.body]
    assert first_pages == [], (
        "the second run resumed after the saved pages instead of starting over"
    )


def test_incremental_rerun_fetches_only_changes(fake, tmp_path: Path) -> None:
    miner = make_miner(fake, tmp_path)
    first = miner.crawl(TF)
    before = first.dataset.read_bytes()
    again = miner.crawl(TF)
    assert again.mode == "incremental" and again.requests <= 2
    assert again.dataset.read_bytes() == before
    # a new cross-reference that bumps updatedAt is picked up by the next incremental run
    repo = fake.repos[TF.repository]
    number = max(expected_numbers(fake, TF))
    repo.issues[number].events.append(
        Event(
            "cross-referenced",
            "2030-01-01T00:00:00Z",
            source=Source(TF.repository, 4242, True, "merged"),
        )
    )
    repo.touch(number, "2030-01-01T00:00:00Z")
    changed = miner.crawl(TF)
    assert changed.fetched >= 1 and changed.requests <= 3
    record = next(r for r in lines(changed.dataset) if r["number"] == number)
    assert any(e["source_number"] == 4242 for e in record["events"])


def test_full_rescan_sees_evidence_that_did_not_bump_updated_at(fake, tmp_path: Path) -> None:
    miner = make_miner(fake, tmp_path)
    miner.crawl(TF)
    repo = fake.repos[TF.repository]
    number = min(expected_numbers(fake, TF))
    repo.issues[number].events.append(
        Event("connected", "2019-01-01T00:00:00Z", source=Source(TF.repository, 7))
    )
    assert miner.crawl(TF).fetched == 0
    miner.crawl(TF, full=True)
    record = next(
        r for r in lines(miner.folder / "onnx__tensorflow-onnx.jsonl") if r["number"] == number
    )
    assert "connected" in record["fix_rules"]["issta24"]


def test_rest_without_token_uses_link_pages_and_etags(fake, tmp_path: Path) -> None:
    miner = make_miner(fake, tmp_path, token=None)
    report = miner.crawl(TF)
    assert fake.count("/graphql") == 0
    assert [r["number"] for r in lines(report.dataset)] == expected_numbers(fake, TF)
    fake.reset_log()
    miner.crawl(TF, full=True)
    repo = fake.repos[TF.repository]
    one_page = [r for r in lines(report.dataset) if len(repo.issues[r["number"]].events) <= 100]
    assert fake.count("/repos", 304) >= len(one_page), "unchanged timelines come back as 304s"
    assert miner.crawl(TF).requests == 1


def test_replay_is_byte_identical_and_offline(fake, tmp_path: Path) -> None:
    live = make_miner(fake, tmp_path / "live", page_size=30)
    fake.inject("502", path="/graphql", skip=1)
    recorded = live.crawl(TF).dataset.read_bytes()
    replay_dir = tmp_path / "replay"
    replay_dir.mkdir()
    (tmp_path / "live" / "archive.sqlite").rename(replay_dir / "archive.sqlite")
    fake.stop()
    replayed = make_miner(None, replay_dir, replay=True, page_size=30)
    assert replayed.crawl(TF).dataset.read_bytes() == recorded
    other = make_miner(None, replay_dir, replay=True, page_size=50, name="other")
    with pytest.raises(ReplayMiss):
        other.crawl(TF)


def test_token_never_in_archive_logs_or_errors(
    fake, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    fake.inject("502", path="/graphql")
    fake.inject("secondary", path="/graphql")
    miner = make_miner(fake, tmp_path)
    miner.crawl(TF)
    miner.transport.close()
    miner.transport.archive.close()
    assert TOKEN.encode() not in (tmp_path / "archive.sqlite").read_bytes()
    assert TOKEN not in caplog.text
    assert all(r.authorization == f"bearer {TOKEN}" for r in fake.log if r.path == "/graphql")
    bad = make_miner(fake, tmp_path / "bad", token=TOKEN + "x")
    with pytest.raises(Exception) as info:
        bad.crawl(TF)
    assert TOKEN not in str(info.value) and "credentials" in str(info.value)
