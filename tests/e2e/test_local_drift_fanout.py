"""The local runtime runs the drift fan-out as the state machine does on AWS: a scheduled check
whose window exceeds ``monitoring.single_pass_max_mb`` is counted in shards by the drift_check
function's count phase, then judged; the report is the single pass's, byte for byte."""

import json
from datetime import UTC, datetime, timedelta

import pytest

from mlrails.adapters import s3
from mlrails.adapters.clients import client
from mlrails.adapters.state import StateTable
from mlrails.local.environment import status
from mlrails.local.router import Invocation
from mlrails.local.runtime import LocalRuntime
from mlrails.local.synthetic import churn_frame
from mlrails.local.timeline import describe

pytestmark = pytest.mark.e2e

START = datetime(2026, 3, 2, tzinfo=UTC)
WINDOW_END = datetime(2026, 3, 3, tzinfo=UTC)  # the daily DriftCheck's first firing


def _with_budget(cfg, mb: float):
    return cfg.model_copy(update={"monitoring": cfg.monitoring.model_copy(update={"single_pass_max_mb": mb})})


def _tap(runtime: LocalRuntime) -> str:
    sqs, events = client("sqs"), client("events")
    queue = sqs.create_queue(QueueName="tap")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    bus = runtime.cloud.names.bus_name
    events.put_rule(Name="tap", EventBusName=bus, EventPattern=json.dumps({"detail-type": ["DriftDetected"]}))
    events.put_targets(Rule="tap", EventBusName=bus, Targets=[{"Id": "tap", "Arn": arn}])
    return queue


def _drain(queue: str) -> list[dict]:
    sqs, seen = client("sqs"), []
    while messages := sqs.receive_message(QueueUrl=queue, MaxNumberOfMessages=10).get("Messages", []):
        for message in messages:
            seen.append(json.loads(message["Body"]))
            sqs.delete_message(QueueUrl=queue, ReceiptHandle=message["ReceiptHandle"])
    return seen


def test_a_window_over_the_budget_fans_out_locally_and_reports_as_one_pass(cfg, tmp_path, restore_environ):
    # Retraining on a schedule only: a DriftDetected is counted here, not acted on.
    cfg = cfg.model_copy(update={"retraining": cfg.retraining.model_copy(update={"triggers": ("new_data",)})})
    seen: list[Invocation] = []
    with LocalRuntime(cfg, tmp_path, start=START, on_invocation=seen.append) as runtime:
        runtime.upload_raw("batch.csv", churn_frame(300, runtime.now, seed=1).to_csv(index=False).encode())
        queue = _tap(runtime)
        for hour, seed in ((3, 30), (9, 31), (15, 32)):  # three hour partitions: three capture objects
            runtime.advance(START + timedelta(hours=hour) - runtime.now)
            rows = churn_frame(150, runtime.now, seed=seed, drift=0.9, with_target=False)
            body = {"dataframe_records": json.loads(rows[cfg.dataset.feature_names].to_json(orient="records"))}
            assert runtime.request("POST", "/invocations", json.dumps(body).encode())[0] == 200
        runtime.redeploy(_with_budget(cfg, 0.001))  # a kilobyte: one capture object a shard
        seen.clear()

        runtime.advance(WINDOW_END - runtime.now)
        artifacts = runtime.cloud.names.artifacts_bucket
        checks = [i for i in seen if i.function == "drift_check"]
        fanned, *counts, judged = checks
        report_uri = judged.result["report_uri"]
        fanned_out = s3.get_bytes(report_uri)
        # The same slot again (Scheduler's retry): answered from its record, no second run.
        retried = runtime.router.fire_schedules(["DriftCheck"], WINDOW_END)
        drift_detected = _drain(queue)
        state = StateTable(runtime.cloud.names.state_table).get(f"drift#{cfg.model.name}")

        # The same window in one pass (another slot id for the same time), for comparison.
        runtime.redeploy(cfg)
        one_pass = runtime.router.invoker.invoke(
            "drift_check", {"schedule": "DriftCheck", "scheduled_time": "2026-03-03T00:00:00.000Z"}
        )
        single = s3.get_bytes(report_uri)
        partials = list(s3.list_keys(artifacts, fanned.result["prefix"] + "partials/"))
        timeline = [describe(i) for i in checks]  # the runtime's timeline reads the report
        runtime.save()
    # `mlrails status` names the report, not a file of the fanned-out window beside it.
    assert status(cfg, tmp_path)["last_drift_report"] == json.loads(single)

    assert timeline[0].startswith(f"window over monitoring.single_pass_max_mb: fanned out in {len(counts)} shards")
    assert timeline[-1].startswith("DRIFT ⇒ DriftDetected")

    assert fanned.result["status"] == "fanned_out" and fanned.result["shards"] >= 3
    assert [i.event["phase"] for i in counts] == ["count"] * fanned.result["shards"]
    assert all(i.error is None for i in checks) and len(partials) == fanned.result["shards"]
    assert judged.event == {"phase": "judge", "prefix": fanned.result["prefix"]}
    assert judged.result["status"] == "drift" and judged.result["drift_detected"] is True
    assert [i.result for i in retried] == [fanned.result]
    assert len(drift_detected) == 1 and state["consecutive"] == 1
    assert one_pass["status"] == "drift" and one_pass["report_uri"] == report_uri
    assert json.loads(single) == json.loads(fanned_out) and single == fanned_out
