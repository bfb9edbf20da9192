"""The fake GitHub's data: repositories of issues with comments and timeline events.

Plain dataclasses the tests and the benchmark build; :mod:`mining.testing.payloads` renders them
in GitHub's documented REST and GraphQL shapes. Times are ISO-8601 strings in UTC (``...Z``).
"""

from __future__ import annotations

import hashlib
import random
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta


def iso(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def sha(text: str) -> str:
    return hashlib.sha1(text.encode()).hexdigest()


@dataclass
class Source:
    """The issue or pull request at the other end of a cross-reference or connection."""

    repository: str
    number: int
    is_pull_request: bool = True
    state: str = "closed"  # open | closed | merged (merged only for pull requests)

    @property
    def merged(self) -> bool:
        return self.is_pull_request and self.state == "merged"

    @property
    def merge_commit(self) -> str | None:
        """The merge commit of a merged pull request (``PullRequest.mergeCommit``)."""
        return sha(f"merge {self.repository}#{self.number}") if self.merged else None


@dataclass
class Event:
    """One timeline event. ``kind`` uses REST's event names (``cross-referenced``, ...).

    ``actor`` None is a deleted account; ``state_reason`` belongs to each closed or reopened
    event (not to the issue); ``will_close`` is a cross-reference's ``willCloseTarget``;
    ``source`` is the other end of a reference, connection, or the canonical issue of a
    ``marked_as_duplicate`` event; ``from_repository`` is where a ``transferred`` issue was.
    """

    kind: str
    created_at: str
    actor: str | None = "octocat"
    commit_id: str | None = None
    commit_repository: str | None = None
    closer_pr: Source | None = None
    source: Source | None = None
    body: str | None = None
    state_reason: str | None = None
    will_close: bool = False
    actor_is_bot: bool = False
    from_repository: str | None = None


@dataclass
class Comment:
    id: int
    author: str
    author_association: str
    body: str
    created_at: str


@dataclass
class Issue:
    number: int
    title: str
    body: str
    created_at: str
    updated_at: str
    state: str = "open"  # open | closed
    state_reason: str | None = None  # completed | not_planned | reopened
    closed_at: str | None = None
    labels: list[str] = field(default_factory=list)
    author: str | None = "octocat"  # None: the account was deleted
    author_association: str = "NONE"
    comments: list[Comment] = field(default_factory=list)
    events: list[Event] = field(default_factory=list)
    is_pull_request: bool = False  # pull requests share the issues' numbers (and REST lists)
    merged: bool = False  # pull requests only


@dataclass
class Repo:
    """A repository: its issues and pull requests by number, and what left it.

    ``transferred`` maps a number to the ``(repository, number)`` the issue moved to;
    ``deleted`` holds numbers of deleted issues. ``id`` is the numeric repository id GitHub
    redirects to (``/repositories/{id}``) after a rename or a transfer.
    """

    full_name: str
    issues: dict[int, Issue] = field(default_factory=dict)
    transferred: dict[int, tuple[str, int]] = field(default_factory=dict)
    deleted: set[int] = field(default_factory=set)

    @property
    def id(self) -> int:
        return int(sha(self.full_name)[:6], 16)

    def add(self, issue: Issue) -> Issue:
        self.issues[issue.number] = issue
        return issue

    def touch(self, number: int, moment: str) -> None:
        """Bump an issue's ``updatedAt`` (what GitHub does on most, not all, changes)."""
        self.issues[number].updated_at = moment

    def reopen(self, number: int, moment: str, actor: str = "octocat") -> None:
        issue = self.issues[number]
        issue.state, issue.state_reason, issue.closed_at = "open", "reopened", None
        issue.events.append(Event("reopened", moment, actor=actor, state_reason="reopened"))
        issue.updated_at = moment

    def close(
        self,
        number: int,
        moment: str,
        reason: str = "completed",
        *,
        actor: str | None = "octocat",
        bot: bool = False,
        commit_id: str | None = None,
    ) -> None:
        issue = self.issues[number]
        issue.state, issue.state_reason, issue.closed_at = "closed", reason, moment
        issue.events.append(
            Event(
                "closed",
                moment,
                actor=actor,
                actor_is_bot=bot,
                commit_id=commit_id,
                commit_repository=self.full_name if commit_id else None,
                state_reason=reason,
            )
        )
        issue.updated_at = moment

    def transfer(self, number: int, target: Repo, moment: str) -> Issue:
        """Move an issue to ``target`` under a new number (GitHub renumbers on transfer)."""
        issue = self.issues.pop(number)
        new_number = max([0, *target.issues, *target.transferred, *target.deleted]) + 1
        self.transferred[number] = (target.full_name, new_number)
        issue.number, issue.updated_at = new_number, moment
        issue.events.append(Event("transferred", moment, from_repository=self.full_name))
        return target.add(issue)

    def delete(self, number: int) -> None:
        del self.issues[number]
        self.deleted.add(number)


FILLER_KINDS = ["labeled", "commented", "mentioned", "subscribed", "assigned", "renamed"]
LABEL_POOL = ["bug", "triaged", "feature", "needs reproduction", "high priority"]


def generate_repo(
    full_name: str,
    count: int,
    *,
    seed: int = 0,
    labels: tuple[str, ...] = (),
    closed_share: float = 0.85,
    start: datetime = datetime(2018, 1, 1, tzinfo=UTC),
    long_timeline_share: float = 0.02,
    numbers: list[int] | None = None,
    pull_share: float = 0.3,
) -> Repo:
    """A repository whose issues have realistic timelines.

    Most issues carry a handful of events, a few relevant ones (commit references,
    cross-references from pull requests of the same project or of forks, connections); about
    ``long_timeline_share`` of them are busy threads with more than 100 events in all and more
    than 25 relevant ones (the case the published downloader truncated). ``numbers`` gives the
    issue numbers to use (default 1..count); about ``pull_share`` of the numbers are pull
    requests, which share the issues' numbers and appear in REST issue lists as on GitHub.
    """
    rng = random.Random(f"{full_name}:{seed}")
    pulls = random.Random(f"{full_name}:{seed}:pulls")
    repo = Repo(full_name)
    owner, name = full_name.split("/")
    moment = start
    for number in numbers or range(1, count + 1):
        moment += timedelta(hours=rng.randint(1, 30))
        created = moment
        if pulls.random() < pull_share:
            repo.add(pull_request(number, full_name, created, merged=pulls.random() < 0.7))
            continue
        closed = rng.random() < closed_share
        busy = rng.random() < long_timeline_share
        events: list[Event] = []
        when = created
        fillers = rng.randint(110, 160) if busy else rng.randint(0, 12)
        for _ in range(fillers):
            when += timedelta(minutes=rng.randint(5, 600))
            events.append(
                Event(rng.choice(FILLER_KINDS), iso(when), actor=f"user{rng.randint(1, 50)}")
            )
        relevant = rng.randint(26, 60) if busy else rng.choice([0, 0, 0, 1, 1, 2, 3])
        for _ in range(relevant):
            when += timedelta(minutes=rng.randint(5, 600))
            roll = rng.random()
            if roll < 0.35:
                source = Source(
                    full_name if rng.random() < 0.8 else f"fork{rng.randint(1, 9)}/{name}",
                    rng.randint(1, 99999),
                    is_pull_request=rng.random() < 0.7,
                    state=rng.choice(["open", "closed", "merged"]),
                )
                events.append(Event("cross-referenced", iso(when), source=source))
            elif roll < 0.7:
                target = full_name if rng.random() < 0.85 else f"{owner}-fork/{name}"
                events.append(
                    Event(
                        "referenced",
                        iso(when),
                        commit_id=sha(f"{number}{when}"),
                        commit_repository=target,
                    )
                )
            elif roll < 0.8:
                events.append(
                    Event(
                        "connected",
                        iso(when),
                        source=Source(full_name, rng.randint(1, 99999), True, "merged"),
                    )
                )
            else:
                events.append(Event("mentioned", iso(when)))
        closed_at = None
        reason = ("completed" if rng.random() < 0.8 else "not_planned") if closed else None
        if closed:
            when += timedelta(hours=rng.randint(1, 500))
            closed_at = iso(when)
            how = rng.random()
            if how < 0.3:
                events.append(
                    Event(
                        "closed",
                        closed_at,
                        commit_id=sha(f"fix{number}"),
                        commit_repository=full_name,
                    )
                )
            elif how < 0.45:
                events.append(
                    Event(
                        "closed",
                        closed_at,
                        closer_pr=Source(full_name, rng.randint(1, 99999), True, "merged"),
                    )
                )
            elif reason == "not_planned" and rng.random() < 0.5:
                events.append(
                    Event(
                        "closed",
                        closed_at,
                        actor="stale[bot]",
                        actor_is_bot=True,
                        state_reason=reason,
                    )
                )
            else:
                events.append(Event("closed", closed_at))
            events[-1].state_reason = reason
        comments = [
            Comment(
                number * 1000 + i,
                f"user{rng.randint(1, 50)}",
                rng.choice(["NONE", "MEMBER", "CONTRIBUTOR"]),
                f"Comment {i} on #{number}.",
                iso(created + timedelta(hours=i + 1)),
            )
            for i in range(rng.randint(0, 6))
        ]
        issue_labels = (
            sorted({*labels[:1], *rng.sample(LABEL_POOL, rng.randint(0, 2))})
            if labels
            else sorted(rng.sample(LABEL_POOL, rng.randint(0, 2)))
        )
        if labels and len(labels) > 1 and rng.random() < 0.3:
            issue_labels = sorted({labels[1], *issue_labels} - {labels[0]})
        updated = max([created, *(datetime.fromisoformat(e.created_at) for e in events)])
        repo.add(
            Issue(
                number=number,
                title=f"Issue {number} of {full_name}: export fails for op {rng.randint(1, 200)}",
                body=(
                    "Converting a model fails.\n\n```\nTraceback (most recent call last):\n"
                    f"  line {number}\n```\n"
                ),
                created_at=iso(created),
                updated_at=iso(updated),
                state="closed" if closed else "open",
                state_reason=reason,
                closed_at=closed_at,
                labels=issue_labels,
                author=f"user{rng.randint(1, 50)}",
                author_association=rng.choice(
                    ["NONE", "CONTRIBUTOR", "MEMBER", "FIRST_TIME_CONTRIBUTOR"]
                ),
                comments=comments,
                events=events,
            )
        )
    return repo


def pull_request(number: int, full_name: str, created: datetime, *, merged: bool) -> Issue:
    """A pull request as the issues API sees it (its own number, no fix evidence needed)."""
    closed = iso(created + timedelta(hours=5))
    return Issue(
        number=number,
        title=f"Fix #{number - 1} of {full_name}",
        body="Fixes a converter bug.",
        created_at=iso(created),
        updated_at=closed,
        state="closed",
        state_reason=None,
        closed_at=closed,
        author="contributor",
        events=[Event("closed", closed)],
        is_pull_request=True,
        merged=merged,
    )
