"""A fake GitHub API server: real HTTP on 127.0.0.1, GitHub's payload shapes, injectable faults.

It serves ``POST /graphql`` by executing the query with graphql-core against GitHub's published
schema (so an invalid query fails here as it would on GitHub), and the REST endpoints the miner
and the naive baseline use (issue lists with ``Link`` pagination, issues, comments, timelines,
``/rate_limit``), with ETags and ``304 Not Modified``, ``x-ratelimit-*`` headers, primary and
secondary rate limits, per-request latency, and faults injected on demand: 502, GraphQL
timeouts, reset connections, truncated JSON bodies, 403/429 limits.

What leaves a repository is answered as GitHub does: renamed repositories redirect (REST 301 to
``/repositories/{id}``, GraphQL ``followRenames``), transferred issues redirect, deleted ones are
gone (410), and GraphQL fields it cannot resolve come back null with a ``NOT_FOUND`` error. Each
behaviour cites its source in a comment (see also :mod:`mining.testing.payloads`).
"""

from __future__ import annotations

import hashlib
import json
import math
import socket
import struct
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

from graphql import (
    FieldNode,
    FragmentSpreadNode,
    GraphQLSchema,
    InlineFragmentNode,
    OperationDefinitionNode,
    execute,
    parse,
    validate,
    value_from_ast_untyped,
)
from graphql.error import GraphQLSyntaxError

from mining.schema import load_schema
from mining.testing import payloads
from mining.testing.model import Repo

TIMEOUT_MESSAGE = (
    "Something went wrong while executing your query. This may be the result of a timeout, "
    "or it could be a GitHub bug. Please include `ABCD:1234` when reporting this issue."
)
FAULT_KINDS = {
    "502",
    "timeout",
    "reset",
    "truncated",
    "primary",
    "secondary",
    "429",
    "rate_limited",
    "secondary_bare",
}


@dataclass
class Fault:
    kind: str
    times: int = 1
    path: str = ""
    skip: int = 0
    match: bytes = b""


@dataclass
class Bucket:
    limit: int
    used: int = 0
    reset: float = 0.0


@dataclass
class Logged:
    method: str
    path: str
    status: int
    authorization: str | None
    if_none_match: str | None
    body: bytes = b""


