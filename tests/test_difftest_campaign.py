"""Campaigns: resume after a kill, the same results through Dask, the CLI."""

import json
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

from convfail.campaign_files import (
    CONFIG_FILE,
    RESULT_KEYS,
    RESULTS_FILE,
    append_result,
    read_results,
    write_results,
)
from convfail.errors import ConvfailError
from convfail.paths import campaign_dir
from convfail.verdicts import parse_policy
from difftest.campaign import CampaignConfig, plan, run_campaign
from difftest.compare import compare_outputs

pytest.importorskip("torch")


def _project(tmp_path, monkeypatch):
    (tmp_path / "data").mkdir()
    (tmp_path / "pyproject.toml").write_text("")
    monkeypatch.setenv("CONVFAIL_HOME", str(tmp_path))
    return tmp_path


def _strip(records):
    return {r["key"]: (r["outcome"], json.dumps(r["comparison"], sort_keys=True)) for r in records}


@pytest.mark.slow
def test_killed_campaign_resumes_without_redoing_finished_models(tmp_path, monkeypatch, capsys):
    root = _project(tmp_path, monkeypatch)
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
    results = campaign_dir("k") / RESULTS_FILE
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if results.is_file() and len(results.read_text().splitlines()) >= 4:
            break
        time.sleep(0.05)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    with results.open("a") as fh:  # a torn line, as if killed mid-write
        fh.write('{"key": "syn-n015-00')
    torn = results.read_bytes()
    before = read_results(results)
    assert before.torn_tail and 4 <= len(before.records) < 12
    assert results.read_bytes() == torn  # reading never repairs
    config = CampaignConfig(name="k", sizes=[15], per_size=12, n_inputs=2)
    counts = run_campaign(config, workers=2, progress=False)
    assert "the last line is torn" in capsys.readouterr().err
    after = read_results(results).records
    assert sum(counts.values()) == 12 and len(after) == 12
    lines = results.read_text().splitlines()
    assert len(lines) == 12 and [json.loads(x)["key"] for x in lines] == sorted(
        r.key for r in plan(config)
    )
    for r in before.records:  # finished models were kept, not redone
        assert _strip([r]).items() <= _strip(after).items()
    assert len(list((results.parent / "graphs").glob("*.json"))) == sum(
        1 for r in after if r["graph_file"]
    )


@pytest.mark.slow
def test_dask_local_cluster_gives_the_same_results_as_the_local_pool(tmp_path, monkeypatch):
    distributed = pytest.importorskip("distributed")
    _project(tmp_path, monkeypatch)
    local = CampaignConfig(name="local", sizes=[15, 20], per_size=3, n_inputs=2)
    run_campaign(local, workers=2, progress=False)
    with distributed.LocalCluster(
        n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None
    ) as cluster:
        remote = CampaignConfig(name="dask", sizes=[15, 20], per_size=3, n_inputs=2)
        counts = run_campaign(remote, scheduler=cluster.scheduler_address, progress=False)
    assert sum(counts.values()) == 6
    a = {
        k.split("/")[0]: v
        for k, v in _strip(read_results(campaign_dir("local") / RESULTS_FILE).records).items()
    }
    b = {
        k.split("/")[0]: v
        for k, v in _strip(read_results(campaign_dir("dask") / RESULTS_FILE).records).items()
    }
    assert a == b


def test_changed_settings_are_refused_and_cli_errors_are_one_line(tmp_path, monkeypatch):
    root = _project(tmp_path, monkeypatch)
    env = {**os.environ, "CONVFAIL_HOME": str(root)}
    base = [sys.executable, "-m", "convfail.cli", "difftest", "run", "c", "--per-size", "0"]
    assert subprocess.run(base, env=env, capture_output=True).returncode == 0
    out = subprocess.run([*base, "--opset", "18"], env=env, capture_output=True, text=True)
    assert out.returncode == 1 and out.stderr.startswith("convfail: error: campaign 'c' exists")
    out = subprocess.run([*base[:-2], "--sizes", "x"], env=env, capture_output=True, text=True)
    assert (
        out.returncode == 1 and "cannot read sizes" in out.stderr and "Traceback" not in out.stderr
    )


