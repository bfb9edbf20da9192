"""The campaign border files: one reader, one writer, damage named by path and line."""

from __future__ import annotations

import json

import pytest

from convfail.campaign_files import (
    GRAPH_SCHEMA,
    RESULT_KEYS,
    append_result,
    read_graph,
    read_results,
    repair_torn_tail,
    tolerance_key,
    write_results,
)
from convfail.errors import DatasetError


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