@dataclass
class FakeGitHub:
    """The server. Use as a context manager; ``url`` is its API root (like api.github.com)."""

    repos: dict[str, Repo] = field(default_factory=dict)
    token: str | None = "ghp_fake_token_for_tests_only_0123456789"
    latency: float = 0.0
    graphql_limit: int = 5000
    core_limit: int = 5000
    anonymous_limit: int = 60
    reset_seconds: float = 3600.0
    timeout_nodes: int | None = None
    secondary_retry_after: int = 1
    log: list[Logged] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.schema: GraphQLSchema = load_schema()
        self.faults: list[Fault] = []
        self.buckets: dict[tuple[str, str], Bucket] = {}
        self.lock = threading.Lock()
        self.server: ThreadingHTTPServer | None = None
        self.renames: dict[str, str] = {}
        # called with (path, query) before each REST GET is answered: tests change the data
        # between two pages, as users do on GitHub while a crawl runs
        self.before_get: Callable[[str, dict[str, str]], None] | None = None

    # -- life cycle -----------------------------------------------------------------------
    def add_repo(self, repo: Repo) -> Repo:
        self.repos[repo.full_name] = repo
        return repo

    def rename(self, old: str, new: str) -> Repo:
        """Rename a repository; the old name keeps redirecting (docs "Renaming a repository")."""
        repo = self.repos.pop(old)
        repo.full_name = new
        self.repos[new] = repo
        self.renames[old] = new
        # what points at the repository (commits, pull requests) shows its new name
        for other in self.repos.values():
            for issue in other.issues.values():
                for event in issue.events:
                    if event.commit_repository == old:
                        event.commit_repository = new
                    for end in (event.source, event.closer_pr):
                        if end is not None and end.repository == old:
                            end.repository = new
        return repo

    def find(self, full_name: str) -> tuple[Repo | None, bool]:
        """The repository a name means now, and whether the name is an old one."""
        if full_name in self.repos:
            return self.repos[full_name], False
        new = self.renames.get(full_name)
        return (self.repos[new], True) if new in self.repos else (None, False)

    def by_id(self, repo_id: int) -> Repo | None:
        return next((r for r in self.repos.values() if r.id == repo_id), None)

    def __enter__(self) -> FakeGitHub:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def start(self) -> None:
        handler = type("Handler", (_Handler,), {"fake": self})
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def stop(self) -> None:
        if self.server:
            self.server.shutdown()
            self.server.server_close()
            self.server = None

    @property
    def url(self) -> str:
        assert self.server is not None, "server not started"
        host, port = self.server.server_address[:2]
        return f"http://{host}:{port}"

    # -- test helpers ---------------------------------------------------------------------
    def inject(
        self, kind: str, times: int = 1, path: str = "", skip: int = 0, match: str = ""
    ) -> None:
        """The next ``times`` requests whose path starts with ``path`` (after ``skip``) fail.

        ``match``: only requests whose body contains it (a GraphQL operation name, say).
        """
        if kind not in FAULT_KINDS:
            raise ValueError(f"unknown fault {kind!r}; choose from {sorted(FAULT_KINDS)}")
        with self.lock:
            self.faults.append(Fault(kind, times, path, skip, match.encode()))

    def count(self, path: str = "", status: int | None = None) -> int:
        with self.lock:
            return sum(
                1
                for r in self.log
                if r.path.startswith(path) and (status is None or r.status == status)
            )

    def statuses(self) -> Counter:
        with self.lock:
            return Counter(r.status for r in self.log)

    def reset_log(self) -> None:
        with self.lock:
            self.log.clear()

    # -- internals ------------------------------------------------------------------------
    def take_fault(self, path: str, body: bytes = b"") -> str | None:
        with self.lock:
            for fault in self.faults:
                if not path.startswith(fault.path) or fault.match not in body:
                    continue
                if fault.skip:
                    fault.skip -= 1
                    return None
                fault.times -= 1
                if fault.times <= 0:
                    self.faults.remove(fault)
                return fault.kind
        return None

    def bucket(self, identity: str, resource: str) -> Bucket:
        limit = (
            self.anonymous_limit
            if identity == "anonymous"
            else (self.graphql_limit if resource == "graphql" else self.core_limit)
        )
        now = time.time()
        with self.lock:
            bucket = self.buckets.setdefault(
                (identity, resource), Bucket(limit, 0, now + self.reset_seconds)
            )
            if now >= bucket.reset:
                bucket.used, bucket.reset = 0, now + self.reset_seconds
            return bucket

    def exhaust(
        self, resource: str = "graphql", identity: str = "token", reset_in: float = 1.0
    ) -> None:
        """Spend the whole budget now; it comes back ``reset_in`` seconds later."""
        bucket = self.bucket(identity, resource)
        with self.lock:
            bucket.used, bucket.reset = bucket.limit, time.time() + reset_in


def graphql_cost(document: Any, variables: dict) -> tuple[int, int]:
    """GitHub's documented estimate: (rate-limit points, requested node count)."""
    fragments = {d.name.value: d for d in document.definitions if d.kind == "fragment_definition"}
    operation = next(d for d in document.definitions if isinstance(d, OperationDefinitionNode))
    requests = 0
    nodes = 0

    def walk(selection_set: Any, multiplier: int) -> None:
        nonlocal requests, nodes
        if selection_set is None:
            return
        for sel in selection_set.selections:
            if isinstance(sel, FieldNode):
                args = {
                    a.name.value: value_from_ast_untyped(a.value, variables)
                    for a in sel.arguments or []
                }
                size = args.get("first") or args.get("last")
                if isinstance(size, int):
                    requests += multiplier
                    nodes += multiplier * size
                    walk(sel.selection_set, multiplier * size)
                else:
                    walk(sel.selection_set, multiplier)
            elif isinstance(sel, InlineFragmentNode):
                walk(sel.selection_set, multiplier)
            elif isinstance(sel, FragmentSpreadNode):
                walk(fragments[sel.name.value].selection_set, multiplier)

    walk(operation.selection_set, 1)
    return max(1, math.ceil(requests / 100)), nodes


