"""tracking_switch on moto: MLflow's ECS service runs one task while anyone holds it, none
otherwise; expired holds are swept; bad events are refused."""

from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta

import pytest

from mlrails.adapters.state import StateTable
from mlrails.adapters.tracking_server import TrackingServer
from mlrails.errors import BadRequest
from mlrails.tracking.leases import LEASES_KEY

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


@pytest.fixture
def switch(cloud, handler, lambda_context):
    """Invokes the tracking_switch function (loaded cold) with an event."""
    module = handler("tracking_switch")
    return lambda event: module.lambda_handler(event, lambda_context)


def _server() -> TrackingServer:
    return TrackingServer(os.environ["MLRAILS_TRACKING_SERVER"])


def _call(switch, event: dict, at: datetime = T0) -> dict:
    return switch({**event, "time": at.isoformat()})


def _sweep(switch, at: datetime) -> dict:
    return switch(
        {"schedule": "TrackingIdle", "scheduled_time": at.strftime("%Y-%m-%dT%H:%M:%SZ"), "execution_id": "x"}
    )


def test_the_server_runs_while_held_and_stops_when_the_last_holder_releases(switch):
    assert _server().state().desired == 0  # deployed idle

    first = _call(switch, {"action": "hold", "holder": "training:run-1", "minutes": 180, "wait": True})
    assert first["ready"] and first["scaled"] and _server().state().desired == 1
    second = _call(switch, {"action": "hold", "holder": "operator:abc", "minutes": 20})
    assert second["ready"] and not second["scaled"]
    assert sorted(second["holders"]) == ["operator:abc", "training:run-1"]

    after_one = _call(switch, {"action": "release", "holder": "training:run-1"})
    assert after_one["desired"] == 1 and list(after_one["holders"]) == ["operator:abc"]
    after_both = _call(switch, {"action": "release", "holder": "operator:abc"})
    assert after_both == {"ready": False, "desired": 0, "running": 0, "scaled": True, "holders": {}}
    assert _server().state().desired == 0
    # Releasing again (a retried state) changes nothing.
    assert not _call(switch, {"action": "release", "holder": "operator:abc"})["scaled"]


def test_the_idle_sweep_stops_a_server_whose_holders_vanished(switch):
    _call(switch, {"action": "hold", "holder": "ui:alice", "minutes": 30})
    _call(switch, {"action": "hold", "holder": "ui:bob", "minutes": 90})

    early = _sweep(switch, T0 + timedelta(minutes=45))
    assert early["forgot"] == ["ui:alice"] and early["desired"] == 1 and not early["scaled"]
    assert "lease ui:alice" not in StateTable(os.environ["MLRAILS_STATE_TABLE"]).get(LEASES_KEY)

    late = _sweep(switch, T0 + timedelta(minutes=95))
    assert late["forgot"] == ["ui:bob"] and late["scaled"] and _server().state().desired == 0
    # Nothing held, nothing running: the next sweep does nothing.
    assert _sweep(switch, T0 + timedelta(hours=3)) | {"forgot": []} == {
        "ready": False,
        "desired": 0,
        "running": 0,
        "scaled": False,
        "holders": {},
        "forgot": [],
    }


def test_a_hold_renewed_before_the_sweep_keeps_the_server(switch):
    _call(switch, {"action": "hold", "holder": "ui:alice", "minutes": 10})
    _call(switch, {"action": "hold", "holder": "ui:alice", "minutes": 10}, at=T0 + timedelta(minutes=8))
    swept = _sweep(switch, T0 + timedelta(minutes=15))
    assert swept["forgot"] == [] and swept["desired"] == 1


def test_a_hold_undoes_a_scale_down_it_raced(switch):
    """A release that read no holder scaled down after a new hold was written: the holder's
    next hold (the state machine asks again while not ready) scales up again."""
    _call(switch, {"action": "hold", "holder": "training:run-2", "minutes": 60})
    _server().scale(0)  # the racing release's scale-down, landing late
    again = _call(switch, {"action": "hold", "holder": "training:run-2", "minutes": 60, "wait": True})
    assert again["scaled"] and again["ready"]


@pytest.mark.parametrize(
    ("event", "complaint"),
    [
        ({"action": "hold", "holder": "", "minutes": 5}, "holder must be"),
        ({"action": "hold", "holder": "a b", "minutes": 5}, "holder must be"),
        ({"action": "hold", "holder": "ui:x", "minutes": 0}, "minutes must be a positive"),
        ({"action": "hold", "holder": "ui:x", "minutes": True}, "minutes must be a positive"),
        ({"action": "hold", "holder": "ui:x", "minutes": 60 * 24}, "at most 12 hours"),
        ({"action": "release"}, "holder must be"),
        ({"action": "stop"}, "action must be one of"),
        ({}, "action must be one of"),
    ],
)
def test_bad_events_are_refused_with_what_is_wrong(switch, event, complaint):
    with pytest.raises(BadRequest, match=complaint):
        _call(switch, event)
    assert _server().state().desired == 0
