"""Agreement between a study's raters: kappa, alpha, percent agreement, confusion, disagreements.

Built on :mod:`convfail.agreement` (the statistics the analysis uses too), with its one policy
for blank answers (:data:`~convfail.agreement.BLANK_POLICY`: a blank is not coded, for kappa and
alpha alike), which the report states and whose left-out issues it counts. A dimension nobody
coded on a shared issue is not reported: the pilot raters of ``issta24`` coded cause and symptom,
not location.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from itertools import combinations
from pathlib import Path

import pandas as pd
from matplotlib.figure import Figure

from convfail.agreement import (
    BLANK_POLICY,
    blank_pairs,
    cohen_kappa,
    krippendorff_alpha_nominal,
    paired,
    percent_agreement,
)
from convfail.codebook import Codebook
from convfail.dataset import FINAL_RATER, Study, atomic_write_text, csv_text
from convfail.errors import ConvfailError
from convfail.records import ISSUE_KEY, LABEL_DIMENSIONS

TOTAL = "total"
PAIRWISE_COLUMNS = [
    "rater_a",
    "rater_b",
    "dimension",
    "converter",
    "n",
    "blank",
    "kappa",
    "percent_agreement",
]


@dataclass
class AgreementReport:
    pairwise: pd.DataFrame
    alpha: pd.DataFrame
    confusion: dict[tuple[str, str, str], pd.DataFrame] = field(default_factory=dict)
    disagreements: pd.DataFrame = field(default_factory=pd.DataFrame)


def choose_raters(study: Study, raters: list[str] | None) -> list[str]:
    available = sorted(r for r in study.labels if r != FINAL_RATER)
    chosen = raters or available
    unknown = [r for r in chosen if r not in study.labels]
    if unknown:
        raise ConvfailError(
            f"study '{study.name}' has no labels of rater(s) {', '.join(unknown)}",
            f"raters with labels: {', '.join(available) or 'none'}",
        )
    if len(chosen) < 2:
        raise ConvfailError(
            f"agreement needs two raters or more; study '{study.name}' has "
            f"{', '.join(chosen) or 'none'}",
            "label the study with a second rater first (convfail label serve --rater NAME)",
        )
    return chosen


def _with_converter(study: Study, frame: pd.DataFrame) -> pd.DataFrame:
    return frame.merge(study.issues[[*ISSUE_KEY, "converter"]], on=ISSUE_KEY, how="left")


def pairwise_table(study: Study, raters: list[str]) -> pd.DataFrame:
    """Cohen's kappa and percent agreement per rater pair, dimension and converter (+ total)."""
    rows = []
    for a, b in combinations(raters, 2):
        for dim in LABEL_DIMENSIONS:
            both = _with_converter(study, paired(study.labels[a], study.labels[b], dim))
            if both.empty:
                continue
            blanks = _with_converter(study, blank_pairs(study.labels[a], study.labels[b], dim))
            groups = [(c, both[both["converter"] == c]) for c in sorted(both["converter"].unique())]
            for converter, part in [*groups, (TOTAL, both)]:
                left_out = (
                    blanks if converter == TOTAL else blanks[blanks["converter"] == converter]
                )
                rows.append(
                    {
                        "rater_a": a,
                        "rater_b": b,
                        "dimension": dim,
                        "converter": converter,
                        "n": len(part),
                        "blank": len(left_out),
                        "kappa": round(cohen_kappa(part["a"], part["b"]), 4),
                        "percent_agreement": round(percent_agreement(part["a"], part["b"]), 2),
                    }
                )
    return pd.DataFrame(rows, columns=PAIRWISE_COLUMNS)


def ratings_matrix(study: Study, raters: list[str], dimension: str) -> pd.DataFrame:
    """Units (issues) x raters; NaN where a rater did not code the issue or left it blank.

    Column ``labelled`` counts the raters who labelled the issue at all (blank or not).
    """
    wide = None
    for rater in raters:
        frame = study.labels[rater][[*ISSUE_KEY, dimension]].rename(columns={dimension: rater})
        wide = frame if wide is None else wide.merge(frame, on=ISSUE_KEY, how="outer")
    assert wide is not None
    wide["labelled"] = wide[raters].notna().sum(axis=1)
    wide[raters] = wide[raters].replace("", pd.NA)
    return _with_converter(study, wide).sort_values(ISSUE_KEY).reset_index(drop=True)


def alpha_table(study: Study, raters: list[str]) -> pd.DataFrame:
    """Krippendorff's alpha (nominal) over all raters at once; only for more than two raters."""
    rows = []
    if len(raters) > 2:
        for dim in LABEL_DIMENSIONS:
            everything = ratings_matrix(study, raters, dim)
            values = everything[raters].notna().sum(axis=1)
            wide = everything[values >= 2]
            if wide.empty:
                continue
            blanks = everything[(values < 2) & (everything["labelled"] >= 2)]
            groups = [(c, wide[wide["converter"] == c]) for c in sorted(wide["converter"].unique())]
            for converter, part in [*groups, (TOTAL, wide)]:
                ratings = part[raters].astype(object).where(part[raters].notna(), None)
                left_out = (
                    blanks if converter == TOTAL else blanks[blanks["converter"] == converter]
                )
                rows.append(
                    {
                        "dimension": dim,
                        "converter": converter,
                        "units": len(part),
                        "blank": len(left_out),
                        "alpha": round(krippendorff_alpha_nominal(ratings), 4),
                    }
                )
    return pd.DataFrame(rows, columns=["dimension", "converter", "units", "blank", "alpha"])


