"""train: the training run's steps (train → evaluate → finish) as the state machine invokes them."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from mlflow import MlflowClient

from mlrails.adapters import deployed, s3
from mlrails.adapters.clients import client
from mlrails.data import dataset
from mlrails.errors import TrainingError
from mlrails.feedback.training_rows import export_key
from mlrails.local.cloud import deploy_config
from mlrails.local.synthetic import churn_frame
from mlrails.promotion import rails
from mlrails.serving.manifest import Manifest, current_key, history_key
from mlrails.training import estimator, lifecycle
from mlrails.wiring import config_key
from support.aws import DAY, keys, put_features, run_training, training_request
from support.samples import load_event


def _registry(tracking_uri: str) -> MlflowClient:
    # Both URIs explicitly: MLflow's default registry URI is process-global state.
    return MlflowClient(tracking_uri=tracking_uri, registry_uri=tracking_uri)


def _versions(tracking_uri: str, name: str) -> list[str]:
    return sorted(str(v.version) for v in _registry(tracking_uri).search_model_versions(f"name='{name}'"))


def test_first_model_is_registered_promoted_and_announced(cloud, cfg, bus, train_handler, lambda_context, mlflow_db):
    frame = churn_frame(600, DAY - timedelta(days=1), seed=7)
    put_features(cloud, cfg, frame)
    event = load_event("train_step_train")

    state = run_training(train_handler, lambda_context, event)

    result = state["train"]
    assert result["version"] == "1" and result["rows"] == 600
    # The newest of the 480 training rows (the 120 newest are the holdout).
    assert datetime.fromisoformat(result["trained_through"]) == datetime.fromisoformat(frame["event_time"][479])
    assert state["evaluate"]["promote"] is True
    assert state["finish"] == {"promoted": True, "reason": "no champion yet: the first model is promoted"}
    assert state["evaluate"]["metrics"] == result["metrics"]  # re-scored on the stored holdout: the same
    name, registry = cfg.model.name, _registry(mlflow_db)
    version = registry.get_model_version_by_alias(name, "champion")
    assert str(version.version) == "1"
    run = registry.get_run(version.run_id)
    assert run.data.metrics["holdout_accuracy"] == pytest.approx(result["metrics"]["accuracy"])
    assert run.data.tags["trigger.id"] == event["state"]["request"]["trigger_id"]
    assert run.data.params["train_rows"] == "480" and run.data.params["holdout_rows"] == "120"

    bucket = cloud.artifacts_bucket
    manifest = Manifest.from_json(s3.get_bytes(s3.uri(bucket, current_key(name))))
    assert manifest.version == "1" and manifest.run_id == version.run_id
    assert manifest.artifact_uri == f"s3://{bucket}/models/{name}/v1/model.skops"
    assert manifest.profile_uri == f"s3://{bucket}/models/{name}/v1/profile.json"
    # How far the holdout scores could be off by chance: for accuracy on 120 rows, the binomial error.
    share = result["metrics"]["accuracy"]
    assert manifest.metric_errors["accuracy"] == pytest.approx((share * (1 - share) / 120) ** 0.5, rel=0.2)
    assert keys(bucket, f"manifests/{name}/") == [f"manifests/{name}/current.json", f"manifests/{name}/v1.json"]
    model = rails.load_model(manifest)
    assert list(model.classes_) == [0, 1]
    profile = s3.get_json(manifest.profile_uri)
    assert profile["rows"] == 480 and set(cfg.dataset.feature_names) <= set(profile["features"])

    registered, promoted = bus.of("ModelRegistered"), bus.of("ModelPromoted")
    assert [e["detail"]["version"] for e in registered] == ["1"]
    assert registered[0]["detail"]["artifact_uri"] == manifest.artifact_uri
    assert registered[0]["detail"]["run_id"] == version.run_id
    assert len(promoted) == 1 and not bus.of("ModelRejected")
    detail = promoted[0]["detail"]
    assert detail["version"] == "1" and detail["previous_version"] is None
    assert detail["manifest_uri"] == f"s3://{bucket}/{current_key(name)}"
    assert detail["schema_version"] == "1" and detail["environment"] == "test"
    assert promoted[0]["time"] == "2026-03-02T10:05:00Z"  # the run's clock, carried forward


def test_training_reads_only_the_partitions_its_window_can_use(
    cloud, cfg, bus, train_handler, lambda_context, mlflow_db
):
    """training.window_days (21 here) keeps the rows within 21 days of the newest: features
    are partitioned by their newest row's day, and the partitions before the window's first
    day are neither listed nor read. Those below hold files that are not Parquet at all: had
    they been read, the run would have failed."""
    assert cfg.training.window_days == 21
    data = cloud.data_bucket
    fresh = put_features(cloud, cfg, churn_frame(600, DAY - timedelta(days=1), seed=7))  # rows of 03-01
    first_day = put_features(cloud, cfg, churn_frame(100, DAY - timedelta(days=22), seed=8), name="2026/02/08/edge")
    assert first_day.startswith("features/date=2026-02-08/")  # 21 days before 03-01: may hold rows inside
    for day in ("2026-01-20", "2026-02-07"):  # wholly before the window
        s3.put_bytes(s3.uri(data, f"features/date={day}/raw/old-export.csv.parquet"), b"not parquet")
    s3.put_bytes(s3.uri(data, export_key((DAY - timedelta(days=30)).date())), b"not parquet")  # an old labelled day
    labelled = churn_frame(50, DAY - timedelta(days=5), seed=9)  # a labelled day within the window
    s3.put_bytes(
        s3.uri(data, export_key((DAY - timedelta(days=5)).date())),
        dataset.to_parquet(dataset.prepare_features(labelled, cfg.dataset)),
    )
    legacy = put_features(cloud, cfg, churn_frame(100, DAY - timedelta(days=3), seed=10))
    s3.put_bytes(s3.uri(data, "features/2026/02/27/legacy.parquet"), s3.get_bytes(s3.uri(data, legacy)))
    client("s3").delete_object(Bucket=data, Key=legacy)  # written before features were partitioned

    frame, files = lifecycle.load_features(data, cfg)

    assert list(files) == [
        "features/2026/02/27/legacy.parquet",  # outside any partition: read whatever its age
        first_day,
        export_key((DAY - timedelta(days=5)).date()),
        fresh,
    ]
    assert all(files.values())  # each with the S3 version read, for the lineage
    assert len(frame) == 850 and len(estimator.recent(frame, cfg)) < 850  # the edge day's early rows drop
    state = run_training(train_handler, lambda_context, load_event("train_step_train"))
    assert state["train"]["rows"] == len(estimator.recent(frame, cfg))


def test_challenger_is_gated_against_the_champion_on_the_same_holdout(
    cloud, cfg, bus, train_handler, lambda_context, mlflow_db, monkeypatch
):
    # Gated on accuracy: a placeholder's one class moves it, where roc_auc stays 0.5.
    cfg = cfg.model_copy(update={"promotion": cfg.promotion.model_copy(update={"metric": "accuracy"})})
    deploy_config(cfg, cloud)
    monkeypatch.setenv("MLRAILS_CONFIG_URI", s3.uri(cloud.artifacts_bucket, config_key(cfg)))
    deployed.reset()
    fresh = churn_frame(600, DAY - timedelta(days=1), seed=7)
    put_features(cloud, cfg, fresh)
    run_training(train_handler, lambda_context)
    # An older backfill where everyone churned: the placeholder (majority class) learns to
    # say "churn", while the holdout (the newest 20%) is still the fresh rows.
    backfill = churn_frame(600, DAY - timedelta(days=10), seed=8)
    backfill["churned"] = 1
    put_features(cloud, cfg, backfill, "2026/02/20/backfill")
    second = training_request(
        time="2026-03-09T00:00:00+00:00", reason="scheduled cadence", trigger_id="b8c9d0e1-f2a3-4b4c-9d5e-6f7a8b9c0d71"
    )

    state = run_training(train_handler, lambda_context, second)
    result = {**state["train"], **state["finish"]}

    holdout = dataset.prepare_features(fresh, cfg.dataset).tail(240)
    v1 = rails.load_model(
        Manifest.from_json(s3.get_bytes(s3.uri(cloud.artifacts_bucket, history_key(cfg.model.name, "1"))))
    )
    champion_accuracy = float((v1.predict(holdout[cfg.dataset.feature_names]) == holdout["churned"]).mean())
    challenger_accuracy = float((holdout["churned"] == 1).mean())
    assert champion_accuracy > challenger_accuracy
    assert result["version"] == "2" and result["promoted"] is False
    assert result["metrics"]["accuracy"] == pytest.approx(challenger_accuracy)
    rejected = bus.of("ModelRejected")
    assert len(rejected) == 1 and len(bus.of("ModelPromoted")) == 1  # v1's only
    detail = rejected[0]["detail"]
    assert detail["version"] == "2" and detail["champion_version"] == "1"
    assert detail["reason"].startswith(f"accuracy {champion_accuracy:.4f} -> {challenger_accuracy:.4f} ")
    required = f"required {cfg.promotion.min_improvement:.4f}): not enough"
    assert "vs champion v1" in detail["reason"] and detail["reason"].endswith(required)

    registry = _registry(mlflow_db)
    assert registry.get_model_version_by_alias(cfg.model.name, "champion").version == 1
    assert registry.get_model_version_by_alias(cfg.model.name, "challenger").version == 2
    assert registry.get_model_version(cfg.model.name, "2").tags["gate.promote"] == "False"
    current = Manifest.from_json(s3.get_bytes(s3.uri(cloud.artifacts_bucket, current_key(cfg.model.name))))
    assert current.version == "1"


def test_redelivered_request_trains_once(cloud, cfg, bus, train_handler, lambda_context, mlflow_db):
    put_features(cloud, cfg, churn_frame(300, DAY - timedelta(days=1), seed=5))

    first = run_training(train_handler, lambda_context)
    again = run_training(train_handler, lambda_context)  # every step retried: the first results come back

    assert again == first
    assert _versions(mlflow_db, cfg.model.name) == ["1"]
    assert len(bus.of("ModelRegistered")) == 1 and len(bus.of("ModelPromoted")) == 1


def test_too_little_data_fails_clearly_and_the_retry_trains(cloud, cfg, bus, train_handler, lambda_context, mlflow_db):
    put_features(cloud, cfg, churn_frame(50, DAY - timedelta(days=1), seed=5), "2026/03/02/first")
    event = load_event("train_step_train")

    with pytest.raises(TrainingError, match=r"^50 rows is below training.min_rows=200$"):
        train_handler.lambda_handler(event, lambda_context)

    assert _versions(mlflow_db, cfg.model.name) == []
    assert bus.drain() == []
    assert keys(cloud.artifacts_bucket, "manifests/") == []
    # A failed step is not recorded as done: a retry, once data has arrived, trains.
    put_features(cloud, cfg, churn_frame(400, DAY - timedelta(hours=12), seed=6), "2026/03/02/second")
    state = run_training(train_handler, lambda_context, event)
    assert state["train"]["rows"] == 450 and state["finish"]["promoted"] is True
    assert _versions(mlflow_db, cfg.model.name) == ["1"]


def test_the_run_records_the_code_version(cloud, cfg, train_handler, lambda_context, mlflow_db, monkeypatch):
    monkeypatch.setenv("MLRAILS_GIT_COMMIT", "4f1c2e9d")
    put_features(cloud, cfg, churn_frame(300, DAY - timedelta(days=1), seed=5))
    state = run_training(train_handler, lambda_context)
    run = _registry(mlflow_db).get_run(state["train"]["run_id"])
    assert run.data.tags["code.git_commit"] == "4f1c2e9d"
    assert run.data.tags["config.sha"] == cfg.digest and len(run.data.tags["data.sha256"]) == 64
    assert run.data.tags["version.scikit-learn"] and run.data.params["seed"] == str(cfg.training.seed)


def test_data_without_a_timestamp_trains_on_arrival_time(
    cloud, cfg, bus, handler, lambda_context, mlflow_db, monkeypatch
):
    from support.aws import redeploy, upload

    untimed = cfg.model_copy(update={"dataset": cfg.dataset.model_copy(update={"timestamp": None})})
    redeploy(cloud, untimed, monkeypatch)
    arrivals = []
    for n, day in enumerate((DAY - timedelta(days=2), DAY - timedelta(days=1))):
        rows = churn_frame(200, day, seed=20 + n).drop(columns="event_time").to_csv(index=False).encode()
        event = load_event("feature_prep_raw_csv")
        event["time"] = day.strftime("%Y-%m-%dT%H:%M:%SZ")
        event["detail"]["object"]["key"] = f"raw/untimed-{n}.csv"
        event = upload(event, rows)
        assert handler("feature_prep").lambda_handler(event, lambda_context)["status"] == "features"
        arrivals.append(day)

    state = run_training(handler("train"), lambda_context)

    assert state["finish"]["promoted"] is True and state["train"]["rows"] == 400
    # The newest arrival is the newest "time" there is: the holdout is its last rows.
    assert datetime.fromisoformat(state["train"]["trained_through"]) == arrivals[-1]
