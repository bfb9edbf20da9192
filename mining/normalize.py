"""API payloads ▸ the project's issue record with typed fix-evidence events.

GraphQL and REST describe the same issue differently; both become one record (a plain dict, so
it writes to JSONL as is). Evidence events keep only what the fix rules need::

    kind              closed | referenced | cross-referenced | connected
    time              ISO-8601 UTC
    commit            commit id (closed by a commit; referenced by a commit)
    pr_number         the pull request that closed / cross-referenced / was connected
    source_repository full name of the commit's, issue's or pull request's repository
    source_number     number of the referring issue or pull request
    source_type       issue | pull_request
    source_state      open | closed | merged
    merged            pull requests only

REST's timeline cannot say which pull request a ``connected`` event links, nor which repository
a commit that closed an issue lives in when GitHub omits ``commit_url``; those fields stay null.
"""

from __future__ import annotations

import re
from typing import Any

from convfail import issue_records
from mining import rules

EVIDENCE_KINDS = ("closed", "referenced", "cross-referenced", "connected")
COMMIT_URL = re.compile(r"/repos/([^/]+/[^/]+)/commits/")
GRAPHQL_KINDS = {
    "ClosedEvent": "closed",
    "ReferencedEvent": "referenced",
    "CrossReferencedEvent": "cross-referenced",
    "ConnectedEvent": "connected",
}


def event(kind: str, time: str, **fields: Any) -> dict[str, Any]:
    base = {
        "kind": kind,
        "time": time,
        "commit": None,
        "pr_number": None,
        "source_repository": None,
        "source_number": None,
        "source_type": None,
        "source_state": None,
        "merged": None,
    }
    base.update(fields)
    return base


def _event_key(e: dict[str, Any]) -> tuple:
    return (
        e["time"],
        e["kind"],
        e["commit"] or "",
        e["source_repository"] or "",
        e["source_number"] or 0,
    )


def finish(record: dict[str, Any]) -> dict[str, Any]:
    """Sort what has no order of its own and attach the firing fix rules of every rule set."""
    record["schema"] = issue_records.VERSION
    record["labels"] = sorted(set(record["labels"]))
    record["events"] = sorted(record["events"], key=_event_key)
    record["fix_rules"] = rules.evaluate(record)
    return record


# -- GraphQL --------------------------------------------------------------------------------


def _subject_fields(subject: dict[str, Any] | None) -> dict[str, Any]:
    if not subject:
        return {}
    is_pr = subject.get("__typename") == "PullRequest"
    state = (subject.get("prState") if is_pr else subject.get("issueState")) or ""
    return {
        "pr_number": subject.get("number") if is_pr else None,
        "source_repository": (subject.get("repository") or {}).get("nameWithOwner"),
        "source_number": subject.get("number"),
        "source_type": "pull_request" if is_pr else "issue",
        "source_state": state.lower() or None,
        "merged": bool(subject.get("merged")) if is_pr else None,
    }


def graphql_event(node: dict[str, Any], repository: str, number: int) -> dict[str, Any] | None:
    kind = GRAPHQL_KINDS.get(node.get("__typename", ""))
    if kind is None:
        return None
    time = node["createdAt"]
    if kind == "closed":
        closer = node.get("closer") or {}
        if closer.get("__typename") == "Commit":
            return event(
                kind,
                time,
                commit=closer["oid"],
                source_repository=(closer.get("repository") or {}).get("nameWithOwner"),
            )
        if closer.get("__typename") == "PullRequest":
            return event(kind, time, **_subject_fields(closer))
        return event(kind, time)
    if kind == "referenced":
        return event(
            kind,
            time,
            commit=(node.get("commit") or {}).get("oid"),
            source_repository=(node.get("commitRepository") or {}).get("nameWithOwner"),
        )
    if kind == "cross-referenced":
        return event(kind, time, **_subject_fields(node.get("source")))
    # connected: one end is this issue, the other the linked issue or pull request
    ends = [node.get("source"), node.get("subject")]
    other = next(
        (
            e
            for e in ends
            if e
            and not (
                e.get("number") == number
                and (e.get("repository") or {}).get("nameWithOwner") == repository
            )
        ),
        None,
    )
    return event(kind, time, **_subject_fields(other))


