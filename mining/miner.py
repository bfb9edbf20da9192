"""Fetch issues with their fix evidence: full crawls, incremental re-runs, resume, hydration.

With a token the miner reads GraphQL pages of ``repository.issues`` that carry each issue's
evidence timeline inline, and fetches only the overflow of long timelines separately (batched,
one alias per issue). Without a token (GraphQL needs one) it falls back to REST: issue lists
followed by one timeline per issue, with ETags so unchanged timelines cost no budget.

An incremental run first asks REST, conditionally, which issues changed since the last
watermark: a 304, or a short list with nothing new in scope, ends the run after one request.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tqdm import tqdm

from convfail.issue_records import record_path
from mining import normalize, queries
from mining.errors import GitHubError, GraphQLTimeout, MiningError
from mining.scope import Scope
from mining.store import Store
from mining.transport import Transport

log = logging.getLogger("convfail.mining")

MIN_PAGE_SIZE = 5
OVERFLOW_BATCH = 25
MAX_HELD_PAGES = 10
HYDRATE_BATCH = 20
REST_PAGE = 100


@dataclass
class Report:
    repository: str
    mode: str
    fetched: int
    requests: int
    dataset: Path


class Miner:
    """One mining session: a transport, the state store and the folder of committed records."""

    def __init__(
        self,
        transport: Transport,
        store: Store,
        folder: Path,
        *,
        page_size: int = 100,
        timeline_window: int = 25,
        use_graphql: bool | None = None,
        progress: bool = True,
    ) -> None:
        self.transport = transport
        self.store = store
        self.folder = folder
        self.page_size = page_size
        self.timeline_window = timeline_window
        self.use_graphql = transport.authenticated if use_graphql is None else use_graphql
        self.progress = progress

    # -- crawl ----------------------------------------------------------------------------
    def crawl(self, scope: Scope, *, full: bool = False) -> Report:
        """Bring the records of ``scope`` up to date and export the repository's JSONL."""
        before = self.transport.stats.requests
        self.store.seed(scope.repository, record_path(scope.repository, self.folder))
        since = None if full else self.store.watermark(scope.key)
        mode = "full" if since is None else "incremental"
        probe = self._probe(scope, since) if since else None
        if probe is not None and probe.unchanged:
            self.store.set_etag(probe.target, probe.etag)
            fetched = 0
        else:
            source = "graphql" if self.use_graphql else "rest"
            crawl_key = f"{scope.key}|{source}|{since or 'full'}"
            crawler = self._crawl_graphql if self.use_graphql else self._crawl_rest
            fetched = crawler(scope, since, crawl_key)
            if probe is not None:
                self.store.set_etag(probe.target, probe.etag)
        dataset = self.store.export(scope.repository, self.folder)
        return Report(
            scope.repository, mode, fetched, self.transport.stats.requests - before, dataset
        )

    @dataclass
    class Probe:
        unchanged: bool
        target: str
        etag: str | None

    def _probe(self, scope: Scope, since: str) -> Miner.Probe:
        """One conditional REST request: has anything in scope changed since ``since``?"""
        path, params = _list_request(scope, since)
        target = path + "?" + "&".join(f"{k}={v}" for k, v in sorted(params.items()))
        response = self.transport.get(path, params, etag=self.store.etag(target))
        if response.status == 304:
            return Miner.Probe(True, target, None)
        items = response.json() or []
        if len(items) >= REST_PAGE:
            return Miner.Probe(False, target, response.etag)
        for item in items:
            if "pull_request" in item:
                continue
            partial = {
                "state": item["state"],
                "labels": [label["name"] for label in item.get("labels") or []],
            }
            stored = self.store.get(scope.repository, item["number"])
            if scope.fetched(partial) and (
                stored is None or stored["updated_at"] != item["updated_at"]
            ):
                return Miner.Probe(False, target, response.etag)
        return Miner.Probe(True, target, response.etag)

    def _bar(self, desc: str, total: int | None = None) -> tqdm:
        return tqdm(total=total, desc=desc, unit="issue", disable=not self.progress, leave=False)

    def _postfix(self, bar: tqdm) -> None:
        bar.set_postfix_str(
            f"requests {self.transport.stats.requests}, budget {self.transport.stats.budget()}"
        )

    def _crawl_graphql(self, scope: Scope, since: str | None, crawl_key: str) -> int:
        state = self.store.crawl(crawl_key)
        cursor, done_pages = (state[0], state[1]) if state else (None, 0)
        if done_pages:
            log.info("%s: resuming after %d saved page(s)", scope.repository, done_pages)
        page_size = self.page_size
        fetched = 0
        held: dict[int, tuple[dict, list]] = {}  # issues whose timeline overflowed, by number
        pending: dict[int, str | None] = {}  # their timeline cursors
        held_from: str | None = None
        held_pages = 0
        bar = self._bar(scope.repository)
        try:
            while True:
                variables = {
                    "owner": scope.owner,
                    "name": scope.name,
                    "first": page_size,
                    "after": cursor,
                    "states": scope.graphql_states,
                    "labels": list(scope.labels) or None,
                    "since": since,
                    "order": "UPDATED_AT" if since else "CREATED_AT",
                    "timeline": self.timeline_window,
                }
                try:
                    data = self.transport.graphql(queries.ISSUES_PAGE, variables)
                except GraphQLTimeout:
                    if page_size <= MIN_PAGE_SIZE:
                        raise MiningError(
                            f"GitHub times out even on pages of {page_size} issues",
                            "try again later; the crawl resumes where it stopped",
                        ) from None
                    page_size = max(MIN_PAGE_SIZE, page_size // 2)
                    log.warning("GraphQL timeout: page size lowered to %d", page_size)
                    continue
                connection = _repository(data, scope)["issues"]
                if bar.total is None:
                    bar.total = connection["totalCount"]
                    bar.update(min(done_pages * self.page_size, connection["totalCount"]))
                nodes = connection["nodes"]
                page_start = cursor
                complete = []
                for node in nodes:
                    number = node["number"]
                    timeline = node["timelineItems"]
                    events = normalize.graphql_events(timeline["nodes"], scope.repository, number)
                    if timeline["pageInfo"]["hasNextPage"]:
                        if not held:
                            held_from = page_start
                        held[number] = (node, events)
                        pending[number] = timeline["pageInfo"]["endCursor"]
                    else:
                        complete.append(normalize.from_graphql(scope.repository, node, events))
                held_pages += 1 if held else 0
                info = connection["pageInfo"]
                finished = not info["hasNextPage"]
                cursor = info["endCursor"]
                if held and (
                    finished or len(pending) >= OVERFLOW_BATCH or held_pages >= MAX_HELD_PAGES
                ):
                    complete.extend(self._complete_held(scope, held, pending))
                    held_pages = 0
                # Issues still waiting for their overflow are not saved yet: the saved cursor
                # stays before the page that brought them, so a killed run fetches them again.
                self.store.save_page(
                    crawl_key, held_from if held else cursor, complete, finished, scope.key
                )
                fetched += len(complete)
                bar.update(len(complete))
                self._postfix(bar)
                if finished:
                    return fetched
        finally:
            bar.close()

    def _complete_held(
        self, scope: Scope, held: dict, pending: dict[int, str | None]
    ) -> list[dict]:
        """Fetch the overflow of every held issue (batched) and return their finished records."""
        events = {number: list(evidence) for number, (_, evidence) in held.items()}
        self._fill_timelines(scope, events, pending)
        records = [
            normalize.from_graphql(scope.repository, node, events[number])
            for number, (node, _) in sorted(held.items())
        ]
        held.clear()
        pending.clear()
        return records

    def _fill_timelines(
        self, scope: Scope, events: dict[int, list], overflow: dict[int, str | None]
    ) -> None:
        """Fetch the rest of long evidence timelines, up to 25 issues per request."""
        pending = dict(overflow)
        while pending:
            batch = sorted(pending)[:OVERFLOW_BATCH]
            variables: dict[str, Any] = {"owner": scope.owner, "name": scope.name}
            for i, number in enumerate(batch):
                variables[f"n{i}"], variables[f"c{i}"] = number, pending[number]
            data = self.transport.graphql(queries.timeline_overflow(len(batch)), variables)
            repo = _repository(data, scope)
            for i, number in enumerate(batch):
                timeline = (repo.get(f"i{i}") or {}).get("timelineItems")
                if timeline is None:
                    pending.pop(number)
                    continue
                events[number].extend(
                    normalize.graphql_events(timeline["nodes"], scope.repository, number)
                )
                if timeline["pageInfo"]["hasNextPage"]:
                    pending[number] = timeline["pageInfo"]["endCursor"]
                else:
                    pending.pop(number)

    def _crawl_rest(self, scope: Scope, since: str | None, crawl_key: str) -> int:
        state = self.store.crawl(crawl_key)
        next_target = state[0] if state else None
        path, params = _list_request(scope, since)
        fetched = 0
        bar = self._bar(scope.repository)
        try:
            while True:
                response = (
                    self.transport.get(next_target)
                    if next_target
                    else self.transport.get(path, params)
                )
                records = []
                for item in response.json() or []:
                    if "pull_request" in item:
                        continue
                    partial = {
                        "state": item["state"],
                        "labels": [label["name"] for label in item.get("labels") or []],
                    }
                    if not scope.fetched(partial):
                        continue
                    stored = self.store.get(scope.repository, item["number"])
                    if stored is not None and stored["updated_at"] == item["updated_at"] and since:
                        continue
                    events = self._rest_timeline(scope.repository, item["number"], stored)
                    records.append(normalize.from_rest(scope.repository, item, events))
                    bar.update(1)
                    self._postfix(bar)
                next_url = response.next_url
                next_target = self.transport._relative(next_url, None) if next_url else None
                self.store.save_page(
                    crawl_key, next_target, records, next_target is None, scope.key
                )
                fetched += len(records)
                if next_target is None:
                    return fetched
        finally:
            bar.close()

    def _rest_timeline(
        self, repository: str, number: int, stored: dict[str, Any] | None
    ) -> list[dict]:
        """Every evidence event of an issue's REST timeline; a 304 reuses the stored events."""
        path = f"/repos/{repository}/issues/{number}/timeline"
        params = {"per_page": REST_PAGE}
        target = f"{path}?per_page={REST_PAGE}"
        etag = self.store.etag(target) if stored is not None else None
        response = self.transport.get(path, params, etag=etag)
        if response.status == 304 and stored is not None:
            return stored["events"]
        payload = list(response.json() or [])
        single_page = response.next_url is None
        while response.next_url:
            response = self.transport.get(response.next_url)
            payload.extend(response.json() or [])
        if single_page:
            self.store.set_etag(target, response.etag)
        return [e for e in (normalize.rest_event(p) for p in payload) if e is not None]

    # -- hydrate --------------------------------------------------------------------------
    def hydrate(self, repository: str, numbers: list[int], *, refresh: bool = False) -> list[int]:
        """Fetch full records (body, comments, dates, evidence) of chosen issues; return misses."""
        scope = Scope(repository, state="all")
        self.store.seed(repository, record_path(repository, self.folder))
        todo = [
            n
            for n in sorted(set(numbers))
            if refresh or (self.store.get(repository, n) or {}).get("comments") is None
        ]
        missing: list[int] = []
        bar = self._bar(f"hydrate {repository}", len(todo))
        try:
            for start in range(0, len(todo), HYDRATE_BATCH):
                batch = todo[start : start + HYDRATE_BATCH]
                if self.use_graphql:
                    records, misses = self._hydrate_graphql(scope, batch)
                else:
                    records, misses = self._hydrate_rest(repository, batch)
                self.store.upsert(records)
                missing.extend(misses)
                bar.update(len(batch))
                self._postfix(bar)
        finally:
            bar.close()
        self.store.export(repository, self.folder)
        return missing

    def _hydrate_graphql(self, scope: Scope, batch: list[int]) -> tuple[list[dict], list[int]]:
        variables: dict[str, Any] = {"owner": scope.owner, "name": scope.name}
        variables |= {f"n{i}": n for i, n in enumerate(batch)}
        repo = _repository(
            self.transport.graphql(queries.issues_by_number(len(batch)), variables), scope
        )
        nodes = {n: repo.get(f"i{i}") for i, n in enumerate(batch)}
        found = {n: node for n, node in nodes.items() if node}
        events = {
            n: normalize.graphql_events(node["timelineItems"]["nodes"], scope.repository, n)
            for n, node in found.items()
        }
        self._fill_timelines(
            scope,
            events,
            {
                n: node["timelineItems"]["pageInfo"]["endCursor"]
                for n, node in found.items()
                if node["timelineItems"]["pageInfo"]["hasNextPage"]
            },
        )
        comments = {
            n: [normalize.graphql_comment(c) for c in node["commentList"]["nodes"]]
            for n, node in found.items()
        }
        pending = {
            n: node["commentList"]["pageInfo"]["endCursor"]
            for n, node in found.items()
            if node["commentList"]["pageInfo"]["hasNextPage"]
        }
        while pending:
            chunk = sorted(pending)[:OVERFLOW_BATCH]
            more: dict[str, Any] = {"owner": scope.owner, "name": scope.name}
            for i, n in enumerate(chunk):
                more[f"n{i}"], more[f"c{i}"] = n, pending[n]
            page = _repository(
                self.transport.graphql(queries.comments_overflow(len(chunk)), more), scope
            )
            for i, n in enumerate(chunk):
                listing = page[f"i{i}"]["commentList"]
                comments[n].extend(normalize.graphql_comment(c) for c in listing["nodes"])
                if listing["pageInfo"]["hasNextPage"]:
                    pending[n] = listing["pageInfo"]["endCursor"]
                else:
                    pending.pop(n)
        records = [
            normalize.from_graphql(scope.repository, node, events[n], comments[n])
            for n, node in found.items()
        ]
        return records, [n for n, node in nodes.items() if not node]

    def _hydrate_rest(self, repository: str, batch: list[int]) -> tuple[list[dict], list[int]]:
        records, missing = [], []
        for number in batch:
            try:
                issue = self.transport.get(f"/repos/{repository}/issues/{number}").json()
            except GitHubError as exc:
                if "not found" in exc.message:
                    missing.append(number)
                    continue
                raise
            comments = self._rest_all(f"/repos/{repository}/issues/{number}/comments")
            events = self._rest_timeline(repository, number, None)
            records.append(normalize.from_rest(repository, issue, events, comments))
        return records, missing

    def _rest_all(self, path: str) -> list[dict]:
        response = self.transport.get(path, {"per_page": REST_PAGE})
        items = list(response.json() or [])
        while response.next_url:
            response = self.transport.get(response.next_url)
            items.extend(response.json() or [])
        return items


def _list_request(scope: Scope, since: str | None) -> tuple[str, dict[str, Any]]:
    params: dict[str, Any] = {
        "state": scope.state,
        "per_page": REST_PAGE,
        "direction": "asc",
        "sort": "updated" if since else "created",
    }
    if since:
        params["since"] = since
    if len(scope.labels) == 1:
        params["labels"] = scope.labels[0]
    return f"/repos/{scope.repository}/issues", params


def _repository(data: dict[str, Any], scope: Scope) -> dict[str, Any]:
    repo = data.get("repository")
    if repo is None:
        raise GitHubError(
            f"repository {scope.repository} not found", "check OWNER/NAME and your token's access"
        )
    return repo
