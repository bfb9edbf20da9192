"""Label suggestions: character n-gram TF-IDF into a linear SVM, one per codebook dimension.

The classifier reads an issue's title, body and comments (whatever is mined) and proposes a
category with a confidence. It is a hint for the rater, shown beside the choices and never
written to a label file by itself. Character n-grams (within word boundaries) were chosen because
issue text is full of operator names, dtypes and traceback fragments (``aten::upsample_bilinear2d``,
``int64``) that word tokens split badly; on ``issta24`` they match or beat a word TF-IDF + linear
SVM on every dimension (README, "suggest-eval").

Long issues (pasted logs of 100 KB) are read as their first 4,000 and last 2,000 characters
(:func:`classifier_text`): the title, the description and the final error line carry the signal,
and a hint then costs milliseconds instead of half a second. The served model fits one
vectorizer on every labelled issue and one SVM per dimension on it, so a hint vectorizes the
issue once.

``evaluate`` measures the hint with stratified cross-validation over several seeds against two
baselines on the very same folds: the majority class, and the strong simple one (word TF-IDF +
linear SVM), so nobody trusts the hint more than it deserves.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from sklearn.dummy import DummyClassifier
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.metrics import accuracy_score, f1_score
from sklearn.model_selection import StratifiedKFold
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.svm import LinearSVC

SUGGESTED_DIMENSIONS = ("location", "symptom", "cause", "subcause")
MIN_EXAMPLES = 8
HEAD, TAIL = 4_000, 2_000


def classifier_text(document: str) -> str:
    """What the classifier reads of an issue: all of a short one, head and tail of a long one."""
    if len(document) <= HEAD + TAIL:
        return document
    return document[:HEAD] + "\n" + document[-TAIL:]


def make_vectorizer() -> TfidfVectorizer:
    """Character 2- to 5-grams inside word boundaries, sub-linear TF-IDF."""
    return TfidfVectorizer(sublinear_tf=True, analyzer="char_wb", ngram_range=(2, 5))


def make_classifier() -> LinearSVC:
    return LinearSVC(C=1.0, class_weight="balanced")


def make_model() -> Pipeline:
    """The suggestion model as one pipeline (what ``evaluate`` cross-validates)."""
    return make_pipeline(make_vectorizer(), make_classifier())


def make_svm_baseline() -> Pipeline:
    """The strong simple baseline: word TF-IDF (scikit-learn's defaults) into a linear SVM."""
    return make_pipeline(TfidfVectorizer(sublinear_tf=True), LinearSVC(class_weight="balanced"))


def target(label: dict[str, str], dimension: str) -> str:
    """The class of one label on one dimension; sub-causes are qualified by their cause."""
    if dimension == "subcause":
        return f"{label['cause']}/{label['subcause']}" if label.get("subcause") else ""
    return label.get(dimension, "")


def training_set(documents: list[str], labels: list[dict[str, str]], dimension: str):
    pairs = [(d, target(lab, dimension)) for d, lab in zip(documents, labels, strict=True)]
    pairs = [(d, y) for d, y in pairs if y]
    return [d for d, _ in pairs], np.array([y for _, y in pairs])


def class_scores(model: LinearSVC, features) -> np.ndarray:
    """A confidence per class: the softmax of the SVM's margins (relative, not calibrated)."""
    margins = np.atleast_1d(model.decision_function(features)[0]).astype(float)
    if len(model.classes_) == 2:
        margins = np.array([-margins[0], margins[0]])
    exp = np.exp(margins - margins.max())
    return exp / exp.sum()


@dataclass(frozen=True)
class Suggestion:
    value: str
    confidence: float


class Suggester:
    """One fitted model per dimension that has enough labelled examples of two classes or more."""

    def __init__(self) -> None:
        self.models: dict[str, LinearSVC] = {}
        self.vectorizer: TfidfVectorizer | None = None
        self.trained_on = 0

    def fit(self, documents: list[str], labels: list[dict[str, str]]) -> Suggester:
        self.models = {}
        self.trained_on = len(documents)
        texts = [classifier_text(d) for d in documents]
        if len(texts) < MIN_EXAMPLES:
            return self
        self.vectorizer = make_vectorizer().fit(texts)
        for dim in SUGGESTED_DIMENSIONS:
            x, y = training_set(texts, labels, dim)
            if len(x) >= MIN_EXAMPLES and len(set(y)) >= 2:
                self.models[dim] = make_classifier().fit(self.vectorizer.transform(x), y)
        return self

    def suggest(self, document: str) -> dict[str, Suggestion]:
        """Best class per dimension; for sub-causes the best of each cause (``cause/sub``)."""
        out: dict[str, Suggestion] = {}
        if self.vectorizer is None or not self.models:
            return out
        features = self.vectorizer.transform([classifier_text(document)])
        for dim, model in self.models.items():
            scores = class_scores(model, features)
            classes = list(model.classes_)
            if dim != "subcause":
                best = int(np.argmax(scores))
                out[dim] = Suggestion(str(classes[best]), float(scores[best]))
                continue
            for parent in sorted({c.split("/", 1)[0] for c in classes}):
                idx = [i for i, c in enumerate(classes) if c.startswith(parent + "/")]
                share = scores[idx]
                best = idx[int(np.argmax(share))]
                confidence = float(scores[best] / share.sum()) if share.sum() else 0.0
                out[f"subcause:{parent}"] = Suggestion(
                    str(classes[best]).split("/", 1)[1], confidence
                )
        return out


CANDIDATES: dict[str, Callable[[], Pipeline]] = {
    "model": make_model,
    "svm_baseline": make_svm_baseline,
}


def _predictions(x: np.ndarray, y: np.ndarray, folds: int, seed: int) -> dict[str, np.ndarray]:
    """Out-of-fold predictions of the model and both baselines, all on the same folds."""
    out = {name: np.empty(len(y), dtype=object) for name in (*CANDIDATES, "majority")}
    splitter = StratifiedKFold(n_splits=folds, shuffle=True, random_state=seed)
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="The least populated class", category=UserWarning)
        for train, test in splitter.split(x, y):
            for name, make in CANDIDATES.items():
                out[name][test] = make().fit(list(x[train]), y[train]).predict(list(x[test]))
            majority = DummyClassifier(strategy="most_frequent").fit(
                x[train].reshape(-1, 1), y[train]
            )
            out["majority"][test] = majority.predict(x[test].reshape(-1, 1))
    return out


