"""The retraining policy's decisions, table-driven: cooldown, maximum runs per period, the
first-model bootstrap, disabled triggers and the new-rows threshold."""

from datetime import UTC, datetime, timedelta

import pytest

from mlrails.config import MaxRetrains
from mlrails.retraining import policy

NOW = datetime(2026, 3, 20, tzinfo=UTC)
H = timedelta(hours=1)


def _cfg(cfg, **retraining):
    return cfg.model_copy(update={"retraining": cfg.retraining.model_copy(update=retraining)})


CASES = [
    # (name, trigger, state, retraining overrides, retrain?, reason contains)
    ("cadence", "schedule", dict(last_retrain_at=NOW - 72 * H), {}, True, "scheduled cadence"),
    (
        "cooldown",
        "drift",
        dict(last_retrain_at=NOW - 2 * H),
        {"cooldown_hours": 12},
        False,
        "cooldown until 2026-03-20T10:00:00+00:00",
    ),
    (
        "cooldown over",
        "drift",
        dict(last_retrain_at=NOW - 12 * H),
        {"cooldown_hours": 12},
        True,
        "input drift detected",
    ),
    ("performance", "performance", {}, {}, True, "model performance degraded"),
    (
        "max per period reached",
        "performance",
        dict(recent_retrains=(NOW - 100 * H, NOW - 50 * H, NOW - 20 * H)),
        {"max_retrains": MaxRetrains(count=3, period_hours=168)},
        False,
        "3 runs in the last 168 h reach retraining.max_retrains.count=3: next run possible from 2026-03-22T"
        "20:00:00+00:00",
    ),
    (
        "older runs leave the period",
        "performance",
        dict(recent_retrains=(NOW - 200 * H, NOW - 50 * H, NOW - 20 * H)),
        {"max_retrains": MaxRetrains(count=3, period_hours=168)},
        True,
        "model performance degraded",
    ),
    (
        "no limit configured",
        "drift",
        dict(recent_retrains=tuple(NOW - n * 20 * H for n in range(1, 9))),
        {"max_retrains": None},
        True,
        "input drift detected",
    ),
    (
        "trigger disabled",
        "drift",
        {},
        {"triggers": ("schedule", "performance")},
        False,
        "trigger 'drift' is disabled in retraining.triggers",
    ),
    (
        "too few new rows",
        "new_data",
        dict(rows_since_training=999),
        {"min_new_rows": 1000},
        False,
        "999 new rows < retraining.min_new_rows=1000",
    ),
    (
        "enough new rows",
        "new_data",
        dict(rows_since_training=1000),
        {"min_new_rows": 1000},
        True,
        "1000 new rows since the last training",
    ),
    (
        "bootstrap waits",
        "new_data",
        dict(has_champion=False, rows_since_training=10),
        {},
        False,
        "no model yet; waiting for training.min_rows",
    ),
    (
        "bootstrap ignores disabled triggers",
        "new_data",
        dict(has_champion=False, rows_since_training=5000),
        {"triggers": ("schedule",)},
        True,
        "no model yet and 5000 rows available",
    ),
    (
        "the limit also holds the bootstrap",
        "new_data",
        dict(has_champion=False, rows_since_training=5000, recent_retrains=(NOW - H,), last_retrain_at=None),
        {"max_retrains": MaxRetrains(count=1, period_hours=24), "cooldown_hours": 0},
        False,
        "1 runs in the last 24 h",
    ),
]


@pytest.mark.parametrize(
    ("trigger", "state", "rules", "retrain", "reason"), [c[1:] for c in CASES], ids=[c[0] for c in CASES]
)
def test_decisions(cfg, trigger, state, rules, retrain, reason):
    values = {"has_champion": True, "rows_since_training": 0, "last_retrain_at": NOW - 200 * H, **state}
    decision = policy.decide(trigger, policy.PolicyState(**values), _cfg(cfg, **rules), NOW)
    assert (decision.retrain, reason in decision.reason) == (retrain, True), decision.reason


