"""The one HTTP session with GitHub: auth, retries, rate limits, conditional requests, archive.

HTTP itself is ``requests`` (redirects, ``HTTPS_PROXY``/``NO_PROXY``, gzip, keep-alive) with
urllib3's :class:`~urllib3.util.Retry` for what any client retries: dropped connections and 5xx
answers, with exponential backoff and jitter. A host that does not resolve fails at once with one
line instead of being retried for minutes. On top of that, this module keeps only what is
particular to GitHub (PyGithub's ``GithubRetry`` is the model, a ``Retry`` that reads GitHub's
limit headers):

- a *primary* limit (budget spent: ``x-ratelimit-remaining: 0``, or GraphQL's ``RATE_LIMITED``
  error in a 200 answer) sleeps until ``x-ratelimit-reset``; a *secondary* one waits
  ``retry-after``, or at least a minute, longer each time, when GitHub gives none (docs "Rate
  limits for the REST API", "Exceeding the secondary rate limit"); ``no_wait`` stops instead with
  :class:`RateLimitExhausted`;
- a 200 whose JSON is cut short is fetched again;
- a GraphQL timeout that outlives urllib3's retries is raised as :class:`GraphQLTimeout` so the
  caller can shrink its page;
- GraphQL errors of type ``NOT_FOUND`` (a field GitHub cannot resolve, answered ``null``) are
  handed to callers that expect them instead of failing the whole query.

Every request goes through :meth:`Transport.request`, one at a time (GitHub asks clients not to
run requests in parallel). ``If-None-Match`` is sent when given an ETag; a 304 is free of rate
limit only for authorized requests (docs "Best practices for using the REST API"), and the REST
mode is the no-token mode, so the miner counts on 304s for bytes and time, not for budget.
Each exchange is archived with the token stripped; replay answers from the archive offline.
"""

from __future__ import annotations

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

import requests
from requests.adapters import HTTPAdapter
from urllib3.exceptions import MaxRetryError, NameResolutionError, NewConnectionError
from urllib3.util import Retry

from mining.archive import Archive, Exchange
from mining.errors import GitHubError, GraphQLTimeout, MiningError, RateLimitExhausted, ReplayMiss

log = logging.getLogger("convfail.mining")

GITHUB_API = "https://api.github.com"
ARCHIVED_HEADERS = (
    "content-type",
    "etag",
    "link",
    "location",
    "retry-after",
    "x-ratelimit-limit",
    "x-ratelimit-remaining",
    "x-ratelimit-reset",
    "x-ratelimit-resource",
    "x-ratelimit-used",
)
RETRY_STATUSES = (500, 502, 503, 504)
# A connection that is refused (wrong port, a proxy that is down) is retried a few times only,
# about 7 s with the default backoff; read errors and 5xx answers keep the full budget.
CONNECT_RETRIES = 3
STATUS_RETRIES = 3  # a GraphQL timeout repeated this often is a page too big, not bad luck
SECONDARY_WAIT = 60.0  # docs: with no retry-after, wait at least one minute
LINK_NEXT = re.compile(r'<([^>]+)>;\s*rel="next"')


class ConnectionRetry(Retry):
    """urllib3's retry policy, except that a name that does not resolve is not retried."""

    def increment(self, *args: Any, **kwargs: Any) -> Retry:
        error = kwargs.get("error", args[3] if len(args) > 3 else None)
        if isinstance(error, NameResolutionError):
            raise MaxRetryError(kwargs.get("_pool"), kwargs.get("url") or "", error)
        return super().increment(*args, **kwargs)


