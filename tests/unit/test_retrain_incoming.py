"""What the retrain trigger asks the policy, from the events it receives (mlrails.retraining.trigger)."""

import pytest

from mlrails.errors import BadRequest
from mlrails.retraining.trigger import Incoming, failed_run, incoming
from support.samples import load_event


def test_a_schedule_slot_is_one_trigger_however_often_it_is_retried():
    event = load_event("retrain_trigger_schedule")
    assert incoming(event) == Incoming("schedule", f"{event['schedule']}-{event['scheduled_time']}")


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
