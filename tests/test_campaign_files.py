"""The campaign border files: one reader, one writer, damage named by path and line."""

from __future__ import annotations

import json

import pytest
import yaml

from convfail.campaign_files import (
    CONFIG_FILE,
    GRAPH_SCHEMA,
    RESULT_KEYS,
    RESULTS_FILE,
    append_result,
    campaign_progress,
    finished_campaigns,
    planned_jobs,
    read_graph,
    read_results,
    repair_torn_tail,
    tolerance_key,
    write_results,
)
from convfail.errors import DatasetError
from difftest.campaign import CampaignConfig, plan


def _record(key: str, outcome: str = "success") -> dict:
    return dict.fromkeys(RESULT_KEYS) | {
        "key": key,
        "outcome": outcome,
        "comparison": {"mismatch": {tolerance_key(1e-3): False}},
    }


def _file(tmp_path, n: int = 5):
    path = tmp_path / "results.jsonl"
    for i in range(n):
        append_result(path, _record(f"m{i}/dynamo"))
    return path


def test_round_trip_sorted(tmp_path):
    path = tmp_path / "results.jsonl"
    write_results(path, [_record("b/x"), _record("a/x", "mismatch")])
    results = read_results(path)
    assert [r["key"] for r in results.records] == ["a/x", "b/x"]
    assert not results.torn_tail


def test_corrupted_middle_line_names_path_and_line(tmp_path):
    path = _file(tmp_path)
    lines = path.read_text().splitlines(keepends=True)
    lines[2] = lines[2][: len(lines[2]) // 2] + "\n"
    path.write_text("".join(lines))
    before = path.read_bytes()
    with pytest.raises(DatasetError, match=rf"{path}:3: not a JSON record"):
        read_results(path)
    assert path.read_bytes() == before


def test_torn_tail_reported_ignored_and_only_repaired_on_request(tmp_path):
    path = _file(tmp_path)
    with path.open("a") as fh:
        fh.write(json.dumps(_record("m9/dynamo"))[:20])
    before = path.read_bytes()
    results = read_results(path)
    assert results.torn_tail and len(results.records) == 5
    assert path.read_bytes() == before
    assert repair_torn_tail(path)
    assert read_results(path) == read_results(path)
    assert not read_results(path).torn_tail and len(read_results(path).records) == 5
    assert not repair_torn_tail(path)


def test_whole_last_record_without_newline_is_kept(tmp_path):
    path = _file(tmp_path, 2)
    path.write_bytes(path.read_bytes().rstrip(b"\n"))
    results = read_results(path)
    assert len(results.records) == 2 and not results.torn_tail


def test_unknown_outcome_is_refused(tmp_path):
    path = tmp_path / "results.jsonl"
    path.write_text(json.dumps(_record("a/x", "succes")) + "\n")
    with pytest.raises(DatasetError, match=":1: unknown outcome 'succes'"):
        read_results(path)


def test_a_record_without_a_result_key_is_refused_by_path_and_line(tmp_path):
    path = _file(tmp_path, 3)
    partial = {k: v for k, v in _record("m7/dynamo").items() if k != "graph_file"}
    with path.open("a") as fh:
        fh.write(json.dumps(partial) + "\n")
    append_result(path, _record("m8/dynamo"))
    before = path.read_bytes()
    with pytest.raises(
        DatasetError, match=rf"{path}:4: not a whole result record \(no 'graph_file'\)"
    ):
        read_results(path)
    assert path.read_bytes() == before


def test_tolerance_key_is_one_format():
    assert tolerance_key(1e-3) == tolerance_key("0.001") == tolerance_key(0.001) == "0.001"
    assert tolerance_key(1e-7) == "1e-07"


def test_graph_version_checked(tmp_path):
    good = tmp_path / "g.json"
    good.write_text(json.dumps({"schema": GRAPH_SCHEMA, "nodes": []}))
    assert read_graph(good)["nodes"] == []
    old = tmp_path / "old.json"
    old.write_text(json.dumps({"schema": "graph-structure/0", "nodes": []}))
    with pytest.raises(DatasetError, match="graph schema 'graph-structure/0'"):
        read_graph(old)
    broken = tmp_path / "broken.json"
    broken.write_text("{")
    with pytest.raises(DatasetError, match="not a graph-structure JSON"):
        read_graph(broken)


def _campaign(root, name: str, jobs: int, settings: dict | None = None):
    folder = root / name
    folder.mkdir(parents=True)
    config = settings or {
        "source": "synthetic",
        "sizes": [15, 20],
        "per_size": 2,
        "models": [],
        "converters": ["torchscript", "dynamo"],
    }
    (folder / CONFIG_FILE).write_text(yaml.safe_dump(config))
    _file(folder, jobs)
    return folder


def test_planned_jobs_count_the_jobs_difftest_plans():
    for settings in (
        dict(name="a", sizes=[15, 20, 25], per_size=4, converters=["torchscript", "tf2onnx"]),
        dict(name="b", source="zoo", models=["resnet18", "mobilenet_v2"], converters=["dynamo"]),
    ):
        config = CampaignConfig(**settings)
        assert planned_jobs(yaml.safe_load(config.to_yaml())) == len(plan(config))


def test_only_campaigns_with_every_planned_job_are_finished(tmp_path):
    done = _campaign(tmp_path, "done", 8)
    running = _campaign(tmp_path, "running", 5)
    finished, unfinished = finished_campaigns(tmp_path)
    assert finished == [done]
    assert [(p.folder, p.done, p.planned) for p in unfinished] == [(running, 5, 8)]
    assert unfinished[0].unfinished_note().startswith("running: unfinished (8 jobs planned)")


def test_a_torn_last_line_is_not_a_finished_job(tmp_path):
    folder = _campaign(tmp_path, "c", 7)
    with (folder / RESULTS_FILE).open("ab") as fh:
        fh.write(b'{"key": "m7/dyn')
    assert campaign_progress(folder).done == 7
    (folder / RESULTS_FILE).write_text(
        (folder / RESULTS_FILE).read_text().rsplit("\n", 1)[0] + "\n" + json.dumps(_record("x/y"))
    )
    assert campaign_progress(folder).done == len(read_results(folder / RESULTS_FILE).records) == 8


def test_an_unreadable_configuration_is_one_error_naming_it(tmp_path):
    folder = _campaign(tmp_path, "bad", 1, settings={"source": "synthetic"})
    with pytest.raises(DatasetError, match=r"bad/campaign.yaml: not a campaign configuration"):
        campaign_progress(folder)
