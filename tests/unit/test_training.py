from datetime import UTC, datetime

import numpy as np
import pytest

from mlrails.data.dataset import prepare_features
from mlrails.errors import TrainingError
from mlrails.local.synthetic import churn_frame
from mlrails.serving import artifacts
from mlrails.training import estimator

START = datetime(2026, 1, 1, tzinfo=UTC)


@pytest.fixture(scope="module")
def frame(cfg):
    return prepare_features(churn_frame(600, START, seed=7), cfg.dataset)


def _with_model(cfg, entrypoint):
    return cfg.model_copy(update={"model": cfg.model.model_copy(update={"entrypoint": entrypoint})})


def test_holdout_is_the_newest_rows(cfg, frame):
    split = estimator.split_by_time(frame, cfg)
    assert len(split.holdout) == 120
    assert split.train["event_time"].max() <= split.holdout["event_time"].min()


def test_the_training_window_keeps_only_the_newest_days(cfg):
    from datetime import timedelta

    month = prepare_features(churn_frame(3000, START, seed=7, span=timedelta(days=30)), cfg.dataset)
    windowed = cfg.model_copy(update={"training": cfg.training.model_copy(update={"window_days": 7})})
    unbounded = cfg.model_copy(update={"training": cfg.training.model_copy(update={"window_days": None})})
    recent = estimator.recent(month, windowed)
    newest = month["event_time"].max()
    assert recent["event_time"].min() >= newest - timedelta(days=7)
    assert 0.2 < len(recent) / len(month) < 0.26  # a week of a uniformly spread month
    assert estimator.recent(month, unbounded) is month


def test_too_little_data_is_a_clear_error(cfg, frame):
    with pytest.raises(TrainingError, match=r"below training\.min_rows"):
        estimator.split_by_time(frame.head(10), cfg)


def test_placeholder_predicts_the_majority_class(cfg, frame):
    split = estimator.split_by_time(frame, cfg)
    model = estimator.fit(cfg, split.train)
    majority = split.train["churned"].mode()[0]
    assert set(model.predict(estimator.features_of(split.holdout, cfg))) == {majority}
    metrics = estimator.score(model, split.holdout, cfg)
    assert metrics["roc_auc"] == pytest.approx(0.5)
    assert set(metrics) == {"accuracy", "f1", "log_loss", "roc_auc"}


def test_training_is_reproducible_and_survives_serialization(cfg, frame):
    real = _with_model(cfg, "mlrails.models:gradient_boosting")
    split = estimator.split_by_time(frame, real)
    x = estimator.features_of(split.holdout, real)
    first, second = estimator.fit(real, split.train), estimator.fit(real, split.train)
    np.testing.assert_array_equal(first.predict_proba(x), second.predict_proba(x))
    blob = artifacts.dumps(first)
    restored = artifacts.loads(blob, artifacts.trusted_types(blob, artifacts.entrypoint_modules(real.model.entrypoint)))
    np.testing.assert_array_equal(restored.predict_proba(x), first.predict_proba(x))
    assert estimator.score(first, split.holdout, real)["roc_auc"] > 0.6  # the placeholder scores 0.5


def test_a_broken_entrypoint_is_named(cfg, frame):
    with pytest.raises(TrainingError, match="no_such_module:factory"):
        estimator.fit(_with_model(cfg, "no_such_module:factory"), frame)


def test_columns_unknown_at_prediction_time_are_refused_as_features(cfg, frame):
    leaky = cfg.model_copy(
        update={
            "dataset": cfg.dataset.model_copy(
                update={"not_available_at_prediction": ("support_calls", "refund_issued")}
            )
        }
    )
    with pytest.raises(TrainingError, match=r"\['support_calls'\] are listed in dataset.not_available_at_prediction"):
        estimator.fit(leaky, frame)
    # naming a column that is not a feature is fine: it documents what must stay out
    unlisted = cfg.model_copy(
        update={"dataset": cfg.dataset.model_copy(update={"not_available_at_prediction": ("refund_issued",)})}
    )
    assert estimator.fit(unlisted, frame) is not None
