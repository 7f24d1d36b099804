from datetime import UTC, datetime, timedelta

import pytest

from mlrails.config import Promotion
from mlrails.promotion import gate
from mlrails.retraining import policy

NOW = datetime(2026, 1, 10, tzinfo=UTC)


def _rules(**overrides) -> Promotion:
    return Promotion(**{"min_improvement": 0.0, **overrides})


def test_first_model_is_promoted():
    decision = gate.decide(
        metric="accuracy", rules=_rules(min_improvement=0.01), challenger={"accuracy": 0.7}, champion=None
    )
    assert decision.promote and "first model" in decision.reason


@pytest.mark.parametrize(
    ("metric", "new", "old", "minimum", "promote"),
    [
        ("accuracy", 0.80, 0.78, 0.01, True),
        ("accuracy", 0.785, 0.78, 0.01, False),
        ("accuracy", 0.78, 0.78, 0.0, True),  # a tie passes at 0: fresher data wins
        ("rmse", 0.30, 0.35, 0.01, True),  # lower is better
        ("rmse", 0.36, 0.35, 0.0, False),
    ],
)
def test_gate_compares_in_the_metric_direction(metric, new, old, minimum, promote):
    decision = gate.decide(
        metric=metric, rules=_rules(min_improvement=minimum), challenger={metric: new}, champion={metric: old}
    )
    assert decision.promote is promote
    assert f"{old:.4f} -> {new:.4f}" in decision.reason


def test_relative_improvement_scales_with_the_champion():
    rules = _rules(min_improvement=0.05, improvement="relative")  # 5% of the champion's score
    assert not gate.decide(
        metric="accuracy", rules=rules, challenger={"accuracy": 0.62}, champion={"accuracy": 0.60}
    ).promote  # +0.02 < 0.03
    assert gate.decide(
        metric="accuracy", rules=rules, challenger={"accuracy": 0.64}, champion={"accuracy": 0.60}
    ).promote


def test_a_guard_metric_may_not_regress_past_its_tolerance():
    rules = _rules(guards={"roc_auc": 0.02, "log_loss": 0.05})
    better_but_worse_auc = gate.decide(
        metric="accuracy",
        rules=rules,
        challenger={"accuracy": 0.85, "roc_auc": 0.70, "log_loss": 0.40},
        champion={"accuracy": 0.80, "roc_auc": 0.75, "log_loss": 0.41},
    )
    assert not better_but_worse_auc.promote
    assert "guard roc_auc regressed by 0.0500 > tolerance 0.0200" in better_but_worse_auc.reason
    within = gate.decide(
        metric="accuracy",
        rules=rules,
        challenger={"accuracy": 0.85, "roc_auc": 0.74, "log_loss": 0.44},
        champion={"accuracy": 0.80, "roc_auc": 0.75, "log_loss": 0.41},
    )
    assert within.promote


def test_nan_scores_and_missing_guards_are_refused():
    nan = gate.decide(
        metric="accuracy", rules=_rules(), challenger={"accuracy": float("nan")}, champion={"accuracy": 0.7}
    )
    assert not nan.promote
    unguarded = gate.decide(
        metric="accuracy",
        rules=_rules(guards={"roc_auc": 0.01}),
        challenger={"accuracy": 0.9},
        champion={"accuracy": 0.7, "roc_auc": 0.8},
    )
    assert not unguarded.promote and "guard roc_auc has no challenger score" in unguarded.reason


def test_the_reason_names_what_was_beaten():
    decision = gate.decide(
        metric="accuracy",
        rules=_rules(),
        challenger={"accuracy": 0.8},
        champion={"accuracy": 0.7},
        against="placeholder baseline",
    )
    assert "vs placeholder baseline" in decision.reason


def test_gate_refuses_a_challenger_without_the_metric():
    decision = gate.decide(metric="roc_auc", rules=_rules(), challenger={"accuracy": 0.9}, champion={"roc_auc": 0.5})
    assert not decision.promote and "no 'roc_auc' score" in decision.reason


def _state(**overrides) -> policy.PolicyState:
    values = {"has_champion": True, "rows_since_training": 0, "last_retrain_at": NOW - timedelta(days=3)}
    return policy.PolicyState(**{**values, **overrides})


@pytest.mark.parametrize(
    ("baseline", "baseline_metrics", "champion_version"),
    [("champion", {"roc_auc": 0.7184944684944685}, "1"), ("placeholder", {"roc_auc": 0.5}, "1"), (None, None, None)],
    ids=["champion", "placeholder-for-a-champion-with-other-features", "first-model"],
)
def test_the_comparison_survives_the_registry_tags_exactly(baseline, baseline_metrics, champion_version):
    comparison = gate.Comparison(
        promote=baseline is None,
        reason="r",
        metric="roc_auc",
        metrics={"roc_auc": 0.6287037037037037, "accuracy": 0.75},
        baseline=baseline,
        baseline_metrics=baseline_metrics,
        champion_version=champion_version,
        holdout_rows=120,
        feedback_rows=300,
        ignored_labels=2,
    )
    tags = comparison.to_tags()
    assert all(isinstance(value, str) for value in tags.values())  # MLflow tags are strings
    assert gate.Comparison.from_tags({**tags, "serving.path": "onnx"}) == comparison


def test_a_version_evaluated_before_the_gate_recorded_its_scores_has_no_comparison():
    old = {"gate.promote": "True", "gate.reason": "r", "gate.holdout_rows": "120", "gate.feedback_rows": "0"}
    assert gate.Comparison.from_tags(old) is None and gate.Comparison.from_tags({}) is None


def test_bootstrap_waits_for_enough_rows(cfg):
    assert not policy.decide(
        "new_data", _state(has_champion=False, rows_since_training=10, last_retrain_at=None), cfg, NOW
    ).retrain
    assert policy.decide(
        "new_data",
        _state(has_champion=False, rows_since_training=cfg.training.min_rows, last_retrain_at=None),
        cfg,
        NOW,
    ).retrain


def test_cooldown_blocks_every_trigger(cfg):
    recent = _state(last_retrain_at=NOW - timedelta(hours=cfg.retraining.cooldown_hours / 2))
    for trigger in ("schedule", "drift", "performance", "new_data"):
        decision = policy.decide(trigger, recent, cfg, NOW)
        assert not decision.retrain and "cooldown until" in decision.reason


def test_new_data_needs_the_threshold(cfg):
    few = policy.decide("new_data", _state(rows_since_training=cfg.retraining.min_new_rows - 1), cfg, NOW)
    enough = policy.decide("new_data", _state(rows_since_training=cfg.retraining.min_new_rows), cfg, NOW)
    assert (few.retrain, enough.retrain) == (False, True)


def test_disabled_triggers_are_declined(cfg):
    only_schedule = cfg.model_copy(update={"retraining": cfg.retraining.model_copy(update={"triggers": ("schedule",)})})
    decision = policy.decide("drift", _state(), only_schedule, NOW)
    assert not decision.retrain and "disabled" in decision.reason
    assert policy.decide("schedule", _state(), only_schedule, NOW).retrain
