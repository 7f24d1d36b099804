"""What every config section shares: strict, frozen models, and the value types several use."""

from __future__ import annotations

from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from mlrails.schedule import parse_cron

NAME = r"^[a-z][a-z0-9-]{1,38}[a-z0-9]$"
# EventBridge schedule expressions; cron() fields are then checked by mlrails.schedule.
_SCHEDULE = r"^(rate\(\d+ (minute|minutes|hour|hours|day|days)\)|cron\(.+\))$"


def _valid_schedule(expression: str) -> str:
    if expression.startswith("cron("):
        parse_cron(expression)  # raises ValueError naming the bad cron field
    return expression


Schedule = Annotated[str, Field(pattern=_SCHEDULE), AfterValidator(_valid_schedule)]
# A browser origin: scheme, host and optional port, nothing after (no path, no wildcard).
Origin = Annotated[str, Field(pattern=r"^https?://[A-Za-z0-9.-]+(:\d{1,5})?$")]


class Section(BaseModel):
    """A config section: unknown keys are errors, and values never change once loaded."""

    model_config = ConfigDict(extra="forbid", frozen=True)
