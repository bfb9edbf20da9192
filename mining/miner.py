"""Fetch issues with their fix evidence: full crawls, incremental re-runs, resume, hydration.

With a token the miner reads GraphQL pages of ``repository.issues`` that carry each issue's
evidence timeline inline, and fetches only the overflow of long timelines separately (batched,
one alias per issue). Without a token (GraphQL needs one) it falls back to REST: issue lists
followed by one timeline per issue, with ETags so unchanged timelines cost no budget.

An incremental run first asks REST, conditionally, which issues changed since the last
watermark: a 304, or a short list with nothing new in scope, ends the run after one request.

The dataset stays true to GitHub as it is now:

- records are keyed by the repository's canonical name (GitHub follows renames); the names it
  was asked for are kept as ``aliases``;
- incremental runs ask for every state, so an issue reopened since is updated and *retired*
  (kept, with ``retired`` giving the reason) instead of staying "closed with a fix";
- a full crawl looks up every live record it did not see: reopened, relabelled, transferred
  (301), deleted (410 / ``NOT_FOUND``) issues are retired the same way. Transfers and deletions
  leave nothing in GitHub's lists, so only ``--full`` can see them;
- REST incremental runs page by ``since`` (keyset) rather than by page number, so an issue
  updated during the run cannot shift another out of view; pages overlap by the boundary
  second and are deduplicated;
- a GraphQL timeout halves the page (or the overflow batch), and the size grows back after a
  few pages that succeed.
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
RESTORE_AFTER = 3  # successful pages at a lowered size before trying twice as many
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

    # -- names --------------------------------------------------------------------------
    def canonical(self, scope: Scope, *, refresh: bool = False) -> Scope:
        """``scope`` under the repository's current name, asked of GitHub once and remembered.

        Records saved under an old name (in the state or in an old JSONL) move to the new one.
        """
        known = None if refresh else self.store.alias(scope.repository)
        if known is None:
            if self.use_graphql:
                data = self.transport.graphql(
                    queries.REPOSITORY_NAME, {"owner": scope.owner, "name": scope.name}
                )
                known = _repository(data, scope)["nameWithOwner"]
            else:
                known = self.transport.get(f"/repos/{scope.repository}").json()["full_name"]
            self.store.set_alias(scope.repository, known)
        if known == scope.repository:
            return scope
        log.warning(
            "%s is now called %s; records are kept under the new name", scope.repository, known
        )
        old_file = record_path(scope.repository, self.folder)
        self.store.seed(known, old_file, former=scope.repository)
        if old_file.is_file():
            self.store.export(known, self.folder)
            old_file.unlink()
        return scope.renamed(known)

    # -- crawl ----------------------------------------------------------------------------
    def crawl(self, scope: Scope, *, full: bool = False) -> Report:
        """Bring the records of ``scope`` up to date and export the repository's JSONL."""
        before = self.transport.stats.requests
        typed = scope.repository
        scope = self.canonical(scope, refresh=full)
        self.store.seed(scope.repository, record_path(scope.repository, self.folder))
        since = None if full else self.store.watermark(scope.key)
        mode = "full" if since is None else "incremental"
        probe = self._probe(scope, since) if since else None
        if probe is not None and probe.moved:
            scope = self.canonical(scope.renamed(typed), refresh=True)
            probe = self._probe(scope, since)
        if probe is not None and probe.unchanged:
            self.store.set_etag(probe.target, probe.etag)
            fetched = 0
        else:
            source = "graphql" if self.use_graphql else "rest"
            crawl_key = f"{scope.key}|{source}|{since or 'full'}"
            if since is None and self.store.crawl(crawl_key) is None:
                self.store.forget_seen(crawl_key)
            crawler = self._crawl_graphql if self.use_graphql else self._crawl_rest
            fetched = crawler(scope, since, crawl_key)
            if since is None:
                self._retire_unseen(scope, crawl_key)
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
        moved: bool = False

    def _probe(self, scope: Scope, since: str) -> Miner.Probe:
        """One conditional REST request: has anything in scope changed since ``since``?"""
        path, params = _list_request(scope, since)
        target = path + "?" + "&".join(f"{k}={v}" for k, v in sorted(params.items()))
        response = self.transport.get(path, params, etag=self.store.etag(target))
        if response.url and f"/repos/{scope.repository}/" not in response.url:
            return Miner.Probe(False, target, None, moved=True)
        if response.status == 304:
            return Miner.Probe(True, target, None)
        items = response.json() or []
        if len(items) >= REST_PAGE:
            return Miner.Probe(False, target, response.etag)
        for item in items:
            if "pull_request" in item:
                continue
            stored = self.store.get(scope.repository, item["number"])
            if stored is None and scope.fetched(_partial(item)):
                return Miner.Probe(False, target, response.etag)
            if stored is not None and stored["updated_at"] != item["updated_at"]:
                return Miner.Probe(False, target, response.etag)
        return Miner.Probe(True, target, response.etag)

    def _keep(self, scope: Scope, record: dict, incremental: bool) -> dict | None:
        """The record to save: live when in scope, retired when it fell out, else none.

        Incremental runs ask for every state, so they see issues that left the scope.
        """
        if scope.fetched(record):
            record["retired"] = None
            return record
        stored = self.store.get(scope.repository, record["number"])
        if not incremental or stored is None:
            return None
        record["retired"] = scope.out_of_scope_reason(record)
        return record

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
        good_pages = 0
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
                    "states": None if since else scope.graphql_states,
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
                    good_pages = 0
                    log.warning("GraphQL timeout: page size lowered to %d", page_size)
                    continue
                good_pages += 1
                if page_size < self.page_size and good_pages >= RESTORE_AFTER:
                    page_size, good_pages = min(self.page_size, page_size * 2), 0
                    log.info("page size back up to %d", page_size)
                connection = _repository(data, scope)["issues"]
                if bar.total is None:
                    bar.total = connection["totalCount"]
                    bar.update(min(done_pages * self.page_size, connection["totalCount"]))
                nodes = connection["nodes"]
                page_start = cursor
                complete = []
                for node in nodes:
                    number = node["number"]
                    _warn_labels(scope.repository, node)
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
                kept = [k for r in complete if (k := self._keep(scope, r, bool(since)))]
                newest = max((n["updatedAt"] for n in nodes), default="")
                # Issues still waiting for their overflow are not saved yet: the saved cursor
                # stays before the page that brought them, so a killed run fetches them again.
                self.store.save_page(
                    crawl_key, held_from if held else cursor, kept, finished, scope.key, newest
                )
                fetched += len(kept)
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
        """Fetch the rest of long evidence timelines, up to 25 issues per request.

        A timeout halves the batch; an issue GitHub no longer resolves keeps what it has.
        """
        pending = dict(overflow)
        size = OVERFLOW_BATCH
        while pending:
            batch = sorted(pending)[:size]
            variables: dict[str, Any] = {"owner": scope.owner, "name": scope.name}
            for i, number in enumerate(batch):
                variables[f"n{i}"], variables[f"c{i}"] = number, pending[number]
            try:
                data = self.transport.graphql(
                    queries.timeline_overflow(len(batch)), variables, not_found_ok=True
                )
            except GraphQLTimeout:
                if size == 1:
                    raise MiningError(
                        f"GitHub times out on the timeline of issue {batch[0]}",
                        "try again later; the crawl resumes where it stopped",
                    ) from None
                size = max(1, size // 2)
                continue
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
        """Full crawls follow ``Link`` pages in creation order; incremental ones page by time.

        GitHub's ``since`` is inclusive, so each incremental page starts at the last
        ``updated_at`` seen (the saved cursor ``<since>|<page>``); issues already stored with
        that ``updated_at`` are skipped. Only when a whole page shares one second does the page
        number advance.
        """
        state = self.store.crawl(crawl_key)
        saved = state[0] if state else None
        path, params = _list_request(scope, since)
        fetched = 0
        bar = self._bar(scope.repository)
        try:
            while True:
                if since:
                    moment, page = (saved or f"{since}|1").rsplit("|", 1)
                    query = params | {"since": moment} | ({"page": page} if page != "1" else {})
                    response = self.transport.get(path, query)
                else:
                    response = (
                        self.transport.get(saved) if saved else self.transport.get(path, params)
                    )
                items = response.json() or []
                records = []
                for item in items:
                    if "pull_request" in item:
                        continue
                    stored = self.store.get(scope.repository, item["number"])
                    if not scope.fetched(_partial(item)) and (stored is None or not since):
                        continue
                    if stored is not None and stored["updated_at"] == item["updated_at"] and since:
                        continue
                    events = self._rest_timeline(scope.repository, item["number"], stored)
                    record = normalize.from_rest(scope.repository, item, events)
                    if (kept := self._keep(scope, record, bool(since))) is not None:
                        records.append(kept)
                    bar.update(1)
                    self._postfix(bar)
                if since:
                    finished = len(items) < REST_PAGE
                    last = items[-1]["updated_at"] if items else moment
                    next_page = int(page) + 1 if last == moment else 1
                    saved = None if finished else f"{last}|{next_page}"
                else:
                    next_url = response.next_url
                    saved = self.transport._relative(next_url, None) if next_url else None
                    finished = saved is None
                newest = max((i["updated_at"] for i in items), default="")
                self.store.save_page(crawl_key, saved, records, finished, scope.key, newest)
                fetched += len(records)
                if finished:
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

    # -- retiring ---------------------------------------------------------------------------
    def _retire_unseen(self, scope: Scope, crawl_key: str) -> None:
        """Look up the live records a full crawl did not see; retire those that left."""
        unseen = [r for r in self.store.unseen(crawl_key, scope.repository) if scope.fetched(r)]
        if unseen:
            log.info("%s: %d record(s) not seen by the full crawl", scope.repository, len(unseen))
        for start in range(0, len(unseen), HYDRATE_BATCH):
            batch = [r["number"] for r in unseen[start : start + HYDRATE_BATCH]]
            records, gone = self._fetch(scope, batch)
            kept = []
            for record in records:
                record["retired"] = (
                    None if scope.fetched(record) else scope.out_of_scope_reason(record)
                )
                kept.append(record)
            self.store.upsert(kept)
            self._retire(scope.repository, gone)
        self.store.forget_seen(crawl_key)

    def _retire(self, repository: str, gone: dict[int, str]) -> None:
        """Keep the last record of each issue GitHub no longer has, with the reason."""
        tombstones = []
        for number, reason in sorted(gone.items()):
            stored = self.store.get(repository, number)
            if stored is not None:
                tombstones.append(stored | {"retired": reason})
        self.store.upsert(tombstones)

    def _why_gone(self, repository: str, number: int) -> tuple[dict | None, str]:
        """Ask REST about an issue: its payload if it is one here, else why it is not."""
        try:
            response = self.transport.get(f"/repos/{repository}/issues/{number}")
        except GitHubError as exc:
            if exc.status == 410:
                return None, "deleted"
            if exc.status == 404:
                return None, "not found (deleted, or moved out of reach)"
            raise
        item = response.json()
        if "pull_request" in item:
            return None, "a pull request, not an issue"
        here = item.get("repository_url", "").endswith(f"/repos/{repository}")
        if not here or item["number"] != number:
            moved_to = item.get("repository_url", "").rsplit("/repos/", 1)[-1]
            return None, f"transferred to {moved_to}#{item['number']}"
        return item, ""

    # -- hydrate --------------------------------------------------------------------------
    def hydrate(
        self, repository: str, numbers: list[int], *, refresh: bool = False
    ) -> dict[int, str]:
        """Fetch full records (body, comments, dates, evidence) of chosen issues.

        Returns the issues that could not be hydrated, with the reason (deleted, transferred,
        a pull request's number); their stored records, if any, are retired.
        """
        scope = self.canonical(Scope(repository, state="all"))
        self.store.seed(scope.repository, record_path(scope.repository, self.folder))
        todo = [
            n
            for n in sorted(set(numbers))
            if refresh or (self.store.get(scope.repository, n) or {}).get("comments") is None
        ]
        missing: dict[int, str] = {}
        bar = self._bar(f"hydrate {repository}", len(todo))
        try:
            for start in range(0, len(todo), HYDRATE_BATCH):
                batch = todo[start : start + HYDRATE_BATCH]
                records, gone = self._fetch(scope, batch)
                self.store.upsert(records)
                self._retire(scope.repository, gone)
                missing |= gone
                bar.update(len(batch))
                self._postfix(bar)
        finally:
            bar.close()
        self.store.export(scope.repository, self.folder)
        return missing

    def _fetch(self, scope: Scope, batch: list[int]) -> tuple[list[dict], dict[int, str]]:
        if self.use_graphql:
            return self._hydrate_graphql(scope, batch)
        return self._hydrate_rest(scope.repository, batch)

    def _hydrate_graphql(self, scope: Scope, batch: list[int]) -> tuple[list[dict], dict[int, str]]:
        variables: dict[str, Any] = {"owner": scope.owner, "name": scope.name}
        variables |= {f"n{i}": n for i, n in enumerate(batch)}
        repo = _repository(
            self.transport.graphql(
                queries.issues_by_number(len(batch)), variables, not_found_ok=True
            ),
            scope,
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
                self.transport.graphql(
                    queries.comments_overflow(len(chunk)), more, not_found_ok=True
                ),
                scope,
            )
            for i, n in enumerate(chunk):
                listing = (page.get(f"i{i}") or {}).get("commentList")
                if listing is None:
                    pending.pop(n)
                    continue
                comments[n].extend(normalize.graphql_comment(c) for c in listing["nodes"])
                if listing["pageInfo"]["hasNextPage"]:
                    pending[n] = listing["pageInfo"]["endCursor"]
                else:
                    pending.pop(n)
        records = [
            normalize.from_graphql(scope.repository, node, events[n], comments[n])
            for n, node in found.items()
        ]
        for record in records:
            _warn_labels(scope.repository, found[record["number"]])
        # GraphQL's NOT_FOUND does not say why; REST does (410 deleted, 301 transferred).
        gone = {n: self._why_gone(scope.repository, n)[1] for n, node in nodes.items() if not node}
        return records, {n: why or "not found" for n, why in gone.items()}

    def _hydrate_rest(self, repository: str, batch: list[int]) -> tuple[list[dict], dict[int, str]]:
        records, missing = [], {}
        for number in batch:
            issue, why = self._why_gone(repository, number)
            if issue is None:
                missing[number] = why
                continue
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


def _partial(item: dict[str, Any]) -> dict[str, Any]:
    """What a REST list item says about scope: its state and label names."""
    return {
        "state": item["state"],
        "labels": [label["name"] for label in item.get("labels") or []],
    }


def _warn_labels(repository: str, node: dict[str, Any]) -> None:
    total = (node.get("labels") or {}).get("totalCount", 0)
    if total > 100:
        log.warning(
            "%s#%s has %d labels; only the first 100 are kept", repository, node["number"], total
        )


def _list_request(scope: Scope, since: str | None) -> tuple[str, dict[str, Any]]:
    """The REST issue list of a scope; incremental lists (``since``) ask for every state."""
    params: dict[str, Any] = {
        "state": "all" if since else scope.state,
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