def test_a_typo_in_campaign_yaml_is_one_line_naming_the_key_and_the_file(tmp_path, monkeypatch):
    root = _project(tmp_path, monkeypatch)
    env = {**os.environ, "CONVFAIL_HOME": str(root)}
    base = [sys.executable, "-m", "convfail.cli", "difftest"]
    assert subprocess.run([*base, "run", "t", "--per-size", "0"], env=env).returncode == 0
    saved = campaign_dir("t") / CONFIG_FILE
    saved.write_text(saved.read_text().replace("per_size:", "per_sise:"))
    with pytest.raises(ConvfailError, match="unknown key 'per_sise'") as raised:
        CampaignConfig.read("t")
    assert str(saved) in str(raised.value)
    out = subprocess.run([*base, "resume", "t"], env=env, capture_output=True, text=True)
    assert out.returncode == 1 and len(out.stderr.splitlines()) == 1
    assert "per_sise" in out.stderr and str(saved) in out.stderr


def test_status_reports_a_torn_tail_and_leaves_the_file_alone(tmp_path, monkeypatch):
    root = _project(tmp_path, monkeypatch)
    env = {**os.environ, "CONVFAIL_HOME": str(root)}
    folder = campaign_dir("s")
    folder.mkdir(parents=True)
    (folder / CONFIG_FILE).write_text(CampaignConfig(name="s").to_yaml())
    record = dict.fromkeys(RESULT_KEYS) | {
        "key": "m/torchscript",
        "converter": "torchscript",
        "outcome": "success",
        "signature": "",
    }
    text = json.dumps(record) + "\n" + '{"key": "m2/tor'
    (folder / RESULTS_FILE).write_text(text)
    out = subprocess.run(
        [sys.executable, "-m", "convfail.cli", "difftest", "status", "s"],
        env=env,
        capture_output=True,
        text=True,
    )
    assert out.returncode == 0 and "torn" in out.stderr
    row = next(line for line in out.stdout.splitlines() if line.startswith("torchscript"))
    assert row.split()[-1] == "1"  # one record counted
    assert (folder / RESULTS_FILE).read_text() == text


def _status(env, *args):
    return subprocess.run(
        [sys.executable, "-m", "convfail.cli", "difftest", "status", *args],
        env=env,
        capture_output=True,
        text=True,
    )


def _compared(key: str, source: list[float], converted: list[float]) -> dict:
    """A record as the runner writes it, with a real comparison judged under ``default``."""
    policy = parse_policy("default")
    result = compare_outputs(
        [[np.array(source, np.float32)]], [[np.array(converted, np.float32)]], policy
    )
    return dict.fromkeys(RESULT_KEYS) | {
        "key": f"{key}/torchscript",
        "converter": "torchscript",
        "policy": "default",
        "outcome": result.verdict(policy),
        "signature": "",
        "comparison": result.to_dict(),
    }


def test_status_rejudges_a_campaign_under_another_policy_without_rerunning(tmp_path, monkeypatch):
    root = _project(tmp_path, monkeypatch)
    env = {**os.environ, "CONVFAIL_HOME": str(root)}
    folder = campaign_dir("p")
    folder.mkdir(parents=True)
    (folder / CONFIG_FILE).write_text(CampaignConfig(name="p").to_yaml())
    records = [
        _compared("round-off", [1.0, 2.0], [1.0, 2.0 + 2.4e-7]),
        _compared("large", [1e32], [1.00001e32]),
        _compared("nan", [float("nan"), 1.0], [0.0, 1.0]),
        _compared("real", [1.0], [1.5]),
        dict.fromkeys(RESULT_KEYS)
        | {
            "key": "boom/torchscript",
            "converter": "torchscript",
            "outcome": "crash",
            "signature": "crash | SIGSEGV | ",
            "comparison": None,
        },
    ]
    write_results(folder / RESULTS_FILE, records)
    before = (folder / RESULTS_FILE).read_bytes()

    def keys(*args):
        out = _status(env, "p", "--keys", *args)
        assert out.returncode == 0, out.stderr
        return out.stdout.split()

    assert keys("--outcome", "mismatch") == ["large/torchscript", "real/torchscript"]
    assert keys("--outcome", "mismatch", "--policy", "paper") == ["real/torchscript"]
    assert keys("--outcome", "mismatch", "--policy", "0,1e-7") == [
        "large/torchscript",
        "real/torchscript",
        "round-off/torchscript",
    ]
    assert keys("--outcome", "nonfinite_mismatch", "--policy", "paper") == ["nan/torchscript"]
    assert keys("--outcome", "crash", "--policy", "1,1") == ["boom/torchscript"]
    table = _status(env, "p", "--policy", "paper").stdout
    assert table.startswith("policy: paper (allclose rtol 0.001, atol 1e-07)")
    bad = _status(env, "p", "--policy", "strict")
    assert bad.returncode != 0 and len(bad.stderr.splitlines()) == 1
    assert "unknown verdict policy" in bad.stderr
    assert (folder / RESULTS_FILE).read_bytes() == before  # read commands never write


