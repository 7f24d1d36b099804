"""The local runtime's own contract: the training run's failure path, as the state machine's
catch does on AWS (a failing step publishes TrainingFailed and the run stops there)."""

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from mlrails.adapters.tracking_server import TrackingServer
from mlrails.local.router import Invocation
from mlrails.local.runtime import LocalRuntime
from mlrails.local.synthetic import churn_frame

REPO = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.e2e


def test_a_failing_training_step_ends_the_run_with_training_failed(cfg, tmp_path, restore_environ):
    broken = cfg.model_copy(update={"model": cfg.model.model_copy(update={"entrypoint": "no_such_package:model"})})
    seen: list[Invocation] = []
    with LocalRuntime(broken, tmp_path, start=datetime(2026, 3, 2, tzinfo=UTC), on_invocation=seen.append) as runtime:
        from mlrails.adapters.clients import client

        sqs, events = client("sqs"), client("events")
        queue = sqs.create_queue(QueueName="tap")["QueueUrl"]
        arn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        events.put_rule(
            Name="tap",
            EventBusName=runtime.cloud.names.bus_name,
            EventPattern=json.dumps({"detail-type": ["TrainingFailed"]}),
        )
        events.put_targets(Rule="tap", EventBusName=runtime.cloud.names.bus_name, Targets=[{"Id": "tap", "Arn": arn}])

        runtime.upload_raw("batch.csv", churn_frame(300, runtime.now, seed=1).to_csv(index=False).encode())

        failed = [
            json.loads(m["Body"])
            for m in sqs.receive_message(QueueUrl=queue, MaxNumberOfMessages=10).get("Messages", [])
        ]
        # MLflow, held for the run, was released though it failed.
        assert TrackingServer(runtime.cloud.tracking_server_arn).state().desired == 0
    steps = [(i.function, i.event.get("step") or i.event.get("action"), i.error is not None) for i in seen]
    assert steps == [
        ("feature_prep", None, False),
        ("retrain_trigger", None, False),
        ("tracking_switch", "hold", False),
        ("train", "train", True),
        ("tracking_switch", "release", False),
        ("retrain_trigger", None, False),
    ]  # TrainingFailed: the run gives back its lease
    assert "no_such_package:model" in seen[3].error
    assert len(failed) == 1
    detail = failed[0]["detail"]
    assert detail["model"] == cfg.model.name and detail["error"] == "TrainingError"
    assert detail["trigger_id"] == seen[1].event["id"] and "cannot be imported" in detail["cause"]
    assert seen[-1].result["reason"].startswith("gave back the cooldown lease, its max_retrains slot and 300 new rows")


def test_schedules_due_together_all_run_before_what_they_cause(cfg, tmp_path, restore_environ):
    # On AWS a scheduled retraining and a scheduled check at the same instant run side by
    # side: the check judges the champion of that instant, not one the run promotes later.
    seen: list[Invocation] = []
    with LocalRuntime(cfg, tmp_path, start=datetime(2026, 3, 2, tzinfo=UTC), on_invocation=seen.append) as runtime:
        runtime.upload_raw("batch.csv", churn_frame(300, runtime.now, seed=1).to_csv(index=False).encode())
        seen.clear()

        fired = runtime.router.fire_schedules(["RetrainCadence", "PerformanceCheck"], datetime(2026, 3, 3, tzinfo=UTC))

    assert [i.function for i in fired] == ["retrain_trigger", "performance_check"]
    assert fired[0].result["retrain"] is True and fired[1].result["status"] == "insufficient_labels"
    assert [(i.function, i.event.get("step") or i.event.get("action")) for i in seen] == [
        ("retrain_trigger", None),
        ("performance_check", None),
        ("tracking_switch", "hold"),
        ("train", "train"),
        ("train", "evaluate"),
        ("train", "finish"),
        ("tracking_switch", "release"),
        # The run's events, left in the outbox by its steps, put on the bus after it.
        ("event_relay", None),
        ("event_relay", None),
    ]
    # The run held MLflow (its task running before the first step), and released it after the last.
    hold, release = seen[2], seen[-3]
    [holder] = hold.result["holders"]
    assert hold.result["ready"] and holder.startswith("training:") and release.event["holder"] == holder
    assert release.result == {**release.result, "desired": 0, "holders": {}, "scaled": True}
    finished = "ModelPromoted" if seen[-4].result["promoted"] else "ModelRejected"
    relayed = [(i.result["status"], i.result["detail_type"]) for i in seen[-2:]]
    assert sorted(relayed) == sorted([("relayed", "ModelRegistered"), ("relayed", finished)])


