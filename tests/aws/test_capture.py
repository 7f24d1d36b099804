"""Capture through the inference function: sampled requests wait in the container's buffer and
go to the Firehose stream in one PutRecordBatch when it is due (moto writes one S3 object per
call), land partitioned by their own hour where the drift check reads, and join with fed-back
labels by prediction id."""

from __future__ import annotations

import json
import os
import random
from datetime import timedelta

import pytest

from mlrails.adapters import s3, traffic
from mlrails.adapters.clients import client
from mlrails.feedback import labels
from mlrails.local.cloud import LocalCloud, deploy_config
from mlrails.local.delivery import STAGED, deliver_captures
from mlrails.local.invoker import Invoker
from mlrails.local.router import Router
from mlrails.local.runtime import api_event as gateway_event
from mlrails.local.synthetic import churn_frame
from mlrails.wiring import FUNCTIONS
from support.aws import DAY, api_call, api_event, keys, records, redeploy
from support.samples import load_event

from .test_inference import ROWS


def staged(cloud) -> list[str]:
    """What moto's Firehose wrote: one object per PutRecordBatch call."""
    return keys(cloud.data_bucket, STAGED)


def lines(cloud, key: str) -> list[dict]:
    return [json.loads(line) for line in s3.get_bytes(s3.uri(cloud.data_bucket, key)).splitlines()]


def with_capture(cfg, cloud, monkeypatch, handler, **fields):
    """Redeploy with other ``capture`` settings; the inference function, loaded cold."""
    redeploy(cloud, cfg.model_copy(update={"capture": cfg.capture.model_copy(update=fields)}), monkeypatch)
    return handler("inference")


def metric_values(out: str, name: str) -> list:
    """Every EMF record's value of ``name`` in the captured output."""
    emitted = [json.loads(line) for line in out.splitlines() if '"_aws"' in line]
    return [metric[name] for metric in emitted if name in metric]


def test_buffered_requests_go_in_one_record_batch_when_the_buffer_is_full(
    champion, cfg, cloud, handler, monkeypatch, lambda_context
):
    inference = with_capture(cfg, cloud, monkeypatch, handler, buffer_records=9, buffer_seconds=3600)
    answers = []
    for n in range(3):  # 3 rows a request: the third fills the buffer
        assert staged(cloud) == []
        answers.append(
            api_call(inference, api_event("inference_invocations_records", request_id=f"r{n}"), lambda_context)[1]
        )

    [call] = staged(cloud)
    assert [line["prediction_id"] for line in lines(cloud, call)] == [
        pid for answer in answers for pid in answer["prediction_ids"]
    ]


def test_buffer_seconds_zero_sends_every_request_in_one_record_batch(
    champion, cfg, cloud, handler, monkeypatch, lambda_context
):
    inference = with_capture(cfg, cloud, monkeypatch, handler, buffer_seconds=0)
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


def test_delivery_partitions_by_the_prediction_hour_where_the_drift_check_reads(
    champion, cloud, inference, lambda_context
):
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


def test_a_record_over_firehoses_record_limit_is_counted_and_the_others_still_go(
    champion, cfg, cloud, handler, monkeypatch, capsys, lambda_context
):
    inference = with_capture(cfg, cloud, monkeypatch, handler, buffer_seconds=0)
    # The API refuses a value over 1,000 characters (mlrails.serving.protocol.MAX_CELL_CHARS), so no
    # request of this model's five columns makes such a record any more; a wider model's could.
    # Lifted here to reach the capture path, which is what this test holds.
    monkeypatch.setattr("mlrails.serving.protocol.MAX_CELL_CHARS", 2 * 1000 * 1024)
    rows = [ROWS[0] | {"region": "x" * (1000 * 1024)}, *ROWS[1:]]  # an unknown region still scores

    status, answer = api_call(
        inference, api_event("inference_invocations_records", body={"dataframe_records": rows}), lambda_context
    )

    assert status == 200
    assert metric_values(capsys.readouterr().out, "CaptureFailures") == [[1.0]]
    [call] = staged(cloud)
    assert [line["prediction_id"] for line in lines(cloud, call)] == answer["prediction_ids"][1:]


