"""MLflow on demand, without AWS: who holds the server until when, and how a client holds it
around its work (mlrails.tracking)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from mlrails.errors import BadRequest, TrackingUnavailable
from mlrails.tracking import client
from mlrails.tracking.leases import Hold, ServerState, attribute, desired_tasks, expired, live

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def test_a_hold_lasts_what_it_asks_up_to_twelve_hours():
    assert Hold.asked("training:abc", 180, T0) == Hold("training:abc", T0 + timedelta(hours=3))
    assert Hold.asked("ui:alice@example.com", 0.5, T0).until == T0 + timedelta(seconds=30)
    with pytest.raises(BadRequest, match="at most 12 hours"):
        Hold.asked("ui:alice", 12 * 60 + 1, T0)


@pytest.mark.parametrize("holder", ["", " x", "a b", "x" * 201, None, 7, "ui:\n"])
def test_a_holder_is_a_short_printable_name(holder):
    with pytest.raises(BadRequest, match="holder must be"):
        Hold.asked(holder, 5, T0)


def test_live_and_expired_leases_split_at_the_instant():
    item = {
        attribute("training:1"): (T0 + timedelta(minutes=1)).isoformat(),
        attribute("ui:bob"): T0.isoformat(),  # ends exactly now: over
        "unrelated": "2099-01-01T00:00:00+00:00",
    }
    assert live(item, T0) == {"training:1": T0 + timedelta(minutes=1)}
    assert expired(item, T0) == ["ui:bob"]
    assert desired_tasks(live(item, T0)) == 1
    assert desired_tasks(live(item, T0 + timedelta(hours=1))) == 0


@pytest.mark.parametrize(("desired", "running", "ready"), [(0, 0, False), (1, 0, False), (1, 1, True), (0, 1, False)])
def test_ready_is_asked_for_and_running(desired, running, ready):
    assert ServerState(desired, running).ready is ready


class Switch:
    """A tracking switch whose task runs after ``starts_after`` holds (our own port, in memory)."""

    def __init__(self, starts_after: int) -> None:
        self.calls: list[dict[str, Any]] = []
        self.starts_after = starts_after

    def __call__(self, event: dict[str, Any]) -> dict[str, Any]:
        self.calls.append(event)
        holds = sum(call["action"] == "hold" for call in self.calls)
        return {"ready": holds > self.starts_after, "desired": 1, "running": int(holds > self.starts_after)}


def test_a_client_holds_until_ready_works_then_releases():
    switch, pauses = Switch(starts_after=2), []
    with client.held(switch, "operator", pause=pauses.append) as name:
        assert name.startswith("operator:")
        work = len(switch.calls)
    assert work == 3 and len(pauses) == 2
    assert [call["action"] for call in switch.calls] == ["hold", "hold", "hold", "release"]
    assert {call["holder"] for call in switch.calls} == {name}  # one lease, renewed


def test_a_client_releases_even_when_its_work_fails():
    switch = Switch(starts_after=0)
    with pytest.raises(RuntimeError, match="boom"), client.held(switch, "operator", pause=lambda _: None):
        raise RuntimeError("boom")
    assert switch.calls[-1]["action"] == "release"


def test_a_server_that_never_starts_is_reported_with_its_counts():
    switch = Switch(starts_after=10**6)
    with pytest.raises(TrackingUnavailable, match=r"did not start after 3 checks .*running 0"):
        with client.held(switch, "operator", pause=lambda _: None, attempts=3):
            pytest.fail("worked without a server")
    assert [call["action"] for call in switch.calls] == ["hold"] * 3  # no release of what never ran


def test_a_store_that_is_no_server_needs_no_waiting():
    from mlrails.adapters.registry import wait_until_reachable

    wait_until_reachable("sqlite:////tmp/mlflow.db", 0, sleep=pytest.fail)
