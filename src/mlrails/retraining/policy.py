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


# The triggers that a cooldown or ``max_retrains`` defers rather than drops, the most relevant
# first: when several wait, the deferred run is started for the first (its reason is the run's).
# The cadence is not deferred: the run that holds the cooldown has just met it, and its next
# slot comes anyway.
DEFERRABLE: tuple[Trigger, ...] = ("performance", "drift", "new_data")


@dataclass(frozen=True)
class PolicyDecision:
    retrain: bool
    reason: str
    # Declined only because it is too soon (the cooldown, max_retrains), by a trigger that
    # would start a run then: the first time it may.
    deferred_to: datetime | None = None


def decide(trigger: Trigger, state: PolicyState, cfg: ProjectConfig, now: datetime) -> PolicyDecision:
    """Apply, in order: the cooldown, the maximum runs per period, the first-model
    bootstrap, the trigger switches and the new-rows threshold. The first decision that
    says no explains why.

    A trigger of :data:`DEFERRABLE` that only the first two decline is deferred to the time
    both allow a run, when it came after the run that holds the cooldown (one at that run's
    moment or before is served by it)."""
    too_soon = _too_soon(state, cfg, now)
    on_merits = _on_merits(trigger, state, cfg)
    if too_soon is None:
        return on_merits
    why, ready_at = too_soon
    if not on_merits.retrain or trigger not in DEFERRABLE:
        return PolicyDecision(False, why)
    if state.last_retrain_at is not None and now <= state.last_retrain_at:
        return PolicyDecision(False, f"{why}; not deferred: the run of {state.last_retrain_at.isoformat()} serves it")
    return PolicyDecision(False, f"deferred to {ready_at.isoformat()}: {trigger}, {on_merits.reason}; {why}", ready_at)


def _too_soon(state: PolicyState, cfg: ProjectConfig, now: datetime) -> tuple[str, datetime] | None:
    """Why no run may start at ``now`` (the cooldown first, then ``max_retrains``) and the
    first time both allow one; None when a run may start."""
    rules = cfg.retraining
    reasons, ready_at = [], now
    if state.last_retrain_at is not None:
        cooled_at = state.last_retrain_at + timedelta(hours=rules.cooldown_hours)
        if now < cooled_at:
            reasons.append(f"cooldown until {cooled_at.isoformat()}")
            ready_at = cooled_at
    if rules.max_retrains is not None:
        recent = sorted(within_period(state.recent_retrains, cfg, now))
        if len(recent) >= rules.max_retrains.count:
            # The oldest run in the period must leave it before another may start.
            freed_at = recent[len(recent) - rules.max_retrains.count] + timedelta(hours=rules.max_retrains.period_hours)
            reasons.append(
                f"{len(recent)} runs in the last {rules.max_retrains.period_hours:g} h "
                f"reach retraining.max_retrains.count={rules.max_retrains.count}: "
                f"next run possible from {freed_at.isoformat()}"
            )
            ready_at = max(ready_at, freed_at)
    return (reasons[0], ready_at) if reasons else None


def _on_merits(trigger: Trigger, state: PolicyState, cfg: ProjectConfig) -> PolicyDecision:
    """The rules after the timing ones: the bootstrap, the trigger's switch, the new rows."""
    rules = cfg.retraining
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
