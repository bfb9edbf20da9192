"""The fix-evidence rules on crafted timelines: each rule, the issta24 filter, the strict set."""

from __future__ import annotations

import pytest

from mining import rules
from mining.normalize import event, finish

REPO = "pytorch/pytorch"


def record(*events: dict, state: str = "closed") -> dict:
    return finish(
        {
            "repository": REPO,
            "number": 1,
            "url": "",
            "title": "",
            "body": "",
            "state": state,
            "state_reason": "completed",
            "labels": [],
            "author_association": "NONE",
            "created_at": "2020-01-01T00:00:00Z",
            "updated_at": "2020-01-02T00:00:00Z",
            "closed_at": None,
            "comment_count": 0,
            "events": list(events),
            "comments": None,
        }
    )


T = "2020-01-01T10:00:00Z"
CASES = [
    # (event, issta24 rules that fire, strict rules that fire)
    (
        event("closed", T, commit="abc", source_repository=REPO),
        ["closed_with_commit"],
        ["closed_by_commit_same_repository"],
    ),
    (
        event("closed", T, commit="abc", source_repository="someone/pytorch"),
        ["closed_with_commit"],
        [],
    ),
    (event("closed", T), [], []),
    (
        event(
            "closed",
            T,
            pr_number=5,
            source_repository=REPO,
            source_type="pull_request",
            source_state="merged",
            merged=True,
        ),
        [],
        ["closed_by_merged_pull_request"],
    ),
    (
        event("referenced", T, commit="abc", source_repository=REPO),
        ["referenced_by_commit"],
        ["referenced_by_commit_same_repository"],
    ),
    (
        event("referenced", T, commit="abc", source_repository="fork/pytorch"),
        ["referenced_by_commit"],
        [],
    ),
    (event("referenced", T, commit=None, source_repository=REPO), [], []),
    (
        event(
            "cross-referenced",
            T,
            pr_number=9,
            source_repository=REPO,
            source_number=9,
            source_type="pull_request",
            source_state="merged",
            merged=True,
        ),
        ["cross_referenced_closed_same_name"],
        ["cross_referenced_merged_pull_request"],
    ),
    # a fork of the same name counts for the published filter (name-only match), not for strict
    (
        event(
            "cross-referenced",
            T,
            pr_number=9,
            source_repository="fork/pytorch",
            source_number=9,
            source_type="pull_request",
            source_state="merged",
            merged=True,
        ),
        ["cross_referenced_closed_same_name"],
        [],
    ),
    (
        event(
            "cross-referenced",
            T,
            source_repository=REPO,
            source_number=3,
            source_type="issue",
            source_state="closed",
        ),
        ["cross_referenced_closed_same_name"],
        [],
    ),
    (
        event(
            "cross-referenced",
            T,
            source_repository=REPO,
            source_number=3,
            source_type="issue",
            source_state="open",
        ),
        [],
        [],
    ),
    (
        event(
            "cross-referenced",
            T,
            pr_number=4,
            source_repository="onnx/onnx",
            source_number=4,
            source_type="pull_request",
            source_state="merged",
            merged=True,
        ),
        [],
        [],
    ),
    (event("connected", T), ["connected"], []),
    (
        event(
            "connected",
            T,
            pr_number=7,
            source_repository=REPO,
            source_type="pull_request",
            source_state="merged",
            merged=True,
        ),
        ["connected"],
        ["connected_merged_pull_request"],
    ),
]


@pytest.mark.parametrize(("evidence", "published", "strict"), CASES)
def test_each_rule(evidence: dict, published: list[str], strict: list[str]) -> None:
    r = record(evidence)
    assert rules.firing(r, "issta24") == published
    assert rules.firing(r, "strict") == strict
    assert r["fix_rules"] == {"issta24": published, "strict": strict}


def test_issta24_filter_on_crafted_timelines() -> None:
    nothing = record(
        event(
            "cross-referenced",
            T,
            source_repository="x/y",
            source_state="merged",
            source_type="pull_request",
            merged=True,
        )
    )
    several = record(
        event("referenced", T, commit="a", source_repository=REPO), event("connected", T)
    )
    still_open = record(event("referenced", T, commit="a", source_repository=REPO), state="open")
    assert not rules.is_fixed(nothing)
    assert rules.is_fixed(several)
    assert rules.firing(several, "issta24") == ["referenced_by_commit", "connected"]
    assert not rules.is_fixed(still_open), "an open issue is never 'closed with a fix'"


def test_strict_is_never_looser_than_published_on_these_cases() -> None:
    for evidence, published, strict in CASES:
        if strict and evidence["kind"] != "closed":
            assert published, evidence
