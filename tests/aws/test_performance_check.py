"""performance_check: captures and fed-back labels in S3 → report, metrics, PerformanceDegraded."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from statistics import NormalDist

import numpy as np
import pytest
from sklearn import metrics as skm

from mlrails.adapters import s3
from mlrails.performance import quality
from support.aws import DAY, keys, put_traffic, redeploy
from support.samples import load_event

EVENT = load_event("performance_check_schedule")  # 2026-03-12T00:00Z: settled window [03-03, 03-10)
REPORT_KEY = "reports/performance/churn-classifier/2026-03-12T000000Z.json"
MADE = DAY + timedelta(days=2, hours=9)  # inside the settled window


@pytest.fixture
def cfg(cfg):
    """The example config with a week-long window: the sample event's settled window
    [03-03, 03-10) and the traffic times below are written for it."""
    performance = cfg.monitoring.performance.model_copy(update={"window_hours": 7 * 24})
    return cfg.model_copy(update={"monitoring": cfg.monitoring.model_copy(update={"performance": performance})})


@pytest.fixture
def performance_check(cloud, handler):
    """The performance_check function, loaded cold."""
    return handler("performance_check")


def _emitted(capsys) -> dict:
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines() if '"_aws"' in line]
    return next(m for m in lines if "LabelledRows" in m)


def test_good_predictions_are_ok_and_published(champion, performance_check, cloud, cfg, bus, lambda_context, capsys):
    put_traffic(cloud, cfg, rows=300, correct=0.95, at=MADE, probabilities=True)

    result = performance_check.lambda_handler(EVENT, lambda_context)

    assert result["status"] == "ok" and result["performance_degraded"] is False and result["labelled"] == 300
    # training.feedback_rows is off in the example config: no training rows from traffic.
    assert result["feedback_rows"] == [] and keys(cloud.data_bucket, "features/") == []
    report = s3.get_json(s3.uri(cloud.artifacts_bucket, REPORT_KEY))
    assert report["window_start"] == "2026-03-03T00:00:00+00:00"
    assert report["window_end"] == "2026-03-10T00:00:00+00:00"
    assert report["settled"] == 300 and report["coverage"] == 1.0 and report["model_version"] == "1"
    assert report["threshold"] == pytest.approx(max(0.6, champion.metrics["accuracy"] - 0.1))
    assert report["metrics"]["accuracy"] == pytest.approx(result["value"]) and result["value"] > 0.9
    # roc_auc from the captured probabilities, and the business KPI (value.metric is roc_auc).
    auc = report["metrics"]["roc_auc"]
    assert report["business_kpi"] == pytest.approx(1500 * (auc - 0.65) / 0.01)
    assert bus.drain() == []

    emitted = _emitted(capsys)
    assert emitted["model"] == "churn-classifier"
    assert emitted["LabelledRows"] == [300.0] and emitted["LabelCoverage"] == [100.0]
    assert emitted["ModelQuality"] == [pytest.approx(result["value"])]
    assert emitted["Metric.accuracy"] == emitted["ModelQuality"] and "Metric.f1" in emitted
    assert emitted["BusinessKPI"] == [pytest.approx(report["business_kpi"])]
    assert "PerformanceDegraded" not in emitted


def test_poor_predictions_emit_performance_degraded_once_per_slot(
    champion, performance_check, cloud, cfg, bus, lambda_context, capsys
):
    put_traffic(cloud, cfg, rows=300, correct=0.4, at=MADE)

    first = performance_check.lambda_handler(EVENT, lambda_context)
    retried = performance_check.lambda_handler({**EVENT, "execution_id": "another-attempt"}, lambda_context)

    assert first == retried and first["status"] == "degraded" and first["performance_degraded"] is True
    (event,) = bus.of("PerformanceDegraded")
    assert event["time"] == EVENT["scheduled_time"]
    assert event["detail"] == {
        "schema_version": "1",
        "model": "churn-classifier",
        "environment": "test",
        "metric": "accuracy",
        "value": pytest.approx(first["value"]),
        "threshold": pytest.approx(first["threshold"]),
        "report_uri": s3.uri(cloud.artifacts_bucket, REPORT_KEY),
    }
    assert keys(cloud.artifacts_bucket, "reports/performance/") == [REPORT_KEY]
    assert _emitted(capsys)["PerformanceDegraded"] == [1.0]


def test_a_drop_that_chance_explains_is_not_an_alarm(
    champion, performance_check, cloud, cfg, bus, lambda_context, monkeypatch
):
    # 120 labels a few points under the floor: a window this small, and the champion's own
    # holdout, move the score that much on their own.
    floor = champion.metrics["accuracy"] - 0.1
    put_traffic(cloud, cfg, rows=120, correct=floor - 0.03, at=MADE, seed=11)

    result = performance_check.lambda_handler(EVENT, lambda_context)

    assert result["status"] == "ok" and result["threshold"] == pytest.approx(floor)
    assert 0 < floor - result["value"] < result["allowance"]
    report = s3.get_json(result["report_uri"])
    assert report["holdout_errors"] == champion.metric_errors and report["confidence"] == 0.95
    # The allowance: the one-sided 95% quantile of the gap's error, the window's (bootstrap,
    # recomputed here from the captured rows) and the champion's holdout's, independent.
    captured = [
        json.loads(line)
        for key in keys(cloud.data_bucket, "capture/")
        for line in s3.get_bytes(s3.uri(cloud.data_bucket, key)).splitlines()
    ]
    fed_back = {
        json.loads(line)["prediction_id"]: json.loads(line)["label"]
        for key in keys(cloud.data_bucket, "feedback/")
        for line in s3.get_bytes(s3.uri(cloud.data_bucket, key)).splitlines()
    }
    labels = np.array([fed_back[c["prediction_id"]] for c in captured], dtype=object)
    window_error = quality.standard_errors(
        "classification", labels, np.array([c["prediction"] for c in captured], dtype=object), metrics=["accuracy"]
    )["accuracy"]
    assert result["allowance"] == pytest.approx(
        NormalDist().inv_cdf(0.95) * np.hypot(window_error, champion.metric_errors["accuracy"])
    )
    assert bus.drain() == []

    # Without the allowance (confidence 0.5), the same window is an alarm.
    rules = cfg.monitoring.performance.model_copy(update={"confidence": 0.5})
    redeploy(
        cloud,
        cfg.model_copy(update={"monitoring": cfg.monitoring.model_copy(update={"performance": rules})}),
        monkeypatch,
    )
    strict = performance_check.lambda_handler({**EVENT, "scheduled_time": "2026-03-12T00:00:01Z"}, lambda_context)
    assert strict["status"] == "degraded" and strict["allowance"] == pytest.approx(0.0)


def test_too_few_labels_is_insufficient_not_an_alarm(champion, performance_check, cloud, cfg, bus, lambda_context):
    put_traffic(cloud, cfg, rows=60, correct=0.1, at=MADE)

    result = performance_check.lambda_handler(EVENT, lambda_context)

    assert result["status"] == "insufficient_labels" and result["performance_degraded"] is False
    assert result["labelled"] == 60 and result["value"] is None
    assert bus.drain() == []


def test_unsettled_and_other_versions_predictions_are_not_judged(
    champion, performance_check, cloud, cfg, bus, lambda_context
):
    # Bad predictions too recent to judge (their label delay has not passed), and bad
    # predictions of another version: neither counts against the champion.
    recent = datetime.fromisoformat("2026-03-11T06:00:00+00:00")
    put_traffic(cloud, cfg, rows=300, correct=0.1, at=recent, seed=1, labelled_at=recent + timedelta(hours=3))
    put_traffic(cloud, cfg, rows=300, correct=0.1, at=MADE, version="0", seed=2)
    put_traffic(cloud, cfg, rows=150, correct=0.9, at=MADE, seed=3)

    result = performance_check.lambda_handler(EVENT, lambda_context)

    assert result["status"] == "ok" and result["labelled"] == 150
    report = s3.get_json(result["report_uri"])
    assert report["settled"] == 150 and report["unmatched_feedback"] == 600
    assert bus.drain() == []


def test_without_a_model_there_is_nothing_to_judge(performance_check, cloud, bus, lambda_context):
    result = performance_check.lambda_handler(EVENT, lambda_context)

    assert result["status"] == "no_model" and result["report_uri"] is None
    assert keys(cloud.artifacts_bucket, "reports/") == [] and bus.drain() == []


def test_the_reported_accuracy_is_scikit_learns(champion, performance_check, cloud, cfg, lambda_context):
    ids = put_traffic(cloud, cfg, rows=200, correct=0.7, at=MADE, seed=5)

    result = performance_check.lambda_handler(EVENT, lambda_context)

    captured = [
        json.loads(line)
        for line in s3.get_bytes(
            s3.uri(cloud.data_bucket, f"capture/date={MADE:%Y-%m-%d}/hour={MADE:%H}/1-5.jsonl")
        ).splitlines()
    ]
    labels = {}
    for key in keys(cloud.data_bucket, "feedback/"):
        labels.update(
            {
                json.loads(line)["prediction_id"]: json.loads(line)["label"]
                for line in s3.get_bytes(s3.uri(cloud.data_bucket, key)).splitlines()
            }
        )
    assert [c["prediction_id"] for c in captured] == ids
    expected = skm.accuracy_score([labels[c["prediction_id"]] for c in captured], [c["prediction"] for c in captured])
    assert result["value"] == pytest.approx(expected)


def test_labels_not_sent_with_the_feedback_credential_are_ignored_and_counted(
    champion, performance_check, cloud, cfg, bus, lambda_context
):
    # Wrong labels stored without a credential (as the scoring key could send them before
    # feedback had its own) would make the window look degraded: they must not count.
    put_traffic(cloud, cfg, rows=300, correct=0.1, at=MADE, seed=1, labelled_by=None)
    put_traffic(cloud, cfg, rows=150, correct=0.9, at=MADE, seed=3)

    result = performance_check.lambda_handler(EVENT, lambda_context)

    assert result["status"] == "ok" and result["labelled"] == 150
    report = s3.get_json(result["report_uri"])
    assert report["settled"] == 450 and report["untrusted_labels"] == 300
    assert bus.drain() == []
