"""The events outbox: how a function with no route to EventBridge still publishes.

The train function (and its Fargate task, configured alike) runs in isolated subnets: S3 and
DynamoDB through the free gateway endpoints, nothing else. An EventBridge interface endpoint
would be billed by the hour whether anything trains or not, so instead its events go through
S3: each ``PutEvents`` entry is one JSON object under ``outbox/`` of the artifacts bucket
(:func:`document`, at :func:`key`). S3 announces the object on the default bus; the
event_relay function, outside the VPC, reads it back (:func:`entry`), puts it on the project
bus and deletes it (:func:`mlrails.adapters.bus.relay`).

Delivery is at least once: a relay that fails after ``PutEvents`` and before the delete runs
again and publishes again. It is not twice per notification: the relay runs once per object
key (S3 and EventBridge may deliver a notification twice), and a key is never written twice.

Pure: bytes and dicts in and out; the adapters write, read and delete.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from mlrails.errors import BadRequest, MlrailsError
from mlrails.events import parse_detail
from mlrails.wiring import EVENT_SOURCE, Prefix

# What an outbox object holds: a PutEvents entry, its time as ISO text.
FIELDS = ("Source", "DetailType", "Detail", "EventBusName", "Time")


class MalformedOutboxObject(MlrailsError):
    """An outbox object that is not an entry the kit writes: the relay leaves it, says why,
    and does not publish it."""

    status = 400
    error_code = "MALFORMED_OUTBOX_OBJECT"


def key(at: datetime, token: str) -> str:
    """Where one entry is left: ``outbox/<UTC time, to the microsecond>-<token>.json``. The
    time sorts a listing in the order the events happened; ``token`` (fresh per entry, a
    uuid) keeps two entries of the same microsecond apart, so no key is written twice."""
    return f"{Prefix.OUTBOX.value}{at.astimezone(UTC):%Y%m%dT%H%M%S.%fZ}-{token}.json"


def document(entry: Mapping[str, Any], at: datetime) -> bytes:
    """The outbox object for a ``PutEvents`` entry: the entry with its time as ISO text (the
    time it happened, not the time the relay puts it on the bus)."""
    return json.dumps({**entry, "Time": at.isoformat()}, sort_keys=True).encode()


def entry(body: bytes, bus_name: str) -> dict[str, Any]:
    """The ``PutEvents`` entry an outbox object holds, for the bus ``bus_name``, checked as the
    kit wrote it: its fields, its source, this bus, a detail of a known type and schema, a time
    with its zone. Raises :class:`MalformedOutboxObject` saying what is wrong."""
    try:
        found = json.loads(body)
    except ValueError as exc:  # UnicodeDecodeError included
        raise MalformedOutboxObject(f"not JSON: {exc}") from exc
    if not isinstance(found, dict):
        raise MalformedOutboxObject(f"not a JSON object but {type(found).__name__}")
    missing, unknown = sorted(set(FIELDS) - found.keys()), sorted(found.keys() - set(FIELDS))
    if missing or unknown:
        raise MalformedOutboxObject(f"fields missing {missing}, unknown {unknown}: expected {list(FIELDS)}")
    if found["Source"] != EVENT_SOURCE:
        raise MalformedOutboxObject(f"source {found['Source']!r} is not {EVENT_SOURCE!r}")
    if found["EventBusName"] != bus_name:
        raise MalformedOutboxObject(f"names the bus {found['EventBusName']!r}, not this environment's {bus_name!r}")
    try:
        detail = json.loads(found["Detail"]) if isinstance(found["Detail"], str) else None
    except ValueError as exc:
        raise MalformedOutboxObject(f"Detail is not JSON: {exc}") from exc
    if not isinstance(detail, dict):
        raise MalformedOutboxObject("Detail is not a JSON object in a string")
    try:
        parse_detail(str(found["DetailType"]), detail)
    except BadRequest as exc:
        raise MalformedOutboxObject(exc.message) from exc
    try:
        at = datetime.fromisoformat(found["Time"])
    except (TypeError, ValueError) as exc:
        raise MalformedOutboxObject(f"Time {found['Time']!r} is not an ISO time") from exc
    if at.tzinfo is None:
        raise MalformedOutboxObject(f"Time {found['Time']!r} has no time zone")
    return {**found, "Time": at}