def _order(codebook: Codebook, dimension: str) -> list[str]:
    if dimension == "subcause":
        return [c.name for c in codebook["subcause"]]
    return codebook.valid_names(dimension)


def confusion_matrix(
    study: Study, a: str, b: str, dimension: str, codebook: Codebook
) -> pd.DataFrame:
    """Counts of (rater a's value, rater b's value); rows a, columns b, codebook order."""
    both = paired(study.labels[a], study.labels[b], dimension)
    used = set(both["a"]) | set(both["b"])
    order = [v for v in _order(codebook, dimension) if v in used]
    table = pd.crosstab(both["a"], both["b"]).reindex(index=order, columns=order, fill_value=0)
    table.index.name, table.columns.name = a, b
    return table


def heatmap(matrix: pd.DataFrame, title: str) -> Figure:
    """A confusion matrix as a heat map with the counts written in the cells."""
    size = max(3.0, 0.45 * len(matrix) + 1.8)
    fig = Figure(figsize=(size + 0.8, size))
    ax = fig.subplots()
    image = ax.imshow(matrix.to_numpy(), cmap="Blues")
    ax.set_xticks(range(len(matrix.columns)), matrix.columns, rotation=60, ha="right", fontsize=8)
    ax.set_yticks(range(len(matrix.index)), matrix.index, fontsize=8)
    ax.set_xlabel(str(matrix.columns.name))
    ax.set_ylabel(str(matrix.index.name))
    peak = matrix.to_numpy().max() or 1
    for (i, j), value in pd.DataFrame(matrix.to_numpy()).stack().items():
        if value:
            color = "white" if value > peak / 2 else "black"
            ax.text(j, i, str(int(value)), ha="center", va="center", fontsize=8, color=color)
    ax.set_title(title, fontsize=10)
    fig.colorbar(image, ax=ax, shrink=0.7)
    fig.tight_layout()
    return fig


def disagreement_list(study: Study, raters: list[str]) -> pd.DataFrame:
    """One row per issue and dimension where raters who coded it chose differently."""
    rows = []
    for dim in LABEL_DIMENSIONS:
        wide = ratings_matrix(study, raters, dim)
        for record in wide.to_dict("records"):
            values = {r: record[r] for r in raters if isinstance(record[r], str)}
            if len(values) >= 2 and len(set(values.values())) > 1:
                rows.append(
                    {
                        "repository": record["repository"],
                        "number": int(record["number"]),
                        "converter": record["converter"],
                        "dimension": dim,
                        **{r: values.get(r, "") for r in raters},
                    }
                )
    columns = ["repository", "number", "converter", "dimension", *raters]
    frame = pd.DataFrame(rows, columns=columns)
    return frame.sort_values(["repository", "number", "dimension"], kind="stable").reset_index(
        drop=True
    )


def build_report(study: Study, raters: list[str], codebook: Codebook) -> AgreementReport:
    pairwise = pairwise_table(study, raters)
    confusion = {
        (row.rater_a, row.rater_b, row.dimension): confusion_matrix(
            study, row.rater_a, row.rater_b, row.dimension, codebook
        )
        for row in pairwise[pairwise["converter"] == TOTAL].itertuples()
    }
    return AgreementReport(
        pairwise, alpha_table(study, raters), confusion, disagreement_list(study, raters)
    )


def write_report(report: AgreementReport, out_dir: Path) -> list[Path]:
    """CSV tables, a CSV and a PNG heat map per confusion matrix, the disagreement list."""
    written = [out_dir / "blank_policy.txt"]
    atomic_write_text(written[0], BLANK_POLICY + "\n")
    for name, frame in (
        ("kappa.csv", report.pairwise),
        ("alpha.csv", report.alpha),
        ("disagreements.csv", report.disagreements),
    ):
        atomic_write_text(out_dir / name, csv_text(frame))
        written.append(out_dir / name)
    for (a, b, dim), matrix in report.confusion.items():
        stem = out_dir / "confusion" / f"{dim}__{a}__{b}"
        atomic_write_text(stem.with_suffix(".csv"), matrix.to_csv(lineterminator="\n"))
        fig = heatmap(matrix, f"{dim}: {a} (rows) vs {b} (columns)")
        fig.savefig(stem.with_suffix(".png"), dpi=150, metadata={"Software": None})
        written += [stem.with_suffix(".csv"), stem.with_suffix(".png")]
    return written
