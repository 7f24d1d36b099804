"""The train function's events through the outbox: written under outbox/ instead of put on
the bus, announced by S3 on the default bus (moto matches the wiring's rule), put on the bus by
event_relay once per object and deleted."""

from __future__ import annotations

import copy
import json
from datetime import UTC, datetime, timedelta

import pytest

from mlrails.adapters import bus as bus_adapter
from mlrails.adapters import deployed, s3
from mlrails.adapters.clients import client
from mlrails.events import ModelPromoted, to_entry
from mlrails.local.synthetic import churn_frame
from mlrails.outbox import document
from mlrails.wiring import ROUTES, Prefix, ResourceNames
from support.aws import DAY, keys, put_features, run_training
from support.samples import load_event

AT = datetime(2026, 3, 2, 10, 5, tzinfo=UTC)


class OutboxTap:
    """The wiring's OutboxObjectCreated rule on moto's default bus, into an SQS queue: the S3
    notifications the relay is invoked with, as EventBridge would deliver them."""

    def __init__(self, names: ResourceNames) -> None:
        (route,) = [r for r in ROUTES if r.target == "event_relay"]
        sqs, events = client("sqs"), client("events")
        self.url = sqs.create_queue(QueueName="outbox-tap")["QueueUrl"]
        arn = sqs.get_queue_attributes(QueueUrl=self.url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        events.put_rule(Name=route.name, State="ENABLED", EventPattern=json.dumps(route.pattern(names)))
        events.put_targets(Rule=route.name, Targets=[{"Id": "tap", "Arn": arn}])

    def drain(self) -> list[dict]:
        sqs, found = client("sqs"), []
        while messages := sqs.receive_message(QueueUrl=self.url, MaxNumberOfMessages=10).get("Messages", []):
            for message in messages:
                found.append(json.loads(message["Body"]))
                sqs.delete_message(QueueUrl=self.url, ReceiptHandle=message["ReceiptHandle"])
        return found


@pytest.fixture
def outbox_tap(cloud: ResourceNames) -> OutboxTap:
    return OutboxTap(cloud)


@pytest.fixture
def with_outbox(cloud: ResourceNames, monkeypatch: pytest.MonkeyPatch) -> str:
    """The train function's environment as deployed: its events go to the artifacts bucket's outbox."""
    monkeypatch.setenv("MLRAILS_EVENTS_OUTBOX", cloud.artifacts_bucket)
    deployed.reset()
    return cloud.artifacts_bucket


@pytest.fixture
def relay(handler):
    return handler("event_relay")


def _notification(names: ResourceNames, key: str) -> dict:
    """The sample S3 notification for an outbox object, naming ``key``."""
    event = copy.deepcopy(load_event("event_relay_outbox_object"))
    event["detail"]["bucket"]["name"] = names.artifacts_bucket
    event["detail"]["object"]["key"] = key
    return event


def _put(names: ResourceNames, key: str, body: bytes) -> None:
    s3.put_bytes(s3.uri(names.artifacts_bucket, key), body, "application/json")


def test_training_leaves_its_events_in_the_outbox_and_the_relay_puts_them_on_the_bus(
    cloud, cfg, bus, outbox_tap, with_outbox, train_handler, relay, lambda_context, mlflow_db
):
    put_features(cloud, cfg, churn_frame(600, DAY - timedelta(days=1), seed=7))

    state = run_training(train_handler, lambda_context)

    assert state["finish"]["promoted"] is True
    assert bus.drain() == []  # nothing straight to the bus: the train function has no route there
    left = keys(cloud.artifacts_bucket, Prefix.OUTBOX.value)
    assert len(left) == 2 and left == sorted(left)
    notifications = outbox_tap.drain()
    assert sorted(n["detail"]["object"]["key"] for n in notifications) == left

    results = [relay.lambda_handler(n, lambda_context) for n in notifications]

    assert {r["status"] for r in results} == {"relayed"}
    assert sorted(r["detail_type"] for r in results) == ["ModelPromoted", "ModelRegistered"]
    assert keys(cloud.artifacts_bucket, Prefix.OUTBOX.value) == []
    (registered,), (promoted,) = bus.of("ModelRegistered"), bus.of("ModelPromoted")
    assert registered["detail"]["version"] == promoted["detail"]["version"] == "1"
    assert promoted["source"] == "mlrails" and promoted["detail"]["environment"] == "test"
    assert promoted["time"] == "2026-03-02T10:05:00Z"  # when it happened, not when it was relayed


def test_a_replayed_notification_does_not_publish_twice(cloud, bus, outbox_tap, with_outbox, relay, lambda_context):
    promoted = ModelPromoted("churn-classifier", "test", "2", "1", "s3://a/manifests/current.json", {}, "ok")
    bus_adapter.publish(promoted, deployed.settings(), time=AT)
    (notification,) = outbox_tap.drain()

    first = relay.lambda_handler(notification, lambda_context)
    again = relay.lambda_handler(copy.deepcopy(notification), lambda_context)

    assert first == again and first["status"] == "relayed"
    assert len(bus.of("ModelPromoted")) == 1


def test_a_missing_object_was_relayed_already_and_is_no_error(cloud, bus, relay, lambda_context):
    gone = f"{Prefix.OUTBOX.value}20260302T100500.000000Z-{'0' * 32}.json"

    result = relay.lambda_handler(_notification(cloud, gone), lambda_context)

    assert result == {"status": "gone", "key": gone, "detail_type": None, "reason": None}
    assert bus.drain() == []


def test_a_malformed_object_is_kept_unpublished_with_its_reason(cloud, bus, relay, lambda_context, caplog):
    bad = f"{Prefix.OUTBOX.value}20260302T100500.000000Z-{'1' * 32}.json"
    other_bus = document(
        to_entry(ModelPromoted("m", "test", "2", None, "s3://a/b", {}, "ok"), "another-bus", time=AT), AT
    )
    _put(cloud, bad, other_bus)

    result = relay.lambda_handler(_notification(cloud, bad), lambda_context)
    retried = relay.lambda_handler(_notification(cloud, bad), lambda_context)

    assert result["status"] == "malformed" and "names the bus 'another-bus'" in result["reason"]
    assert retried == result  # judged once: no crash loop, no second log
    assert keys(cloud.artifacts_bucket, Prefix.OUTBOX.value) == [bad]  # kept for whoever fixes the writer
    assert bus.drain() == []
    (error,) = [record for record in caplog.records if record.levelname == "ERROR"]
    assert error.getMessage() == "outbox object not published"
    assert (error.key, error.reason) == (bad, result["reason"])


def test_a_relay_that_fails_before_the_delete_leaves_the_object_for_its_retry(
    cloud, bus, outbox_tap, with_outbox, relay, lambda_context, monkeypatch
):
    """At least once: the object goes only after its event is on the bus, and a failed run is
    not recorded, so the retried notification relays it."""
    bus_adapter.publish(
        ModelPromoted("churn-classifier", "test", "2", "1", "s3://a/b", {}, "ok"), deployed.settings(), time=AT
    )
    (notification,) = outbox_tap.drain()
    key = notification["detail"]["object"]["key"]

    def refused(entry):
        raise bus_adapter.PublishError("EventBridge is down")

    with monkeypatch.context() as patch:
        patch.setattr(bus_adapter, "put", refused)
        with pytest.raises(bus_adapter.PublishError):
            relay.lambda_handler(notification, lambda_context)
    assert keys(cloud.artifacts_bucket, Prefix.OUTBOX.value) == [key]

    assert relay.lambda_handler(notification, lambda_context)["status"] == "relayed"
    assert len(bus.of("ModelPromoted")) == 1
    assert keys(cloud.artifacts_bucket, Prefix.OUTBOX.value) == []


def test_without_an_outbox_events_go_straight_to_the_bus(cloud, bus, outbox_tap):
    bus_adapter.publish(
        ModelPromoted("churn-classifier", "test", "2", "1", "s3://a/b", {}, "ok"), deployed.settings(), time=AT
    )

    assert len(bus.of("ModelPromoted")) == 1
    assert keys(cloud.artifacts_bucket, Prefix.OUTBOX.value) == [] and outbox_tap.drain() == []
