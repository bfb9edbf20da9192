"""The one HTTP session with GitHub: auth, retries, rate limits, conditional requests, archive.

Every request goes through :meth:`Transport.request`, one at a time (GitHub asks clients never to
run requests in parallel). It

- reads ``x-ratelimit-*`` and ``Retry-After``; tells a *primary* limit (budget spent:
  ``x-ratelimit-remaining: 0``, or GraphQL's ``RATE_LIMITED`` error) from a *secondary* one
  (``Retry-After`` or the "secondary rate limit" message); sleeps until the reset, or stops with
  :class:`RateLimitExhausted` under ``no_wait``;
- retries 5xx answers, dropped connections and truncated JSON with exponential backoff and
  jitter; a GraphQL timeout is raised as :class:`GraphQLTimeout` so the caller can shrink its
  page instead of repeating a query that will time out again;
- sends ``If-None-Match`` when given an ETag (a 304 costs no rate budget);
- archives each successful exchange with the token stripped, and in replay mode answers from the
  archive without touching the network.
"""

from __future__ import annotations

import http.client
import json
import logging
import random
import re
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode, urlsplit

from mining.archive import Archive, Exchange
from mining.errors import GitHubError, GraphQLTimeout, MiningError, RateLimitExhausted, ReplayMiss

log = logging.getLogger("convfail.mining")

GITHUB_API = "https://api.github.com"
ARCHIVED_HEADERS = (
    "content-type",
    "etag",
    "link",
    "retry-after",
    "x-ratelimit-limit",
    "x-ratelimit-remaining",
    "x-ratelimit-reset",
    "x-ratelimit-resource",
    "x-ratelimit-used",
)
RETRY_STATUSES = {500, 502, 503, 504}
LINK_NEXT = re.compile(r'<([^>]+)>;\s*rel="next"')


@dataclass
class Response:
    status: int
    headers: dict[str, str]
    text: str

    def json(self) -> Any:
        return json.loads(self.text) if self.text else None

    @property
    def etag(self) -> str | None:
        return self.headers.get("etag")

    @property
    def next_url(self) -> str | None:
        match = LINK_NEXT.search(self.headers.get("link", ""))
        return match.group(1) if match else None


@dataclass
class RateInfo:
    limit: int
    remaining: int
    reset: float


@dataclass
class Stats:
    """What the session spent; the progress bar and the benchmark read it."""

    requests: int = 0
    statuses: Counter = field(default_factory=Counter)
    retries: int = 0
    slept: float = 0.0
    rate: dict[str, RateInfo] = field(default_factory=dict)

    def budget(self) -> str:
        parts = [
            f"{name} {info.remaining}/{info.limit}" for name, info in sorted(self.rate.items())
        ]
        return ", ".join(parts) or "unknown"