def _mean_sd(values: list[float]) -> tuple[float, float]:
    mean = float(np.mean(values))
    sd = float(np.std(values, ddof=1)) if len(values) > 1 else math.nan
    return round(mean, 3), round(sd, 3)


def evaluate(
    documents: list[str], labels: list[dict[str, str]], folds: int = 5, seeds: Sequence[int] = (0,)
) -> pd.DataFrame:
    """Cross-validated macro-F1 and accuracy per dimension (mean and sd over ``seeds``) of the
    model, the word TF-IDF + linear SVM baseline and the majority class, on the same folds and
    the same text (:func:`classifier_text`)."""
    rows = []
    texts = [classifier_text(d) for d in documents]
    for dim in SUGGESTED_DIMENSIONS:
        x, y = training_set(texts, labels, dim)
        if len(x) < folds or len(set(y)) < 2:
            continue
        x = np.array(x, dtype=object)
        scores: dict[str, dict[str, list[float]]] = {}
        for seed in seeds:
            for name, predicted in _predictions(x, y, folds, seed).items():
                score = scores.setdefault(name, {"macro_f1": [], "accuracy": []})
                score["macro_f1"].append(f1_score(y, predicted, average="macro", zero_division=0))
                score["accuracy"].append(accuracy_score(y, predicted))
        row: dict[str, object] = {"dimension": dim, "n": len(y), "classes": len(set(y))}
        for name, score in scores.items():
            for metric, values in score.items():
                mean, sd = _mean_sd(values)
                row[f"{name}_{metric}"] = mean
                row[f"{name}_{metric}_sd"] = sd
        rows.append(row)
    return pd.DataFrame(rows)


SHOWN = {"model": "model", "svm_baseline": "word SVM", "majority": "majority"}


def score_table(table: pd.DataFrame) -> pd.DataFrame:
    """The evaluation as people read it: ``mean ± sd`` per metric and candidate."""
    out = table[["dimension", "n", "classes"]].copy()
    for metric in ("macro_f1", "accuracy"):
        for name, shown in SHOWN.items():
            mean, sd = table[f"{name}_{metric}"], table[f"{name}_{metric}_sd"]
            out[f"{metric} {shown}"] = [
                f"{m:.3f}" if math.isnan(s) else f"{m:.3f} ± {s:.3f}"
                for m, s in zip(mean, sd, strict=True)
            ]
    return out
