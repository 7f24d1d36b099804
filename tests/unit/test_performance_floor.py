"""The performance check's verdict: the floor, and the allowance for chance below it."""

from statistics import NormalDist

import pytest

from mlrails.performance.check import Floor, allowance, floor, worse_than
from mlrails.serving.manifest import Manifest


def _champion(metrics: dict[str, float], errors: dict[str, float]) -> Manifest:
    return Manifest(
        model_name="m",
        version="3",
        run_id="r",
        artifact_uri="s3://b/model.skops",
        profile_uri="s3://b/profile.json",
        task="classification",
        features=[],
        metrics=metrics,
        promoted_at="",
        trained_at="",
        reason="",
        metric_errors=errors,
    )


def _rules(cfg, **performance):
    rules = cfg.monitoring.performance.model_copy(update=performance)
    return cfg.model_copy(update={"monitoring": cfg.monitoring.model_copy(update={"performance": rules})})


def test_the_stricter_bound_is_the_floor_and_carries_its_own_error(cfg):
    champion = _champion({"accuracy": 0.85}, {"accuracy": 0.02})
    # The holdout score less max_drop (0.75) is above the minimum: it binds, with the holdout's error.
    assert floor(_rules(cfg, minimum=0.6, max_drop=0.1), champion) == Floor(pytest.approx(0.75), 0.02)
    # A minimum above it binds instead; a configured number has no sampling error.
    assert floor(_rules(cfg, minimum=0.8, max_drop=0.1), champion) == Floor(0.8, 0.0)
    assert floor(_rules(cfg, minimum=None, max_drop=None), champion) is None


def test_an_error_metric_floors_from_above(cfg):
    champion = _champion({"rmse": 2.0}, {"rmse": 0.1})
    rules = _rules(cfg, metric="rmse", minimum=2.5, max_drop=0.3)
    assert floor(rules, champion) == Floor(pytest.approx(2.3), 0.1)  # the lower bound is the stricter one
    assert worse_than("rmse", 2.45, 2.3) and not worse_than("rmse", 2.45, 2.3, margin=0.2)


def test_a_champion_recorded_without_errors_is_held_to_its_score_alone(cfg):
    assert floor(_rules(cfg, minimum=None, max_drop=0.1), _champion({"accuracy": 0.8}, {})) == Floor(
        pytest.approx(0.7), 0.0
    )


def test_the_allowance_is_the_one_sided_quantile_of_the_gaps_error():
    assert allowance(0.95, 0.03, 0.04) == pytest.approx(NormalDist().inv_cdf(0.95) * 0.05)
    assert allowance(0.5, 0.03, 0.04) == pytest.approx(0.0)  # confidence 0.5: no allowance


def test_below_the_floor_by_less_than_the_allowance_is_not_worse():
    assert worse_than("accuracy", 0.68, 0.7)
    assert not worse_than("accuracy", 0.68, 0.7, margin=0.05)
    assert worse_than("accuracy", 0.64, 0.7, margin=0.05)
