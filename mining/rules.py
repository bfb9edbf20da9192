"""Fix-evidence rules: pure functions deciding whether an issue was "closed with a fix".

A rule looks at one normalised record and says whether it fires. A rule set keeps an issue when
any of its rules fires; every firing rule is recorded in the record (``fix_rules``), so a reader
sees *why* an issue is in the population.

``issta24`` reproduces the published filter of Jajal et al.: a closed event carrying a commit id;
a referenced event carrying a commit id; a cross-reference from a closed issue or pull request of
the same project, the project matched by repository *name* only (as the published code did, so
a fork ``someone/pytorch`` counts for ``pytorch/pytorch``); a connected pull request or issue.

``strict`` asks for a fix that landed in the same repository: the repository matched by full
name, pull requests merged, or the issue closed by a commit of that repository; a closure by a
bot account (a stale bot) is never a fix.

Both sets count only connections still in place: a ``disconnected`` event undoes the
connection of the same pull request (REST does not say which one was disconnected, so there a
disconnection undoes the latest open connection).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

Record = dict[str, Any]
Rule = Callable[[Record], bool]


def _events(record: Record, kind: str) -> Iterable[dict[str, Any]]:
    return (e for e in record["events"] if e["kind"] == kind)


def _same_name(record: Record, other: str | None) -> bool:
    return (
        bool(other) and other.split("/")[-1].lower() == record["repository"].split("/")[-1].lower()
    )


def _same_repository(record: Record, other: str | None) -> bool:
    return bool(other) and other.lower() == record["repository"].lower()


# -- issta24 (the published filter) ---------------------------------------------------------


def closed_with_commit(record: Record) -> bool:
    return any(e["commit"] for e in _events(record, "closed"))


def referenced_by_commit(record: Record) -> bool:
    return any(e["commit"] for e in _events(record, "referenced"))


def cross_referenced_closed_same_name(record: Record) -> bool:
    return any(
        e["source_state"] in {"closed", "merged"} and _same_name(record, e["source_repository"])
        for e in _events(record, "cross-referenced")
    )


def live_connections(record: Record) -> list[dict[str, Any]]:
    """The connected events that no later disconnected event undid, in time order."""
    live: list[dict[str, Any]] = []
    for e in record["events"]:
        key = (e["source_repository"], e["source_number"])
        if e["kind"] == "connected":
            live.append(e)
        elif e["kind"] == "disconnected":
            match = [c for c in live if (c["source_repository"], c["source_number"]) == key]
            if match:
                live.remove(match[-1])
    return live


def connected(record: Record) -> bool:
    return bool(live_connections(record))


# -- strict ---------------------------------------------------------------------------------


def _human_closes(record: Record) -> Iterable[dict[str, Any]]:
    return (e for e in _events(record, "closed") if not e.get("actor_is_bot"))


def closed_by_commit_same_repository(record: Record) -> bool:
    return any(
        e["commit"] and _same_repository(record, e["source_repository"])
        for e in _human_closes(record)
    )


def closed_by_merged_pull_request(record: Record) -> bool:
    return any(
        e["merged"] and _same_repository(record, e["source_repository"])
        for e in _human_closes(record)
    )


def referenced_by_commit_same_repository(record: Record) -> bool:
    return any(
        e["commit"] and _same_repository(record, e["source_repository"])
        for e in _events(record, "referenced")
    )


def cross_referenced_merged_pull_request(record: Record) -> bool:
    return any(
        e["source_type"] == "pull_request"
        and e["merged"]
        and _same_repository(record, e["source_repository"])
        for e in _events(record, "cross-referenced")
    )


def connected_merged_pull_request(record: Record) -> bool:
    return any(
        e["merged"] and _same_repository(record, e["source_repository"])
        for e in live_connections(record)
    )


RULE_SETS: dict[str, dict[str, Rule]] = {
    "issta24": {
        "closed_with_commit": closed_with_commit,
        "referenced_by_commit": referenced_by_commit,
        "cross_referenced_closed_same_name": cross_referenced_closed_same_name,
        "connected": connected,
    },
    "strict": {
        "closed_by_commit_same_repository": closed_by_commit_same_repository,
        "closed_by_merged_pull_request": closed_by_merged_pull_request,
        "referenced_by_commit_same_repository": referenced_by_commit_same_repository,
        "cross_referenced_merged_pull_request": cross_referenced_merged_pull_request,
        "connected_merged_pull_request": connected_merged_pull_request,
    },
}
DEFAULT_RULE_SET = "issta24"


def firing(record: Record, rule_set: str) -> list[str]:
    """Names of the rules of ``rule_set`` that fire for ``record``, in the set's order."""
    return [name for name, rule in RULE_SETS[rule_set].items() if rule(record)]


def evaluate(record: Record) -> dict[str, list[str]]:
    return {name: firing(record, name) for name in RULE_SETS}


def is_fixed(record: Record, rule_set: str = DEFAULT_RULE_SET) -> bool:
    """Closed with a fix: the issue is closed, not retired, and a rule of the set fires."""
    return (
        record["state"] == "closed" and not record.get("retired") and bool(firing(record, rule_set))
    )