def test_only_the_configured_share_of_requests_is_captured(champion, cfg, cloud, handler, monkeypatch, lambda_context):
    inference = with_capture(cfg, cloud, monkeypatch, handler, sample_rate=0.3, buffer_seconds=0)
    random.seed(4)

    for n in range(100):
        event = api_event("inference_invocations_records", request_id=f"request-{n}")
        assert api_call(inference, event, lambda_context)[0] == 200

    assert 15 <= len(staged(cloud)) <= 45
    assert all(len(lines(cloud, key)) == 3 for key in staged(cloud))  # a request is captured whole or not


def test_nothing_is_captured_at_sample_rate_zero(champion, cfg, cloud, handler, monkeypatch, lambda_context):
    inference = with_capture(cfg, cloud, monkeypatch, handler, sample_rate=0.0)

    assert api_call(inference, load_event("inference_invocations_records"), lambda_context)[0] == 200
    assert deliver_captures(cloud) == 0  # nothing buffered either


def test_a_failed_capture_does_not_fail_the_prediction_and_is_counted(
    champion, cfg, cloud, handler, monkeypatch, capsys, lambda_context
):
    inference = with_capture(cfg, cloud, monkeypatch, handler, buffer_seconds=0)
    client("firehose").delete_delivery_stream(DeliveryStreamName=cloud.capture_stream)

    status, body = api_call(inference, load_event("inference_invocations_records"), lambda_context)

    assert status == 200 and len(body["predictions"]) == 3
    assert metric_values(capsys.readouterr().out, "CaptureFailures") == [[3.0]]


def test_a_failed_buffer_send_counts_every_buffered_record_on_the_request_that_sent_it(
    champion, cfg, cloud, handler, monkeypatch, capsys, lambda_context
):
    inference = with_capture(cfg, cloud, monkeypatch, handler, buffer_records=6, buffer_seconds=3600)
    client("firehose").delete_delivery_stream(DeliveryStreamName=cloud.capture_stream)

    for n in range(2):
        status, _ = api_call(inference, api_event("inference_invocations_records", request_id=f"r{n}"), lambda_context)
        assert status == 200
        assert metric_values(capsys.readouterr().out, "CaptureFailures") == ([] if n == 0 else [[6.0]])


def test_requested_probabilities_are_captured_with_each_row(champion, cloud, inference, lambda_context):
    body = {"dataframe_records": ROWS, "params": {"probabilities": True}}
    status, answer = api_call(inference, api_event("inference_invocations_records", body=body), lambda_context)
    assert status == 200 and deliver_captures(cloud) == 3

    [key] = keys(cloud.data_bucket, "capture/date=2026-03-02/")
    captured = lines(cloud, key)
    assert [line["probabilities"] for line in captured] == answer["probabilities"]
    assert all(set(p) == {"0", "1"} and abs(sum(p.values()) - 1) < 1e-9 for p in answer["probabilities"])
    # The performance check's reader hands them over as {class: p} for roc_auc.
    window = traffic.capture_chunks(cloud.data_bucket, DAY, DAY + timedelta(days=1))
    assert [row for chunk in window for row in chunk["probabilities"]] == answer["probabilities"]