def test_status_on_a_corrupted_middle_line_fails_and_leaves_the_file_byte_identical(
    tmp_path, monkeypatch
):
    root = _project(tmp_path, monkeypatch)
    env = {**os.environ, "CONVFAIL_HOME": str(root)}
    folder = campaign_dir("c")
    folder.mkdir(parents=True)
    (folder / CONFIG_FILE).write_text(CampaignConfig(name="c").to_yaml())
    for i in range(43):
        append_result(folder / RESULTS_FILE, _compared(f"m{i:02d}", [1.0], [1.0]))
    lines = (folder / RESULTS_FILE).read_bytes().split(b"\n")
    lines[10] = lines[10][:25]
    (folder / RESULTS_FILE).write_bytes(b"\n".join(lines))
    before = (folder / RESULTS_FILE).read_bytes()
    for args in (["c"], ["c", "--keys"], ["c", "--policy", "paper"]):
        out = _status(env, *args)
        assert out.returncode != 0 and out.stdout == ""
        assert len(out.stderr.splitlines()) == 1 and f"{RESULTS_FILE}:11" in out.stderr
        assert (folder / RESULTS_FILE).read_bytes() == before


def test_a_record_is_never_appended_onto_an_unended_last_line(tmp_path):
    path = tmp_path / RESULTS_FILE
    first = dict.fromkeys(RESULT_KEYS) | {"key": "a/torchscript", "outcome": "success"}
    path.write_text(json.dumps(first))  # killed between the record and its newline
    assert read_results(path).records == [first]
    append_result(
        path, dict.fromkeys(RESULT_KEYS) | {"key": "b/torchscript", "outcome": "mismatch"}
    )
    assert [r["key"] for r in read_results(path).records] == ["a/torchscript", "b/torchscript"]


def test_difftest_list_loads_no_framework_and_no_pandas():
    code = (
        "import sys\n"
        "from convfail.cli import main\n"
        "try:\n"
        "    main(['difftest', 'list'])\n"
        "finally:\n"
        "    heavy = {'torch', 'tensorflow', 'pandas', 'matplotlib', 'tf2onnx'}\n"
        "    print(sorted({m.split('.')[0] for m in sys.modules} & heavy), file=sys.stderr)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.stderr.strip().splitlines()[-1] == "[]", out.stderr
    assert "probe [torch]:" in out.stdout and "nonfinite-sign" in out.stdout


@pytest.mark.slow
def test_the_light_model_name_lists_equal_the_model_tables():
    pytest.importorskip("tensorflow")
    from difftest import tf_models, torch_models
    from difftest.sources import MODEL_NAMES

    assert set(MODEL_NAMES[("zoo", "torch")]) == set(torch_models.ZOO)
    assert set(MODEL_NAMES[("probe", "torch")]) == set(torch_models.PROBES)
    assert set(MODEL_NAMES[("zoo", "tensorflow")]) == set(tf_models.ZOO)
    assert set(MODEL_NAMES[("probe", "tensorflow")]) == set(tf_models.PROBES)
