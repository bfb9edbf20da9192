"""Run the labelling app on a local port (a thread-per-request WSGI server from Werkzeug).

The server binds to 127.0.0.1 unless told otherwise, takes a free port when none is given,
tells the request guard the address it really got, and opens the browser on it.
"""

from __future__ import annotations

import signal
import threading
import webbrowser
from collections.abc import Callable

from flask import Flask
from werkzeug.serving import BaseWSGIServer, make_server

from convfail.errors import ConvfailError
from labeling.guard import RequestGuard, is_loopback

STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)


def start_server(
    app: Flask, guard: RequestGuard, host: str = "127.0.0.1", port: int = 0
) -> BaseWSGIServer:
    """Bind (port 0 = any free port) and serve in a background thread; returns the server."""
    try:
        server = make_server(host, port, app, threaded=True)
    except OSError as exc:
        raise ConvfailError(
            f"cannot listen on {host}:{port} ({exc.strerror or exc})",
            "pick another --port, or leave it out to take a free one",
        ) from None
    guard.bind(host, server.server_port)
    threading.Thread(target=server.serve_forever, name="label-server", daemon=True).start()
    return server


def server_url(server: BaseWSGIServer, host: str) -> str:
    shown = "127.0.0.1" if host in ("0.0.0.0", "::", "") else host
    return (
        f"http://[{shown}]:{server.server_port}/"
        if ":" in shown
        else (f"http://{shown}:{server.server_port}/")
    )


def exposure_warning(host: str) -> str | None:
    """A line for a server that other machines can reach (the labels are theirs to change)."""
    if is_loopback(host):
        return None
    return (
        f"warning: --host {host} lets other machines on the network reach this server; anyone "
        "who can open its page can read the issues and change this rater's labels. "
        "Use --host 127.0.0.1 unless you mean that."
    )


def serve_until_interrupted(
    app: Flask,
    guard: RequestGuard,
    host: str,
    port: int,
    open_browser: bool,
    say: Callable[[str], None],
) -> None:
    """Serve until Ctrl-C; every choice is already saved, so stopping loses nothing."""
    warning = exposure_warning(host)
    if warning:
        say(warning)
    server = start_server(app, guard, host, port)
    url = server_url(server, host)
    say(f"labelling at {url}  (Ctrl-C to stop; every choice is saved as you make it)")
    if open_browser:
        webbrowser.open(url)
    stop = threading.Event()
    previous = {sig: signal.signal(sig, lambda *_: stop.set()) for sig in STOP_SIGNALS}
    try:
        # A timed wait returns to the interpreter regularly, so the handlers always get to run.
        while not stop.wait(0.2):
            pass
        say("stopped")
    finally:
        server.shutdown()
        for sig, handler in previous.items():
            signal.signal(sig, handler)