def graphql_events(
    nodes: list[dict[str, Any]], repository: str, number: int
) -> list[dict[str, Any]]:
    return [e for e in (graphql_event(n, repository, number) for n in nodes) if e is not None]


def graphql_comment(node: dict[str, Any]) -> dict[str, Any]:
    return {
        "author": (node.get("author") or {}).get("login"),
        "author_association": node.get("authorAssociation"),
        "created_at": node.get("createdAt"),
        "body": node.get("body") or "",
    }


def from_graphql(
    repository: str,
    node: dict[str, Any],
    events: list[dict[str, Any]],
    comments: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """A record from an ``IssueFields`` node and its complete evidence (and comments)."""
    return finish(
        {
            "repository": repository,
            "number": node["number"],
            "url": node["url"],
            "title": node["title"],
            "body": node.get("body") or "",
            "state": node["state"].lower(),
            "state_reason": node["stateReason"].lower() if node.get("stateReason") else None,
            "labels": [label["name"] for label in (node.get("labels") or {}).get("nodes") or []],
            "author_association": node.get("authorAssociation"),
            "created_at": node["createdAt"],
            "updated_at": node["updatedAt"],
            "closed_at": node.get("closedAt"),
            "comment_count": (node.get("comments") or {}).get("totalCount", 0),
            "events": events,
            "comments": comments,
        }
    )


# -- REST -----------------------------------------------------------------------------------


def rest_event(payload: dict[str, Any]) -> dict[str, Any] | None:
    kind = payload.get("event")
    if kind not in EVIDENCE_KINDS:
        return None
    time = payload.get("created_at") or ""
    if kind in {"closed", "referenced"}:
        match = COMMIT_URL.search(payload.get("commit_url") or "")
        return event(
            kind,
            time,
            commit=payload.get("commit_id"),
            source_repository=match.group(1) if match else None,
        )
    if kind == "cross-referenced":
        issue = (payload.get("source") or {}).get("issue") or {}
        pull = issue.get("pull_request")
        merged = bool(pull.get("merged_at")) if pull else None
        state = "merged" if merged else issue.get("state")
        return event(
            kind,
            time,
            pr_number=issue.get("number") if pull else None,
            source_repository=(issue.get("repository") or {}).get("full_name"),
            source_number=issue.get("number"),
            source_type="pull_request" if pull else "issue",
            source_state=state,
            merged=merged,
        )
    return event(kind, time)


def rest_comment(payload: dict[str, Any]) -> dict[str, Any]:
    return {
        "author": (payload.get("user") or {}).get("login"),
        "author_association": payload.get("author_association"),
        "created_at": payload.get("created_at"),
        "body": payload.get("body") or "",
    }


def from_rest(
    repository: str,
    issue: dict[str, Any],
    events: list[dict[str, Any]],
    comments: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """A record from a REST issue object, its normalised timeline events (and raw comments)."""
    return finish(
        {
            "repository": repository,
            "number": issue["number"],
            "url": issue["html_url"],
            "title": issue["title"],
            "body": issue.get("body") or "",
            "state": issue["state"],
            "state_reason": issue.get("state_reason"),
            "labels": [label["name"] for label in issue.get("labels") or []],
            "author_association": issue.get("author_association"),
            "created_at": issue["created_at"],
            "updated_at": issue["updated_at"],
            "closed_at": issue.get("closed_at"),
            "comment_count": issue.get("comments", 0),
            "events": list(events),
            "comments": [rest_comment(c) for c in comments] if comments is not None else None,
        }
    )
