"""The statistics on a constructed campaign with a planted pattern and on small fixed tables,
checked against scipy and statsmodels called directly (and Firth against its closed form)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm
from scipy import stats
from statsmodels.stats.multitest import multipletests

from analysis.sequences.data import label_column, load_campaign_models
from analysis.sequences.firth import firth_logit
from analysis.sequences.kgrams import SequenceIndex, fmt, kgrams, op_graph
from analysis.sequences.random_structures import random_structure, write_campaign
from analysis.sequences.stats import (
    cmh_tests,
    fcr_level,
    fisher_p_values,
    fisher_tests,
    odds_ratios,
    size_logit,
)
from analysis.sequences.stratified import cmh
from analysis.sequences.tables import Settings, SuiteSequences, analyse
from convfail.campaign_files import GRAPH_SCHEMA, GRAPHS_DIR, RESULTS_FILE
from convfail.errors import DatasetError

PLANTED = ("PlantA", "PlantB", "PlantC")
NEUTRAL = ("NeutA", "NeutB", "NeutC")
N = 80  # mismatching models, and as many correct ones


def write_planted_campaign(root, rng):
    """A campaign folder: the planted chain in 70% of mismatching and 10% of correct models,
    the neutral one in half of each; returns the truth per model."""
    truth, models = [], []
    for i in range(2 * N):
        mismatch = i < N
        planted = rng.random() < (0.7 if mismatch else 0.1)
        neutral = rng.random() < 0.5
        motifs = tuple(m for m, on in ((PLANTED, planted), (NEUTRAL, neutral)) if on)
        model_id = f"m{i:03d}"
        s = random_structure(rng, int(rng.integers(15, 40)), model_id, "torchscript", motifs)
        models.append((s, 0.1 if mismatch else 1e-6))  # round-off for the correct ones
        truth.append({"key": f"{model_id}/torchscript", "mismatch": mismatch, "planted": planted})
    write_campaign(root, models)
    return pd.DataFrame(truth)


@pytest.fixture(scope="module")
def planted(tmp_path_factory):
    root = tmp_path_factory.mktemp("planted") / "planted"
    truth = write_planted_campaign(root, np.random.default_rng(7))
    models = load_campaign_models(root)
    result = analyse(models, SuiteSequences.absent("none"), Settings())
    return truth, models, result


def _row(tests, kind, feature):
    rows = tests[(tests["test"] == "fisher") & (tests["kind"] == kind)]
    rows = rows[rows["policy"] == "default"]
    return rows.set_index("feature").loc[feature]


def test_the_planted_sequence_is_found_and_matches_scipy(planted):
    truth, _, result = planted
    row = _row(result.tests, "sequence", fmt(PLANTED))
    a = int((truth["planted"] & truth["mismatch"]).sum())
    c = int((truth["planted"] & ~truth["mismatch"]).sum())
    table = [[a, N - a], [c, N - c]]
    assert (row.mismatch_with, row.correct_with) == (a, c)
    assert row.p_value == pytest.approx(stats.fisher_exact(table).pvalue, rel=1e-9)
    assert bool(row.significant) and row.q_value < 0.05
    assert row.odds_ratio == pytest.approx(a * (N - c) / ((N - a) * c))
    assert row.ci_low > 1 and row.ci_low < row.odds_ratio < row.ci_high
    assert bool(_row(result.tests, "operator", "PlantB").significant)


def test_the_neutral_sequence_is_not_flagged(planted):
    _, _, result = planted
    tested = result.tests[(result.tests["test"] == "fisher")]
    neutral = tested[tested["feature"].isin([fmt(NEUTRAL), "NeutA", "NeutB", "NeutC"])]
    assert not neutral.empty  # tested as operators at least
    assert not neutral["significant"].astype(bool).any()
    significant = tested[tested["significant"].astype(bool)]["feature"]
    assert all("Plant" in f for f in significant)  # nothing random comes out


def test_benjamini_hochberg_is_statsmodels_over_the_tested_family(planted):
    _, models, _ = planted
    keys = list(models.frame["key"])
    index = SequenceIndex.build(keys, [kgrams(models.graphs[k]) for k in keys])
    mis = models.frame[label_column("default")].to_numpy(bool)
    names = [fmt(f) for f in index.features]
    table = fisher_tests(index.counts(mis), index.counts(~mis), N, N, names)
    assert len(table) > 50
    _, q, _, _ = multipletests(table["p_value"], method="fdr_bh")
    np.testing.assert_allclose(table["q_value"], q)
    first = table.iloc[0]
    expected = stats.fisher_exact(
        [[first.mismatch_with, first.mismatch_without], [first.correct_with, first.correct_without]]
    ).pvalue
    assert first.p_value == pytest.approx(expected)


def test_haldane_correction_when_a_cell_is_zero():
    ratio, low, high, haldane = (float(x[0]) for x in odds_ratios([6], [0], [2], [8]))
    assert haldane
    assert ratio == pytest.approx((6.5 * 8.5) / (0.5 * 2.5))
    se = np.sqrt(1 / 6.5 + 1 / 0.5 + 1 / 2.5 + 1 / 8.5)
    assert low == pytest.approx(ratio * np.exp(-stats.norm.ppf(0.975) * se))
    assert high == pytest.approx(ratio * np.exp(stats.norm.ppf(0.975) * se))
    ratio, _, _, haldane = odds_ratios([4], [2], [2], [4])
    assert ratio[0] == pytest.approx(4.0) and not haldane[0]


def test_vectorised_fisher_p_values_equal_scipy_on_every_table():
    n_mis, n_cor = 13, 9
    a, c = np.meshgrid(np.arange(n_mis + 1), np.arange(n_cor + 1))
    a, c = a.ravel(), c.ravel()
    ours = fisher_p_values(a, a + c, n_mis, n_mis + n_cor)
    for x, y, p in zip(a, c, ours, strict=True):
        expected = stats.fisher_exact([[x, n_mis - x], [y, n_cor - y]]).pvalue
        assert p == pytest.approx(expected, rel=1e-9, abs=1e-15), (x, y)


def test_the_policies_label_the_same_records_differently(planted):
    _, models, _ = planted
    frame = models.frame
    assert frame[label_column("default")].sum() == N  # round-off is not a mismatch
    assert frame[label_column("paper")].sum() == N
    assert frame[label_column("0,1e-7")].all()  # a bare 1e-7 calls round-off a mismatch


def test_the_regression_keeps_the_planted_sequence_and_is_near_plain_ml(planted):
    truth, models, result = planted
    logit = result.tests[result.tests["test"] == "logit"]
    logit = logit[logit["policy"] == "default"].set_index("feature")
    seq = f"seq {fmt(PLANTED)}"
    assert seq in logit.index
    assert logit.loc[seq, "p_value"] < 0.05 and logit.loc[seq, "odds_ratio"] > 1
    assert logit.loc["log2_nodes", "p_value"] > 0.05  # size was not planted
    frame = models.frame.merge(truth, on="key")
    design = sm.add_constant(
        pd.DataFrame(
            {"log2_nodes": np.log2(frame["nodes"].astype(float)), "p": frame["planted"] * 1.0}
        )
    )
    fit = sm.Logit(frame["mismatch"].astype(float), design).fit(disp=0)
    ours = size_logit(frame["mismatch"], frame["nodes"], pd.DataFrame({"p": frame["planted"]}))
    ours = ours.set_index("term")
    # no separation and 160 models: Firth's estimate is ML's shrunk slightly towards 0
    np.testing.assert_allclose(
        ours.loc[["const", "log2_nodes", "p"], "coef"], fit.params, rtol=0.06
    )
    assert abs(ours.loc["p", "coef"]) < abs(fit.params["p"])


@pytest.mark.parametrize("cells", [(6, 0, 2, 8), (5, 3, 2, 9), (0, 7, 4, 4)])
def test_firth_on_a_2x2_table_is_the_haldane_corrected_log_odds_ratio(cells):
    a, b, c, d = cells
    x = np.array([1] * (a + b) + [0] * (c + d), dtype=float)
    y = np.array([1] * a + [0] * b + [1] * c + [0] * d, dtype=float)
    fit = firth_logit(np.column_stack([np.ones_like(x), x]), y)
    assert fit.converged
    expected = np.log((a + 0.5) * (d + 0.5) / ((b + 0.5) * (c + 0.5)))
    assert fit.coef[1] == pytest.approx(expected, rel=1e-6)


def test_separation_gives_finite_firth_estimates_and_says_so():
    y = np.array([1, 1, 1, 1, 0, 0, 0, 0, 1, 0])
    marker = pd.DataFrame({"m": [1, 1, 1, 1, 0, 0, 0, 0, 0, 0]})  # only in mismatching models
    out = size_logit(y, np.arange(10, 20), marker).set_index("term")
    assert np.isfinite(out["coef"]).all() and out["converged"].all()
    assert "separates" in out.loc["m", "warning"]
    assert out.loc["m", "odds_ratio"] > 1


# three strata (converters) of a 2x2 table each: (a, b, c, d) per stratum
STRATA = [
    [(12, 8, 5, 15), (7, 3, 9, 21), (4, 16, 2, 18)],
    [(3, 7, 6, 4), (0, 5, 2, 3), (9, 1, 8, 2)],
]


@pytest.mark.parametrize("strata", STRATA)
def test_cmh_equals_statsmodels_stratified_table(strata):
    from statsmodels.stats.contingency_tables import StratifiedTable

    a, b, c, d = (np.array([[s[i] for s in strata]]) for i in range(4))
    ours = cmh(a, b, c, d)
    table = StratifiedTable([np.array([[s[0], s[1]], [s[2], s[3]]]) for s in strata])
    null = table.test_null_odds(correction=False)
    assert ours["statistic"][0] == pytest.approx(null.statistic, rel=1e-9)
    assert ours["p_value"][0] == pytest.approx(null.pvalue, rel=1e-9)
    assert ours["odds_ratio"][0] == pytest.approx(table.oddsratio_pooled, rel=1e-9)
    low, high = table.oddsratio_pooled_confint(alpha=0.05)
    assert (ours["ci_low"][0], ours["ci_high"][0]) == (
        pytest.approx(low, rel=1e-9),
        pytest.approx(high, rel=1e-9),
    )


def test_the_pooled_group_is_stratified_and_counts_each_graph_once_per_stratum():
    # one feature, the same 40 graphs through three converters with different mismatch rates
    with_mismatch = np.array([[12, 7, 4]])
    with_correct = np.array([[5, 9, 2]])
    n_mis, n_cor = np.array([20, 10, 20]), np.array([20, 30, 20])
    row = cmh_tests(with_mismatch, with_correct, n_mis, n_cor, ["f"], min_support=1).iloc[0]
    assert (row.mismatch_with, row.correct_with) == (23, 16)
    assert row.p_value == pytest.approx(
        cmh(*_cells(with_mismatch, with_correct, n_mis, n_cor))["p_value"][0]
    )


def _cells(with_mismatch, with_correct, n_mis, n_cor):
    return with_mismatch, n_mis - with_mismatch, with_correct, n_cor - with_correct


def test_intervals_are_fcr_adjusted_like_the_bh_decisions_beside_them(planted):
    _, _, result = planted
    fisher = result.tests[
        (result.tests["test"] == "fisher") & (result.tests["policy"] == "default")
    ]
    for _, part in fisher.groupby("kind"):
        significant = part["significant"].astype(bool).to_numpy()
        # the table keeps every significant feature, the family is every tested one
        level = 1 - max(1, significant.sum()) * 0.05 / part["n_tested"].iloc[0]
        assert part["ci_level"].to_numpy() == pytest.approx(level)
        a, b, c, d = (part[k].to_numpy() for k in FOUR)
        _, low, high, _ = odds_ratios(a, b, c, d, level)
        np.testing.assert_allclose(part["ci_low"], low)
        np.testing.assert_allclose(part["ci_high"], high)
        excludes_one = (part["ci_low"] > 1) | (part["ci_high"] < 1)
        # a rejected feature's adjusted interval excludes 1 (up to Woolf vs. exact Fisher)
        assert excludes_one[significant].mean() >= 0.9
    assert fcr_level(np.array([False] * 20)) == pytest.approx(1 - 0.05 / 20)


FOUR = ["mismatch_with", "mismatch_without", "correct_with", "correct_without"]


def test_op_graph_of_planted_structure_holds_the_chain():
    s = random_structure(np.random.default_rng(1), 20, motifs=(PLANTED,))
    assert PLANTED in kgrams(op_graph(s))


def test_a_damaged_results_line_is_one_error_naming_its_line(tmp_path):
    root = tmp_path / "damaged"
    write_planted_campaign(root, np.random.default_rng(3))
    results = root / RESULTS_FILE
    lines = results.read_text(encoding="utf-8").splitlines(keepends=True)
    lines[5] = '{"key": "m005/torchscript", "outcome":\n'
    results.write_text("".join(lines), encoding="utf-8")
    with pytest.raises(DatasetError, match=rf"{results}:6: not a JSON record"):
        load_campaign_models(root)


def test_a_graph_of_another_structure_version_is_refused(tmp_path):
    root = tmp_path / "old-graphs"
    write_planted_campaign(root, np.random.default_rng(4))
    graph = sorted((root / GRAPHS_DIR).glob("*.json"))[0]
    graph.write_text(graph.read_text().replace(GRAPH_SCHEMA, "graph-structure/0"))
    with pytest.raises(DatasetError, match="graph-structure/0"):
        load_campaign_models(root)
