"""Publishing typed details to the project's EventBridge bus."""

from __future__ import annotations

from datetime import datetime

from mlrails.adapters.clients import aws_errors, client
from mlrails.events import to_entry


class PublishError(RuntimeError):
    """EventBridge accepted the call but refused an entry."""


def publish(detail, bus_name: str, *, time: datetime | None = None) -> None:
    """Put one event. ``time`` carries the causing event's time forward, so a chain of
    events keeps one clock (the local runtime's virtual clock included)."""
    entry = to_entry(detail, bus_name)
    if time is not None:
        entry["Time"] = time
    with aws_errors(f"publishing {entry['DetailType']}"):
        response = client("events").put_events(Entries=[entry])
    if response.get("FailedEntryCount"):
        failure = response["Entries"][0]
        raise PublishError(
            f"{entry['DetailType']} was refused: {failure.get('ErrorCode')} {failure.get('ErrorMessage')}"
        )
