"""The ``convfail label`` commands as a user runs them."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import urllib.request

from click.testing import CliRunner

from convfail.cli import cli
from labeling.store import LabelStore


def test_serve_binds_to_loopback_serves_pages_and_stops_on_ctrl_c(project, demo_study):
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "convfail.cli",
            "label",
            "serve",
            "--study",
            "demo",
            "--rater",
            "alice",
            "--no-browser",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={**os.environ, "CONVFAIL_HOME": str(project)},
    )
    try:
        assert process.stdout is not None
        lines = [process.stdout.readline(), process.stdout.readline()]
        assert "7 issues, 0 labelled by alice" in lines[0]
        url = re.search(r"http://127\.0\.0\.1:\d+/", lines[1]).group(0)
        with urllib.request.urlopen(url + "queue", timeout=30) as response:
            page = response.read().decode()
        assert response.status == 200 and "torch issue 3" in page
    finally:
        process.send_signal(signal.SIGINT)
        output = process.communicate(timeout=60)[0]
    assert process.returncode == 0, output
    assert "stopped" in output


def test_serve_refuses_bad_rater_names_and_unknown_studies(project):
    runner = CliRunner()
    result = runner.invoke(
        cli, ["label", "serve", "--study", "issta24", "--rater", "../x", "--no-browser"]
    )
    assert result.exit_code != 0 and "not a usable rater name" in str(result.exception)
    result = runner.invoke(
        cli, ["label", "serve", "--study", "nope", "--rater", "a", "--no-browser"]
    )
    assert result.exit_code != 0 and "no study 'nope'" in str(result.exception)


def test_adjudicate_with_full_agreement_only_writes_final(demo_study, codebook):
    for rater in ("ann", "bob"):
        LabelStore(demo_study, rater, codebook).save("pytorch/pytorch", 1, {"cause": "typo"})
    result = CliRunner().invoke(cli, ["label", "adjudicate", "--study", "demo", "--no-browser"])
    assert result.exit_code == 0, result.output
    assert "1 agreed issue(s) added to final.csv; 0 disagreement(s)" in result.output
    assert (demo_study / "labels" / "final.csv").read_text().count("typo") == 1


def test_export_names_the_file_it_wrote(project, tmp_path):
    out = tmp_path / "out.xlsx"
    result = CliRunner().invoke(
        cli, ["label", "export", "--study", "issta24", "--rater", "pilot_r1", str(out)]
    )
    assert result.exit_code == 0 and "wrote 60 labelled issue(s) of pilot_r1" in result.output
    assert out.stat().st_size > 0
