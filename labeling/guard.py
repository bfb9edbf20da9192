"""Request guard of the local web app: only the app's own pages may change anything.

A labelling server on 127.0.0.1 is still reachable from any web page the rater has open, so:
- the ``Host`` header must name the server itself (stops DNS-rebinding pages);
- a state-changing request must come from the app's own origin (``Origin``, or ``Referer``
  when a browser sends no ``Origin``), carry the per-server CSRF token in ``X-CSRF-Token`` and
  be JSON (a cross-site form cannot send that header or content type without a preflight, which
  this server never grants);
- every response forbids framing, inline scripts and third-party content (CSP).
"""

from __future__ import annotations

import hmac
import secrets
from dataclasses import dataclass, field
from urllib.parse import urlsplit

CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; "
    "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
)
SECURITY_HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "Cross-Origin-Opener-Policy": "same-origin",
    "Cross-Origin-Resource-Policy": "same-origin",
}
SAFE_METHODS = {"GET", "HEAD", "OPTIONS"}


@dataclass
class RequestGuard:
    """Holds the hosts the server answers to and its CSRF token."""

    hosts: set[str] = field(default_factory=set)
    token: str = field(default_factory=lambda: secrets.token_urlsafe(32))

    def bind(self, host: str, port: int) -> None:
        """Accept the bound address and, for a loopback server, ``localhost`` too."""
        names = {host}
        if host in {"127.0.0.1", "localhost", "::1"}:
            names |= {"127.0.0.1", "localhost"}
        self.hosts = {f"{name}:{port}" for name in names}

    def origins(self) -> set[str]:
        return {f"http://{h}" for h in self.hosts}

    def refusal(self, method: str, headers) -> str | None:
        """Why a request is refused, or ``None`` when it may proceed."""
        if self.hosts and headers.get("Host", "") not in self.hosts:
            return "unknown Host header"
        if method in SAFE_METHODS:
            return None
        origin = headers.get("Origin")
        if origin is None and headers.get("Referer"):
            parts = urlsplit(headers["Referer"])
            origin = f"{parts.scheme}://{parts.netloc}"
        if origin is None or origin not in self.origins():
            return "cross-origin request"
        if not hmac.compare_digest(headers.get("X-CSRF-Token", ""), self.token):
            return "missing or wrong CSRF token"
        if not headers.get("Content-Type", "").startswith("application/json"):
            return "expected a JSON body"
        return None
