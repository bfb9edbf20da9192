"""Label suggestions: a TF-IDF + logistic-regression classifier per codebook dimension.

The classifier reads an issue's title, body and comments (whatever is known) and proposes a
category with a confidence. It is a hint for the rater, shown beside the choices and never
written to a label file by itself. ``evaluate`` measures how good the hint is with stratified
cross-validation against a majority-class baseline, so nobody trusts it more than it deserves.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np
import pandas as pd
from sklearn.dummy import DummyClassifier
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import accuracy_score, f1_score
from sklearn.model_selection import StratifiedKFold
from sklearn.pipeline import Pipeline, make_pipeline

SUGGESTED_DIMENSIONS = ("location", "symptom", "cause", "subcause")
MIN_EXAMPLES = 8


def make_model() -> Pipeline:
    """Word uni- and bi-grams (sub-linear TF-IDF) into a balanced logistic regression."""
    return make_pipeline(
        TfidfVectorizer(
            sublinear_tf=True, ngram_range=(1, 2), min_df=1, token_pattern=r"(?u)\b\w[\w.]+\b"
        ),
        LogisticRegression(max_iter=2000, C=5.0, class_weight="balanced"),
    )


def target(label: dict[str, str], dimension: str) -> str:
    """The class of one label on one dimension; sub-causes are qualified by their cause."""
    if dimension == "subcause":
        return f"{label['cause']}/{label['subcause']}" if label.get("subcause") else ""
    return label.get(dimension, "")


def training_set(documents: list[str], labels: list[dict[str, str]], dimension: str):
    pairs = [(d, target(lab, dimension)) for d, lab in zip(documents, labels, strict=True)]
    pairs = [(d, y) for d, y in pairs if y]
    return [d for d, _ in pairs], np.array([y for _, y in pairs])


@dataclass(frozen=True)
class Suggestion:
    value: str
    confidence: float


class Suggester:
    """One fitted model per dimension that has enough labelled examples of two classes or more."""

    def __init__(self) -> None:
        self.models: dict[str, Pipeline] = {}
        self.trained_on = 0

    def fit(self, documents: list[str], labels: list[dict[str, str]]) -> Suggester:
        self.models = {}
        self.trained_on = len(documents)
        for dim in SUGGESTED_DIMENSIONS:
            x, y = training_set(documents, labels, dim)
            if len(x) >= MIN_EXAMPLES and len(set(y)) >= 2:
                self.models[dim] = make_model().fit(x, y)
        return self

    def suggest(self, document: str) -> dict[str, Suggestion]:
        """Best class per dimension; for sub-causes the best of each cause (``cause/sub``)."""
        out: dict[str, Suggestion] = {}
        for dim, model in self.models.items():
            probabilities = model.predict_proba([document])[0]
            classes = list(model.classes_)
            if dim != "subcause":
                best = int(np.argmax(probabilities))
                out[dim] = Suggestion(str(classes[best]), float(probabilities[best]))
                continue
            for parent in sorted({c.split("/", 1)[0] for c in classes}):
                idx = [i for i, c in enumerate(classes) if c.startswith(parent + "/")]
                share = probabilities[idx]
                best = idx[int(np.argmax(share))]
                confidence = float(probabilities[best] / share.sum()) if share.sum() else 0.0
                out[f"subcause:{parent}"] = Suggestion(
                    str(classes[best]).split("/", 1)[1], confidence
                )
        return out


def evaluate(
    documents: list[str], labels: list[dict[str, str]], folds: int = 5, seed: int = 0
) -> pd.DataFrame:
    """Cross-validated macro-F1 and accuracy per dimension, model vs. majority class."""
    rows = []
    for dim in SUGGESTED_DIMENSIONS:
        x, y = training_set(documents, labels, dim)
        if len(x) < folds or len(set(y)) < 2:
            continue
        x = np.array(x, dtype=object)
        splitter = StratifiedKFold(n_splits=folds, shuffle=True, random_state=seed)
        predicted = np.empty(len(y), dtype=object)
        baseline = np.empty(len(y), dtype=object)
        with warnings.catch_warnings():
            warnings.filterwarnings(
                "ignore", message="The least populated class", category=UserWarning
            )
            for train, test in splitter.split(x, y):
                predicted[test] = make_model().fit(list(x[train]), y[train]).predict(list(x[test]))
                majority = DummyClassifier(strategy="most_frequent").fit(
                    x[train].reshape(-1, 1), y[train]
                )
                baseline[test] = majority.predict(x[test].reshape(-1, 1))
        rows.append(
            {
                "dimension": dim,
                "n": len(y),
                "classes": len(set(y)),
                "macro_f1": round(f1_score(y, predicted, average="macro", zero_division=0), 3),
                "accuracy": round(accuracy_score(y, predicted), 3),
                "baseline_macro_f1": round(
                    f1_score(y, baseline, average="macro", zero_division=0), 3
                ),
                "baseline_accuracy": round(accuracy_score(y, baseline), 3),
            }
        )
    return pd.DataFrame(rows)