class Transport:
    """A sequential, rate-limit aware GitHub client (live or replaying an archive)."""

    def __init__(
        self,
        base_url: str = GITHUB_API,
        token: str | None = None,
        archive: Archive | None = None,
        *,
        replay: bool = False,
        no_wait: bool = False,
        max_retries: int = 8,
        backoff: float = 1.0,
        max_backoff: float = 120.0,
        timeout: float = 60.0,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.time,
        seed: int | None = None,
    ) -> None:
        if replay and archive is None:
            raise MiningError("replay needs an archive", "run once without --replay to record one")
        self.base_url = base_url.rstrip("/")
        self.token = token
        self.archive = archive
        self.replay = replay
        self.no_wait = no_wait
        self.max_retries = max_retries
        self.backoff = backoff
        self.max_backoff = max_backoff
        self.timeout = timeout
        self.sleep = sleep
        self.clock = clock
        self.random = random.Random(seed)
        self.stats = Stats()
        self._connection: http.client.HTTPConnection | None = None

    # -- public -------------------------------------------------------------------------------
    @property
    def authenticated(self) -> bool:
        return bool(self.token)

    def close(self) -> None:
        if self._connection is not None:
            self._connection.close()
            self._connection = None

    def scrub(self, text: str) -> str:
        """``text`` with the token replaced, for anything that is stored, logged or shown."""
        return text.replace(self.token, "<token>") if self.token else text

    def get(
        self, path: str, params: dict[str, Any] | None = None, etag: str | None = None
    ) -> Response:
        return self.request("GET", path, params=params, etag=etag)

    def graphql(self, query: str, variables: dict[str, Any]) -> dict[str, Any]:
        """Run a query; return its ``data``. GraphQL errors become :class:`GitHubError`."""
        response = self.request("POST", "/graphql", body={"query": query, "variables": variables})
        payload = response.json() or {}
        errors = payload.get("errors") or []
        if errors:
            messages = "; ".join(self.scrub(str(e.get("message", e))) for e in errors[:3])
            raise GitHubError(
                f"GitHub rejected a GraphQL query: {messages}",
                "report this as a bug of convfail's miner, with the command you ran",
            )
        return payload.get("data") or {}

    def request(
        self,
        method: str,
        path: str,
        *,
        params: dict[str, Any] | None = None,
        body: dict[str, Any] | None = None,
        etag: str | None = None,
    ) -> Response:
        target = self._relative(path, params)
        payload = (
            json.dumps(body, sort_keys=True, separators=(",", ":")) if body is not None else ""
        )
        stored_target, stored_payload = self.scrub(target), self.scrub(payload)
        if self.replay:
            assert self.archive is not None
            found = self.archive.find(method, stored_target, stored_payload, etag or "")
            if found is None:
                raise ReplayMiss(
                    f"the archive has no answer to {method} {stored_target.split('?')[0]}",
                    "run the same command once without --replay (or with the same options)",
                )
            self.stats.requests += 1
            self.stats.statuses[found.status] += 1
            return Response(found.status, found.headers, found.body)
        response = self._send_with_retries(method, target, payload, etag)
        if self.archive is not None:
            headers = {
                k: self.scrub(v) for k, v in response.headers.items() if k in ARCHIVED_HEADERS
            }
            self.archive.add(
                method,
                stored_target,
                stored_payload,
                etag or "",
                Exchange(response.status, headers, self.scrub(response.text)),
            )
        return response

    # -- internals ----------------------------------------------------------------------------
    def _relative(self, path: str, params: dict[str, Any] | None) -> str:
        """The request target relative to the API root (Link headers give absolute URLs)."""
        if path.startswith(("http://", "https://")):
            split = urlsplit(path)
            path = split.path + (f"?{split.query}" if split.query else "")
            base_path = urlsplit(self.base_url).path
            if base_path and path.startswith(base_path):
                path = path[len(base_path) :]
        if params:
            clean = {k: v for k, v in params.items() if v is not None}
            if clean:
                path += ("&" if "?" in path else "?") + urlencode(clean)
        return path

    def _connect(self) -> http.client.HTTPConnection:
        if self._connection is None:
            split = urlsplit(self.base_url)
            cls = (
                http.client.HTTPSConnection
                if split.scheme == "https"
                else http.client.HTTPConnection
            )
            self._connection = cls(split.hostname or "", split.port, timeout=self.timeout)
        return self._connection

    def _headers(self, etag: str | None, has_body: bool) -> dict[str, str]:
        headers = {
            "Accept": "application/vnd.github+json",
            "User-Agent": "convfail-miner",
            "X-GitHub-Api-Version": "2022-11-28",
        }
        if self.token:
            headers["Authorization"] = f"bearer {self.token}"
        if etag:
            headers["If-None-Match"] = etag
        if has_body:
            headers["Content-Type"] = "application/json"
        return headers

    def _resource(self, method: str, target: str) -> str:
        return "graphql" if target.startswith("/graphql") else "core"

    def _pause(self, seconds: float, why: str) -> None:
        seconds = max(0.0, seconds)
        if self.no_wait:
            raise RateLimitExhausted(
                f"{why}; GitHub allows more requests in {seconds:.0f} s",
                "run the same command again later: it resumes where it stopped",
            )
        log.warning("%s; waiting %.0f s", why, seconds)
        self.stats.slept += seconds
        self.sleep(seconds)

    def _backoff(self, attempt: int, why: str) -> None:
        if attempt >= self.max_retries:
            raise MiningError(
                f"giving up after {attempt} retries: {why}",
                "check your connection or GitHub's status page, then run again to resume",
            )
        delay = min(self.max_backoff, self.backoff * 2**attempt) * (0.5 + self.random.random() / 2)
        log.warning("%s; retry %d of %d in %.1f s", why, attempt + 1, self.max_retries, delay)
        self.stats.retries += 1
        self.stats.slept += delay
        self.sleep(delay)

    def _note_rate(self, resource: str, headers: dict[str, str]) -> RateInfo | None:
        try:
            info = RateInfo(
                int(headers["x-ratelimit-limit"]),
                int(headers["x-ratelimit-remaining"]),
                float(headers["x-ratelimit-reset"]),
            )
        except (KeyError, ValueError):
            return None
        self.stats.rate[headers.get("x-ratelimit-resource", resource)] = info
        return info

    def _wait_for_budget(self, resource: str) -> None:
        info = self.stats.rate.get(resource)
        if info is not None and info.remaining <= 0 and info.reset > self.clock():
            self._pause(info.reset - self.clock() + 1, f"the {resource} rate limit is spent")

    def _send_with_retries(
        self, method: str, target: str, payload: str, etag: str | None
    ) -> Response:
        resource = self._resource(method, target)
        attempt = 0
        pauses = 0
        while True:
            if pauses > self.max_retries:
                raise MiningError(
                    "GitHub kept refusing requests after waiting for its rate limits",
                    "run again later: the crawl resumes where it stopped",
                )
            self._wait_for_budget(resource)
            try:
                response = self._send_once(method, target, payload, etag)
            except (OSError, http.client.HTTPException) as exc:
                self.close()
                self._backoff(attempt, f"connection failed ({type(exc).__name__})")
                attempt += 1
                continue
            info = self._note_rate(resource, response.headers)
            status = response.status
            if status == 304 or 200 <= status < 300:
                try:
                    parsed = response.json()
                except ValueError:
                    self.close()
                    self._backoff(attempt, "truncated or malformed JSON in the response")
                    attempt += 1
                    continue
                if resource == "graphql" and _rate_limited(parsed):
                    reset = info.reset if info else self.clock() + 60
                    self._pause(
                        reset - self.clock() + 1, "the GraphQL rate limit is spent (primary limit)"
                    )
                    pauses += 1
                    continue
                return response
            message = _message(response)
            if status in RETRY_STATUSES:
                if resource == "graphql" and "timeout" in message.lower():
                    raise GraphQLTimeout("GitHub timed out computing a GraphQL page")
                self._backoff(attempt, f"GitHub answered {status}")
                attempt += 1
                continue
            if status in {403, 429}:
                retry_after = response.headers.get("retry-after")
                if info is not None and info.remaining == 0 and not retry_after:
                    self._pause(
                        info.reset - self.clock() + 1,
                        f"the {resource} rate limit is spent (primary limit)",
                    )
                    pauses += 1
                    continue
                if retry_after or "secondary rate limit" in message.lower() or status == 429:
                    wait = (
                        float(retry_after)
                        if retry_after
                        else min(self.max_backoff, 60.0 * 2**attempt)
                    )
                    self._pause(wait, "GitHub's secondary rate limit was hit")
                    attempt += 1
                    pauses += 1
                    continue
            raise self._client_error(status, method, target, message)

    def _send_once(self, method: str, target: str, payload: str, etag: str | None) -> Response:
        connection = self._connect()
        base_path = urlsplit(self.base_url).path.rstrip("/")
        self.stats.requests += 1
        connection.request(
            method,
            base_path + target,
            body=payload.encode() if payload else None,
            headers=self._headers(etag, bool(payload)),
        )
        raw = connection.getresponse()
        text = raw.read().decode("utf-8", errors="replace")
        headers = {k.lower(): v for k, v in raw.getheaders()}
        self.stats.statuses[raw.status] += 1
        if headers.get("connection", "").lower() == "close":
            self.close()
        return Response(raw.status, headers, text)

    def _client_error(self, status: int, method: str, target: str, message: str) -> GitHubError:
        where = self.scrub(target.split("?")[0])
        if status == 401:
            return GitHubError(
                f"GitHub refused the credentials ({message})",
                "check GITHUB_TOKEN or `gh auth status`; without a token the miner uses REST",
            )
        if status == 404:
            return GitHubError(
                f"not found: {where}", "check the repository name (OWNER/NAME) and your access"
            )
        return GitHubError(
            f"GitHub answered {status} to {method} {where}: {message}",
            "check the command's options; run with -v for details",
        )


def _rate_limited(payload: Any) -> bool:
    return isinstance(payload, dict) and any(
        isinstance(e, dict) and e.get("type") == "RATE_LIMITED" for e in payload.get("errors") or []
    )


def _message(response: Response) -> str:
    try:
        payload = response.json()
    except ValueError:
        return response.text[:200]
    if isinstance(payload, dict):
        if payload.get("message"):
            return str(payload["message"])
        errors = payload.get("errors") or []
        if errors and isinstance(errors[0], dict):
            return str(errors[0].get("message", ""))
    return ""


__all__ = ["GITHUB_API", "Response", "Stats", "Transport"]
