"""The task's quality metrics in numpy alone: the performance check's function carries no
scikit-learn (see layers/). Each agrees with scikit-learn's definition named in its
docstring (tests/unit/test_quality.py checks them against it)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np


@dataclass(frozen=True)
class Scores:
    """The class probabilities behind a classification's predictions: ``probabilities`` is rows
    × classes in the model's class order, ``label_column`` each row's label as a column of it
    (-1: a label the model has no class for). What ``roc_auc`` and ``log_loss`` need."""

    label_column: np.ndarray
    probabilities: np.ndarray

    @classmethod
    def of(cls, labels: Sequence[Any], classes: Sequence[Any], probabilities: np.ndarray) -> Scores:
        column = {label: i for i, label in enumerate(classes)}
        return cls(np.array([column.get(label, -1) for label in labels], dtype=int), np.asarray(probabilities, float))

    def rows(self, rows: np.ndarray) -> Scores:
        return Scores(self.label_column[rows], self.probabilities[rows])


def accuracy(labels: np.ndarray, predicted: np.ndarray) -> float:
    """``accuracy_score``: the share of exact matches."""
    return float(np.mean(labels == predicted))


def f1_macro(labels: np.ndarray, predicted: np.ndarray) -> float:
    """``f1_score(average="macro", zero_division=0)``: the unweighted mean of each class's F1,
    over every class seen in the labels or the predictions."""
    _, codes = np.unique(np.concatenate([labels, predicted]), return_inverse=True)
    label_codes, predicted_codes = codes[: len(labels)], codes[len(labels) :]
    classes = int(codes.max()) + 1
    true_positive = np.bincount(label_codes[label_codes == predicted_codes], minlength=classes)
    # Every class here occurs in the labels or the predictions: no denominator is zero.
    denominator = np.bincount(label_codes, minlength=classes) + np.bincount(predicted_codes, minlength=classes)
    return float(np.mean(2 * true_positive / denominator))


def roc_auc(positive: np.ndarray, scores: np.ndarray) -> float | None:
    """``roc_auc_score`` for a binary task: the chance that a positive row scores above a
    negative one (ties count half), by the rank-sum; None unless both classes occur."""
    positive = positive.astype(bool)
    n_pos, n_neg = int(positive.sum()), int((~positive).sum())
    if not n_pos or not n_neg:
        return None
    # Ranks from 1, tied scores sharing the mean of their ranks: a value's group ends at the
    # cumulative count, and its mean rank is that end less half the group's other members.
    _, group, counts = np.unique(scores, return_inverse=True, return_counts=True)
    ranks = (np.cumsum(counts) - (counts - 1) / 2)[group]
    return float((ranks[positive].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


def roc_auc_ovr(scores: Scores) -> float | None:
    """``roc_auc_score``: for two classes, the second's (the positive one's) probability
    ranked against the labels; for more, the unweighted mean of each class's one-vs-rest AUC
    (``multi_class="ovr", average="macro"``), over the classes the labels hold both in and
    out of (scikit-learn refuses a window without every class; this leaves the absent ones
    out). None when no class is defined."""
    if scores.probabilities.shape[1] == 2:
        return roc_auc(scores.label_column == 1, scores.probabilities[:, 1])
    per_class = [
        roc_auc(scores.label_column == c, scores.probabilities[:, c]) for c in range(scores.probabilities.shape[1])
    ]
    defined = [value for value in per_class if value is not None]
    return float(np.mean(defined)) if defined else None


def log_loss(scores: Scores) -> float | None:
    """``log_loss(labels, probabilities, labels=classes)``: the mean negative log of the
    probability each row gave its label, clipped to [eps, 1 - eps] as scikit-learn clips it.
    None when a label is not one of the model's classes (scikit-learn refuses it)."""
    if (scores.label_column < 0).any() or not len(scores.label_column):
        return None
    eps = np.finfo(scores.probabilities.dtype).eps
    given = scores.probabilities[np.arange(len(scores.label_column)), scores.label_column]
    return float(-np.mean(np.log(np.clip(given, eps, 1 - eps))))


