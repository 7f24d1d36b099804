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
    scores = []
    for cls in np.unique(np.concatenate([labels, predicted])):
        true_positive = np.sum((predicted == cls) & (labels == cls))
        denominator = np.sum(predicted == cls) + np.sum(labels == cls)
        scores.append(2 * true_positive / denominator if denominator else 0.0)
    return float(np.mean(scores))


def roc_auc(positive: np.ndarray, scores: np.ndarray) -> float | None:
    """``roc_auc_score`` for a binary task: the chance that a positive row scores above a
    negative one (ties count half), by the rank-sum; None unless both classes occur."""
    positive = positive.astype(bool)
    n_pos, n_neg = int(positive.sum()), int((~positive).sum())
    if not n_pos or not n_neg:
        return None
    order = np.argsort(scores, kind="mergesort")
    ranks = np.empty(len(scores))
    ranks[order] = np.arange(1, len(scores) + 1)
    sorted_scores = scores[order]
    # Tied scores share the mean of their ranks.
    _, first, counts = np.unique(sorted_scores, return_index=True, return_counts=True)
    for start, count in zip(first, counts):
        if count > 1:
            ranks[order[start:start + count]] = start + (count + 1) / 2
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


def task_metrics(task: str, labels: np.ndarray, predicted: np.ndarray,
                 positive_scores: tuple[np.ndarray, np.ndarray] | None = None) -> dict[str, float]:
    """Every metric the task defines on these rows. ``positive_scores`` is (is-positive,
    positive-class probability) per row, when the predictions came with probabilities:
    only then is ``roc_auc`` defined. Undefined metrics are left out, not reported as 0."""
    if task == "regression":
        labels, predicted = labels.astype("float64"), predicted.astype("float64")
        result = {"mae": mae(labels, predicted), "rmse": rmse(labels, predicted), "r2": r2(labels, predicted)}
    else:
        result = {"accuracy": accuracy(labels, predicted), "f1": f1_macro(labels, predicted)}
        if positive_scores is not None:
            result["roc_auc"] = roc_auc(*positive_scores)
    return {name: value for name, value in result.items() if value is not None}
