"""What the retrain trigger asks the policy, from the events it receives (mlrails.retraining.trigger)."""

import pytest

from mlrails.errors import BadRequest
from mlrails.retraining.trigger import Incoming, failed_run, incoming
from mlrails.wiring import EXECUTION_ID, SCHEDULED_TIME, SCHEDULES
from support.samples import load_event


def test_a_schedule_slot_is_one_trigger_however_often_it_is_retried():
    event = load_event("retrain_trigger_schedule")
    assert incoming(event) == Incoming("schedule", f"{event['schedule']}-{event['scheduled_time']}")


def test_every_schedule_of_the_retrain_trigger_is_understood_as_scheduler_sends_it():
    slot = "2026-03-02T22:00:00Z"
    sent = {
        spec.name: {k: {SCHEDULED_TIME: slot, EXECUTION_ID: "e1"}.get(v, v) for k, v in spec.payload.items()}
        for spec in SCHEDULES
        if spec.target == "retrain_trigger"
    }
    assert {name: incoming(event) for name, event in sent.items()} == {
        "RetrainCadence": Incoming("schedule", f"RetrainCadence-{slot}"),
        "DeferredRetrain": Incoming("deferred", f"DeferredRetrain-{slot}"),
    }
    check = load_event("retrain_trigger_deferred_check")
    assert incoming(check) == Incoming("deferred", f"DeferredRetrain-{check['scheduled_time']}")


@pytest.mark.parametrize(
    ("event", "message"),
    [
        ({"schedule": "DriftCheck", "scheduled_time": "2026-03-02T22:00:00Z"}, "'DriftCheck' does not invoke"),
        ({"schedule": ["DeferredRetrain"], "scheduled_time": "2026-03-02T22:00:00Z"}, "does not invoke"),
        ({"schedule": "DeferredRetrain"}, "'DeferredRetrain': scheduled_time None is not an ISO 8601 time"),
        ({"schedule": "DeferredRetrain", "scheduled_time": 7}, "scheduled_time 7 is not"),
        ({"schedule": "RetrainCadence", "scheduled_time": "<aws.scheduler.scheduled-time>"}, "is not an ISO 8601"),
    ],
)
def test_a_malformed_schedule_invocation_is_a_typed_error(event, message):
    with pytest.raises(BadRequest, match=message):
        incoming(event)


def test_new_data_brings_its_rows_and_other_triggers_none():
    features = load_event("retrain_trigger_features_ready")
    assert incoming(features) == Incoming("new_data", features["id"], features["detail"]["rows"])
    drift = load_event("retrain_trigger_drift_detected")
    assert incoming(drift) == Incoming("drift", drift["id"], 0)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"detail-type": "ModelPromoted"}, "detail is missing"),
        ({"detail-type": "SomethingElse"}, "unknown detail type"),
        ({"detail": {"schema_version": "9"}}, "schema_version '9' is not supported"),
    ],
)
def test_an_event_that_is_no_trigger_is_a_typed_error(change, message):
    with pytest.raises(BadRequest, match=message):
        incoming(load_event("retrain_trigger_drift_detected") | change)


def test_a_failed_run_is_recognised():
    failed = failed_run(load_event("retrain_trigger_training_failed"))
    assert failed is not None and failed.error == "MlflowException"
    assert failed_run(load_event("retrain_trigger_drift_detected")) is None
