"""RQ4 micro analysis at campaign scale: the k-gram method vs. the paper's pairwise method.

Writes a synthetic campaign of ``--models`` graph structures (15–100 nodes, step 5, three
converters, differences that three verdict policies judge apart, a planted motif so the tests
have something to find) into a temporary folder, then times the full analysis as ``convfail
reproduce`` runs it: reading results and graph files, k-gram indexing, every Table 12/15
question for every group and policy, the Fisher/CMH/BH tests and the Firth regressions. The
exact pairwise method is timed on a subsample of models (up to 40 random paths each), and its
cost for the whole campaign is extrapolated from the number of path pairs it would compare
(true path counts, no cap, as the paper enumerated every path).
Target: under 60 s on 2 cores for >= 3,000 models.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

import numpy as np

from analysis.sequences.corpus import backend_corpus
from analysis.sequences.data import label_column, load_campaign_models
from analysis.sequences.kgrams import PATH_CAP, count_paths, enumerate_paths
from analysis.sequences.pairwise import PairwiseComparer, pairwise_compare
from analysis.sequences.random_structures import random_structure, write_campaign
from analysis.sequences.tables import Settings, SuiteSequences, analyse

CONVERTERS = ("torchscript", "dynamo", "tf2onnx")
SIZES = range(15, 101, 5)
MOTIF = ("Erf", "Softplus", "ReduceMax")
PATHS_PER_MODEL = 40
STRICT = "default"  # the label the pairwise extrapolation splits on


def write_bench_campaign(root: Path, models: int, seed: int) -> None:
    rng = np.random.default_rng(seed)
    built = []
    for i in range(models):
        converter = CONVERTERS[i % len(CONVERTERS)]
        n = int(rng.choice(list(SIZES)))
        planted = rng.random() < 0.15
        p_mismatch = 0.15 + 0.3 * (n / 100) + (0.35 if planted else 0.0)
        strict = bool(rng.random() < p_mismatch + 0.3)
        loose = strict and bool(rng.random() < p_mismatch / (p_mismatch + 0.3))
        model_id = f"bench-n{n:03d}-{i:05d}"
        motifs = (MOTIF,) if planted else ()
        structure = random_structure(rng, n - 3 * planted, model_id, converter, motifs)
        # a mismatch under every policy, under default only, or round-off (a bare 1e-7 only)
        built.append((structure, 0.1 if loose else 1e-4 if strict else 1e-6))
    write_campaign(root, built)


def _sample(paths: list, rng: np.random.Generator, keep: int = PATHS_PER_MODEL) -> list:
    """A random sample of a model's paths: the cost per path pair is what is measured."""
    if len(paths) <= keep:
        return paths
    return [paths[i] for i in sorted(rng.choice(len(paths), keep, replace=False))]


def pairwise_extrapolation(models, suite_graphs, subsample: int, seed: int) -> dict:
    """Time the exact pairwise method on ``subsample`` models per side of one group and
    extrapolate to every group and policy of the campaign."""
    rng = np.random.default_rng(seed)
    frame = models.frame
    strict = label_column(STRICT)
    group = frame[frame["converter"] == CONVERTERS[0]]
    mis = list(rng.choice(group[group[strict]]["key"], subsample, replace=False))
    cor = list(rng.choice(group[~group[strict]]["key"], subsample, replace=False))
    suite_keys = sorted(suite_graphs)[:: max(1, len(suite_graphs) // subsample)][:subsample]
    paths = {k: _sample(enumerate_paths(models.graphs[k])[0], rng) for k in mis + cor}
    tests = [p for k in suite_keys for p in _sample(enumerate_paths(suite_graphs[k])[0], rng)]
    comparer = PairwiseComparer()
    start = time.perf_counter()
    pairwise_compare({k: paths[k] for k in mis}, {k: paths[k] for k in cor}, tests, comparer)
    seconds = time.perf_counter() - start
    per_pair = seconds / comparer.comparisons
    counts = {k: count_paths(g) for k, g in models.graphs.items()}
    suite_paths = sum(count_paths(g) for g in suite_graphs.values())
    total = _campaign_pairs(frame, models.policies, counts, suite_paths)
    capped = _campaign_pairs(
        frame,
        models.policies,
        {k: min(n, PATH_CAP) for k, n in counts.items()},
        sum(min(count_paths(g), PATH_CAP) for g in suite_graphs.values()),
    )
    return {
        "sample_seconds": seconds,
        "sample_pairs": comparer.comparisons,
        "per_pair_us": per_pair * 1e6,
        "campaign_pairs": total,
        "campaign_seconds": float(total) * per_pair,
        "capped_seconds": float(capped) * per_pair,
    }


def _campaign_pairs(frame, policies, counts: dict, suite_paths: int) -> int:
    """Path pairs the pairwise method compares for every group and policy."""
    total = 0
    for policy in policies:
        label = frame[label_column(policy)]
        groups = [frame["converter"] == c for c in CONVERTERS] + [frame["converter"].notna()]
        for members in groups:
            m = [counts[k] for k in frame.loc[members & label, "key"]]
            c = [counts[k] for k in frame.loc[members & ~label, "key"]]
            sm, sc, sq = sum(m), sum(c), sum(x * x for x in m)
            # self pairs, mismatching pairs, mismatching x correct, mismatching x test suite
            total += sq + (sm * sm - sq) // 2 + sm * sc + sm * suite_paths
    return total


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--models", type=int, default=3000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--subsample", type=int, default=6, help="models per side, pairwise")
    args, _ = parser.parse_known_args()
    settings = Settings()
    start = time.perf_counter()
    suite_graphs = backend_corpus()
    suite = SuiteSequences.from_graphs("onnx backend tests", suite_graphs, settings)
    suite_seconds = time.perf_counter() - start
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "bench"
        start = time.perf_counter()
        write_bench_campaign(root, args.models, args.seed)
        generate = time.perf_counter() - start
        start, cpu = time.perf_counter(), time.process_time()
        models = load_campaign_models(root)
        loaded = time.perf_counter() - start
        result = analyse(models, suite, settings)
        fast, fast_cpu = time.perf_counter() - start, time.process_time() - cpu
        nodes = models.frame["nodes"]
        tested = result.tests[result.tests["test"] == "fisher"]
        print(
            f"campaign: {len(models.frame)} models, {nodes.min()}-{nodes.max()} nodes "
            f"(written in {generate:.1f} s); test suite {suite.models} models "
            f"({suite_seconds:.1f} s, cached after the first run)"
        )
        print(
            f"fast k-gram analysis (read + index + Tables 12/15 + tests, 4 groups x "
            f"{len(models.policies)} policies): {fast:.1f} s wall, {fast_cpu:.1f} s CPU (reading "
            f"{loaded:.1f} s); {int(tested['significant'].astype(bool).sum())} significant "
            f"features; load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores"
        )
        slow = pairwise_extrapolation(models, suite_graphs, args.subsample, args.seed)
    print(
        f"exact pairwise method: {slow['sample_pairs']:,} path pairs in "
        f"{slow['sample_seconds']:.1f} s ({slow['per_pair_us']:.1f} us/pair); the campaign "
        f"needs {slow['campaign_pairs']:.3g} path pairs = {slow['campaign_seconds']:.3g} s "
        f"({slow['campaign_seconds'] / 86400:.3g} days), {slow['campaign_seconds'] / fast:.3g}x "
        f"the fast method; with paths capped at {PATH_CAP:,} per model: "
        f"{slow['capped_seconds']:.3g} s, {slow['capped_seconds'] / fast:.3g}x"
    )


if __name__ == "__main__":
    main()
