"""RQ4 micro analysis artifacts: Table 12 (sequences), Table 15 (operators) and the tests.

Reads difftest's *files* (``data/difftest/<campaign>/results.jsonl`` and ``graphs/``), never its
code. The published synthetic results (``issta24-synthetic``) carry no graph structures (the
artifact's parsed-graphs file is empty), so the paper's micro analysis can only be redone on
fresh campaigns: every campaign folder with a ``campaign.yaml`` and graph files is analysed.
The test-suite corpus is the backend test models of the installed ``onnx`` package.

The paper's numbers stand beside ours in a ``published`` column (from
``data/reference/published_issta24.yaml``), with the reason they cannot be equal; they are not
reproduction checks, since a fresh campaign has new models and new converter versions.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

import numpy as np
import pandas as pd

from analysis.published import published_cells
from analysis.registry import AnalysisContext, ArtifactResult, artifact
from analysis.sequences.corpus import backend_corpus
from analysis.sequences.data import graph_campaigns, load_campaign_models
from analysis.sequences.figures import odds_figure
from analysis.sequences.tables import ALL, MicroResult, Settings, SuiteSequences, analyse
from convfail.campaign_files import RESULTS_FILE
from convfail.errors import ConvfailError
from convfail.paths import difftest_dir
from convfail.verdicts import PAPER, parse_policy

# what "mismatch" means under each reported policy, for the notes
MEANING = {
    "default": "beyond float32 round-off (torch.testing's defaults): a difference a numerics "
    "expert would call a fault",
    PAPER: "beyond rtol 1e-3 (the paper's allclose): a difference large enough to notice",
    "0,1e-7": "any absolute difference above 1e-7: on values above ~1 that is float32 "
    "round-off, so it mostly measures 'outputs are large'",
}
FRAMEWORK = {"torchscript": "torch", "dynamo": "torch", "tf2onnx": "tensorflow", ALL: "all"}
FEW = 30


def _stamp(root: Path) -> tuple:
    return tuple((str(p), (p / RESULTS_FILE).stat().st_mtime_ns) for p in graph_campaigns(root))


def default_suite(settings: Settings) -> SuiteSequences:
    """The onnx backend test models, or an absent suite saying why."""
    try:
        graphs = backend_corpus()
    except ConvfailError as exc:
        return SuiteSequences.absent(f"no test-suite corpus ({exc})")
    return SuiteSequences.from_graphs("onnx backend test models", graphs, settings)


@cache
def _analysed(root: str, stamp: tuple) -> tuple[list[MicroResult], SuiteSequences, list[str]]:
    settings = Settings()
    suite = default_suite(settings)
    results, names = [], []
    for folder, _ in stamp:
        models = load_campaign_models(Path(folder))
        results.append(analyse(models, suite, settings))
        names.append(models.campaign)
    return results, suite, names


def campaign_results() -> tuple[MicroResult, SuiteSequences, list[str]]:
    """Every graph campaign analysed (cached per data state), concatenated."""
    root = difftest_dir()
    results, suite, names = _analysed(str(root), _stamp(root))
    if not results:
        raise ConvfailError(
            f"no campaign with graph structures under {root}",
            "run `convfail difftest run` to make one",
        )
    merged = MicroResult(
        *(
            pd.concat([getattr(r, part) for r in results], ignore_index=True)
            for part in ("table12", "table15", "tests")
        ),
        notes=[n for r in results for n in r.notes],
    )
    return merged, suite, names


def with_published(table: pd.DataFrame, artifact_id: str) -> tuple[pd.DataFrame, list[str]]:
    """Add the ``framework`` and ``published`` columns; the cells' reasons become notes."""
    table = table.copy()
    table.insert(2, "framework", table["group"].map(FRAMEWORK).fillna(table["group"]))
    table["published"] = np.nan
    cells, _, paper_ref = published_cells(artifact_id)
    notes = []
    for cell in cells:
        keys = {k: v for k, v in cell.items() if k not in {"value", "reason"}}
        mask = table["policy"] == PAPER
        for column, wanted in keys.items():
            mask &= table[column].astype(str) == str(wanted)
        table.loc[mask, "published"] = cell["value"]
        label = ", ".join(f"{k}={v}" for k, v in keys.items())
        ours = "; ".join(
            f"{row.campaign}/{row.group}: {_number(row)}" for row in table[mask].itertuples()
        )
        notes.append(
            f"{paper_ref} {label}: published {cell['value']}, ours {ours or 'n/a'} - "
            f"{cell.get('reason', '')}"
        )
    return table, notes


