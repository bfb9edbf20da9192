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
from labeling.guard import RequestGuard

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
    return f"http://{host}:{server.server_port}/"


def serve_until_interrupted(
    app: Flask,
    guard: RequestGuard,
    host: str,
    port: int,
    open_browser: bool,
    say: Callable[[str], None],
) -> None:
    """Serve until Ctrl-C; every choice is already saved, so stopping loses nothing."""
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
