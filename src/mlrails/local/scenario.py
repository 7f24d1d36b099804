"""The simulated world (:class:`Scenario`) and what one day of it recorded (:class:`Day`):
shared by the simulation that plays it and the report that draws it."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime


@dataclass(frozen=True)
class Scenario:
    """The world: traffic per day, and when and how it changes."""

    days: int = 60
    requests_per_day: int = 6
    rows_per_request: int = 50
    history_rows: int = 3000  # labelled rows of the week before day 0
    drift_start: int = 15  # the population starts moving...
    drift_full: int = 30  # ...and has moved this far by this day
    drift_level: float = 0.6
    shift_day: int = 40  # who churns changes overnight
    seed: int = 7

    def drift(self, day: float) -> float:
        ramp = (day - self.drift_start) / max(self.drift_full - self.drift_start, 1)
        return self.drift_level * min(max(ramp, 0.0), 1.0)

    def concept(self, day: float) -> float:
        return 1.0 if day >= self.shift_day else 0.0


@dataclass
class Day:
    """What happened on one simulated day."""

    day: int
    date: datetime
    drift: float | None  # injected (a synthetic scenario); None when replaying real data
    concept: float | None
    served_accuracy: float | None = None  # known only to the simulator: the day's predictions vs outcomes
    drift_status: str | None = None
    drifted_share: float | None = None
    drift_scores: dict[str, float] = field(default_factory=dict)
    quality: float | None = None  # what the performance check measured (settled, labelled predictions)
    quality_status: str | None = None
    champion: str | None = None
    events: list[str] = field(default_factory=list)