def test_feedback_goes_through_its_own_api_and_key_locally_as_deployed(cfg, tmp_path, restore_environ):
    import threading
    import urllib.error
    import urllib.request

    from mlrails.adapters import s3
    from mlrails.local.cloud import FEEDBACK_API, SCORING_API
    from mlrails.local.server import make_server

    rows = churn_frame(3, datetime(2026, 3, 2, tzinfo=UTC), seed=2, with_target=False)
    body = json.dumps({"dataframe_records": json.loads(rows[cfg.dataset.feature_names].to_json(orient="records"))})
    with LocalRuntime(cfg, tmp_path, start=datetime(2026, 3, 2, tzinfo=UTC)) as runtime:
        runtime.upload_raw("batch.csv", churn_frame(300, runtime.now, seed=1).to_csv(index=False).encode())
        status, answer = runtime.request("POST", "/invocations", body.encode())
        assert status == 200
        first, second, third = answer["prediction_ids"]

        label = json.dumps({"prediction_id": first, "label": 1}).encode()
        assert runtime.request("POST", "/feedback", label, api=SCORING_API)[0] == 403  # the scoring key
        assert runtime.request("POST", "/feedback", label) == (200, {"accepted": 1})
        feedback = [
            json.loads(line)
            for key in s3.list_keys(runtime.cloud.names.data_bucket, "feedback/")
            for line in s3.get_bytes(s3.uri(runtime.cloud.names.data_bucket, key)).splitlines()
        ]
        assert [item["labelled_by"] for item in feedback] == [f"api_key:{FEEDBACK_API.api_key_id}"]
        runtime.save()

    # A later command (`mlrails serve`) resumes with the same key: ids served before are still ours.
    with LocalRuntime(cfg, tmp_path, start=datetime(2026, 3, 2, tzinfo=UTC), fresh=False) as runtime:
        assert runtime.resume()
        server = make_server(runtime, 0)
        threading.Thread(target=server.serve_forever, daemon=True).start()

        def post(items: list[dict]) -> tuple[int, dict]:
            request = urllib.request.Request(
                f"http://127.0.0.1:{server.server_port}/feedback",
                method="POST",
                data=json.dumps({"items": items}).encode(),
                headers={"Content-Type": "application/json"},
            )
            try:
                with urllib.request.urlopen(request) as response:
                    return response.status, json.loads(response.read())
            except urllib.error.HTTPError as error:
                return error.code, json.loads(error.read())

        try:
            assert post([{"prediction_id": second, "label": 0}]) == (200, {"accepted": 1})
            status, refused = post([{"prediction_id": third, "label": "maybe"}])
        finally:
            server.shutdown()
            server.server_close()
    assert status == 422 and [r["reason"] for r in refused["details"]["refused"]] == ["LABEL_OUT_OF_DOMAIN"]


def test_a_rate_schedule_keeps_its_times_however_often_the_runtime_resumes(cfg, tmp_path, restore_environ):
    # retraining.schedule is rate(7 days): from a deployment at 03-02 it fires on 03-09, even
    # when every command resumes the runtime after two days, less than the schedule's period.
    assert cfg.retraining.schedule == "rate(7 days)"
    start = datetime(2026, 3, 2, tzinfo=UTC)
    with LocalRuntime(cfg, tmp_path, start=start) as runtime:
        runtime.advance(timedelta(days=3))
        runtime.save()
    fired = []
    for _ in range(3):
        with LocalRuntime.resumed(cfg, tmp_path, start=datetime.now(UTC)) as runtime:
            fired += [
                i.event["scheduled_time"] for i in runtime.advance(timedelta(days=2)) if i.trigger == "RetrainCadence"
            ]
    assert fired == ["2026-03-09T00:00:00Z"]


def test_rows_uploaded_during_the_cooldown_train_once_it_ends_without_another_upload(cfg, tmp_path, restore_environ):
    # mlrails.yaml: a 12 h cooldown, min_new_rows 2,000. The first model trains at midnight;
    # a big upload an hour later waits out the cooldown, then the hourly check starts its run.
    assert cfg.retraining.cooldown_hours == 12 and cfg.retraining.min_new_rows == 2000
    seen: list[Invocation] = []
    with LocalRuntime(cfg, tmp_path, start=datetime(2026, 3, 2, tzinfo=UTC), on_invocation=seen.append) as runtime:
        first = runtime.upload_raw("first.csv", churn_frame(300, runtime.now, seed=1).to_csv(index=False).encode())
        assert [i.event.get("step") for i in first if i.function == "train"] == ["train", "evaluate", "finish"]
        runtime.advance(timedelta(hours=1))
        big = runtime.upload_raw("big.csv", churn_frame(2500, runtime.now, seed=2).to_csv(index=False).encode())
        (deferred,) = [i.result for i in big if i.function == "retrain_trigger"]
        assert deferred["retrain"] is False and deferred["reason"].startswith("deferred to 2026-03-02T12:00:00+00:00")
        assert not [i for i in big if i.function == "train"]
        seen.clear()

        runtime.advance(timedelta(hours=13))

    checks = [i for i in seen if i.trigger == "DeferredRetrain"]
    assert [i.event["scheduled_time"] for i in checks] == [f"2026-03-02T{h:02d}:00:00Z" for h in range(2, 15)]
    acted = [(i.event["scheduled_time"], i.result) for i in checks if i.result["trigger"] != "deferred"]
    assert acted == [
        (
            "2026-03-02T12:00:00Z",
            {
                "trigger": "new_data",
                "retrain": True,
                "reason": "2500 new rows since the last training, deferred to 2026-03-02T12:00:00+00:00",
            },
        )
    ]
    assert not any(i.error for i in seen)
    # The run it started, fit on both uploads.
    (trained,) = [i.result for i in seen if i.function == "train" and i.event.get("step") == "train"]
    assert trained["version"] == "2" and trained["rows"] == 2800