def test_the_local_runtime_sends_buffered_captures_before_a_scheduled_drift_check(
    champion, cfg, cloud, tmp_path, monkeypatch
):
    # The local runtime's own parts on this moto; its inference "container" would hold the
    # captures for an hour, and firing the DriftCheck schedule must still see every one.
    holding = cfg.model_copy(update={"capture": cfg.capture.model_copy(update={"buffer_seconds": 3600})})
    deploy_config(holding, cloud)
    local = LocalCloud(holding, tmp_path)
    for spec in FUNCTIONS:  # the invoker sets each function's environment: put it back afterwards
        for name in local.environment_for(spec):
            monkeypatch.setenv(name, os.environ.get(name, ""))
    machines = client("stepfunctions").list_state_machines()["stateMachines"]
    local.state_machine_arn = machines[0]["stateMachineArn"]
    local.drift_state_machine_arn = next(m["stateMachineArn"] for m in machines if m["name"].endswith("-drift-fanout"))
    with (tmp_path / "functions.log").open("a") as log:
        router = Router(local, Invoker(local, log), lambda: DAY + timedelta(days=1))
        frame = churn_frame(240, DAY, seed=3)
        for n, start in enumerate(range(0, 240, 40)):
            body = json.dumps({"dataframe_records": records(frame.iloc[start : start + 40], cfg)}).encode()
            response = router.invoker.invoke(
                "inference",
                gateway_event("POST", "/invocations", DAY + timedelta(hours=9, minutes=n), body, "application/json"),
            )
            assert response["statusCode"] == 200
        assert staged(cloud) == []  # all still in the container's buffer

        (check,) = router.fire_schedules(["DriftCheck"], DAY + timedelta(days=1))

    assert check.error is None and check.result["status"] != "insufficient_data"
    assert s3.get_json(check.result["report_uri"])["rows"] == 240


def test_captures_join_fed_back_labels_by_prediction_id(champion, cfg, cloud, inference, lambda_context):
    at = DAY + timedelta(hours=9)
    predicted = api_call(inference, api_event("inference_invocations_records", at=at), lambda_context)[1]
    deliver_captures(cloud)
    # Labels for two of the three predictions arrive a week later.
    labelled = {predicted["prediction_ids"][0]: 1, predicted["prediction_ids"][2]: 0}
    feedback = api_event(
        "inference_feedback",
        at=at + timedelta(days=7),
        body={"items": [{"prediction_id": pid, "label": label} for pid, label in labelled.items()]},
    )
    assert api_call(inference, feedback, lambda_context) == (200, {"accepted": 2})

    joined = traffic.labelled_window(
        cloud.data_bucket,
        now=at + timedelta(days=8),
        window=timedelta(days=2),
        label_delay=timedelta(days=7),
        task=cfg.dataset.task,
    )

    assert joined.settled == 3 and joined.labelled == 2 and joined.unmatched_feedback == 0
    assert dict(zip(joined.rows[labels.PREDICTION_ID], joined.rows[labels.LABEL])) == labelled
    assert set(joined.rows["model_version"]) == {"1"}


def test_captures_carry_probabilities_when_monitoring_judges_a_metric_of_them(
    champion, cfg, cloud, handler, monkeypatch, lambda_context
):
    # The example's value.metric is roc_auc: the KPI needs every capture's probabilities, so
    # they are captured though the request does not ask for them (nor gets them).
    assert cfg.monitoring_needs_probabilities
    inference = with_capture(cfg, cloud, monkeypatch, handler, buffer_seconds=0)
    status, body = api_call(inference, load_event("inference_invocations_split"), lambda_context)
    assert status == 200 and "probabilities" not in body
    [call] = staged(cloud)
    for line in lines(cloud, call):
        assert set(line["probabilities"]) == {"0", "1"}
        assert sum(line["probabilities"].values()) == pytest.approx(1.0)

    # Judged by accuracy alone, nothing asks for them: a capture holds what the request did.
    value = cfg.value.model_copy(update={"metric": "accuracy", "minimum": 0.6})
    accuracy_only = cfg.model_copy(update={"value": value})
    assert not accuracy_only.monitoring_needs_probabilities
    redeploy(
        cloud,
        accuracy_only.model_copy(update={"capture": cfg.capture.model_copy(update={"buffer_seconds": 0})}),
        monkeypatch,
    )
    inference = handler("inference")
    api_call(inference, load_event("inference_invocations_split"), lambda_context)
    [newest] = [key for key in staged(cloud) if key != call]
    assert all("probabilities" not in line for line in lines(cloud, newest))
