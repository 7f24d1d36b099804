"""training.feedback_rows: the performance check turns each settled day's labelled predictions
into training rows in their day's features partition (features/date=D/feedback/labelled.parquet),
rewrites a day while labels still come for it, and announces the rows it adds with
FeaturesReady."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from mlrails.adapters import s3
from mlrails.data import dataset
from mlrails.local.synthetic import churn_frame
from mlrails.training import estimator, lifecycle
from support.aws import DAY, keys, put_features, put_traffic
from support.samples import load_event

EVENT = load_event("performance_check_schedule")  # 2026-03-12T00:00Z: days up to 03-09 are settled
MADE = DAY + timedelta(days=2, hours=9)  # 2026-03-04 09:00
RECENT = datetime(2026, 3, 10, 6, tzinfo=UTC)  # settled only from 03-13 00:00
KEY = "features/date=2026-03-04/feedback/labelled.parquet"


@pytest.fixture
def cfg(cfg):
    """The example config with feedback rows on and a week-long performance window."""
    performance = cfg.monitoring.performance.model_copy(update={"window_hours": 7 * 24})
    return cfg.model_copy(
        update={
            "training": cfg.training.model_copy(update={"feedback_rows": True}),
            "monitoring": cfg.monitoring.model_copy(update={"performance": performance}),
        }
    )


@pytest.fixture
def performance_check(cloud, handler):
    return handler("performance_check")


def test_a_settled_days_labelled_predictions_become_training_rows(
    champion, performance_check, cloud, cfg, bus, lambda_context
):
    ids = put_traffic(cloud, cfg, rows=150, correct=0.8, at=MADE, seed=1)
    put_traffic(cloud, cfg, rows=40, correct=0.8, at=RECENT, seed=2, labelled_at=RECENT + timedelta(hours=20))

    result = performance_check.lambda_handler(EVENT, lambda_context)

    target = s3.uri(cloud.data_bucket, KEY)
    assert result["feedback_rows"] == [{"day": "2026-03-04", "features_uri": target, "rows": 150, "added": 150}]
    assert [k for k in keys(cloud.data_bucket, "features/") if "/feedback/" in k] == [KEY]
    rows = dataset.read_parquet(s3.get_bytes(target))
    assert set(rows.columns) == {*cfg.dataset.feature_names, cfg.dataset.target, cfg.dataset.timestamp}
    # Each row is a captured prediction's features with the label fed back for it.
    captured = {
        json.loads(line)["prediction_id"]: json.loads(line)
        for line in s3.get_bytes(
            s3.uri(cloud.data_bucket, f"capture/date={MADE:%Y-%m-%d}/hour={MADE:%H}/1-1.jsonl")
        ).splitlines()
    }
    labels = {
        json.loads(line)["prediction_id"]: json.loads(line)["label"]
        for key in keys(cloud.data_bucket, "feedback/")
        for line in s3.get_bytes(s3.uri(cloud.data_bucket, key)).splitlines()
    }
    expected = [(captured[i]["tenure_months"], captured[i]["plan"], labels[i]) for i in ids]
    assert sorted(zip(rows["tenure_months"], rows["plan"], rows[cfg.dataset.target])) == sorted(expected)
    (ready,) = bus.of("FeaturesReady")
    assert ready["detail"]["rows"] == 150 and ready["detail"]["features_uri"] == target
    assert ready["time"] == EVENT["scheduled_time"]

    # The next slot writes the day that has settled since (03-10); 03-04 has not changed.
    later = performance_check.lambda_handler({**EVENT, "scheduled_time": "2026-03-13T00:00:00Z"}, lambda_context)
    assert [(e["day"], e["rows"], e["added"]) for e in later["feedback_rows"]] == [("2026-03-10", 40, 40)]
    assert [e["detail"]["rows"] for e in bus.of("FeaturesReady")] == [150, 40]


def test_labels_that_come_late_are_added_while_the_day_is_in_the_window(
    champion, performance_check, cloud, cfg, bus, lambda_context
):
    put_traffic(cloud, cfg, rows=100, correct=0.8, at=MADE, seed=1)
    performance_check.lambda_handler(EVENT, lambda_context)
    # Another batch of outcomes for 03-04, a week after the predictions (a CRM's late export).
    put_traffic(
        cloud,
        cfg,
        rows=60,
        correct=0.8,
        at=MADE + timedelta(hours=2),
        seed=5,
        labelled_at=datetime(2026, 3, 12, 6, tzinfo=UTC),
    )

    later = performance_check.lambda_handler({**EVENT, "scheduled_time": "2026-03-13T00:00:00Z"}, lambda_context)

    assert later["feedback_rows"] == [
        {"day": "2026-03-04", "features_uri": s3.uri(cloud.data_bucket, KEY), "rows": 160, "added": 60}
    ]
    assert len(dataset.read_parquet(s3.get_bytes(s3.uri(cloud.data_bucket, KEY)))) == 160  # one file a day
    assert [e["detail"]["rows"] for e in bus.of("FeaturesReady")] == [100, 60]  # counted once each


def test_training_reads_them_with_the_rest_of_features(champion, performance_check, cloud, cfg, lambda_context):
    exported = put_features(cloud, cfg, churn_frame(400, DAY, seed=4))  # as feature_prep writes a raw file
    put_traffic(cloud, cfg, rows=150, correct=0.8, at=MADE, seed=1)
    performance_check.lambda_handler(EVENT, lambda_context)

    frame, files = lifecycle.load_features(cloud.data_bucket, cfg)

    assert set(files) == {exported, KEY} and len(frame) == 400 + 150
    split = estimator.split_by_time(frame, cfg)
    assert estimator.fit(cfg, split.train) is not None  # one frame, one schema: it trains


def test_a_day_without_labels_is_not_written(champion, performance_check, cloud, cfg, bus, lambda_context):
    # Labels that have not come back by now: nothing to learn from, nothing written or announced.
    put_traffic(cloud, cfg, rows=80, correct=0.8, at=MADE, seed=3, labelled_at=datetime(2026, 3, 20, tzinfo=UTC))

    result = performance_check.lambda_handler(EVENT, lambda_context)

    assert result["feedback_rows"] == [] and keys(cloud.data_bucket, "features/") == []
    assert bus.of("FeaturesReady") == []
