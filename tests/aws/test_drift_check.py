"""drift_check: on its schedule, the captured window against the champion's reference profile."""

from __future__ import annotations

import json
import re
from datetime import datetime, timedelta

import pytest

from mlrails.adapters import s3
from mlrails.adapters.clients import client
from mlrails.adapters.state import StateTable
from mlrails.local.synthetic import churn_frame
from support.aws import DAY, keys
from support.samples import load_event

REPORT_KEY = "reports/drift/churn-classifier/2026-03-03T000000Z.json"
PAGE_KEY = "reports/drift/churn-classifier/2026-03-03T000000Z.html"  # the same report for a person, beside it


@pytest.fixture
def drift_check(cloud, handler):
    """The drift_check function, loaded cold."""
    return handler("drift_check")


def test_without_a_model_there_is_nothing_to_check(drift_check, bus, cloud, lambda_context):
    result = drift_check.lambda_handler(load_event("drift_check_schedule"), lambda_context)

    assert result == {"status": "no_model", "report_uri": None, "consecutive_windows": 0, "drift_detected": False}
    assert keys(cloud.artifacts_bucket, "reports/") == []
    assert bus.drain() == []


def test_too_few_rows_in_the_window_is_insufficient_data_not_an_alarm(
    champion, serve, drift_check, bus, cloud, lambda_context
):
    # Plenty of drifted traffic, but two days before the window; only 60 rows inside it: too
    # few to detect the configured effects with power 0.8, which the report says.
    serve(churn_frame(300, DAY, seed=20, drift=0.9), DAY - timedelta(days=2))
    serve(churn_frame(60, DAY, seed=21, drift=0.9), DAY + timedelta(hours=14))

    result = drift_check.lambda_handler(load_event("drift_check_schedule"), lambda_context)

    assert result["status"] == "insufficient_data" and result["drift_detected"] is False
    assert result["report_uri"] == s3.uri(cloud.artifacts_bucket, REPORT_KEY)
    report = s3.get_json(result["report_uri"])
    assert report["status"] == "insufficient_data" and report["rows"] == 60 and report["min_power"] == 0.8
    tenure = report["features"]["tenure_months"]
    assert "tenure_months" in report["underpowered"] and tenure["gate"] == "ks"
    assert tenure["effect_size"] == 0.2 < tenure["detectable"] < 0.3  # a KS distance
    assert report["drifted_features"] == []
    assert bus.drain() == []


def test_drifted_traffic_raises_drift_detected_with_the_drifted_features(
    champion, serve, drift_check, bus, cloud, lambda_context, capsys
):
    serve(churn_frame(300, DAY, seed=22, drift=0.9), DAY + timedelta(hours=9))
    event = load_event("drift_check_schedule")

    result = drift_check.lambda_handler(event, lambda_context)

    assert result["status"] == "drift" and result["drift_detected"] is True and result["consecutive_windows"] == 1
    report = s3.get_json(s3.uri(cloud.artifacts_bucket, REPORT_KEY))
    assert report["rows"] == 300 and report["model_version"] == "1"
    assert report["window_start"] == "2026-03-02T00:00:00+00:00"
    assert report["window_end"] == "2026-03-03T00:00:00+00:00"
    assert {"tenure_months", "support_calls", "plan"} <= set(report["drifted_features"])
    assert all(report["features"][name]["psi"] >= 0.2 for name in report["drifted_features"])

    detected = bus.of("DriftDetected")
    assert len(detected) == 1 and detected[0]["time"] == event["scheduled_time"]
    detail = detected[0]["detail"]
    assert detail["drifted_features"] == report["drifted_features"]
    assert detail["drifted_share"] == pytest.approx(report["drifted_share"]) and detail["drifted_share"] >= 0.3
    assert detail["report_uri"] == result["report_uri"] == s3.uri(cloud.artifacts_bucket, REPORT_KEY)
    assert detail["model_version"] == "1" and detail["consecutive_windows"] == 1

    emitted = [json.loads(line) for line in capsys.readouterr().out.splitlines() if '"_aws"' in line]
    drift_metrics = next(m for m in emitted if "DriftWindowRows" in m)
    assert drift_metrics["DriftWindowRows"] == [300.0] and drift_metrics["model"] == "churn-classifier"
    # What the alarm watches: DriftDetected = 1 in namespace mlrails, dimension model.
    assert drift_metrics["DriftDetected"] == [1.0] and drift_metrics["DriftedFeatureShare"] == [
        pytest.approx(100 * report["drifted_share"])
    ]
    directive = drift_metrics["_aws"]["CloudWatchMetrics"][0]
    assert directive["Namespace"] == "mlrails" and [sorted(d) for d in directive["Dimensions"]] == [
        ["model", "service"]
    ]
    assert {"Name": "DriftDetected", "Unit": "Count"} in directive["Metrics"]


def test_the_report_is_also_a_self_contained_page_beside_the_json(
    champion, serve, drift_check, cloud, cfg, lambda_context
):
    serve(churn_frame(300, DAY, seed=22, drift=0.9), DAY + timedelta(hours=9))

    drift_check.lambda_handler(load_event("drift_check_schedule"), lambda_context)

    stored = client("s3").get_object(Bucket=cloud.artifacts_bucket, Key=PAGE_KEY)
    assert stored["ContentType"] == "text/html; charset=utf-8"
    page = stored["Body"].read().decode()
    plots = re.findall(r"<section class=feature>.*?</section>", page, re.S)
    assert len(plots) == len(cfg.dataset.features) + 1  # one per feature, and the prediction
    assert all(plot.count("<svg") == 1 for plot in plots)
    assert "mlrails drift · churn-classifier v1" in page and "<div class='verdict drift'>drift</div>" in page
    assert "https://" not in page and "http://" not in page.replace('xmlns="http://www.w3.org/2000/svg"', "")