@dataclass
class Response:
    status: int
    headers: dict[str, str]
    text: str
    url: str = ""  # where the answer came from, after redirects

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
        if urlsplit(base_url).scheme not in ("http", "https") or not urlsplit(base_url).netloc:
            raise MiningError(
                f"not an API address: {base_url!r}",
                "give --api-url (or CONVFAIL_GITHUB_API) as http(s)://host[:port][/path]",
            )
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
        self.secondary_wait = min(SECONDARY_WAIT, max_backoff)
        self.stats = Stats()
        self.session = self._session()

    def _session(self) -> requests.Session:
        session = requests.Session()
        retry = ConnectionRetry(
            total=self.max_retries,
            connect=CONNECT_RETRIES,
            status=STATUS_RETRIES,
            status_forcelist=RETRY_STATUSES,
            allowed_methods=None,  # GraphQL queries are POSTs that change nothing
            backoff_factor=self.backoff,
            backoff_max=self.max_backoff,
            backoff_jitter=self.backoff,
            respect_retry_after_header=True,
            raise_on_status=False,
        )
        adapter = HTTPAdapter(max_retries=retry)
        session.mount("http://", adapter)
        session.mount("https://", adapter)
        session.headers.update(
            {
                "Accept": "application/vnd.github+json",
                "User-Agent": "convfail-miner",
                "X-GitHub-Api-Version": "2022-11-28",
            }
        )
        return session

    # -- public -------------------------------------------------------------------------------
    @property
    def authenticated(self) -> bool:
        return bool(self.token)

    def close(self) -> None:
        self.session.close()

    def scrub(self, text: str) -> str:
        """``text`` with the token replaced, for anything that is stored, logged or shown."""
        return text.replace(self.token, "<token>") if self.token else text

    def get(
        self, path: str, params: dict[str, Any] | None = None, etag: str | None = None
    ) -> Response:
        return self.request("GET", path, params=params, etag=etag)

    def graphql(
        self, query: str, variables: dict[str, Any], *, not_found_ok: bool = False
    ) -> dict[str, Any]:
        """Run a query; return its ``data``. GraphQL errors become :class:`GitHubError`.

        With ``not_found_ok``, errors of type ``NOT_FOUND`` are accepted: GitHub answers such a
        field with null and the caller reads the null (an issue deleted, transferred, or a
        pull request's number).
        """
        response = self.request("POST", "/graphql", body={"query": query, "variables": variables})
        payload = response.json() or {}
        errors = [
            e
            for e in payload.get("errors") or []
            if not (not_found_ok and isinstance(e, dict) and e.get("type") == "NOT_FOUND")
        ]
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

    def _headers(self, etag: str | None) -> dict[str, str]:
        headers = {"Authorization": f"bearer {self.token}"} if self.token else {}
        if etag:
            headers["If-None-Match"] = etag
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
            except requests.ConnectionError as exc:
                raise self._unreachable(exc) from None
            except (requests.exceptions.ChunkedEncodingError, requests.Timeout) as exc:
                self._backoff(attempt, f"the answer was cut off ({type(exc).__name__})")
                attempt += 1
                continue
            info = self._note_rate(resource, response.headers)
            status = response.status
            if status == 304 or 200 <= status < 300:
                try:
                    parsed = response.json()
                except ValueError:
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
                # urllib3 has already retried this answer STATUS_RETRIES times with backoff
                if resource == "graphql" and "timeout" in message.lower():
                    raise GraphQLTimeout("GitHub timed out computing a GraphQL page")
                raise MiningError(
                    f"GitHub answered {status} to {STATUS_RETRIES + 1} tries of "
                    f"{method} {self.scrub(target.split('?')[0])}",
                    "check GitHub's status page, then run again: the crawl resumes",
                )
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
                    wait = float(retry_after) if retry_after else self.secondary_wait * 2**attempt
                    self._pause(wait, "GitHub's secondary rate limit was hit")
                    attempt += 1
                    pauses += 1
                    continue
            raise self._client_error(status, method, target, message)

    def _send_once(self, method: str, target: str, payload: str, etag: str | None) -> Response:
        base_path = urlsplit(self.base_url).path.rstrip("/")
        root = self.base_url[: len(self.base_url) - len(base_path)] if base_path else self.base_url
        try:
            raw = self.session.request(
                method,
                root + base_path + target,
                data=payload.encode() if payload else None,
                headers=self._headers(etag)
                | ({"Content-Type": "application/json"} if payload else {}),
                timeout=self.timeout,
            )
        finally:
            self.stats.requests += 1
        for hop in [*raw.history, raw]:
            tried = getattr(hop.raw, "retries", None)
            extra = len(tried.history) if tried is not None else 0
            self.stats.requests += extra + (hop is not raw)
            self.stats.retries += extra
            self.stats.statuses[hop.status_code] += 1
        return Response(
            raw.status_code, {k.lower(): v for k, v in raw.headers.items()}, raw.text, raw.url
        )

    def _unreachable(self, exc: requests.ConnectionError) -> MiningError:
        host = urlsplit(self.base_url).hostname or self.base_url
        reason = exc.args[0] if exc.args else exc
        cause = getattr(reason, "reason", reason)
        if isinstance(cause, NameResolutionError):
            return MiningError(
                f"cannot resolve {host}", "check the network, a proxy setting, or --api-url"
            )
        retries = min(CONNECT_RETRIES, self.max_retries)
        if isinstance(cause, NewConnectionError):
            return MiningError(
                f"cannot connect to {host} after {retries} retries "
                f"({str(cause).split(': ', 1)[-1]})",
                "check --api-url, a proxy setting, or your connection, then run again to resume",
            )
        return MiningError(
            f"cannot reach {host} after {self.max_retries} retries ({type(cause).__name__})",
            "check your connection or GitHub's status page, then run again to resume",
        )

    def _client_error(self, status: int, method: str, target: str, message: str) -> GitHubError:
        where = self.scrub(target.split("?")[0])
        if status == 401:
            return GitHubError(
                f"GitHub refused the credentials ({message})",
                "check GITHUB_TOKEN or `gh auth status`; without a token the miner uses REST",
                status,
            )
        if status in {404, 410}:
            gone = "deleted" if status == 410 else "not found"
            return GitHubError(
                f"{gone}: {where}", "check the repository name (OWNER/NAME) and your access", status
            )
        return GitHubError(
            f"GitHub answered {status} to {method} {where}: {message}",
            "check the command's options; run with -v for details",
            status,
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
