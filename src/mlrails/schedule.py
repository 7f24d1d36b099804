"""Schedule expressions (EventBridge ``rate()`` and ``cron()``), evaluated for the local
runtime's virtual clock. AWS fires them in the cloud; here we compute when they would."""

from __future__ import annotations

import re
from datetime import datetime, timedelta

_RATE = re.compile(r"^rate\((\d+) (minute|minutes|hour|hours|day|days)\)$")
_UNITS = {"minute": timedelta(minutes=1), "hour": timedelta(hours=1), "day": timedelta(days=1)}
_FIELDS = (("minute", 0, 59), ("hour", 0, 23), ("day of month", 1, 31), ("month", 1, 12), ("day of week", 1, 7))


def _cron_values(field: str, name: str, low: int, high: int) -> set[int] | None:
    """The values one cron field allows (None = any)."""
    if field in ("*", "?"):
        return None
    allowed: set[int] = set()
    for part in field.split(","):
        body, _, step = part.partition("/")
        if body in ("*", ""):
            first, last = low, high
        elif "-" in body:
            first, last = (int(x) for x in body.split("-", 1))
        else:
            first = last = int(body)
            if step:
                last = high
        if not (low <= first <= high and low <= last <= high):
            raise ValueError(f"cron {name} value {part!r} is outside {low}-{high}")
        allowed.update(range(first, last + 1, int(step) if step else 1))
    return allowed


def parse_cron(expression: str) -> list[set[int] | None]:
    """``cron(min hour dom month dow year)`` → allowed values per field (year must be ``*``).
    Numeric fields only: names like MON or JAN, and L/W/#, are not supported locally."""
    inner = expression.removeprefix("cron(").removesuffix(")").split()
    if len(inner) != 6 or inner[5] != "*":
        raise ValueError(f"{expression!r}: expected six fields ending in a '*' year")
    try:
        return [_cron_values(f, *spec) for f, spec in zip(inner[:5], _FIELDS)]
    except ValueError as exc:
        raise ValueError(f"{expression!r}: {exc}") from exc


def fire_times(expression: str, anchor: datetime, start: datetime, end: datetime) -> list[datetime]:
    """Every firing in (start, end]; a rate counts from ``anchor`` (when it was created)."""
    rate = _RATE.match(expression)
    if rate:
        period = int(rate.group(1)) * _UNITS[rate.group(2).rstrip("s")]
        if period <= timedelta(0):
            raise ValueError(f"{expression!r}: the rate must be positive")
        k = max(1, (start - anchor) // period + 1)
        times = []
        while (t := anchor + k * period) <= end:
            if t > start:
                times.append(t)
            k += 1
        return times
    if expression.startswith("cron("):
        minute, hour, dom, month, dow = parse_cron(expression)
        times, t = [], start.replace(second=0, microsecond=0) + timedelta(minutes=1)
        while t <= end:
            # EventBridge numbers weekdays 1 (Sunday) to 7 (Saturday).
            if all(
                allowed is None or value in allowed
                for allowed, value in (
                    (minute, t.minute),
                    (hour, t.hour),
                    (dom, t.day),
                    (month, t.month),
                    (dow, (t.isoweekday() % 7) + 1),
                )
            ):
                times.append(t)
            t += timedelta(minutes=1)
        return times
    raise ValueError(f"{expression!r} is neither rate(...) nor cron(...)")
