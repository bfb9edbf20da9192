"""Campaigns: resume after a kill, the same results through Dask, the CLI."""

import json
import os
import signal
import subprocess
import sys
import time

import pytest

from difftest.campaign import CampaignConfig, plan, read_results, run_campaign

pytest.importorskip("torch")


def _project(tmp_path):
    (tmp_path / "data").mkdir()
    (tmp_path / "pyproject.toml").write_text("")
    return tmp_path


def _strip(records):
    return {r["key"]: (r["outcome"], json.dumps(r["comparison"], sort_keys=True)) for r in records}


@pytest.mark.slow
def test_killed_campaign_resumes_without_redoing_finished_models(tmp_path):
    root = _project(tmp_path)
    env = {**os.environ, "CONVFAIL_HOME": str(root)}
    cmd = [
        sys.executable,
        "-m",
        "convfail.cli",
        "difftest",
        "run",
        "k",
        "--sizes",
        "15",
        "--per-size",
        "12",
        "--inputs",
        "2",
        "--workers",
        "2",
    ]
    proc = subprocess.Popen(
        cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True
    )
    results = root / "data" / "difftest" / "k" / "results.jsonl"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if results.is_file() and len(results.read_text().splitlines()) >= 4:
            break
        time.sleep(0.05)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    with results.open("a") as fh:  # a torn line, as if killed mid-write
        fh.write('{"key": "syn-n015-00')
    before = read_results(results)
    assert 4 <= len(before) < 12
    config = CampaignConfig(name="k", sizes=[15], per_size=12, n_inputs=2)
    counts = run_campaign(config, root, workers=2, progress=False)
    after = read_results(results)
    assert sum(counts.values()) == 12 and len(after) == 12
    lines = results.read_text().splitlines()
    assert len(lines) == 12 and [json.loads(x)["key"] for x in lines] == sorted(
        r.key for r in plan(config, root)
    )
    for r in before:  # finished models were kept, not redone
        assert _strip([r]).items() <= _strip(after).items()
    assert len(list((results.parent / "graphs").glob("*.json"))) == sum(
        1 for r in after if r["graph_file"]
    )


@pytest.mark.slow
def test_dask_local_cluster_gives_the_same_results_as_the_local_pool(tmp_path):
    distributed = pytest.importorskip("distributed")
    root = _project(tmp_path)
    local = CampaignConfig(name="local", sizes=[15, 20], per_size=3, n_inputs=2)
    run_campaign(local, root, workers=2, progress=False)
    with distributed.LocalCluster(
        n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None
    ) as cluster:
        remote = CampaignConfig(name="dask", sizes=[15, 20], per_size=3, n_inputs=2)
        counts = run_campaign(remote, root, scheduler=cluster.scheduler_address, progress=False)
    assert sum(counts.values()) == 6
    a = {
        k.split("/")[0]: v
        for k, v in _strip(read_results(root / "data/difftest/local/results.jsonl")).items()
    }
    b = {
        k.split("/")[0]: v
        for k, v in _strip(read_results(root / "data/difftest/dask/results.jsonl")).items()
    }
    assert a == b


def test_changed_settings_are_refused_and_cli_errors_are_one_line(tmp_path):
    root = _project(tmp_path)
    env = {**os.environ, "CONVFAIL_HOME": str(root)}
    base = [sys.executable, "-m", "convfail.cli", "difftest", "run", "c", "--per-size", "0"]
    assert subprocess.run(base, env=env, capture_output=True).returncode == 0
    out = subprocess.run([*base, "--opset", "18"], env=env, capture_output=True, text=True)
    assert out.returncode == 1 and out.stderr.startswith("convfail: error: campaign 'c' exists")
    out = subprocess.run([*base[:-2], "--sizes", "x"], env=env, capture_output=True, text=True)
    assert (
        out.returncode == 1 and "cannot read sizes" in out.stderr and "Traceback" not in out.stderr
    )
