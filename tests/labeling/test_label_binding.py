"""Who may talk to the server: the Host names it was started for, a warning off loopback, limits."""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import urllib.error
import urllib.request

from click.testing import CliRunner

from convfail.cli import cli
from labeling.guard import RequestGuard, machine_addresses

SERVE = ["label", "serve", "--study", "demo", "--rater", "alice", "--no-browser"]


def hosts_for(address: str) -> set[str]:
    guard = RequestGuard()
    guard.bind(address, 5000)
    return guard.hosts


def test_loopback_accepts_its_two_names_and_nothing_else():
    hosts = hosts_for("127.0.0.1")
    assert {"127.0.0.1:5000", "localhost:5000"} <= hosts
    assert "0.0.0.0:5000" not in hosts and "evil.example:5000" not in hosts


def test_a_wildcard_bind_accepts_loopback_and_this_machine_never_the_wildcard():
    hosts = hosts_for("0.0.0.0")
    assert {"127.0.0.1:5000", "localhost:5000"} <= hosts
    assert f"{socket.gethostname()}:5000" in hosts
    assert all(f"{a}:5000" in hosts or f"[{a}]:5000" in hosts for a in machine_addresses())
    assert "0.0.0.0:5000" not in hosts and "[::]:5000" not in hosts and ":5000" not in hosts


def test_a_named_address_accepts_exactly_that_address():
    assert hosts_for("192.0.2.7") == {"192.0.2.7:5000"}
    assert hosts_for("::1") >= {"[::1]:5000", "127.0.0.1:5000", "localhost:5000"}


def _get(url: str, host: str) -> int:
    request = urllib.request.Request(url, headers={"Host": host})
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status
    except urllib.error.HTTPError as exc:
        return exc.code


def test_a_server_on_every_interface_refuses_host_0_0_0_0(demo_study, project):
    from convfail.codebook import load_codebook
    from convfail.dataset import load_study
    from labeling.serve import start_server
    from labeling.session import LabelingSession
    from labeling.webapp import create_app

    book = load_codebook()
    session = LabelingSession(load_study("demo", book), "alice", book, project / "data")
    guard = RequestGuard()
    server = start_server(create_app(session, guard), guard, "0.0.0.0", 0)
    port = server.server_port
    try:
        url = f"http://127.0.0.1:{port}/queue"
        assert _get(url, f"127.0.0.1:{port}") == 200
        assert _get(url, f"localhost:{port}") == 200
        assert _get(url, f"{socket.gethostname()}:{port}") == 200
        assert _get(url, f"0.0.0.0:{port}") == 403
        assert _get(url, f"attacker.example:{port}") == 403
    finally:
        server.shutdown()


def test_big_requests_are_refused_with_a_reason(demo_study, serve_study):
    live = serve_study("demo", "alice")
    body = json.dumps(
        {"repository": "pytorch/pytorch", "number": 1, "field": "note", "value": "x" * 400_000}
    ).encode()
    request = urllib.request.Request(
        f"{live.url}/api/label",
        data=body,
        headers={
            "Content-Type": "application/json",
            "Origin": live.url,
            "X-CSRF-Token": live.guard.token,
        },
    )
    try:
        urllib.request.urlopen(request, timeout=30)
        raise AssertionError("a 400 KB request was accepted")
    except urllib.error.HTTPError as exc:
        assert exc.code == 413
        assert "larger than 256 KB" in json.loads(exc.read())["error"]
    assert not live.session.store.path.exists()


def test_serve_off_loopback_warns_before_it_listens(project, demo_study):
    process = subprocess.Popen(
        [sys.executable, "-m", "convfail.cli", *SERVE, "--host", "0.0.0.0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={**os.environ, "CONVFAIL_HOME": str(project)},
    )
    try:
        assert process.stdout is not None
        lines = [process.stdout.readline() for _ in range(3)]
        assert lines[1].startswith("warning: --host 0.0.0.0 lets other machines")
        port = re.search(r"http://127\.0\.0\.1:(\d+)/", lines[2]).group(1)
        assert _get(f"http://127.0.0.1:{port}/queue", f"127.0.0.1:{port}") == 200
    finally:
        process.send_signal(signal.SIGINT)
        process.communicate(timeout=60)
    assert process.returncode == 0


def test_study_names_are_checked_like_rater_names(project):
    for command in (["serve", "--rater", "a", "--no-browser"], ["agreement"], ["suggest-eval"]):
        result = CliRunner().invoke(
            cli, ["label", command[0], "--study", "../issta24", *command[1:]]
        )
        assert result.exit_code == 2, result.output
        assert "'../issta24' is not a usable study name" in result.output


def test_serve_refuses_a_labels_folder_it_cannot_write(project, demo_study, mounts):
    mounts.read_only(demo_study / "labels")
    result = CliRunner().invoke(
        cli, ["label", "serve", "--study", "demo", "--rater", "alice", "--no-browser"]
    )
    assert result.exit_code != 0
    assert "cannot write to" in str(result.exception) and "Read-only file system" in str(
        result.exception
    )


def test_serve_refuses_a_full_disk(project, demo_study, mounts):
    mounts.fill(mounts.small(demo_study / "labels", "64k"))
    result = CliRunner().invoke(
        cli, ["label", "serve", "--study", "demo", "--rater", "alice", "--no-browser"]
    )
    assert result.exit_code != 0 and "No space left on device" in str(result.exception)
