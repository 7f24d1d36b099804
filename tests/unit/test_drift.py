import math
from datetime import UTC, datetime

import numpy as np
import pandas as pd
import pytest

from mlrails.config import Monitoring
from mlrails.drift import WindowCounts, drift_report, psi
from mlrails.profile import PREDICTION, bin_numeric, build_profile, quantile_edges
from mlrails.synthetic import churn_frame

START = datetime(2026, 1, 1, tzinfo=UTC)
MONITORING = Monitoring(min_window_rows=100, psi_threshold=0.2, drifted_share=0.3)


@pytest.fixture(scope="module")
def profile(cfg):
    reference = churn_frame(5000, START, seed=1)
    return build_profile(reference[cfg.dataset.feature_names], reference["churned"], cfg.dataset,
                         bins=10, task="classification")


def _window(profile, frame: pd.DataFrame, chunks: int = 1) -> WindowCounts:
    window = WindowCounts(profile=profile)
    frame = frame.assign(**{PREDICTION: frame.get("churned", 0)})
    for bounds in np.array_split(np.arange(len(frame)), chunks):
        window.add(frame.iloc[bounds])
    return window


def test_psi_matches_the_formula():
    reference, current = np.array([50.0, 30, 20]), np.array([30.0, 30, 40])
    expected = sum((c - r) * math.log(c / r) for r, c in zip([0.5, 0.3, 0.2], [0.3, 0.3, 0.4]))
    assert psi(reference, current) == pytest.approx(expected)
    assert psi(reference, reference) == 0.0


def test_bins_are_equal_frequency_with_open_ends():
    values = np.arange(100, dtype=float)
    edges = quantile_edges(values, 4)
    assert edges == [24.75, 49.5, 74.25]
    assert bin_numeric(np.array([-1e9, 24.75, 1e9]), edges).tolist() == [1, 1, 0, 1]


def test_profile_is_small_and_typed(profile):
    import json

    assert len(json.dumps(profile)) < 10_000  # kilobytes, not the training data
    assert profile["features"]["plan"]["type"] == "categorical"
    assert sum(profile["features"]["tenure_months"]["counts"]) == 5000


def test_same_population_does_not_drift(profile):
    report = drift_report(_window(profile, churn_frame(3000, START, seed=2)), MONITORING)
    assert report.status == "ok"
    assert report.drifted_features == []
    assert all(f.psi < 0.05 for f in report.features.values())


def test_shifted_population_drifts(profile):
    report = drift_report(_window(profile, churn_frame(3000, START, seed=2, drift=0.9)), MONITORING)
    assert report.status == "drift"
    assert {"tenure_months", "plan", "support_calls"} <= set(report.drifted_features)
    assert "region" not in report.drifted_features  # untouched by the injected drift
    assert report.drifted_share >= MONITORING.drifted_share


def test_a_large_window_of_the_same_population_stays_quiet(profile):
    # A p-value would flag this; PSI measures the size of a shift, not the sample size.
    report = drift_report(_window(profile, churn_frame(50_000, START, seed=5)), MONITORING)
    assert report.status == "ok"


def test_below_the_minimum_window_there_is_no_verdict(profile):
    report = drift_report(_window(profile, churn_frame(99, START, seed=2, drift=1.0)), MONITORING)
    assert report.status == "insufficient_data"
    assert report.drifted_features == []


def test_chunked_counts_equal_all_at_once(profile):
    frame = churn_frame(2000, START, seed=4, drift=0.5)
    whole = drift_report(_window(profile, frame, chunks=1), MONITORING)
    chunked = drift_report(_window(profile, frame, chunks=7), MONITORING)
    assert whole == chunked


def test_unseen_categories_are_counted(profile):
    frame = churn_frame(500, START, seed=2).assign(plan="enterprise")
    report = drift_report(_window(profile, frame), MONITORING)
    assert report.features["plan"].unseen_share == 1.0
    assert report.features["plan"].drifted
