"""Capture through the inference function: sampled requests go to the Firehose stream in one
PutRecordBatch each (moto writes one S3 object per call), land partitioned by their own hour
where the drift check reads, and join with fed-back labels by prediction id."""

from __future__ import annotations

import json
import random
from datetime import timedelta

from conftest import load_event
from mlrails import labels
from mlrails.adapters import s3, traffic
from mlrails.adapters.clients import client
from mlrails.config import Capture
from mlrails.local.cloud import deploy_config
from mlrails.local.delivery import STAGED, deliver_captures
from mlrails.wiring import config_key

from .conftest import DAY, api_call, api_event, keys
from .test_inference import ROWS, inference  # noqa: F401 - the fixture, loaded cold


def staged(cloud) -> list[str]:
    """What moto's Firehose wrote: one object per PutRecordBatch call."""
    return keys(cloud.data_bucket, STAGED)


def lines(cloud, key: str) -> list[dict]:
    return [json.loads(line) for line in s3.get_bytes(s3.uri(cloud.data_bucket, key)).splitlines()]


def with_sample_rate(cfg, cloud, monkeypatch, rate: float) -> None:
    """Deploy the config with another capture.sample_rate and point the functions at it."""
    changed = cfg.model_copy(update={"capture": Capture(sample_rate=rate)})
    deploy_config(changed, cloud)
    monkeypatch.setenv("MLRAILS_CONFIG_URI", s3.uri(cloud.artifacts_bucket, config_key(changed)))


def test_a_request_is_one_record_batch_with_a_line_per_row(champion, cloud, inference, lambda_context):
    status, body = api_call(inference, load_event("inference_invocations_split"), lambda_context)

    assert status == 200
    [call] = staged(cloud)  # one PutRecordBatch, no S3 PUT of our own
    captured = lines(cloud, call)
    assert [line["prediction_id"] for line in captured] == body["prediction_ids"]
    assert [line["prediction"] for line in captured] == body["predictions"]
    for line, row in zip(captured, ROWS, strict=True):
        assert {k: line[k] for k in row} == row
        assert line["model_name"] == "churn-classifier" and line["model_version"] == "1"
        assert line["timestamp"] == "2026-03-02T14:30:00+00:00"
    assert keys(cloud.data_bucket, "capture/date=2026-03-02/") == []  # still in Firehose's buffer


def test_delivery_partitions_by_the_prediction_hour_where_the_drift_check_reads(champion, cloud, inference,
                                                                                lambda_context):
    # Two requests an hour apart and days from the wall clock (the local runtime's virtual time).
    for at in (DAY + timedelta(hours=9, minutes=59), DAY + timedelta(hours=10, minutes=1)):
        event = api_event("inference_invocations_records", at=at)
        assert api_call(inference, event, lambda_context)[0] == 200

    assert deliver_captures(cloud) == 6
    assert staged(cloud) == []
    for hour in ("09", "10"):
        [key] = keys(cloud.data_bucket, f"capture/date=2026-03-02/hour={hour}/")
        assert key.endswith(".jsonl") and len(lines(cloud, key)) == 3
    # The monitoring reader: the window's partitions, rows filtered by their own time.
    window = traffic.capture_chunks(cloud.data_bucket, DAY + timedelta(hours=10), DAY + timedelta(hours=11))
    assert sum(len(chunk) for chunk in window) == 3


def test_large_requests_are_split_at_the_record_batch_limit(champion, cloud, inference, lambda_context):
    body = {"dataframe_records": ROWS * 400}  # 1,200 rows: 500 + 500 + 200

    status, answer = api_call(inference, api_event("inference_invocations_records", body=body), lambda_context)

    assert status == 200 and len(answer["predictions"]) == 1200
    assert sorted(len(lines(cloud, key)) for key in staged(cloud)) == [200, 500, 500]
    assert deliver_captures(cloud) == 1200


def test_only_the_configured_share_of_requests_is_captured(champion, cfg, cloud, handler, monkeypatch,
                                                          lambda_context):
    with_sample_rate(cfg, cloud, monkeypatch, 0.3)
    inference = handler("inference")
    random.seed(4)

    for n in range(100):
        event = api_event("inference_invocations_records", request_id=f"request-{n}")
        assert api_call(inference, event, lambda_context)[0] == 200

    assert 15 <= len(staged(cloud)) <= 45
    assert all(len(lines(cloud, key)) == 3 for key in staged(cloud))  # a request is captured whole or not


def test_nothing_is_captured_at_sample_rate_zero(champion, cfg, cloud, handler, monkeypatch, lambda_context):
    with_sample_rate(cfg, cloud, monkeypatch, 0.0)
    inference = handler("inference")

    assert api_call(inference, load_event("inference_invocations_records"), lambda_context)[0] == 200
    assert staged(cloud) == []


def test_a_failed_capture_does_not_fail_the_prediction_and_is_counted(champion, cloud, inference, capsys,
                                                                     lambda_context):
    client("firehose").delete_delivery_stream(DeliveryStreamName=cloud.capture_stream)

    status, body = api_call(inference, load_event("inference_invocations_records"), lambda_context)

    assert status == 200 and len(body["predictions"]) == 3
    emitted = [json.loads(line) for line in capsys.readouterr().out.splitlines() if '"_aws"' in line]
    assert [metric["CaptureFailures"] for metric in emitted if "CaptureFailures" in metric] == [[3.0]]


def test_captures_join_fed_back_labels_by_prediction_id(champion, cfg, cloud, inference, lambda_context):
    at = DAY + timedelta(hours=9)
    predicted = api_call(inference, api_event("inference_invocations_records", at=at), lambda_context)[1]
    deliver_captures(cloud)
    # Labels for two of the three predictions arrive a week later.
    labelled = {predicted["prediction_ids"][0]: 1, predicted["prediction_ids"][2]: 0}
    feedback = api_event("inference_feedback", at=at + timedelta(days=7), body={"items": [
        {"prediction_id": pid, "label": label} for pid, label in labelled.items()]})
    assert api_call(inference, feedback, lambda_context) == (200, {"accepted": 2})

    joined = traffic.labelled_window(cloud.data_bucket, now=at + timedelta(days=8), window=timedelta(days=2),
                                     label_delay=timedelta(days=7), task=cfg.dataset.task)

    assert joined.settled == 3 and joined.labelled == 2 and joined.unmatched_feedback == 0
    assert dict(zip(joined.rows[labels.PREDICTION_ID], joined.rows[labels.LABEL])) == labelled
    assert set(joined.rows["model_version"]) == {"1"}