def mae(labels: np.ndarray, predicted: np.ndarray) -> float:
    """``mean_absolute_error``."""
    return float(np.mean(np.abs(labels - predicted)))


def rmse(labels: np.ndarray, predicted: np.ndarray) -> float:
    """``root_mean_squared_error``."""
    return float(np.sqrt(np.mean((labels - predicted) ** 2)))


def r2(labels: np.ndarray, predicted: np.ndarray) -> float | None:
    """``r2_score``; None when the labels do not vary (undefined)."""
    total = np.sum((labels - labels.mean()) ** 2)
    return float(1 - np.sum((labels - predicted) ** 2) / total) if total else None


# name -> (its task, how it is computed from labels, predictions and the class probabilities).
_METRICS = {
    "accuracy": ("classification", lambda y, p, s: accuracy(y, p)),
    "f1": ("classification", lambda y, p, s: f1_macro(y, p)),
    "roc_auc": ("classification", lambda y, p, s: None if s is None else roc_auc_ovr(s)),
    "log_loss": ("classification", lambda y, p, s: None if s is None else log_loss(s)),
    "mae": ("regression", lambda y, p, s: mae(y, p)),
    "rmse": ("regression", lambda y, p, s: rmse(y, p)),
    "r2": ("regression", lambda y, p, s: r2(y, p)),
}


def _typed(task: str, labels: np.ndarray, predicted: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Floats for a regression; for a classification, class codes (integers compare faster
    than the labels' Python objects, and the metrics only ever compare classes)."""
    if task == "regression":
        return labels.astype("float64"), predicted.astype("float64")
    _, codes = np.unique(np.concatenate([labels, predicted]), return_inverse=True)
    return codes[: len(labels)], codes[len(labels) :]


def _compute(names: list[str], labels: np.ndarray, predicted: np.ndarray, scores: Scores | None) -> dict[str, float]:
    values = {name: _METRICS[name][1](labels, predicted, scores) for name in names}
    return {name: value for name, value in values.items() if value is not None}


def task_metrics(
    task: str,
    labels: np.ndarray,
    predicted: np.ndarray,
    scores: Scores | None = None,
) -> dict[str, float]:
    """Every metric the task defines on these rows. ``scores``: the class probabilities,
    when the predictions came with them: only then are ``roc_auc`` and ``log_loss`` defined.
    Undefined metrics are left out, not reported as 0."""
    names = [name for name, (of_task, _) in _METRICS.items() if of_task == task]
    return _compute(names, *_typed(task, labels, predicted), scores)


def standard_errors(
    task: str,
    labels: np.ndarray,
    predicted: np.ndarray,
    scores: Scores | None = None,
    *,
    metrics: list[str] | None = None,
    rounds: int = 200,
    seed: int = 0,
) -> dict[str, float]:
    """How far each of :func:`task_metrics` (or only ``metrics``) could be off by chance on
    rows like these: its standard deviation over ``rounds`` bootstrap resamples (rows drawn
    with replacement). One method for every metric, roc_auc and F1 included, which have no
    simple closed form. Seeded, so a report reads the same when recomputed. Empty below two rows."""
    names = [
        name for name, (of_task, _) in _METRICS.items() if of_task == task and (metrics is None or name in metrics)
    ]
    if len(labels) < 2 or not names:
        return {}
    labels, predicted = _typed(task, labels, predicted)
    rng = np.random.default_rng(seed)
    samples: dict[str, list[float]] = {}
    for _ in range(rounds):
        rows = rng.integers(0, len(labels), len(labels))
        drawn = None if scores is None else scores.rows(rows)
        for name, value in _compute(names, labels[rows], predicted[rows], drawn).items():
            samples.setdefault(name, []).append(value)
    return {name: float(np.std(values, ddof=1)) for name, values in samples.items() if len(values) > 1}
