"""How a client of MLflow holds it: hold until its task runs, do the work, release.

The training state machine does the same in its own states (infra/constructs/training_pipeline.py);
operator commands, the release pipeline's steps and `mlrails ui` do it through this, with
``call`` reaching the tracking_switch function: in-process locally, Lambda's Invoke API on AWS.
"""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import Callable, Iterator
from typing import Any

from mlrails.errors import TrackingUnavailable

# A command answers within the operator function's 15 minutes; the hold outlives it a little.
COMMAND_HOLD_MINUTES = 20
START_ATTEMPTS = 60  # with the deployed pause of 10 s: ten minutes for a task to start


def holder(kind: str) -> str:
    """A fresh holder name: each command holds and releases its own lease."""
    return f"{kind}:{uuid.uuid4().hex[:12]}"


def hold_until_ready(
    call: Callable[[dict[str, Any]], dict[str, Any]],
    name: str,
    minutes: float,
    *,
    pause: Callable[[dict[str, Any]], None],
    attempts: int = START_ATTEMPTS,
) -> dict[str, Any]:
    """Hold (renewing the same lease) until the server's task runs; ``pause(status)`` between
    attempts. :class:`TrackingUnavailable` when it never does (the hold is left to expire)."""
    status: dict[str, Any] = {}
    for attempt in range(attempts):
        status = call({"action": "hold", "holder": name, "minutes": minutes})
        if status["ready"]:
            return status
        if attempt + 1 < attempts:
            pause(status)
    raise TrackingUnavailable(
        f"the MLflow server did not start after {attempts} checks "
        f"(tasks asked for {status.get('desired')}, running {status.get('running')}): see its service's events in ECS"
    )


@contextlib.contextmanager
def held(
    call: Callable[[dict[str, Any]], dict[str, Any]],
    kind: str,
    *,
    pause: Callable[[dict[str, Any]], None],
    minutes: float = COMMAND_HOLD_MINUTES,
    attempts: int = START_ATTEMPTS,
) -> Iterator[str]:
    """MLflow held for the ``with`` block, released after it whatever its end. Yields the
    holder's name (to renew the hold with)."""
    name = holder(kind)
    hold_until_ready(call, name, minutes, pause=pause, attempts=attempts)
    try:
        yield name
    finally:
        call({"action": "release", "holder": name})
