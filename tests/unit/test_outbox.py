"""The events outbox, offline: where an entry is left, what the object holds, what the relay
accepts back; and the wiring that sends the train function's events there."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest

from mlrails import outbox
from mlrails.events import ModelPromoted, to_entry
from mlrails.settings import Settings
from mlrails.wiring import FUNCTIONS, ROUTES, TRAINING, ResourceNames, function, function_environment

AT = datetime(2026, 3, 2, 10, 4, 30, 512345, tzinfo=UTC)
PROMOTED = ModelPromoted("churn", "dev", "2", "1", "s3://artifacts/manifests/churn/current.json", {"auc": 0.8}, "ok")
NAMES = ResourceNames("data", "artifacts", "bus", "table", "capture")


def _body(**changes) -> bytes:
    """An outbox object as the train function writes it, with fields changed (None: removed)."""
    document = json.loads(outbox.document(to_entry(PROMOTED, "bus", time=AT), AT))
    for name, value in changes.items():
        if value is None:
            document.pop(name)
        else:
            document[name] = value
    return json.dumps(document).encode()


def test_keys_sort_by_time_under_the_outbox_and_never_collide():
    first = outbox.key(AT, "a" * 32)
    assert first == f"outbox/20260302T100430.512345Z-{'a' * 32}.json"
    # The same microsecond, another token: another key.
    assert outbox.key(AT, "b" * 32) != first
    # A later event sorts after, whatever its token; a time in another zone is keyed in UTC.
    assert outbox.key(AT + timedelta(microseconds=1), "0" * 32) > first
    assert outbox.key(AT.astimezone(timezone(timedelta(hours=2))), "a" * 32) == first


def test_the_object_holds_the_put_events_entry_with_its_time():
    entry = to_entry(PROMOTED, "bus", time=AT)
    document = json.loads(outbox.document(entry, AT))
    assert sorted(document) == sorted(outbox.FIELDS)
    assert document["Time"] == "2026-03-02T10:04:30.512345+00:00"
    assert (document["Source"], document["DetailType"], document["EventBusName"]) == ("mlrails", "ModelPromoted", "bus")
    assert json.loads(document["Detail"]) == PROMOTED.to_detail()


def test_the_relay_reads_back_the_entry_it_puts():
    entry = to_entry(PROMOTED, "bus", time=AT)
    assert outbox.entry(outbox.document(entry, AT), "bus") == entry


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (b"{not json", "not JSON"),
        (b"\xff\xfe", "not JSON"),
        (b"[1, 2]", "not a JSON object but list"),
        (_body(Time=None), r"fields missing \['Time'\]"),
        (_body(Extra="x"), r"unknown \['Extra'\]"),
        (_body(Source="aws.s3"), "source 'aws.s3' is not 'mlrails'"),
        (_body(EventBusName="someone-elses"), "names the bus 'someone-elses'"),
        (_body(Detail="{"), "Detail is not JSON"),
        (_body(Detail={"model": "churn"}), "Detail is not a JSON object in a string"),
        (_body(DetailType="ModelDeleted"), "unknown detail type 'ModelDeleted'"),
        (_body(Detail=json.dumps({**PROMOTED.to_detail(), "schema_version": "0"})), "schema_version '0'"),
        (_body(Detail=json.dumps({"schema_version": "1", "model": "churn"})), "ModelPromoted detail is missing"),
        (_body(Time="yesterday"), "Time 'yesterday' is not an ISO time"),
        (_body(Time="2026-03-02T10:04:30"), "has no time zone"),
    ],
)
def test_a_malformed_object_is_refused_with_its_reason(body: bytes, reason: str):
    with pytest.raises(outbox.MalformedOutboxObject, match=reason):
        outbox.entry(body, "bus")


def test_the_outbox_is_a_setting_of_its_own_and_optional():
    env = {
        "MLRAILS_ENVIRONMENT": "dev",
        "MLRAILS_CONFIG_URI": "s3://artifacts/config/abc.json",
        "MLRAILS_DATA_BUCKET": "data",
        "MLRAILS_ARTIFACTS_BUCKET": "artifacts",
        "MLRAILS_BUS_NAME": "bus",
        "MLRAILS_STATE_TABLE": "state",
    }
    assert Settings.from_env(env).events_outbox is None
    assert Settings.from_env({**env, "MLRAILS_EVENTS_OUTBOX": "artifacts"}).events_outbox == "artifacts"


def test_only_the_train_function_is_given_the_outbox_locally_as_deployed(cfg, tmp_path: Path):
    from mlrails.local.cloud import LocalCloud

    cloud = LocalCloud(cfg, tmp_path)
    given = {spec.name: cloud.environment_for(spec).get("MLRAILS_EVENTS_OUTBOX") for spec in FUNCTIONS}
    assert given == {spec.name: None for spec in FUNCTIONS} | {TRAINING.function: cloud.names.artifacts_bucket}
    # The wiring sets it only when asked to.
    assert "MLRAILS_EVENTS_OUTBOX" not in function_environment(cfg, "dev", NAMES, function("train"))


def test_outbox_objects_route_to_the_relay_from_the_artifacts_bucket_only():
    (route,) = [r for r in ROUTES if r.target == "event_relay"]
    assert route.bus == "default"
    assert route.pattern(NAMES) == {
        "source": ["aws.s3"],
        "detail-type": ["Object Created"],
        "detail": {"bucket": {"name": ["artifacts"]}, "object": {"key": [{"prefix": "outbox/"}]}},
    }
    relay = function("event_relay")
    assert (relay.packaging, relay.layers, relay.asynchronous) == ("zip", ("shared",), True)
    assert relay.memory_mb <= 256
