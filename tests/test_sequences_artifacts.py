"""The registered RQ4 micro artifacts on the shipped fresh campaign and the test-suite corpus
(the notebook runs in tests/test_notebooks.py)."""

from __future__ import annotations

import shutil

import onnx
import pytest
from onnx import TensorProto, helper

from analysis.registry import REGISTRY, AnalysisContext, artifacts
from analysis.sequences.artifacts import build_table12, build_table15, build_tests
from analysis.sequences.corpus import backend_corpus, corpus_graphs
from analysis.sequences.data import graph_campaigns
from analysis.sequences.kgrams import count_paths, enumerate_paths, kgrams
from convfail.campaign_files import RAN, RESULTS_FILE, SUCCESS, read_graph, read_results
from convfail.paths import difftest_dir
from convfail.verdicts import REPORTED_POLICIES, parse_policy, verdict

CAMPAIGNS = graph_campaigns(difftest_dir())
needs_campaign = pytest.mark.skipif(not CAMPAIGNS, reason="no campaign with graph structures")


def test_artifacts_are_registered_without_a_study():
    ids = {a.id for a in artifacts()}
    assert {"table12_sequences", "table15_operators", "rq4_sequence_tests"} <= ids
    assert not any(REGISTRY[i].per_study for i in ("table12_sequences", "rq4_sequence_tests"))


def test_an_onnx_folder_becomes_op_graphs(tmp_path):
    nodes = [
        helper.make_node("Conv", ["x", "w"], ["a"]),
        helper.make_node("Relu", ["a"], ["b"]),
        helper.make_node("MaxPool", ["b"], ["y"], kernel_shape=[2, 2]),
    ]
    graph = helper.make_graph(
        nodes,
        "g",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 1, 4, 4])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)],
        [helper.make_tensor("w", TensorProto.FLOAT, [1, 1, 1, 1], [1.0])],
    )
    (tmp_path / "suite").mkdir()
    onnx.save(helper.make_model(graph), tmp_path / "suite" / "m.onnx")
    graphs = corpus_graphs([tmp_path / "suite"], use_cache=False)
    g = graphs["suite/m.onnx"]
    assert enumerate_paths(g) == ([("Conv", "Relu", "MaxPool")], 0)
    assert kgrams(g) == {("Conv", "Relu", "MaxPool")}


@needs_campaign
def test_a_campaign_still_running_is_not_analysed(tmp_path):
    shipped = CAMPAIGNS[0]
    for name, jobs in (("finished", None), ("running", 10)):
        folder = tmp_path / name
        shutil.copytree(shipped, folder)
        lines = (shipped / RESULTS_FILE).read_text().splitlines(keepends=True)
        (folder / RESULTS_FILE).write_text("".join(lines[:jobs]))
    assert graph_campaigns(tmp_path) == [tmp_path / "finished"]


@pytest.mark.slow
def test_the_backend_corpus_holds_node_tests_and_model_folders():
    graphs = backend_corpus()
    assert sum(k.startswith("node/") for k in graphs) > 1000
    assert any(k.startswith("pytorch-converted/") for k in graphs)
    ops = {op for g in graphs.values() for op in g.ops}
    assert {"Conv", "Relu", "Gemm", "Erf", "Where"} <= ops
    assert sum(count_paths(g) for g in graphs.values()) > len(graphs)


@pytest.fixture(scope="module")
def built():
    ctx = AnalysisContext()
    return build_table12(ctx), build_table15(ctx), build_tests(ctx)


def _ran_models(campaign, converter):
    return [
        r
        for r in read_results(campaign / RESULTS_FILE).records
        if r["outcome"] in RAN
        and r.get("graph_file")
        and (campaign / r["graph_file"]).is_file()
        and r["converter"] == converter
    ]


@needs_campaign
@pytest.mark.slow
def test_table15_operator_sets_equal_difftest_op_counts(built):
    _, t15, _ = built
    campaign = CAMPAIGNS[0]
    table = t15.table.set_index(["campaign", "group", "policy", "set"]).sort_index()
    converter = "torchscript"
    for policy in REPORTED_POLICIES:
        ran = _ran_models(campaign, converter)
        if not ran:
            pytest.skip(f"no {converter} models in {campaign.name}")
        expected = {True: set(), False: set()}
        for r in ran:
            ops = read_graph(campaign / r["graph_file"])["op_counts"]
            expected[verdict(r, parse_policy(policy)) != SUCCESS].update(ops)
        row = table.loc[(campaign.name, converter, policy)]
        assert row.loc["mismatching", "count"] == len(expected[True])
        assert row.loc["correct", "count"] == len(expected[False])
        assert set(row.loc["only_mismatching", "operators"].split()) == (
            expected[True] - expected[False]
        )


@needs_campaign
@pytest.mark.slow
def test_tables_put_the_papers_numbers_beside_ours(built):
    t12, t15, tests = built
    table = t12.table
    assert set(table["campaign"]) == {c.name for c in CAMPAIGNS}
    for _, campaign in table.groupby("campaign"):  # each campaign has the paper's cells beside it
        strict = campaign[campaign["policy"] == "paper"].set_index(["group", "metric", "form"])
        if "all" in set(campaign["group"]):
            assert strict.loc[("all", "models_sharing_unseen", "count"), "published"] == 312
            assert strict.loc[("all", "models_mismatching", "count"), "published"] == 320
        if "tf2onnx" in set(campaign["group"]):
            assert strict.loc[("tf2onnx", "shared_with_tests", "minimal"), "published"] == 35
        counts = campaign[campaign["form"] == "count"].set_index(["group", "policy", "metric"])
        for (group, policy, metric), value in counts["ours"].items():
            if metric == "models_sharing_unseen":
                assert value <= counts.loc[(group, policy, "models_with_unseen"), "ours"]
                assert value <= counts.loc[(group, policy, "models_mismatching"), "ours"]
    others = table[table["policy"] != "paper"]
    assert others["published"].isna().all()  # the paper judged with its own allclose
    published = t15.table.dropna(subset=["published"])
    assert set(published["framework"]) <= {"torch", "tensorflow"}
    assert any("Table 15" in n and "published 58" in n for n in t15.notes)
    assert any("issta24-synthetic" in n for n in t12.notes)
    assert any("operators:" in n and "sequences:" in n for n in tests.notes)
    assert any("mismatch means" in n for n in t12.notes)  # what each policy's mismatch is
    assert set(tests.figures) == {"fig_rq4_sequence_odds", "fig_rq4_operator_odds"}
