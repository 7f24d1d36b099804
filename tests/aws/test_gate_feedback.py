"""The promotion gate scores on the holdout plus the labelled traffic the challenger did not
train on (promotion.feedback_days), through the train function's steps."""

from __future__ import annotations

import json
from datetime import datetime, timedelta

import pandas as pd
import pytest
from mlflow import MlflowClient

from mlrails.adapters import s3
from mlrails.local.synthetic import churn_frame
from mlrails.models import PLACEHOLDER
from mlrails.promotion import rails
from mlrails.serving import artifacts
from mlrails.settings import Settings
from mlrails.training import estimator
from support.aws import DAY, keys, put_features, put_traffic, redeploy, run_training, training_request

REAL = "mlrails.models:gradient_boosting"
# Features observed over 03-01: the oldest 480 rows train, the newest 120 are the holdout.
FEATURES = churn_frame(600, DAY - timedelta(days=1), seed=7)
HOLDOUT = FEATURES.tail(120)
# A week later: with labels 48 h late, predictions made before 03-07 are settled.
EVALUATED = training_request(
    time="2026-03-09T00:00:00+00:00", reason="scheduled cadence", trigger_id="c1d2e3f4-a5b6-4c7d-8e9f-0a1b2c3d4e5f"
)
NEW = DAY + timedelta(days=2, hours=9)  # served after the newest training row, settled
OLD = DAY - timedelta(hours=18)  # served while the training rows were being observed


def _config(cfg, entrypoint: str, **rules):
    return cfg.model_copy(
        update={
            "model": cfg.model.model_copy(update={"entrypoint": entrypoint}),
            "promotion": cfg.promotion.model_copy(update=rules),
        }
    )


def _served(cloud, cfg, at: datetime, seed: int) -> pd.DataFrame:
    """Predictions served at ``at`` read back from capture/ with their fed-back labels as the
    target: rows shaped like the holdout, built without the code under test."""
    captured = [
        json.loads(line)
        for line in s3.get_bytes(
            s3.uri(cloud.data_bucket, f"capture/date={at:%Y-%m-%d}/hour={at:%H}/1-{seed}.jsonl")
        ).splitlines()
    ]
    labels = {}
    for key in keys(cloud.data_bucket, "feedback/"):
        labels.update(
            {
                item["prediction_id"]: item["label"]
                for line in s3.get_bytes(s3.uri(cloud.data_bucket, key)).splitlines()
                for item in [json.loads(line)]
            }
        )
    frame = pd.DataFrame.from_records(captured)
    return frame.assign(**{cfg.dataset.target: frame["prediction_id"].map(labels)})


def _model(cloud, cfg, version: str, name: str = "model.skops"):
    uri = s3.uri(cloud.artifacts_bucket, f"models/{cfg.model.name}/v{version}/{name}")
    blob = s3.get_bytes(uri)  # our own training's file: trusted as the policy trusts a fresh one
    return artifacts.loads(blob, artifacts.trusted_types(blob, artifacts.entrypoint_modules(REAL)))


def _tags(tracking_uri: str, cfg, version: str) -> dict[str, str]:
    client = MlflowClient(tracking_uri=tracking_uri, registry_uri=tracking_uri)
    return client.get_model_version(cfg.model.name, version).tags


@pytest.fixture
def features(cloud, cfg):
    put_features(cloud, cfg, FEATURES)


def test_the_gate_scores_both_models_on_the_holdout_and_the_labelled_traffic(
    cloud, cfg, features, train_handler, lambda_context, mlflow_db, monkeypatch
):
    run_training(train_handler, lambda_context)  # v1: the placeholder, promoted
    real = _config(cfg, REAL)
    redeploy(cloud, real, monkeypatch)
    put_traffic(cloud, real, rows=300, correct=0.8, at=NEW, seed=1)

    state = run_training(train_handler, lambda_context, EVALUATED)

    evaluation = state["evaluate"]
    assert (evaluation["holdout_rows"], evaluation["feedback_rows"]) == (120, 300)
    rows = pd.concat([HOLDOUT, _served(cloud, real, NEW, seed=1)], ignore_index=True)
    challenger = estimator.score(_model(cloud, real, "2"), rows, real)
    champion = estimator.score(_model(cloud, real, "1"), rows, real)
    assert evaluation["metrics"] == pytest.approx(challenger)
    assert evaluation["baseline_metrics"] == pytest.approx(champion)
    assert evaluation["metrics"] != pytest.approx(state["train"]["metrics"])  # the traffic counted
    gain = challenger["roc_auc"] - champion["roc_auc"]
    assert evaluation["promote"] is (gain >= real.promotion.min_improvement)
    suffix = "; scored on 120 holdout + 300 labelled traffic rows"
    assert "vs champion v1" in evaluation["reason"] and evaluation["reason"].endswith(suffix)
    assert state["finish"]["reason"].endswith(suffix)
    audit = rails.audit_log(Settings.from_env(needs_tracking=True), cfg.model.name)
    assert audit[-1]["version"] == "2" and audit[-1]["reason"] == state["finish"]["reason"]
    tags = _tags(mlflow_db, cfg, "2")
    assert (tags["gate.holdout_rows"], tags["gate.feedback_rows"]) == ("120", "300")
    assert tags["gate.reason"] == evaluation["reason"]


