"""What every deployed function reads once per container: settings and the project config."""

from __future__ import annotations

import functools
from datetime import UTC, datetime
from typing import Any

from mlrails.adapters import s3
from mlrails.config import ProjectConfig, parse_config
from mlrails.errors import BadRequest
from mlrails.settings import Settings


@functools.cache
def settings(
    *,
    needs_tracking: bool = False,
    needs_state_machine: bool = False,
    needs_capture_stream: bool = False,
    needs_api: bool = False,
    needs_tracking_server: bool = False,
    needs_drift_state_machine: bool = False,
) -> Settings:
    """The function's settings, read from the environment on first use."""
    return Settings.from_env(
        needs_tracking=needs_tracking,
        needs_tracking_server=needs_tracking_server,
        needs_state_machine=needs_state_machine,
        needs_capture_stream=needs_capture_stream,
        needs_api=needs_api,
        needs_drift_state_machine=needs_drift_state_machine,
    )


@functools.cache
def project_config(uri: str) -> ProjectConfig:
    """The validated project config the CDK app (or local runtime) deployed to S3.
    Its key is content-addressed, so caching it for the container's life is safe."""
    return parse_config(s3.get_json(uri), source=uri)


def reset() -> None:
    """Forget every per-container cache: settings, config, clients, idempotency stores,
    buffered captures. For tests and the local runtime, whose "container" outlives one
    endpoint or mock."""
    from mlrails.adapters import clients, idempotency, secrets
    from mlrails.capture import stream

    stream.discard()
    secrets.reset()
    settings.cache_clear()
    project_config.cache_clear()
    clients.reset()
    idempotency.reset()


def event_time(event: dict[str, Any]) -> datetime:
    """When the event happened: EventBridge ``time``, a schedule's ``scheduled_time``, or
    API Gateway's request time. Handlers take "now" from here so that a chain of events
    keeps one clock, including the local runtime's virtual one."""
    for candidate in (event.get("time"), event.get("scheduled_time")):
        if isinstance(candidate, str) and candidate and not candidate.startswith("<"):
            return datetime.fromisoformat(candidate.replace("Z", "+00:00"))
    epoch_ms = (event.get("requestContext") or {}).get("requestTimeEpoch")
    if epoch_ms:
        return datetime.fromtimestamp(epoch_ms / 1000, UTC)
    return datetime.now(UTC)


def event_field(event: dict[str, Any], name: str, kind: type, *, step: str) -> Any:
    """The event's ``name``, of type ``kind``; a :class:`BadRequest` naming it (and ``step``, the
    state machine step whose event it is) when it is missing or of another type."""
    value = event.get(name)
    if not isinstance(value, kind):
        raise BadRequest(f"the {step}'s event needs '{name}' ({kind.__name__}), got {value!r}")
    return value
