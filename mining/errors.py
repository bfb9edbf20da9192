"""The miner's errors; each says what happened and what to do next."""

from __future__ import annotations

from convfail.errors import ConvfailError


class MiningError(ConvfailError):
    """Something went wrong talking to GitHub or storing what it said."""


class RateLimitExhausted(MiningError):
    """The budget is spent and the user asked not to wait (``--no-wait``)."""


class GitHubError(MiningError):
    """GitHub answered with an error that retrying will not fix (``status``: its HTTP status)."""

    def __init__(self, message: str, hint: str = "", status: int = 0) -> None:
        super().__init__(message, hint)
        self.status = status


class GraphQLTimeout(MiningError):
    """GitHub gave up computing a GraphQL page; a smaller page usually succeeds."""


class ReplayMiss(MiningError):
    """Replay asked for a request the archive has never seen."""
