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
    # When the runs of the last retraining.max_retrains.period_hours were requested.
    recent_retrains: tuple[datetime, ...] = ()


@dataclass(frozen=True)
class PolicyDecision:
    retrain: bool
    reason: str


def decide(trigger: Trigger, state: PolicyState, cfg: ProjectConfig, now: datetime) -> PolicyDecision:
    """Apply, in order: the cooldown, the maximum runs per period, the first-model
    bootstrap, the trigger switches and the new-rows threshold. The first decision that
    says no explains why."""
    rules = cfg.retraining
    if state.last_retrain_at is not None:
        ready_at = state.last_retrain_at + timedelta(hours=rules.cooldown_hours)
        if now < ready_at:
            return PolicyDecision(False, f"cooldown until {ready_at.isoformat()}")
    if rules.max_retrains is not None:
        recent = sorted(within_period(state.recent_retrains, cfg, now))
        if len(recent) >= rules.max_retrains.count:
            # The oldest run in the period must leave it before another may start.
            ready_at = recent[len(recent) - rules.max_retrains.count] + timedelta(hours=rules.max_retrains.period_hours)
            return PolicyDecision(
                False,
                f"{len(recent)} runs in the last {rules.max_retrains.period_hours:g} h "
                f"reach retraining.max_retrains.count={rules.max_retrains.count}: "
                f"next run possible from {ready_at.isoformat()}",
            )
    if not state.has_champion:
        if state.rows_since_training >= cfg.training.min_rows:
            return PolicyDecision(True, f"no model yet and {state.rows_since_training} rows available")
        return PolicyDecision(
            False,
            f"no model yet; waiting for training.min_rows={cfg.training.min_rows} (have {state.rows_since_training})",
        )
    if trigger not in rules.triggers:
        return PolicyDecision(False, f"trigger '{trigger}' is disabled in retraining.triggers")
    if trigger == "new_data" and state.rows_since_training < rules.min_new_rows:
        return PolicyDecision(
            False, f"{state.rows_since_training} new rows < retraining.min_new_rows={rules.min_new_rows}"
        )
    return PolicyDecision(
        True,
        {
            "schedule": "scheduled cadence",
            "drift": "input drift detected",
            "performance": "model performance degraded",
            "new_data": f"{state.rows_since_training} new rows since the last training",
        }[trigger],
    )


def within_period(retrains: tuple[datetime, ...], cfg: ProjectConfig, now: datetime) -> list[datetime]:
    """The runs that count toward ``retraining.max_retrains`` at ``now`` (none when it is unset:
    then nothing needs remembering)."""
    limit = cfg.retraining.max_retrains
    if limit is None:
        return []
    since = now - timedelta(hours=limit.period_hours)
    return [at for at in retrains if since < at <= now]