def _number(row) -> str:
    value = row.ours if hasattr(row, "ours") else row.count
    return "n/a" if pd.isna(value) else f"{value:g}"


def _data_notes(result: MicroResult, suite: SuiteSequences, names: list[str]) -> list[str]:
    t12 = result.table12
    counts = t12[t12["metric"].isin(["models_mismatching", "models_correct"])]
    small = counts[(counts["ours"] < FEW) & (counts["group"] == ALL)]
    notes = [
        f"Campaigns analysed: {', '.join(names)}. The published synthetic results "
        "(issta24-synthetic) hold no graph structures, so the paper's micro analysis can only be "
        "redone on fresh campaigns (new models, new converter versions): no number can be equal.",
        f"Test-suite corpus: {suite.name} ({suite.models} models), a stand-in for the "
        "converters' own test suites the paper used.",
        "Sequences: contiguous 3-5-op parts of every input-to-output path (k-gram sets); "
        "'minimal' keeps a sequence only when no shorter part of it is in the same set.",
    ]
    if not small.empty:
        described = ", ".join(
            f"{r.campaign} under {r.policy}: {int(r.ours)} {r.metric.split('_')[1]}"
            for r in small.itertuples()
        )
        notes.append(
            f"Few models on one side ({described}); the tests have little power and a "
            "non-significant result is not evidence of no effect."
        )
    return notes + policy_notes(t12)


def policy_notes(table12: pd.DataFrame) -> list[str]:
    """Per policy, its rule, what a mismatch means under it, and the counts per converter."""
    notes = []
    counts = table12[table12["metric"].isin(["models_mismatching", "models_correct"])]
    for (campaign, policy), part in counts.groupby(["campaign", "policy"], sort=False):
        per = part[part["group"] != ALL].pivot(index="group", columns="metric", values="ours")
        said = ", ".join(
            f"{g} {int(r.models_mismatching)} of {int(r.models_mismatching + r.models_correct)}"
            for g, r in per.iterrows()
        )
        notes.append(
            f"{campaign} under policy {parse_policy(policy).describe()}: mismatch means "
            f"{MEANING.get(policy, 'beyond the given rtol/atol')}; mismatching: {said}."
        )
    return notes


def conclusions(tests: pd.DataFrame) -> list[str]:
    """One sentence per campaign, group and policy on the operator and sequence hypotheses."""
    notes = []
    if tests.empty:
        return ["No group had both mismatching and correct models: nothing could be tested."]
    for (campaign, group, policy), part in tests.groupby(["campaign", "group", "policy"]):
        fisher = part[part["test"].isin(["fisher", "cmh"])]
        said = []
        for kind in ("operator", "sequence"):
            rows = fisher[fisher["kind"] == kind]
            tested = int(rows["n_tested"].max()) if not rows.empty else 0
            hits = rows[rows["significant"].astype(bool)]
            top = ", ".join(
                f"{r.feature} (OR {r.odds_ratio:.2g})" for r in hits.head(3).itertuples()
            )
            said.append(
                f"{kind}s: {len(hits)} of {tested} tested associated with mismatch at FDR 5%"
                + (" (CMH over converters)" if group == ALL else "")
                + (f" (e.g. {top})" if top else "")
            )
        logit = part[part["test"] == "logit"]
        if not logit.empty:
            size = logit[logit["feature"] == "log2_nodes"].iloc[0]
            seqs = logit[logit["feature"].str.startswith("seq ")]
            kept = seqs[seqs["p_value"] < 0.05]
            said.append(
                f"regression: size OR {size.odds_ratio:.2g} per doubling (p={size.p_value:.2g}), "
                f"{len(kept)} of {len(seqs)} top sequences remain significant given size"
                + (f" [{size.note}]" if isinstance(size.note, str) and size.note else "")
            )
        notes.append(f"{campaign}/{group} under policy {policy}: " + "; ".join(said) + ".")
    return notes


