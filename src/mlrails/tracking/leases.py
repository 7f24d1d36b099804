"""Who holds the tracking server, and until when: the rules, without AWS.

Every holder names itself and says for how long; the server should run (one task) while any
hold is unexpired, and nothing should run otherwise. A hold is renewed by holding again, and
ends when its holder releases it or when it expires: a holder that vanishes (a killed CLI, a
state machine that timed out) costs at most its own hold, then the idle sweep stops the server.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta

from mlrails.errors import BadRequest

# One item of the state table holds every lease, one attribute per holder (an update of one
# attribute is atomic, and a single read sees them all).
LEASES_KEY = "tracking#leases"
ATTRIBUTE_PREFIX = "lease "
# A holder is written into a DynamoDB attribute name and logs: printable, bounded.
_HOLDER = re.compile(r"[A-Za-z0-9][A-Za-z0-9:@._/+=-]{0,199}")
MAX_HOLD = timedelta(hours=12)


@dataclass(frozen=True)
class Hold:
    """A request to keep the server running for ``holder`` until ``until``."""

    holder: str
    until: datetime

    @classmethod
    def asked(cls, holder: object, minutes: object, at: datetime) -> Hold:
        """A hold from an event's fields; :class:`BadRequest` naming what is wrong."""
        if not isinstance(holder, str) or not _HOLDER.fullmatch(holder):
            raise BadRequest(
                "holder must be 1-200 characters of letters, digits and :@._/+=- (e.g. 'training:<trigger id>')"
            )
        if isinstance(minutes, bool) or not isinstance(minutes, int | float) or minutes <= 0:
            raise BadRequest(f"minutes must be a positive number, got {minutes!r}")
        length = timedelta(minutes=float(minutes))
        if length > MAX_HOLD:
            raise BadRequest(f"a hold lasts at most {MAX_HOLD.total_seconds() / 3600:g} hours; hold again to renew")
        return cls(holder, at + length)

    @property
    def attribute(self) -> str:
        return attribute(self.holder)


def attribute(holder: str) -> str:
    """The state item's attribute that holds ``holder``'s lease."""
    return f"{ATTRIBUTE_PREFIX}{holder}"


def live(item: dict[str, object], at: datetime) -> dict[str, datetime]:
    """The holders whose leases in the state item have not expired at ``at``."""
    leases = {}
    for name, value in item.items():
        if name.startswith(ATTRIBUTE_PREFIX) and isinstance(value, str):
            until = datetime.fromisoformat(value)
            if until > at:
                leases[name.removeprefix(ATTRIBUTE_PREFIX)] = until
    return leases


def expired(item: dict[str, object], at: datetime) -> list[str]:
    """The holders whose leases have run out (the sweep forgets them)."""
    return sorted(
        name.removeprefix(ATTRIBUTE_PREFIX)
        for name in item
        if name.startswith(ATTRIBUTE_PREFIX) and name.removeprefix(ATTRIBUTE_PREFIX) not in live(item, at)
    )


def desired_tasks(holders: dict[str, datetime]) -> int:
    """One task while anyone holds the server, none otherwise."""
    return 1 if holders else 0


@dataclass(frozen=True)
class ServerState:
    """What ECS says of the server: the tasks asked for and those running."""

    desired: int
    running: int

    @property
    def ready(self) -> bool:
        """Asked for and running. MLflow may need seconds more to answer once its task runs:
        its clients wait for it (mlrails.adapters.registry.wait_until_reachable)."""
        return self.desired > 0 and self.running > 0
