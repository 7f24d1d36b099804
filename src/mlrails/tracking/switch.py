"""The tracking_switch function's service: hold, release and sweep the MLflow server.

- ``hold``: records (or renews) the holder's lease, then scales the server to one task if none
  is asked for. With ``wait``, a server not running yet raises :class:`TrackingStarting`, which
  the training state machine retries until the task runs.
- ``release``: forgets the holder's lease; the last one out scales the server to zero.
- the idle sweep (a schedule): forgets expired leases and scales to zero when none is left, so a
  holder that vanished costs at most its own lease.

Each call ends by asking ECS for what the leases say (one task or none), so a scale-down that
raced a new hold is undone by that holder's next hold, and a scale-up nobody holds any more by
the next sweep.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from mlrails.adapters.state import StateTable
from mlrails.adapters.tracking_server import TrackingServer
from mlrails.errors import BadRequest, MlrailsError
from mlrails.tracking.leases import LEASES_KEY, Hold, ServerState, attribute, desired_tasks, expired, live

ACTIONS = ("hold", "release")


class TrackingStarting(MlrailsError):
    """Held, but the server's task is not running yet: ask again in a few seconds."""

    status = 503
    error_code = "TRACKING_STARTING"


def run(event: dict[str, Any], table: StateTable, server: TrackingServer, at: datetime) -> dict[str, Any]:
    """One invocation: ``{"action": "hold", "holder", "minutes", "wait"?}``,
    ``{"action": "release", "holder"}``, or the idle sweep's schedule payload."""
    if not isinstance(event, dict):
        raise BadRequest("the tracking switch takes a JSON object")
    if "schedule" in event:
        return sweep(table, server, at)
    action = event.get("action")
    if action == "hold":
        asked = Hold.asked(event.get("holder"), event.get("minutes"), at)
        return hold(table, server, asked, at, wait=event.get("wait") is True)
    if action == "release":
        Hold.asked(event.get("holder"), 1, at)  # the same check of the holder's name
        return release(table, server, event["holder"], at)
    raise BadRequest(f"action must be one of {list(ACTIONS)} (or a schedule's payload), got {action!r}")


def hold(table: StateTable, server: TrackingServer, asked: Hold, at: datetime, *, wait: bool = False) -> dict[str, Any]:
    """Keep the server running for ``asked.holder`` until ``asked.until``."""
    table.put(LEASES_KEY, **{asked.attribute: asked.until})
    report = _settle(table, server, at)
    # Where `mlrails ui` opens its port forward (None until ECS reports the task's container).
    report["session_target"] = server.session_target() if report["ready"] else None
    if wait and not report["ready"]:
        raise TrackingStarting(
            f"the tracking server is starting (tasks asked for {report['desired']}, running {report['running']})"
        )
    return report


def release(table: StateTable, server: TrackingServer, holder: str, at: datetime) -> dict[str, Any]:
    """Forget ``holder``'s lease; scale to zero if it was the last one."""
    table.compare_and_set(LEASES_KEY, expected={}, **{attribute(holder): None})
    return _settle(table, server, at)


def sweep(table: StateTable, server: TrackingServer, at: datetime) -> dict[str, Any]:
    """Forget expired leases (each only if nobody renewed it meanwhile); scale to what is left."""
    item = table.get(LEASES_KEY)
    for holder in expired(item, at):
        table.compare_and_set(
            LEASES_KEY, expected={attribute(holder): item[attribute(holder)]}, **{attribute(holder): None}
        )
    report = _settle(table, server, at)
    return {**report, "forgot": expired(item, at)}


def _settle(table: StateTable, server: TrackingServer, at: datetime) -> dict[str, Any]:
    holders = live(table.get(LEASES_KEY), at)
    state = server.state()
    wanted = desired_tasks(holders)
    scaled = state.desired != wanted
    if scaled:
        server.scale(wanted)
        state = server.state()
    return _report(state, holders, scaled)


def _report(state: ServerState, holders: dict[str, datetime], scaled: bool) -> dict[str, Any]:
    return {
        "ready": state.ready,
        "desired": state.desired,
        "running": state.running,
        "scaled": scaled,
        "holders": {holder: until.isoformat() for holder, until in sorted(holders.items())},
    }