def test_clean_traffic_is_ok_and_silent(champion, serve, drift_check, bus, cloud, lambda_context, capsys):
    serve(churn_frame(300, DAY, seed=23), DAY + timedelta(hours=9))

    result = drift_check.lambda_handler(load_event("drift_check_schedule"), lambda_context)

    assert result["status"] == "ok" and result["drift_detected"] is False and result["consecutive_windows"] == 0
    report = s3.get_json(s3.uri(cloud.artifacts_bucket, REPORT_KEY))
    assert report["status"] == "ok" and report["drifted_features"] == [] and report["rows"] == 300
    assert bus.drain() == []
    emitted = [json.loads(line) for line in capsys.readouterr().out.splitlines() if '"_aws"' in line]
    drift_metrics = next(m for m in emitted if "DriftWindowRows" in m)
    assert drift_metrics["DriftedFeatureShare"] == [0.0] and "DriftDetected" not in drift_metrics


def test_the_same_slot_delivered_twice_is_checked_once(champion, serve, drift_check, bus, cloud, cfg, lambda_context):
    serve(churn_frame(300, DAY, seed=22, drift=0.9), DAY + timedelta(hours=9))
    event = load_event("drift_check_schedule")

    first = drift_check.lambda_handler(event, lambda_context)
    # Scheduler retries carry the same slot with a new execution id.
    second = drift_check.lambda_handler(
        {**event, "execution_id": "0c1d2e3f-4a5b-4c6d-8e7f-9a0b1c2d3e4f"}, lambda_context
    )

    assert second == first and first["drift_detected"] is True
    assert len(bus.of("DriftDetected")) == 1
    assert keys(cloud.artifacts_bucket, "reports/drift/") == [PAGE_KEY, REPORT_KEY]
    assert StateTable(cloud.state_table).get(f"drift#{cfg.model.name}")["consecutive"] == 1


def test_a_window_judged_again_is_counted_once(champion, serve, drift_check, bus, cloud, cfg, lambda_context):
    serve(churn_frame(300, DAY, seed=22, drift=0.9), DAY + timedelta(hours=9))
    event = load_event("drift_check_schedule")
    first = drift_check.lambda_handler(event, lambda_context)
    # The same window judged again past its idempotency record (a redriven judge whose event
    # failed to publish, say): its verdict stands, and the count does not move twice.
    again = drift_check.lambda_handler({**event, "schedule": "DriftCheckByHand"}, lambda_context)

    assert first["consecutive_windows"] == again["consecutive_windows"] == 1
    assert StateTable(cloud.state_table).get(f"drift#{cfg.model.name}")["consecutive"] == 1
    assert [e["detail"]["consecutive_windows"] for e in bus.of("DriftDetected")] == [1, 1]


def test_a_window_judged_after_a_newer_one_moves_nothing(champion, serve, drift_check, bus, cloud, cfg, lambda_context):
    serve(churn_frame(300, DAY, seed=22, drift=0.9), DAY + timedelta(hours=9))
    serve(churn_frame(300, DAY, seed=23, drift=0.9), DAY + timedelta(hours=33))
    newer = {**load_event("drift_check_schedule"), "scheduled_time": "2026-03-04T00:00:00Z"}
    assert drift_check.lambda_handler(newer, lambda_context)["consecutive_windows"] == 1
    # The day before's window, judged late (its fan-out outlasted the next check): its report
    # is written, but the count of the newer window stays and nothing is announced for it.
    older = drift_check.lambda_handler(load_event("drift_check_schedule"), lambda_context)

    assert older["status"] == "drift" and older["drift_detected"] is False
    assert keys(cloud.artifacts_bucket, REPORT_KEY) == [REPORT_KEY]
    assert StateTable(cloud.state_table).get(f"drift#{cfg.model.name}") == {
        "consecutive": 1,
        "window": "2026-03-04T00:00:00+00:00",
    }
    assert [e["detail"]["report_uri"].rsplit("/", 1)[1] for e in bus.of("DriftDetected")] == ["2026-03-04T000000Z.json"]


def test_a_window_counted_in_shards_gives_the_report_of_one_pass(
    champion, serve, drift_check, cloud, cfg, lambda_context
):
    from mlrails.drift.check import WindowPlan, count_captures, judge_window, plan_window
    from mlrails.settings import Settings

    for hour, seed in ((3, 30), (9, 31), (15, 32)):  # three hour partitions: three capture objects at least
        serve(churn_frame(120, DAY, seed=seed, drift=0.5), DAY + timedelta(hours=hour))
    event = load_event("drift_check_schedule")
    drift_check.lambda_handler(event, lambda_context)  # one function: one partial of every object
    one_pass = {key: s3.get_bytes(s3.uri(cloud.artifacts_bucket, key)) for key in (REPORT_KEY, PAGE_KEY)}

    # The fan-out's steps, each handed JSON as a Distributed Map would: a plan, a partial per
    # shard of its objects (one shard empty), then the merge.
    settings = Settings.from_env()
    planned = plan_window(cfg, settings, at=datetime.fromisoformat(event["scheduled_time"]))
    plan = WindowPlan.from_dict(json.loads(json.dumps(planned.to_dict())))
    assert plan == planned and len(plan.keys) >= 3
    shards = [plan.keys[:1], [], plan.keys[1:-1], plan.keys[-1:]]
    partials = [json.loads(json.dumps(count_captures(plan, settings, shard))) for shard in shards]
    outcome = judge_window(cfg, settings, plan, partials)

    assert outcome.report.rows == 360
    assert {key: s3.get_bytes(s3.uri(cloud.artifacts_bucket, key)) for key in one_pass} == one_pass
