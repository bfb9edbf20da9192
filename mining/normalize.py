"""API payloads ▸ the project's issue record with typed fix-evidence events.

GraphQL and REST describe the same issue differently; both become one record (a plain dict, so
it writes to JSONL as is). Evidence events keep what the fix rules and a researcher need::

    kind              closed | reopened | referenced | cross-referenced | connected |
                      disconnected | marked_as_duplicate
    time              ISO-8601 UTC
    actor             login of who did it ("ghost" for a deleted account; null when unknown)
    actor_is_bot      whether that account is a bot (a stale bot's closure is no fix)
    state_reason      closed / reopened events: the reason of *that* event
    commit            commit id (closed by a commit; referenced by a commit)
    pr_number         the pull request that closed / cross-referenced / was (dis)connected
    merge_commit      that pull request's merge commit, when merged
    will_close        cross-references: GitHub's willCloseTarget
    source_repository full name of the commit's, issue's or pull request's repository
    source_number     number of the referring issue or pull request (the canonical issue of
                      a duplicate)
    source_type       issue | pull_request
    source_state      open | closed | merged
    merged            pull requests only

REST's timeline cannot say which pull request a ``connected`` or ``disconnected`` event links,
which pull request closed an issue, nor which repository a commit that closed an issue lives in
when GitHub omits ``commit_url``; those fields stay null. A deleted account is ``null`` in
GraphQL and the user ``ghost`` in REST; both become ``"ghost"``.
"""

from __future__ import annotations

import re
from typing import Any

from convfail import issue_records
from mining import rules

EVIDENCE_KINDS = (
    "closed",
    "reopened",
    "referenced",
    "cross-referenced",
    "connected",
    "disconnected",
    "marked_as_duplicate",
)
GHOST = "ghost"
COMMIT_URL = re.compile(r"/repos/([^/]+/[^/]+)/commits/")
GRAPHQL_KINDS = {
    "ClosedEvent": "closed",
    "ReferencedEvent": "referenced",
    "CrossReferencedEvent": "cross-referenced",
    "ConnectedEvent": "connected",
    "ReopenedEvent": "reopened",
    "DisconnectedEvent": "disconnected",
    "MarkedAsDuplicateEvent": "marked_as_duplicate",
}


def event(kind: str, time: str, **fields: Any) -> dict[str, Any]:
    base = {
        "kind": kind,
        "time": time,
        "actor": None,
        "actor_is_bot": None,
        "state_reason": None,
        "commit": None,
        "pr_number": None,
        "merge_commit": None,
        "will_close": None,
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
    """Sort what has no order of its own, note who closed it, attach the firing fix rules."""
    record["schema"] = issue_records.VERSION
    record["labels"] = sorted(set(record["labels"]))
    record["events"] = sorted(record["events"], key=_event_key)
    closes = [e for e in record["events"] if e["kind"] == "closed"]
    last = closes[-1] if closes and record["state"] == "closed" else None
    record["closed_by"] = last["actor"] if last else None
    record["closed_by_bot"] = last["actor_is_bot"] if last else None
    record.setdefault("aliases", [])
    record.setdefault("retired", None)
    record["fix_rules"] = rules.evaluate(record)
    return record


def login(user: dict[str, Any] | None) -> str:
    """A user's login; a deleted account (GraphQL null, REST ``ghost``) is ``"ghost"``."""
    return str((user or {}).get("login") or GHOST)


def _graphql_actor(node: dict[str, Any]) -> dict[str, Any]:
    if "actor" not in node:
        return {}
    who = node.get("actor")
    return {"actor": login(who), "actor_is_bot": bool(who) and who.get("__typename") == "Bot"}


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
        "merge_commit": (subject.get("mergeCommit") or {}).get("oid") if is_pr else None,
    }


def graphql_event(node: dict[str, Any], repository: str, number: int) -> dict[str, Any] | None:
    kind = GRAPHQL_KINDS.get(node.get("__typename", ""))
    if kind is None:
        return None
    time = node["createdAt"]
    who = _graphql_actor(node)
    if kind in {"closed", "reopened"}:
        who["state_reason"] = node["stateReason"].lower() if node.get("stateReason") else None
    if kind == "closed":
        closer = node.get("closer") or {}
        if closer.get("__typename") == "Commit":
            return event(
                kind,
                time,
                commit=closer["oid"],
                source_repository=(closer.get("repository") or {}).get("nameWithOwner"),
                **who,
            )
        if closer.get("__typename") == "PullRequest":
            return event(kind, time, **_subject_fields(closer), **who)
        return event(kind, time, **who)
    if kind == "reopened":
        return event(kind, time, **who)
    if kind == "marked_as_duplicate":
        return event(kind, time, **_subject_fields(node.get("canonical")))
    if kind == "referenced":
        return event(
            kind,
            time,
            commit=(node.get("commit") or {}).get("oid"),
            source_repository=(node.get("commitRepository") or {}).get("nameWithOwner"),
        )
    if kind == "cross-referenced":
        return event(
            kind,
            time,
            will_close=bool(node.get("willCloseTarget")),
            **_subject_fields(node.get("source")),
        )
    # (dis)connected: one end is this issue, the other the linked issue or pull request
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
        "author": login(node.get("author")),
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
            "author": login(node.get("author")),
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
    actor = payload.get("actor")
    who = {"actor": login(actor), "actor_is_bot": (actor or {}).get("type") == "Bot"}
    if kind in {"closed", "reopened"}:
        who["state_reason"] = payload.get("state_reason")
    if kind in {"closed", "referenced"}:
        match = COMMIT_URL.search(payload.get("commit_url") or "")
        return event(
            kind,
            time,
            commit=payload.get("commit_id"),
            source_repository=match.group(1) if match else None,
            **(who if kind == "closed" else {}),
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
    return event(kind, time, **(who if kind == "reopened" else {}))


def rest_comment(payload: dict[str, Any]) -> dict[str, Any]:
    return {
        "author": login(payload.get("user")),
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
            "author": login(issue.get("user")),
            "author_association": issue.get("author_association"),
            "created_at": issue["created_at"],
            "updated_at": issue["updated_at"],
            "closed_at": issue.get("closed_at"),
            "comment_count": issue.get("comments", 0),
            "events": list(events),
            "comments": [rest_comment(c) for c in comments] if comments is not None else None,
        }
    )
