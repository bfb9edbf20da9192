"""Every GraphQL query the miner sends is valid against GitHub's published schema."""

from __future__ import annotations

import pytest

from mining import queries
from mining.schema import query_errors

QUERIES = {
    "issues page": queries.ISSUES_PAGE,
    "timeline overflow x1": queries.timeline_overflow(1),
    "timeline overflow x20": queries.timeline_overflow(20),
    "comments overflow x3": queries.comments_overflow(3),
    "issues by number x1": queries.issues_by_number(1),
    "issues by number x20": queries.issues_by_number(20),
    "repository name": queries.REPOSITORY_NAME,
}


@pytest.mark.parametrize("name", sorted(QUERIES))
def test_query_is_valid_against_github_schema(name: str) -> None:
    assert query_errors(QUERIES[name]) == []


def test_validation_catches_what_github_would_reject() -> None:
    # PullRequest.state and Issue.state have different types: GitHub refuses them unaliased.
    broken = queries.ISSUES_PAGE.replace("prState: state", "state").replace(
        "issueState: state", "state"
    )
    messages = " ".join(e.message for e in query_errors(broken))
    assert "conflict" in messages
    assert query_errors(
        '{ repository(owner: "a", name: "b") { issues(first: 1) { nodes { nope } } } }'
    )
