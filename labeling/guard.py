"""Request guard of the local web app: only the app's own pages may change anything.

A labelling server on 127.0.0.1 is still reachable from any web page the rater has open, so:
- the ``Host`` header must name the server exactly as it was started: the address given to
  ``--host``, plus ``127.0.0.1`` and ``localhost`` when it listens on loopback, plus the
  machine's own names and addresses when it listens on every interface (``0.0.0.0``/``::``).
  A wildcard address itself is never a valid ``Host`` (a page that got ``0.0.0.0`` into the
  address bar, or a rebinding attack, must not read or write labels);
- a state-changing request must come from the app's own origin (``Origin``, or ``Referer``
  when a browser sends no ``Origin``), carry the per-server CSRF token in ``X-CSRF-Token`` and
  be JSON (a cross-site form cannot send that header or content type without a preflight, which
  this server never grants);
- every response forbids framing, inline scripts and third-party content (CSP).
"""

from __future__ import annotations

import contextlib
import hmac
import ipaddress
import secrets
import socket
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
LOOPBACK_NAMES = {"127.0.0.1", "localhost", "::1"}
WILDCARDS = {"0.0.0.0", "::", ""}


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def machine_addresses() -> set[str]:
    """This machine's host name and the addresses it resolves to (``/etc/hosts`` usually)."""
    name = socket.gethostname()
    names = {name}
    with contextlib.suppress(OSError):  # a host name that does not resolve has no addresses
        names |= {str(info[4][0]) for info in socket.getaddrinfo(name, None)}
    return {n for n in names if n and n not in WILDCARDS}


def host_header(name: str, port: int) -> str:
    """What a browser sends as ``Host`` for ``name``: IPv6 addresses in brackets."""
    return f"[{name}]:{port}" if ":" in name else f"{name}:{port}"


@dataclass
class RequestGuard:
    """Holds the hosts the server answers to and its CSRF token."""

    hosts: set[str] = field(default_factory=set)
    token: str = field(default_factory=lambda: secrets.token_urlsafe(32))

    def bind(self, host: str, port: int) -> None:
        """The ``Host`` values this server answers to, from the address it listens on."""
        names = set() if host in WILDCARDS else {host}
        if host in WILDCARDS or is_loopback(host):
            names |= LOOPBACK_NAMES
        if host in WILDCARDS:
            names |= machine_addresses()
        self.hosts = {host_header(name, port) for name in names - WILDCARDS}

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
