"""The task's quality metrics in numpy alone: the performance check's function carries no
scikit-learn (see layers/). Each agrees with scikit-learn's definition named in its
docstring (tests/unit/test_quality.py checks them against it)."""

from __future__ import annotations

import numpy as np


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


# name -> (its task, how it is computed from labels, predictions and positive scores).
_METRICS = {
    "accuracy": ("classification", lambda y, p, s: accuracy(y, p)),
    "f1": ("classification", lambda y, p, s: f1_macro(y, p)),
    "roc_auc": ("classification", lambda y, p, s: None if s is None else roc_auc(*s)),
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


def _compute(
    names: list[str], labels: np.ndarray, predicted: np.ndarray, positive_scores: tuple[np.ndarray, np.ndarray] | None
) -> dict[str, float]:
    values = {name: _METRICS[name][1](labels, predicted, positive_scores) for name in names}
    return {name: value for name, value in values.items() if value is not None}


def task_metrics(
    task: str, labels: np.ndarray, predicted: np.ndarray, positive_scores: tuple[np.ndarray, np.ndarray] | None = None
) -> dict[str, float]:
    """Every metric the task defines on these rows. ``positive_scores`` is (is-positive,
    positive-class probability) per row, when the predictions came with probabilities:
    only then is ``roc_auc`` defined. Undefined metrics are left out, not reported as 0."""
    names = [name for name, (of_task, _) in _METRICS.items() if of_task == task]
    return _compute(names, *_typed(task, labels, predicted), positive_scores)


def standard_errors(
    task: str,
    labels: np.ndarray,
    predicted: np.ndarray,
    positive_scores: tuple[np.ndarray, np.ndarray] | None = None,
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
        scores = None if positive_scores is None else (positive_scores[0][rows], positive_scores[1][rows])
        for name, value in _compute(names, labels[rows], predicted[rows], scores).items():
            samples.setdefault(name, []).append(value)
    return {name: float(np.std(values, ddof=1)) for name, values in samples.items() if len(values) > 1}
