"""The numpy metrics agree with scikit-learn's."""

import numpy as np
import pytest
from sklearn import metrics as skm

from mlrails.performance import quality

RNG = np.random.default_rng(3)


@pytest.mark.parametrize("classes", [np.array([0, 1]), np.array(["a", "b", "c"])])
def test_accuracy_and_macro_f1(classes):
    labels = RNG.choice(classes, 500)
    predicted = np.where(RNG.random(500) < 0.7, labels, RNG.choice(classes, 500))
    assert quality.accuracy(labels, predicted) == pytest.approx(skm.accuracy_score(labels, predicted))
    assert quality.f1_macro(labels, predicted) == pytest.approx(
        skm.f1_score(labels, predicted, average="macro", zero_division=0)
    )


def test_macro_f1_counts_a_class_only_ever_predicted():
    labels, predicted = np.array([0, 0, 1, 1]), np.array([0, 2, 1, 1])
    assert quality.f1_macro(labels, predicted) == pytest.approx(
        skm.f1_score(labels, predicted, average="macro", zero_division=0)
    )


def test_roc_auc_with_ties_and_without_a_class():
    positive = RNG.random(400) < 0.3
    scores = np.round(np.clip(positive * 0.3 + RNG.random(400) * 0.7, 0, 1), 1)  # coarse: many ties
    assert quality.roc_auc(positive, scores) == pytest.approx(skm.roc_auc_score(positive, scores))
    assert quality.roc_auc(np.ones(5, dtype=bool), np.linspace(0, 1, 5)) is None


def test_regression_metrics():
    labels = RNG.normal(10, 3, 300)
    predicted = labels + RNG.normal(0, 1, 300)
    result = quality.task_metrics("regression", labels, predicted)
    assert result["mae"] == pytest.approx(skm.mean_absolute_error(labels, predicted))
    assert result["rmse"] == pytest.approx(np.sqrt(skm.mean_squared_error(labels, predicted)))
    assert result["r2"] == pytest.approx(skm.r2_score(labels, predicted))
    assert "r2" not in quality.task_metrics("regression", np.ones(3), np.zeros(3))


def _binary(positive: np.ndarray, scores: np.ndarray) -> quality.Scores:
    """Binary scores as a model gives them: classes [0, 1], the second one's probability."""
    return quality.Scores.of(positive.astype(int).tolist(), [0, 1], np.column_stack([1 - scores, scores]))


def test_classification_reports_roc_auc_and_log_loss_only_with_scores():
    labels, predicted = np.array([0, 1, 1, 0]), np.array([0, 1, 0, 0])
    assert set(quality.task_metrics("classification", labels, predicted)) == {"accuracy", "f1"}
    scored = quality.task_metrics(
        "classification", labels, predicted, _binary(labels == 1, np.array([0.1, 0.9, 0.4, 0.3]))
    )
    assert scored["roc_auc"] == pytest.approx(1.0)
    assert scored["log_loss"] == pytest.approx(skm.log_loss(labels, [[0.9, 0.1], [0.1, 0.9], [0.6, 0.4], [0.7, 0.3]]))


def _probabilities(rows: int, classes: int, labels: np.ndarray) -> np.ndarray:
    """Informative, imperfect class probabilities: rows sum to 1, the label's column leans high."""
    raw = RNG.random((rows, classes)) + 1.5 * np.eye(classes)[labels] * RNG.random((rows, 1))
    return raw / raw.sum(axis=1, keepdims=True)


@pytest.mark.parametrize("classes", [["a", "b", "c"], [3, 7, 9, 11]])
def test_multiclass_roc_auc_is_the_one_vs_rest_macro_mean_and_log_loss_agrees(classes):
    codes = RNG.integers(0, len(classes), 600)
    labels = np.array(classes, dtype=object)[codes]
    matrix = _probabilities(600, len(classes), codes)
    scores = quality.Scores.of(labels.tolist(), classes, matrix)
    assert quality.roc_auc_ovr(scores) == pytest.approx(
        skm.roc_auc_score(labels.tolist(), matrix, multi_class="ovr", average="macro", labels=classes)
    )
    assert quality.log_loss(scores) == pytest.approx(skm.log_loss(labels.tolist(), matrix, labels=classes))


def test_multiclass_roc_auc_leaves_out_a_class_the_window_lacks_and_log_loss_an_unknown_label():
    codes = RNG.integers(0, 2, 300)  # class 2 never occurs in this window
    matrix = _probabilities(300, 3, codes)
    scores = quality.Scores.of(codes.tolist(), [0, 1, 2], matrix)
    by_class = [skm.roc_auc_score(codes == c, matrix[:, c]) for c in (0, 1)]
    assert quality.roc_auc_ovr(scores) == pytest.approx(np.mean(by_class))
    assert quality.log_loss(quality.Scores.of([*codes.tolist()[:-1], 5], [0, 1, 2], matrix)) is None


def test_the_bootstrap_error_of_accuracy_is_the_binomial_one():
    labels = RNG.integers(0, 2, 2000)
    predicted = np.where(RNG.random(2000) < 0.8, labels, 1 - labels)
    share = quality.accuracy(labels, predicted)
    errors = quality.standard_errors("classification", labels.astype(object), predicted.astype(object))
    assert errors["accuracy"] == pytest.approx(np.sqrt(share * (1 - share) / 2000), rel=0.1)
    assert set(errors) == {"accuracy", "f1"}  # no roc_auc without scores


def test_the_bootstrap_error_of_roc_auc_is_delongs():
    """DeLong's variance is the nonparametric one of the same sample (placement values), so
    the bootstrap should land near it: within ±14 % on 60 seeds of this data. (Hanley and
    McNeil's closed form assumes exponential scores and is ~11 % high here.) Its own generator:
    the answer must not depend on which tests ran before."""
    rng = np.random.default_rng(3)
    positive = rng.random(1500) < 0.3
    scores = np.clip(positive * 0.25 + rng.random(1500) * 0.75, 0, 1)
    pos, neg = np.sort(scores[positive]), np.sort(scores[~positive])
    # Share of negatives below each positive and of positives above each negative, ties half.
    v10 = (np.searchsorted(neg, pos, "left") + np.searchsorted(neg, pos, "right")) / 2 / len(neg)
    v01 = 1 - (np.searchsorted(pos, neg, "left") + np.searchsorted(pos, neg, "right")) / 2 / len(pos)
    delong = np.sqrt(v10.var(ddof=1) / len(pos) + v01.var(ddof=1) / len(neg))
    labels = positive.astype(int)
    errors = quality.standard_errors("classification", labels, labels, _binary(positive, scores), metrics=["roc_auc"])
    assert errors == {"roc_auc": pytest.approx(delong, rel=0.15)}


def test_the_bootstrap_error_of_mae_is_the_standard_error_of_the_mean():
    labels = RNG.normal(10, 3, 1000)
    predicted = labels + RNG.normal(0, 2, 1000)
    errors = quality.standard_errors("regression", labels, predicted, metrics=["mae"])
    assert errors == {"mae": pytest.approx(np.std(np.abs(labels - predicted)) / np.sqrt(1000), rel=0.1)}


def test_standard_errors_are_seeded_and_need_two_rows():
    labels, predicted = RNG.integers(0, 2, 300), RNG.integers(0, 2, 300)
    assert quality.standard_errors("classification", labels, predicted) == quality.standard_errors(
        "classification", labels, predicted
    )
    assert quality.standard_errors("classification", labels[:1], predicted[:1]) == {}