def test_runs_in_the_period_are_those_after_its_start(cfg):
    limited = _cfg(cfg, max_retrains=MaxRetrains(count=2, period_hours=24))
    runs = (NOW - 30 * H, NOW - 24 * H, NOW - 23 * H, NOW)
    assert policy.within_period(runs, limited, NOW) == [NOW - 23 * H, NOW]
    assert policy.within_period(runs, _cfg(cfg, max_retrains=None), NOW) == []


DEFERRALS = [
    # (name, trigger, state, retraining overrides, deferred to, reason starts with)
    (
        "cooldown defers",
        "drift",
        dict(last_retrain_at=NOW - 2 * H),
        {"cooldown_hours": 12},
        NOW + 10 * H,
        "deferred to 2026-03-20T10:00:00+00:00: drift, input drift detected; cooldown until 2026-03-20T10:00:00",
    ),
    (
        "the later of the cooldown and the period",
        "performance",
        dict(last_retrain_at=NOW - 2 * H, recent_retrains=(NOW - 30 * H, NOW - 2 * H)),
        {"cooldown_hours": 12, "max_retrains": MaxRetrains(count=2, period_hours=48)},
        NOW + 18 * H,
        "deferred to 2026-03-20T18:00:00+00:00: performance, model performance degraded; cooldown until",
    ),
    (
        "the period alone",
        "new_data",
        dict(rows_since_training=3000, recent_retrains=(NOW - 20 * H,)),
        {"cooldown_hours": 0, "max_retrains": MaxRetrains(count=1, period_hours=24)},
        NOW + 4 * H,
        "deferred to 2026-03-20T04:00:00+00:00: new_data, 3000 new rows since the last training; 1 runs in",
    ),
    (
        "the first model's bootstrap",
        "new_data",
        dict(has_champion=False, rows_since_training=500, last_retrain_at=NOW - H),
        {"cooldown_hours": 12},
        NOW + 11 * H,
        "deferred to 2026-03-20T11:00:00+00:00: new_data, no model yet and 500 rows available",
    ),
    (
        "too few rows then either",
        "new_data",
        dict(rows_since_training=10, last_retrain_at=NOW - H),
        {"cooldown_hours": 12, "min_new_rows": 1000},
        None,
        "cooldown until 2026-03-20T11:00:00+00:00",
    ),
    (
        "a disabled trigger",
        "drift",
        dict(last_retrain_at=NOW - H),
        {"cooldown_hours": 12, "triggers": ("schedule",)},
        None,
        "cooldown until",
    ),
    ("the cadence's next slot comes anyway", "schedule", dict(last_retrain_at=NOW - H), {}, None, "cooldown until"),
    (
        "a trigger at the moment of the run that holds the cooldown is served by it",
        "drift",
        dict(last_retrain_at=NOW),
        {"cooldown_hours": 12},
        None,
        "cooldown until 2026-03-20T12:00:00+00:00; not deferred: the run of 2026-03-20T00:00:00+00:00 serves it",
    ),
]


@pytest.mark.parametrize(
    ("trigger", "state", "rules", "deferred_to", "reason"), [c[1:] for c in DEFERRALS], ids=[c[0] for c in DEFERRALS]
)
def test_what_only_timing_declines_is_deferred_to_when_a_run_may_start(cfg, trigger, state, rules, deferred_to, reason):
    values = {"has_champion": True, "rows_since_training": 0, "last_retrain_at": NOW - 200 * H, **state}
    decision = policy.decide(trigger, policy.PolicyState(**values), _cfg(cfg, **rules), NOW)
    assert not decision.retrain and decision.deferred_to == deferred_to, decision.reason
    assert decision.reason.startswith(reason), decision.reason


def test_a_deferred_trigger_starts_its_run_once_it_is_due(cfg):
    rules = _cfg(cfg, cooldown_hours=12)
    state = policy.PolicyState(has_champion=True, rows_since_training=0, last_retrain_at=NOW - 2 * H)
    deferred = policy.decide("drift", state, rules, NOW)
    assert policy.decide("drift", state, rules, deferred.deferred_to) == policy.PolicyDecision(
        True, "input drift detected"
    )
