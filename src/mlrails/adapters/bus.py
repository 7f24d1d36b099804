"""Publishing typed details to the project's EventBridge bus: straight there, or through the
events outbox in S3 when the function's settings name one (:mod:`mlrails.outbox`); and the
relay that puts an outbox object's entry on the bus."""

from __future__ import annotations

import uuid
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from mlrails import outbox
from mlrails.adapters import s3
from mlrails.adapters.clients import aws_errors, client
from mlrails.events import to_entry
from mlrails.settings import Settings


class PublishError(RuntimeError):
    """EventBridge accepted the call but refused an entry."""


def put(entry: dict[str, Any]) -> None:
    """Put one ``PutEvents`` entry on its bus."""
    with aws_errors(f"publishing {entry['DetailType']}"):
        response = client("events").put_events(Entries=[entry])
    if response.get("FailedEntryCount"):
        failure = response["Entries"][0]
        raise PublishError(
            f"{entry['DetailType']} was refused: {failure.get('ErrorCode')} {failure.get('ErrorMessage')}"
        )


def publish(detail, settings: Settings, *, time: datetime | None = None) -> None:
    """Put one event on the project bus, or leave it in the outbox when ``settings`` name one
    (the relay puts it on the bus). ``time``: when it happened (default: now), see
    :func:`mlrails.events.to_entry`."""
    entry = to_entry(detail, settings.bus_name, time=time)
    if settings.events_outbox is None:
        put(entry)
        return
    at = time or datetime.now(UTC)
    s3.put_bytes(
        s3.uri(settings.events_outbox, outbox.key(at, uuid.uuid4().hex)),
        outbox.document(entry, at),
        "application/json",
    )


class RelayStatus(StrEnum):
    RELAYED = "relayed"
    GONE = "gone"  # no such object: relayed (and deleted) by an earlier delivery
    MALFORMED = "malformed"  # left where it is, not published: see the reason


@dataclass(frozen=True)
class RelayResult:
    """What the relay did with one outbox object."""

    status: RelayStatus
    key: str
    detail_type: str | None = None
    reason: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def relay(bucket: str, key: str, bus_name: str) -> RelayResult:
    """Put the entry the outbox object ``key`` of ``bucket`` holds on ``bus_name``, then delete
    the object (deleted last: a failure before leaves it for the retry, at least once). A
    missing object is no error, and a malformed one is kept, unpublished, with the reason."""
    body = s3.get_optional(s3.uri(bucket, key))
    if body is None:
        return RelayResult(RelayStatus.GONE, key)
    try:
        entry = outbox.entry(body, bus_name)
    except outbox.MalformedOutboxObject as exc:
        return RelayResult(RelayStatus.MALFORMED, key, reason=exc.message)
    put(entry)
    s3.delete(s3.uri(bucket, key))
    return RelayResult(RelayStatus.RELAYED, key, entry["DetailType"])
