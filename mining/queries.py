"""The GraphQL queries the miner sends, checked against GitHub's schema in the tests.

One page of ``repository.issues`` carries each issue's fields and its fix evidence inline: the
timeline filtered to closed, reopened, referenced, cross-referenced, connected, disconnected and
marked-as-duplicate events. Every query asks for the repository's ``nameWithOwner``: GitHub
follows renames (``followRenames`` defaults to true), so that is the canonical name.
Timelines longer than the inline window, and comments when hydrating, are fetched by batched
overflow queries (aliases ``i0``, ``i1``, ... one per issue) so no event is lost and few
requests are spent.
"""

from __future__ import annotations

EVIDENCE_TYPES = (
    "[CLOSED_EVENT, REOPENED_EVENT, REFERENCED_EVENT, CROSS_REFERENCED_EVENT, CONNECTED_EVENT,"
    " DISCONNECTED_EVENT, MARKED_AS_DUPLICATE_EVENT]"
)

EVIDENCE_FRAGMENTS = """
fragment Subject on ReferencedSubject {
  __typename
  ... on Issue { number issueState: state repository { nameWithOwner } }
  ... on PullRequest {
    number prState: state merged mergeCommit { oid } repository { nameWithOwner }
  }
}

fragment Evidence on IssueTimelineItems {
  __typename
  ... on ClosedEvent {
    createdAt
    stateReason
    actor { __typename login }
    closer {
      __typename
      ... on Commit { oid repository { nameWithOwner } }
      ... on PullRequest {
        number prState: state merged mergeCommit { oid } repository { nameWithOwner }
      }
    }
  }
  ... on ReopenedEvent { createdAt stateReason actor { __typename login } }
  ... on ReferencedEvent { createdAt commit { oid } commitRepository { nameWithOwner } }
  ... on CrossReferencedEvent { createdAt willCloseTarget source { ...Subject } }
  ... on ConnectedEvent { createdAt source { ...Subject } subject { ...Subject } }
  ... on DisconnectedEvent { createdAt source { ...Subject } subject { ...Subject } }
  ... on MarkedAsDuplicateEvent {
    createdAt
    canonical {
      __typename
      ... on Issue { number issueState: state repository { nameWithOwner } }
      ... on PullRequest { number prState: state merged repository { nameWithOwner } }
    }
  }
}
"""

ISSUE_FRAGMENT = """
fragment IssueFields on Issue {
  number
  url
  title
  body
  state
  stateReason
  author { login }
  authorAssociation
  createdAt
  updatedAt
  closedAt
  labels(first: 100) { totalCount nodes { name } }
  comments { totalCount }
}
"""

ISSUES_PAGE = (
    """
query IssuesPage(
  $owner: String!, $name: String!, $first: Int!, $after: String, $states: [IssueState!],
  $labels: [String!], $since: DateTime, $order: IssueOrderField!, $timeline: Int!
) {
  rateLimit { cost limit remaining resetAt }
  repository(owner: $owner, name: $name) {
    nameWithOwner
    issues(
      first: $first, after: $after, filterBy: {states: $states, labels: $labels, since: $since},
      orderBy: {field: $order, direction: ASC}
    ) {
      totalCount
      pageInfo { hasNextPage endCursor }
      nodes {
        ...IssueFields
        timelineItems(first: $timeline, itemTypes: """
    + EVIDENCE_TYPES
    + """) {
          pageInfo { hasNextPage endCursor }
          nodes { ...Evidence }
        }
      }
    }
  }
}
"""
    + EVIDENCE_FRAGMENTS
    + ISSUE_FRAGMENT
)


def _batched(per_issue: str, count: int, extra_vars: str, fragments: str) -> str:
    """A query with one aliased ``issue(number:)`` per requested issue."""
    variables = ", ".join(f"$n{i}: Int!{extra_vars.format(i=i)}" for i in range(count))
    body = "\n".join(
        f"    i{i}: issue(number: $n{i}) {{ {per_issue.format(i=i)} }}" for i in range(count)
    )
    return (
        f"query Batch($owner: String!, $name: String!, {variables}) {{\n"
        "  rateLimit { cost limit remaining resetAt }\n"
        f"  repository(owner: $owner, name: $name) {{\n    nameWithOwner\n{body}\n  }}\n}}\n"
        + fragments
    )


def timeline_overflow(count: int) -> str:
    """The rest of ``count`` issues' evidence timelines, 100 events each, after their cursors."""
    per_issue = (
        "number timelineItems(first: 100, after: $c{i}, itemTypes: " + EVIDENCE_TYPES + ") "
        "{{ pageInfo {{ hasNextPage endCursor }} nodes {{ ...Evidence }} }}"
    )
    return _batched(per_issue, count, ", $c{i}: String", EVIDENCE_FRAGMENTS)


def comments_overflow(count: int) -> str:
    """The next 100 comments of ``count`` issues, after their cursors."""
    per_issue = (
        "number commentList: comments(first: 100, after: $c{i}) "
        "{{ pageInfo {{ hasNextPage endCursor }} nodes {{ ...CommentFields }} }}"
    )
    return _batched(per_issue, count, ", $c{i}: String", COMMENT_FRAGMENT)


COMMENT_FRAGMENT = """
fragment CommentFields on IssueComment { author { login } authorAssociation createdAt body }
"""


def issues_by_number(count: int, timeline: int = 100) -> str:
    """Full records (fields, evidence, first 100 comments) of ``count`` issues picked by number."""
    per_issue = (
        "...IssueFields "
        f"timelineItems(first: {timeline}, itemTypes: " + EVIDENCE_TYPES + ") "
        "{{ pageInfo {{ hasNextPage endCursor }} nodes {{ ...Evidence }} }} "
        "commentList: comments(first: 100) "
        "{{ pageInfo {{ hasNextPage endCursor }} nodes {{ ...CommentFields }} }}"
    )
    return _batched(per_issue, count, "", EVIDENCE_FRAGMENTS + ISSUE_FRAGMENT + COMMENT_FRAGMENT)


REPOSITORY_NAME = """
query RepositoryName($owner: String!, $name: String!) {
  repository(owner: $owner, name: $name) { nameWithOwner }
}
"""
