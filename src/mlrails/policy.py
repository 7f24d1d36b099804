"""The retraining policy: should this trigger start a training run now?"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal

from mlrails.config import ProjectConfig

Trigger = Literal["schedule", "drift", "performance", "new_data"]


@dataclass(frozen=True)
class PolicyState:
    """What the policy remembers between triggers (kept in the state table)."""

    has_champion: bool
    rows_since_training: int
    last_retrain_at: datetime | None


@dataclass(frozen=True)
class PolicyDecision:
    retrain: bool
    reason: str


def decide(trigger: Trigger, state: PolicyState, cfg: ProjectConfig, now: datetime) -> PolicyDecision:
    """Apply, in order: the cooldown, the first-model bootstrap, the trigger switches and
    the new-rows threshold. The first decision that says no explains why."""
    rules = cfg.retraining
    if state.last_retrain_at is not None:
        ready_at = state.last_retrain_at + timedelta(hours=rules.cooldown_hours)
        if now < ready_at:
            return PolicyDecision(False, f"cooldown until {ready_at.isoformat()}")
    if not state.has_champion:
        if state.rows_since_training >= cfg.training.min_rows:
            return PolicyDecision(True, f"no model yet and {state.rows_since_training} rows available")
        return PolicyDecision(False, f"no model yet; waiting for training.min_rows={cfg.training.min_rows} "
                                     f"(have {state.rows_since_training})")
    if trigger not in rules.triggers:
        return PolicyDecision(False, f"trigger '{trigger}' is disabled in retraining.triggers")
    if trigger == "new_data" and state.rows_since_training < rules.min_new_rows:
        return PolicyDecision(False, f"{state.rows_since_training} new rows < retraining.min_new_rows="
                                     f"{rules.min_new_rows}")
    return PolicyDecision(True, {
        "schedule": "scheduled cadence",
        "drift": "input drift detected",
        "performance": "model performance degraded",
        "new_data": f"{state.rows_since_training} new rows since the last training",
    }[trigger])