def test_a_first_real_model_meets_the_placeholder_on_the_same_rows_and_older_traffic_is_left_out(
    cloud, cfg, features, train_handler, lambda_context, monkeypatch
):
    real = _config(cfg, REAL)
    redeploy(cloud, real, monkeypatch)
    put_traffic(cloud, real, rows=300, correct=0.8, at=NEW, seed=1)
    # Served while the training rows were observed: the challenger may have learnt these.
    put_traffic(cloud, real, rows=200, correct=0.8, at=OLD, seed=2)

    state = run_training(train_handler, lambda_context, EVALUATED)

    evaluation = state["evaluate"]
    assert (evaluation["holdout_rows"], evaluation["feedback_rows"]) == (120, 300)
    rows = pd.concat([HOLDOUT, _served(cloud, real, NEW, seed=1)], ignore_index=True)
    placeholder = estimator.fit(_config(real, PLACEHOLDER), FEATURES.head(480))
    assert evaluation["metrics"] == pytest.approx(estimator.score(_model(cloud, real, "1"), rows, real))
    assert evaluation["baseline_metrics"] == pytest.approx(estimator.score(placeholder, rows, real))
    assert "vs placeholder baseline" in evaluation["reason"]
    assert evaluation["reason"].endswith("; scored on 120 holdout + 300 labelled traffic rows")


@pytest.mark.parametrize("feedback_days, traffic", [(0, True), (14, False)], ids=["feedback_days-0", "no-captures"])
def test_without_feedback_the_gate_scores_on_the_holdout_alone(
    cloud, cfg, features, train_handler, lambda_context, mlflow_db, monkeypatch, feedback_days, traffic
):
    real = _config(cfg, REAL, feedback_days=feedback_days)
    redeploy(cloud, real, monkeypatch)
    if traffic:
        put_traffic(cloud, real, rows=300, correct=0.8, at=NEW, seed=1)

    state = run_training(train_handler, lambda_context, EVALUATED)

    evaluation = state["evaluate"]
    assert (evaluation["holdout_rows"], evaluation["feedback_rows"]) == (120, 0)
    assert evaluation["metrics"] == state["train"]["metrics"]  # the train step's holdout scores
    placeholder = _model(cloud, real, "1", "placeholder.skops")
    assert evaluation["baseline_metrics"] == pytest.approx(estimator.score(placeholder, HOLDOUT, real))
    assert "scored on" not in evaluation["reason"] and evaluation["reason"].startswith("roc_auc 0.5000 -> ")
    assert _tags(mlflow_db, cfg, "1")["gate.feedback_rows"] == "0"


def test_the_gate_ignores_labels_not_sent_with_the_feedback_credential(
    cloud, cfg, features, train_handler, lambda_context, mlflow_db, monkeypatch
):
    real = _config(cfg, REAL)
    redeploy(cloud, real, monkeypatch)
    put_traffic(cloud, real, rows=300, correct=0.8, at=NEW, seed=1)
    # Labels stored as before feedback had its own credential (the scoring key could label):
    # they record none, and the gate must not score on them.
    put_traffic(cloud, real, rows=200, correct=0.1, at=NEW, seed=3, labelled_by=None)

    state = run_training(train_handler, lambda_context, EVALUATED)

    evaluation = state["evaluate"]
    assert (evaluation["holdout_rows"], evaluation["feedback_rows"], evaluation["ignored_labels"]) == (120, 300, 200)
    rows = pd.concat([HOLDOUT, _served(cloud, real, NEW, seed=1)], ignore_index=True)
    assert evaluation["metrics"] == pytest.approx(estimator.score(_model(cloud, real, "1"), rows, real))
    assert evaluation["reason"].endswith(
        "; scored on 120 holdout + 300 labelled traffic rows; ignored 200 labels not sent with the feedback credential"
    )
    assert _tags(mlflow_db, cfg, "1")["gate.ignored_labels"] == "200"