def verdict(tests: pd.DataFrame) -> str:
    """The operator- and sequence-level hypotheses in one sentence, over every group."""
    fisher = tests[tests["test"].isin(["fisher", "cmh"])] if not tests.empty else tests
    parts = []
    for kind in ("operator", "sequence"):
        rows = fisher[fisher["kind"] == kind] if not fisher.empty else fisher
        hits = int(rows["significant"].astype(bool).sum()) if not rows.empty else 0
        tested = (
            int(rows.groupby(["campaign", "group", "policy"])["n_tested"].max().sum())
            if not rows.empty
            else 0
        )
        parts.append(
            f"{kind}-level hypothesis ('models with particular {kind}s fail more'): "
            + ("supported" if hits else "no evidence")
            + f" ({hits} significant of {tested} tests)"
        )
    return (
        "Conclusion on this data: "
        + "; ".join(parts)
        + ". The paper found support for sequences and none for operators from frequencies "
        "alone; a small campaign cannot confirm or refute that (see the power note)."
    )


@artifact(
    "table12_sequences", "Operator sequences of mismatching models", "Table 12", per_study=False
)
def build_table12(ctx: AnalysisContext) -> ArtifactResult:
    result, suite, names = campaign_results()
    table, notes = with_published(result.table12, "table12_sequences")
    return ArtifactResult(table=table, notes=_data_notes(result, suite, names) + notes)


@artifact(
    "table15_operators",
    "Operators of mismatching, correct and test-suite models",
    "Table 15",
    per_study=False,
)
def build_table15(ctx: AnalysisContext) -> ArtifactResult:
    result, _, _ = campaign_results()
    table, notes = with_published(result.table15, "table15_operators")
    return ArtifactResult(table=table, notes=notes)


@artifact(
    "rq4_sequence_tests",
    "Operators and sequences associated with mismatch (Fisher/CMH + BH, Firth regression)",
    "RQ4 (new)",
    per_study=False,
)
def build_tests(ctx: AnalysisContext) -> ArtifactResult:
    result, _, _ = campaign_results()
    notes = [
        "Per converter: Fisher's exact test per feature (present in >= 3 and absent from >= 3 "
        "models); over all converters ('all'): Cochran-Mantel-Haenszel stratified by converter, "
        "so a generated graph is never counted twice in one table. Benjamini-Hochberg over the "
        "tested features of each group, kind and policy. Odds ratios (Woolf, Haldane-corrected "
        "when a cell is 0; Mantel-Haenszel for 'all') with false-coverage-rate adjusted "
        "intervals (level 1 - R*0.05/m, column ci_level), so an interval excluding 1 agrees "
        "with the BH decision beside it. The table keeps every operator and, per group, the "
        "significant sequences plus the 20 smallest p-values.",
        "Regression, per converter only: Firth-penalised logit(mismatch) ~ log2(nodes) + the 3 "
        "sequences with the smallest Fisher p, 95% Wald intervals; the penalty keeps estimates "
        "finite when a sequence separates. Choosing the sequences on the same data favours "
        "them, so their p-values are optimistic.",
        verdict(result.tests),
        *conclusions(result.tests),
        *result.notes,
    ]
    return ArtifactResult(
        table=result.tests,
        figures={
            "fig_rq4_sequence_odds": odds_figure(result.tests, "sequence"),
            "fig_rq4_operator_odds": odds_figure(result.tests, "operator"),
        },
        notes=notes,
    )