class _Handler(BaseHTTPRequestHandler):
    fake: FakeGitHub
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True

    def log_message(self, format: str, *args: Any) -> None:  # silence stderr
        return

    # -- plumbing -------------------------------------------------------------------------
    def identity(self) -> str | None:
        header = self.headers.get("Authorization")
        if not header:
            return "anonymous"
        scheme, _, value = header.partition(" ")
        if scheme.lower() in {"bearer", "token"} and value == self.fake.token:
            return "token"
        return None

    def record(self, status: int, body: bytes = b"") -> None:
        with self.fake.lock:
            self.fake.log.append(
                Logged(
                    self.command,
                    urlsplit(self.path).path,
                    status,
                    self.headers.get("Authorization"),
                    self.headers.get("If-None-Match"),
                    body,
                )
            )

    def rate_headers(self, bucket: Bucket, resource: str) -> dict[str, str]:
        return {
            "x-ratelimit-limit": str(bucket.limit),
            "x-ratelimit-remaining": str(max(0, bucket.limit - bucket.used)),
            "x-ratelimit-used": str(bucket.used),
            "x-ratelimit-reset": str(math.ceil(bucket.reset)),
            "x-ratelimit-resource": resource,
        }

    def send(
        self,
        status: int,
        payload: Any,
        headers: dict[str, str] | None = None,
        raw: bytes | None = None,
        length: int | None = None,
    ) -> None:
        body = (
            raw if raw is not None else (b"" if payload is None else json.dumps(payload).encode())
        )
        self.send_response(status)
        self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Content-Length", str(len(body) if length is None else length))
        self.send_header("X-GitHub-Media-Type", "github.v3; format=json")
        self.send_header(
            "X-GitHub-Request-Id", hashlib.sha1(self.path.encode()).hexdigest()[:16].upper()
        )
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        self.end_headers()
        self.wfile.write(body)
        self.wfile.flush()

    def reset_connection(self) -> None:
        self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self.connection.close()
        self.close_connection = True

    def read_body(self) -> bytes:
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def fault(self, kind: str, resource: str, bucket: Bucket, produce: Any) -> None:
        headers = self.rate_headers(bucket, resource)
        if kind == "reset":
            self.record(0)
            self.reset_connection()
        elif kind == "502":
            self.record(502)
            self.send(502, {"message": "Server Error"}, headers)
        elif kind == "timeout":
            self.record(502)
            self.send(502, {"data": None, "errors": [{"message": TIMEOUT_MESSAGE}]}, headers)
        elif kind == "truncated":
            status, payload, extra = produce()
            body = json.dumps(payload).encode()
            self.record(status)
            self.send(status, None, headers | extra, raw=body[: len(body) // 2])
        elif kind == "primary":
            self.record(403)
            headers |= {
                "x-ratelimit-remaining": "0",
                "x-ratelimit-reset": str(int(time.time()) + 1),
            }
            self.send(
                403,
                {
                    "message": "API rate limit exceeded for user ID 1.",
                    "documentation_url": "https://docs.github.com/rest/overview/rate-limits-for-the-rest-api",
                },
                headers,
            )
        elif kind in {"secondary", "429"}:
            status = 403 if kind == "secondary" else 429
            self.record(status)
            self.send(
                status,
                {
                    "message": "You have exceeded a secondary rate limit. "
                    "Please wait a few minutes "
                    "before you try again.",
                    "documentation_url": "https://docs.github.com/rest/overview/rate-limits-for-the-rest-api#about-secondary-rate-limits",
                },
                headers | {"retry-after": str(self.fake.secondary_retry_after)},
            )
        elif kind == "secondary_bare":
            # Docs, "Rate limits for the REST API" > "Exceeding the secondary rate limit": the
            # answer may carry no `retry-after` and a non-zero remaining budget; the client
            # then waits at least a minute, longer on each repeat.
            self.record(403)
            self.send(
                403,
                {
                    "message": "You have exceeded a secondary rate limit. Please wait a few "
                    "minutes before you try again.",
                },
                headers,
            )
        elif kind == "rate_limited":
            self.record(200)
            headers |= {
                "x-ratelimit-remaining": "0",
                "x-ratelimit-reset": str(int(time.time()) + 1),
            }
            self.send(
                200,
                {
                    "errors": [
                        {
                            "type": "RATE_LIMITED",
                            "message": "API rate limit already exceeded for user ID 1.",
                        }
                    ]
                },
                headers,
            )

    # -- verbs ----------------------------------------------------------------------------
    def do_POST(self) -> None:
        body = self.read_body()
        if self.fake.latency:
            time.sleep(self.fake.latency)
        path = urlsplit(self.path).path
        identity = self.identity()
        if path != "/graphql":
            self.record(404)
            self.send(404, {"message": "Not Found"})
            return
        if identity is None:
            self.record(401)
            self.send(401, {"message": "Bad credentials"})
            return
        if identity == "anonymous":
            self.record(401)
            self.send(401, {"message": "This endpoint requires you to be authenticated."})
            return
        bucket = self.fake.bucket(identity, "graphql")
        kind = self.fake.take_fault(path, body)
        if kind:
            self.fault(kind, "graphql", bucket, lambda: self.run_graphql(body, bucket))
            return
        status, payload, headers = self.run_graphql(body, bucket)
        self.record(status, body)
        self.send(status, payload, headers)

    def run_graphql(self, body: bytes, bucket: Bucket) -> tuple[int, Any, dict[str, str]]:
        try:
            request = json.loads(body)
            document = parse(request["query"])
        except (ValueError, KeyError, GraphQLSyntaxError) as exc:
            return (
                200,
                {"errors": [{"message": f"Parse error: {exc}"}]},
                self.rate_headers(bucket, "graphql"),
            )
        errors = validate(self.fake.schema, document)
        if errors:
            return (
                200,
                {"errors": [e.formatted for e in errors]},
                self.rate_headers(bucket, "graphql"),
            )
        variables = request.get("variables") or {}
        cost, nodes = graphql_cost(document, variables)
        if nodes > 500_000:
            return (
                200,
                {"errors": [{"type": "MAX_NODE_LIMIT_EXCEEDED", "message": "too many nodes"}]},
                {},
            )
        if self.fake.timeout_nodes is not None and nodes > self.fake.timeout_nodes:
            return (
                502,
                {"data": None, "errors": [{"message": TIMEOUT_MESSAGE}]},
                self.rate_headers(bucket, "graphql"),
            )
        with self.fake.lock:
            if bucket.used + cost > bucket.limit:
                headers = self.rate_headers(bucket, "graphql") | {"x-ratelimit-remaining": "0"}
                return (
                    200,
                    {
                        "errors": [
                            {
                                "type": "RATE_LIMITED",
                                "message": "API rate limit already exceeded for user ID 1.",
                            }
                        ]
                    },
                    headers,
                )
            bucket.used += cost
        root = {
            "rateLimit": {
                "cost": cost,
                "limit": bucket.limit,
                "remaining": bucket.limit - bucket.used,
                "used": bucket.used,
                "nodeCount": nodes,
                "resetAt": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(bucket.reset)),
            },
            "repository": self.graphql_repository,
        }
        result = execute(
            self.fake.schema,
            document,
            root_value=root,
            variable_values=variables,
            operation_name=request.get("operationName"),
        )
        payload: dict[str, Any] = {"data": result.data}
        if result.errors:
            payload["errors"] = [_github_error(e) for e in result.errors]
        return 200, payload, self.rate_headers(bucket, "graphql")

    def graphql_repository(
        self, info: Any, owner: str, name: str, followRenames: bool = True, **_: Any
    ) -> dict:
        # schema: `repository(followRenames: Boolean = true)`, "Follow repository renames. If
        # disabled, a repository referenced by its old name will return an error."
        repo, renamed = self.fake.find(f"{owner}/{name}")
        if repo is None or (renamed and not followRenames):
            raise payloads.NotFound(
                f"Could not resolve to a Repository with the name '{owner}/{name}'."
            )
        return payloads.graphql_repository(repo)

    def do_GET(self) -> None:
        if self.fake.latency:
            time.sleep(self.fake.latency)
        split = urlsplit(self.path)
        path, query = split.path, {k: v[-1] for k, v in parse_qs(split.query).items()}
        if self.fake.before_get is not None:
            self.fake.before_get(path, query)
        identity = self.identity()
        if identity is None:
            self.record(401)
            self.send(401, {"message": "Bad credentials"})
            return
        resource = "core"
        bucket = self.fake.bucket(identity, resource)
        if path == "/rate_limit":
            graphql = self.fake.bucket(identity, "graphql")
            payload = {
                "resources": {
                    name: {
                        "limit": b.limit,
                        "used": b.used,
                        "remaining": b.limit - b.used,
                        "reset": int(b.reset),
                    }
                    for name, b in (("core", bucket), ("graphql", graphql))
                }
            }
            self.record(200)
            self.send(200, payload, self.rate_headers(bucket, resource))
            return
        kind = self.fake.take_fault(path)
        if kind:
            self.fault(kind, resource, bucket, lambda: self.run_rest(path, query))
            return
        status, payload, extra = self.run_rest(path, query)
        body = json.dumps(payload).encode()
        etag = f'W/"{hashlib.sha256(body).hexdigest()[:40]}"'
        if status == 200 and self.headers.get("If-None-Match") == etag:
            # Docs, "Best practices for using the REST API" > "Use conditional requests if
            # appropriate": a 304 does not count against the primary limit only when the request
            # was correctly authorized with an `Authorization` header; anonymous ones are charged.
            if identity == "anonymous":
                with self.fake.lock:
                    bucket.used += 1
            self.record(304)
            self.send(304, None, self.rate_headers(bucket, resource) | {"ETag": etag}, raw=b"")
            return
        with self.fake.lock:
            exhausted = bucket.used >= bucket.limit
            if not exhausted:
                bucket.used += 1
        if exhausted:
            self.record(403)
            self.send(
                403,
                {
                    "message": "API rate limit exceeded for 127.0.0.1. (But here's the good news: "
                    "Authenticated requests get a higher rate limit.)"
                },
                self.rate_headers(bucket, resource),
            )
            return
        self.record(status)
        headers = self.rate_headers(bucket, resource) | extra
        if status == 200:
            headers["ETag"] = etag
        self.send(status, None, headers, raw=body)

    def moved(self, location: str, query: dict[str, str]) -> tuple[int, Any, dict[str, str]]:
        # Docs, "Best practices for using the REST API" > "Follow redirects": a 301 means the
        # resource moved for good; repeat the request at the `Location`.
        url = f"{self.fake.url}{location}" + (f"?{urlencode(query)}" if query else "")
        return 301, {"message": "Moved Permanently", "url": url}, {"Location": url}

    def run_rest(self, path: str, query: dict[str, str]) -> tuple[int, Any, dict[str, str]]:
        parts = path.strip("/").split("/")
        if len(parts) >= 2 and parts[0] == "repositories" and parts[1].isdigit():
            repo = self.fake.by_id(int(parts[1]))
            if repo is None:
                return 404, {"message": "Not Found"}, {}
            parts = ["repos", *repo.full_name.split("/"), *parts[2:]]
        elif len(parts) >= 3 and parts[0] == "repos":
            repo, renamed = self.fake.find(f"{parts[1]}/{parts[2]}")
            if repo is None:
                return 404, {"message": "Not Found"}, {}
            if renamed:
                # Docs, "Renaming a repository": the old name redirects to the new one; the
                # API answers 301 with the repository's id-based address.
                return self.moved("/".join(["", "repositories", str(repo.id), *parts[3:]]), query)
        else:
            return 404, {"message": "Not Found"}, {}
        if len(parts) == 3:
            return 200, payloads.rest_repository(repo, self.fake.url), {}
        if parts[3] != "issues":
            return 404, {"message": "Not Found"}, {}
        api = self.fake.url
        per_page = min(int(query.get("per_page", 30)), 100)
        page = int(query.get("page", 1))
        if len(parts) == 4:
            items = self.list_issues(repo, query)
            render = lambda i: payloads.rest_issue(repo, i, api)  # noqa: E731
        else:
            number = int(parts[4]) if parts[4].isdigit() else 0
            if number in repo.transferred:
                # REST issues, "Get an issue": 301 Moved Permanently when the issue was
                # transferred to another repository the caller can read.
                target, new_number = repo.transferred[number]
                moved_to = self.fake.repos[target]
                rest = "/".join(["", "repositories", str(moved_to.id), "issues", str(new_number)])
                return self.moved("/".join([rest, *parts[5:]]), query)
            if number in repo.deleted:
                # REST issues, "Get an issue": 410 Gone for an issue deleted from a repository
                # the caller can read.
                return 410, {"message": "This issue was deleted"}, {}
            issue = repo.issues.get(number)
            if issue is None:
                return 404, {"message": "Not Found"}, {}
            if len(parts) == 5:
                return 200, payloads.rest_issue(repo, issue, api), {}
            if parts[5] == "comments":
                items = [c for c in issue.comments if c.created_at >= query.get("since", "")]
                render = lambda c: payloads.rest_comment(repo, issue, c, api)  # noqa: E731
            elif parts[5] == "timeline":
                items = list(issue.events)
                render = lambda e: payloads.rest_event(repo, issue, e, api)  # noqa: E731
            else:
                return 404, {"message": "Not Found"}, {}
        last = max(1, math.ceil(len(items) / per_page))
        chunk = items[(page - 1) * per_page : page * per_page]
        return 200, [render(item) for item in chunk], self.link_header(path, query, page, last)

    def list_issues(self, repo: Repo, query: dict[str, str]) -> list:
        state = query.get("state", "open")
        items = [i for i in repo.issues.values() if state == "all" or i.state == state]
        if query.get("labels"):
            wanted = set(query["labels"].split(","))
            items = [i for i in items if wanted <= set(i.labels)]
        if query.get("since"):
            items = [i for i in items if i.updated_at >= query["since"]]
        key = query.get("sort", "created")
        items.sort(
            key=lambda i: (
                getattr(i, f"{key}_at") if key != "comments" else len(i.comments),
                i.number,
            ),
            reverse=query.get("direction", "desc") == "desc",
        )
        return items

    def link_header(self, path: str, query: dict[str, str], page: int, last: int) -> dict[str, str]:
        links = []
        for rel, number in (("prev", page - 1), ("next", page + 1), ("last", last), ("first", 1)):
            if (
                (rel == "prev" and page <= 1)
                or (rel == "next" and page >= last)
                or (rel in {"last", "first"} and last == 1)
            ):
                continue
            links.append(
                f'<{self.fake.url}{path}?{urlencode(query | {"page": number})}>; rel="{rel}"'
            )
        return {"Link": ", ".join(links)} if links else {}


def _github_error(error: Any) -> dict:
    """A graphql-core error as GitHub formats it (with ``type`` for the errors it names)."""
    formatted = dict(error.formatted)
    kind = getattr(error.original_error, "type", None)
    if kind:
        formatted["type"] = kind
    return formatted
