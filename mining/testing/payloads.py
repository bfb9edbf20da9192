"""Render the fake GitHub's data in GitHub's documented shapes.

REST: the issue, comment and timeline-event objects of the REST API (v2022-11-28).
GraphQL: resolver trees for graphql-core, executed against GitHub's own published schema, so
any query a client sends is validated and answered exactly as the schema says; connections
page with opaque cursors like GitHub's.

Each behaviour that a client could get wrong cites where GitHub documents it. "REST issues"
is docs.github.com/en/rest/issues/issues, "REST timeline" docs.github.com/en/rest/issues/timeline
with its event list at docs.github.com/en/webhooks-and-events/events/issue-event-types, and
"schema" the GraphQL schema GitHub publishes (../shared/reference/github-graphql).
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Callable
from typing import Any

from mining.testing.model import Comment, Event, Issue, Repo, Source

API = "http://127.0.0.1"  # replaced by the server's address when rendering REST URLs
WEB = "https://github.com"

GRAPHQL_ITEM_TYPES = {
    "CLOSED_EVENT": "closed",
    "REFERENCED_EVENT": "referenced",
    "CROSS_REFERENCED_EVENT": "cross-referenced",
    "CONNECTED_EVENT": "connected",
    "LABELED_EVENT": "labeled",
    "MENTIONED_EVENT": "mentioned",
    "SUBSCRIBED_EVENT": "subscribed",
    "ASSIGNED_EVENT": "assigned",
    "RENAMED_TITLE_EVENT": "renamed",
    "ISSUE_COMMENT": "commented",
    "REOPENED_EVENT": "reopened",
    "DISCONNECTED_EVENT": "disconnected",
    "TRANSFERRED_EVENT": "transferred",
    "MARKED_AS_DUPLICATE_EVENT": "marked_as_duplicate",
}
TYPENAMES = {
    "closed": "ClosedEvent",
    "referenced": "ReferencedEvent",
    "cross-referenced": "CrossReferencedEvent",
    "connected": "ConnectedEvent",
    "labeled": "LabeledEvent",
    "mentioned": "MentionedEvent",
    "subscribed": "SubscribedEvent",
    "assigned": "AssignedEvent",
    "renamed": "RenamedTitleEvent",
    "commented": "IssueComment",
    "reopened": "ReopenedEvent",
    "disconnected": "DisconnectedEvent",
    "transferred": "TransferredEvent",
    "marked_as_duplicate": "MarkedAsDuplicateEvent",
}
# Docs, "Deleting your personal account": what a deleted account wrote is kept and attributed
# to the placeholder account @ghost. REST shows that user; GraphQL's `author`/`actor` fields are
# nullable (schema: `author: Actor`) and are null for it.
GHOST = "ghost"


class NotFound(Exception):
    """Raised by a resolver for a node GitHub cannot resolve.

    GitHub answers such a field with ``null`` in ``data`` *and* an entry in ``errors`` of
    ``"type": "NOT_FOUND"`` with the field's ``path`` (GraphQL spec, "Response: Errors", partial
    results; GitHub adds the ``type`` key, the same way as for ``RATE_LIMITED`` in docs
    "Rate limits and query limits for the GraphQL API").
    """

    type = "NOT_FOUND"


def sha_hex(text: str) -> str:
    return hashlib.sha1(text.encode()).hexdigest()


# Docs, "Using pagination in the GraphQL API": cursors are opaque strings; clients pass back
# `endCursor` and must not build or parse them.
def encode_cursor(offset: int) -> str:
    return base64.b64encode(f"cursor:v2:{offset}".encode()).decode()


def decode_cursor(cursor: str | None) -> int:
    if not cursor:
        return 0
    try:
        return int(base64.b64decode(cursor).decode().rsplit(":", 1)[1]) + 1
    except (ValueError, IndexError) as exc:
        raise ValueError(f"`{cursor}` does not appear to be a valid cursor.") from exc


def connection(
    items: list[Any], first: int | None, after: str | None, render: Callable[[Any], Any]
) -> dict:
    """A GraphQL connection page: ``nodes``, ``edges``, ``pageInfo`` and ``totalCount``."""
    if first is None or not 0 <= first <= 100:
        raise ValueError("You must provide a `first` value between 0 and 100 to properly paginate.")
    start = decode_cursor(after)
    page = items[start : start + first]
    nodes = [render(item) for item in page]
    return {
        "totalCount": len(items),
        "nodes": nodes,
        "edges": [{"cursor": encode_cursor(start + i), "node": n} for i, n in enumerate(nodes)],
        "pageInfo": {
            "hasNextPage": start + first < len(items),
            "hasPreviousPage": start > 0,
            "startCursor": encode_cursor(start) if page else None,
            "endCursor": encode_cursor(start + len(page) - 1) if page else after,
        },
    }


def actor(login: str | None, bot: bool = False) -> dict | None:
    if login is None:
        return None
    return {
        "__typename": "Bot" if bot else "User",
        "login": login,
        "url": f"{WEB}/{login}",
        "avatarUrl": f"{WEB}/{login}.png",
    }


def graphql_repository(repo: Repo) -> dict:
    owner, name = repo.full_name.split("/")

    def issues(
        info: Any,
        first: int | None = None,
        after: str | None = None,
        states=None,
        labels=None,
        filterBy=None,
        orderBy=None,
        **_: Any,
    ) -> dict:
        # schema: `Repository.issues` lists issues only; pull requests are `pullRequests`.
        chosen = [i for i in repo.issues.values() if not i.is_pull_request]
        filters = filterBy or {}
        wanted_states = filters.get("states") or states
        if wanted_states:
            chosen = [i for i in chosen if i.state.upper() in wanted_states]
        wanted_labels = filters.get("labels") or labels
        if wanted_labels:
            chosen = [i for i in chosen if set(i.labels) & set(wanted_labels)]
        if filters.get("since"):
            chosen = [i for i in chosen if i.updated_at >= filters["since"]]
        order = orderBy or {"field": "CREATED_AT", "direction": "ASC"}
        key = {"CREATED_AT": "created_at", "UPDATED_AT": "updated_at", "COMMENTS": "comments"}[
            order["field"]
        ]
        chosen.sort(
            key=lambda i: (len(i.comments) if key == "comments" else getattr(i, key), i.number),
            reverse=order["direction"] == "DESC",
        )
        return connection(chosen, first, after, lambda i: graphql_issue(repo, i))

    def issue(info: Any, number: int) -> dict | None:
        # A pull request's number, a deleted or a transferred issue: null plus NOT_FOUND.
        found = repo.issues.get(number)
        if found is None or found.is_pull_request:
            raise NotFound(f"Could not resolve to an Issue with the number of {number}.")
        return graphql_issue(repo, found)

    return {
        "__typename": "Repository",
        "id": base64.b64encode(f"R_{repo.full_name}".encode()).decode(),
        "name": name,
        "nameWithOwner": repo.full_name,
        "owner": {"__typename": "Organization", "login": owner},
        "url": f"{WEB}/{repo.full_name}",
        "issues": issues,
        "issue": issue,
    }


def stub_repository(full_name: str) -> dict:
    owner, name = full_name.split("/")
    return {
        "__typename": "Repository",
        "name": name,
        "nameWithOwner": full_name,
        "owner": {"__typename": "Organization", "login": owner},
        "url": f"{WEB}/{full_name}",
    }


def graphql_subject(source: Source) -> dict:
    kind = "PullRequest" if source.is_pull_request else "Issue"
    path = "pull" if source.is_pull_request else "issues"
    state = source.state.upper()
    if not source.is_pull_request and state == "MERGED":
        state = "CLOSED"
    payload = {
        "__typename": kind,
        "number": source.number,
        "state": state,
        "url": f"{WEB}/{source.repository}/{path}/{source.number}",
        "repository": stub_repository(source.repository),
    }
    if source.is_pull_request:
        payload["merged"] = source.merged
        payload["closed"] = source.state != "open"
        # schema: `PullRequest.mergeCommit: Commit`, null unless merged.
        merge = source.merge_commit
        payload["mergeCommit"] = {"__typename": "Commit", "oid": merge} if merge else None
    else:
        payload["closed"] = state == "CLOSED"
    return payload


def graphql_event(repo: Repo, issue: Issue, event: Event) -> dict:
    base = {
        "__typename": TYPENAMES[event.kind],
        "createdAt": event.created_at,
        "actor": actor(event.actor, event.actor_is_bot),
        "id": base64.b64encode(
            f"E_{repo.full_name}_{issue.number}_{event.created_at}_{event.kind}".encode()
        ).decode(),
    }
    itself = graphql_subject(Source(repo.full_name, issue.number, False, issue.state))
    if event.kind == "closed":
        closer = None
        if event.commit_id:
            closer = {
                "__typename": "Commit",
                "oid": event.commit_id,
                "repository": stub_repository(event.commit_repository or repo.full_name),
            }
        elif event.closer_pr:
            closer = graphql_subject(event.closer_pr)
        # schema: each `ClosedEvent` has its own `stateReason` (why *that* close happened).
        reason = event.state_reason.upper() if event.state_reason else None
        base |= {"closer": closer, "stateReason": reason}
    elif event.kind == "reopened":
        base |= {
            "closable": itself,
            "stateReason": event.state_reason.upper() if event.state_reason else None,
        }
    elif event.kind == "transferred":
        base |= {
            "fromRepository": stub_repository(event.from_repository or ""),
            "issue": itself,
        }
    elif event.kind == "marked_as_duplicate":
        assert event.source is not None
        base |= {
            "canonical": graphql_subject(event.source),
            "duplicate": itself,
            "isCrossRepository": event.source.repository != repo.full_name,
        }
    elif event.kind == "referenced":
        base |= {
            "commit": {"__typename": "Commit", "oid": event.commit_id} if event.commit_id else None,
            "commitRepository": stub_repository(event.commit_repository or repo.full_name),
            "isCrossRepository": (event.commit_repository or repo.full_name) != repo.full_name,
            "isDirectReference": True,
            "subject": itself,
        }
    elif event.kind == "cross-referenced":
        assert event.source is not None
        base |= {
            "source": graphql_subject(event.source),
            "target": itself,
            "referencedAt": event.created_at,
            "isCrossRepository": event.source.repository != repo.full_name,
            # schema: `willCloseTarget`, the reference closes the target when its PR merges.
            "willCloseTarget": event.will_close,
        }
    elif event.kind in {"connected", "disconnected"}:
        assert event.source is not None
        base |= {
            "source": graphql_subject(event.source),
            "subject": itself,
            "isCrossRepository": event.source.repository != repo.full_name,
        }
    elif event.kind == "commented":
        base |= {
            "body": event.body or "",
            "author": actor(event.actor),
            "authorAssociation": "NONE",
        }
    return base


def graphql_issue(repo: Repo, issue: Issue) -> dict:
    def labels(info: Any, first: int | None = None, after: str | None = None, **_: Any) -> dict:
        return connection(
            sorted(issue.labels), first, after, lambda name: {"__typename": "Label", "name": name}
        )

    def comments(info: Any, first: int | None = None, after: str | None = None, **_: Any) -> dict:
        if first is None and after is None:
            first = 0  # `comments { totalCount }` alone is allowed by GitHub
        return connection(issue.comments, first, after, graphql_comment)

    def timeline(
        info: Any,
        first: int | None = None,
        after: str | None = None,
        itemTypes=None,
        since=None,
        **_: Any,
    ) -> dict:
        events = issue.events
        if itemTypes:
            kinds = {GRAPHQL_ITEM_TYPES[t] for t in itemTypes if t in GRAPHQL_ITEM_TYPES}
            events = [e for e in events if e.kind in kinds]
        if since:
            events = [e for e in events if e.created_at >= since]
        return connection(events, first, after, lambda e: graphql_event(repo, issue, e))

    return {
        "__typename": "Issue",
        "id": base64.b64encode(f"I_{repo.full_name}_{issue.number}".encode()).decode(),
        "number": issue.number,
        "url": f"{WEB}/{repo.full_name}/issues/{issue.number}",
        "title": issue.title,
        "body": issue.body,
        "state": issue.state.upper(),
        "stateReason": issue.state_reason.upper() if issue.state_reason else None,
        "closed": issue.state == "closed",
        "author": actor(issue.author),
        "authorAssociation": issue.author_association,
        "createdAt": issue.created_at,
        "updatedAt": issue.updated_at,
        "closedAt": issue.closed_at,
        "labels": labels,
        "comments": comments,
        "timelineItems": timeline,
        "repository": stub_repository(repo.full_name),
    }


def graphql_comment(comment: Comment) -> dict:
    return {
        "__typename": "IssueComment",
        "id": f"IC_{comment.id}",
        "databaseId": comment.id,
        "author": actor(comment.author),
        "authorAssociation": comment.author_association,
        "body": comment.body,
        "createdAt": comment.created_at,
        "updatedAt": comment.created_at,
    }


# --------------------------------------------------------------------------------------------
# REST


def rest_user(login: str | None, api: str, bot: bool = False) -> dict:
    login = login or GHOST
    return {
        "login": login,
        "id": 10137 if login == GHOST else int(sha_hex(login)[:7], 16),
        "type": "Bot" if bot else "User",
        "url": f"{api}/users/{login}",
        "html_url": f"{WEB}/{login}",
    }


def rest_repository(repo: Repo, api: str) -> dict:
    owner, name = repo.full_name.split("/")
    return {
        "id": repo.id,
        "name": name,
        "full_name": repo.full_name,
        "owner": {"login": owner, "type": "Organization"},
        "private": False,
        "url": f"{api}/repos/{repo.full_name}",
        "html_url": f"{WEB}/{repo.full_name}",
        "issues_url": f"{api}/repos/{repo.full_name}/issues{{/number}}",
    }


def rest_issue(repo: Repo, issue: Issue, api: str) -> dict:
    base = f"{api}/repos/{repo.full_name}/issues/{issue.number}"
    payload = {
        "url": base,
        "repository_url": f"{api}/repos/{repo.full_name}",
        "comments_url": f"{base}/comments",
        "events_url": f"{base}/events",
        "timeline_url": f"{base}/timeline",
        "html_url": f"{WEB}/{repo.full_name}/issues/{issue.number}",
        "id": issue.number * 7919,
        "node_id": f"I_{issue.number}",
        "number": issue.number,
        "title": issue.title,
        "user": rest_user(issue.author, api),
        "labels": [
            {"name": name, "color": "ededed", "default": False} for name in sorted(issue.labels)
        ],
        "state": issue.state,
        "state_reason": issue.state_reason,
        "locked": False,
        "comments": len(issue.comments),
        "created_at": issue.created_at,
        "updated_at": issue.updated_at,
        "closed_at": issue.closed_at,
        "author_association": issue.author_association,
        "body": issue.body,
    }
    # REST issues, "List repository issues" and "Get an issue": the REST API considers every
    # pull request an issue; a pull request is told apart by its `pull_request` key.
    if issue.is_pull_request:
        payload["pull_request"] = {
            "url": f"{api}/repos/{repo.full_name}/pulls/{issue.number}",
            "html_url": f"{WEB}/{repo.full_name}/pull/{issue.number}",
            "merged_at": issue.closed_at if issue.merged else None,
        }
    return payload


def rest_comment(repo: Repo, issue: Issue, comment: Comment, api: str) -> dict:
    return {
        "id": comment.id,
        "html_url": f"{WEB}/{repo.full_name}/issues/{issue.number}#issuecomment-{comment.id}",
        "user": rest_user(comment.author, api),
        "author_association": comment.author_association,
        "body": comment.body,
        "created_at": comment.created_at,
        "updated_at": comment.created_at,
    }


def rest_source(source: Source, api: str) -> dict:
    kind = "pull" if source.is_pull_request else "issues"
    issue = {
        "number": source.number,
        "state": "open" if source.state == "open" else "closed",
        "html_url": f"{WEB}/{source.repository}/{kind}/{source.number}",
        "repository": {"full_name": source.repository, "name": source.repository.split("/")[1]},
    }
    if source.is_pull_request:
        issue["pull_request"] = {
            "url": f"{api}/repos/{source.repository}/pulls/{source.number}",
            "merged_at": "2020-01-01T00:00:00Z" if source.merged else None,
        }
    return {"type": "issue", "issue": issue}


def rest_event(repo: Repo, issue: Issue, event: Event, api: str) -> dict:
    payload: dict[str, Any] = {
        "event": event.kind,
        "actor": rest_user(event.actor, api, event.actor_is_bot),
        "created_at": event.created_at,
    }
    if event.kind in {"closed", "referenced"}:
        commit_repo = event.commit_repository or repo.full_name
        payload["commit_id"] = event.commit_id
        payload["commit_url"] = (
            f"{api}/repos/{commit_repo}/commits/{event.commit_id}" if event.commit_id else None
        )
        if event.kind == "closed":
            # Issue event types, "closed": `state_reason` of this close, not the issue's.
            payload["state_reason"] = event.state_reason
    elif event.kind == "cross-referenced":
        assert event.source is not None
        payload["updated_at"] = event.created_at
        payload["source"] = rest_source(event.source, api)
    elif event.kind == "reopened":
        payload["state_reason"] = event.state_reason
    elif event.kind == "commented":
        payload["body"] = event.body or ""
    # Issue event types: `connected`/`disconnected` carry no link to the other end in REST, and
    # `transferred`/`marked_as_duplicate` only the actor and time.
    return payload
