import copy
import json
import math
import re
from datetime import UTC, datetime

import numpy as np
import pandas as pd
import pytest
from scipy import stats
from scipy.spatial.distance import jensenshannon as scipy_jensenshannon

from mlrails.config import Dataset, Monitoring, parse_config
from mlrails.drift.measures import WindowCounts, drift_report
from mlrails.drift.profile import (
    PREDICTION,
    bin_numeric,
    build_profile,
    quantile_edges,
    quantile_sketch,
    reference_grid,
)
from mlrails.drift.statistics import (
    chi2_homogeneity,
    chi2_sf,
    jensenshannon,
    kolmogorov_sf,
    ks_on_grid,
    psi,
    wasserstein_on_grid,
)
from mlrails.errors import ConfigError
from mlrails.local.synthetic import churn_frame

START = datetime(2026, 1, 1, tzinfo=UTC)
MONITORING = Monitoring(psi_threshold=0.2, drifted_share=0.3)


@pytest.fixture(scope="module")
def profile(cfg):
    reference = churn_frame(5000, START, seed=1)
    return build_profile(
        reference[cfg.dataset.feature_names], reference["churned"], cfg.dataset, bins=10, task="classification"
    )


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


def test_binning_by_sorting_equals_binning_each_value():
    # bin_sorted locates the edges among sorted values; the definition locates each value among the edges.
    rng = np.random.default_rng(0)
    values = np.concatenate([rng.normal(size=5000), rng.poisson(3, 5000).astype(float), [np.inf, -np.inf, np.nan]])
    for edges in ([], [0.0], np.arange(-2, 8, 0.5).tolist(), quantile_edges(values[np.isfinite(values)], 10)):
        expected = np.bincount(np.searchsorted(np.asarray(edges), values, side="right"), minlength=len(edges) + 1)
        assert bin_numeric(values, edges).tolist() == expected.tolist()


def test_categories_count_the_same_whatever_the_column_dtype(profile):
    # Typed columns are counted before their labels are stringified; the verdicts must not move.
    frame = churn_frame(2000, START, seed=6, drift=0.5)
    as_strings = drift_report(_window(profile, frame.astype({"plan": object, "region": object})), MONITORING)
    as_categories = drift_report(_window(profile, frame.astype({"plan": "category", "region": "category"})), MONITORING)
    assert as_categories == as_strings and as_strings.features["plan"].rows == 2000


def test_profile_is_small_and_typed(profile):
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
    assert report.prediction.drifted and report.prediction_psi == report.prediction.psi


@pytest.mark.parametrize("drift", [0.3, 0.6])
def test_moderate_injected_drift_is_found_by_every_numeric_measure(profile, drift):
    report = drift_report(_window(profile, churn_frame(3000, START, seed=3, drift=drift)), MONITORING)
    calls = report.features["support_calls"]
    assert calls.drifted
    assert calls.wasserstein >= 0.1 and calls.ks >= 0.1 and calls.jensenshannon >= 0.1 and calls.psi >= 0.1
    assert "region" not in report.drifted_features


def test_a_large_window_of_the_same_population_stays_quiet(profile):
    # Effect sizes measure the size of a shift, not the sample size: 200k rows stay quiet.
    report = drift_report(_window(profile, churn_frame(200_000, START, seed=5), chunks=4), MONITORING)
    assert report.status == "ok" and report.drifted_features == [] and report.data_quality == []
    assert all(f.score < f.threshold / 2 for f in report.features.values())
    assert not report.prediction.drifted


def test_without_the_power_to_detect_the_effect_there_is_no_verdict(profile):
    # 90 rows detect a KS distance of 0.22 at power 0.8, short of effect_size.ks 0.2
    # (tests/unit/test_drift_power.py has the rest).
    report = drift_report(_window(profile, churn_frame(90, START, seed=2, drift=1.0)), MONITORING)
    assert report.status == "insufficient_data"
    assert {"tenure_months", "monthly_charges", "support_calls"} <= set(report.underpowered)
    assert report.drifted_features == [] and report.features["tenure_months"].detectable > 0.2


def test_chunked_counts_equal_all_at_once(profile):
    # Every measure and finding, exactly: drift, holes, unseen categories and out-of-range values.
    frame = pd.concat([churn_frame(1000, START, seed=4, drift=0.8), _spoiled(2000)], ignore_index=True)
    whole = drift_report(_window(profile, frame, chunks=1), MONITORING)
    chunked = drift_report(_window(profile, frame, chunks=7), MONITORING)
    assert whole == chunked
    assert whole.data_quality and whole.drifted_features and whole.prediction is not None
    json.dumps(whole.to_dict(), allow_nan=False)  # the report written to S3 is plain JSON
    assert all(f.wasserstein is not None and f.ks is not None for f in whole.features.values() if f.type == "numeric")


def test_unseen_categories_are_counted(profile):
    frame = churn_frame(500, START, seed=2).assign(plan="enterprise")
    report = drift_report(_window(profile, frame), MONITORING)
    assert report.features["plan"].unseen_share == 1.0
    assert report.features["plan"].drifted


# --- the measures against scipy ---------------------------------------------------------


def _random_counts(rng, size):
    counts = rng.integers(0, 400, size=size).astype(float)
    counts[0] += 1  # never all zero
    return counts


def test_jensenshannon_matches_scipy():
    rng = np.random.default_rng(0)
    for _ in range(50):
        size = int(rng.integers(2, 25))
        reference, current = _random_counts(rng, size), _random_counts(rng, size)
        assert jensenshannon(reference, current) == pytest.approx(
            scipy_jensenshannon(reference, current, base=2), abs=1e-12
        )
    assert jensenshannon(np.array([1.0, 0]), np.array([0.0, 1])) == pytest.approx(1.0)


def test_chi_square_matches_scipy_and_its_effect_size_is_cohens_w():
    rng = np.random.default_rng(1)
    for _ in range(50):
        size = int(rng.integers(2, 25))
        reference, current = _random_counts(rng, size), _random_counts(rng, size)
        statistic, p_value, effect = chi2_homogeneity(reference, current)
        keep = (reference + current) > 0
        expected = stats.chi2_contingency(np.vstack([reference[keep], current[keep]]), correction=False)
        assert statistic == pytest.approx(expected.statistic, rel=1e-12)
        assert p_value == pytest.approx(expected.pvalue, rel=1e-9, abs=1e-300)
        n, m = current.sum(), reference.sum()
        assert effect == pytest.approx(math.sqrt(expected.statistic * (n + m) / (n * m)))
    # By hand: equal sizes n, proportions p and q, pooled m = (p + q) / 2: chi2 = n/2 * sum((p-q)^2 / m)
    # and n_eff = n/2, so w = sqrt(sum((p-q)^2 / m)), whatever n.
    for n in (1000, 100_000):
        statistic, _, effect = chi2_homogeneity(np.array([0.5, 0.5]) * n, np.array([0.7, 0.3]) * n)
        assert statistic == pytest.approx(n / 2 * (0.2**2 / 0.6 + 0.2**2 / 0.4))
        assert effect == pytest.approx(math.sqrt(0.2**2 / 0.6 + 0.2**2 / 0.4))


@pytest.mark.parametrize(("statistic", "dof"), [(0.5, 1), (3, 2), (50, 10), (1000, 900), (200, 3), (30, 30), (1, 40)])
def test_chi_square_tail_matches_scipy(statistic, dof):
    assert chi2_sf(statistic, dof) == pytest.approx(stats.chi2.sf(statistic, dof), rel=1e-9)


def _integer_reference(rng):
    """A discrete feature whose every value is a grid point (each holds over 1% of the rows):
    KS and Wasserstein on the grid are then exact."""
    values = rng.integers(0, 12, size=5000).astype(float)
    reference = {
        "min": float(values.min()),
        "max": float(values.max()),
        "edges": [],
        "counts": [],
        "sketch": quantile_sketch(values),
    }
    reference["sketch_counts"] = bin_numeric(values, reference["sketch"]).tolist()
    return values, reference


def test_ks_and_wasserstein_on_the_grid_equal_scipy_for_discrete_data():
    rng = np.random.default_rng(2)
    values, reference = _integer_reference(rng)
    edges, reference_counts = reference_grid(reference)
    window = rng.choice(12, size=800, p=np.linspace(1, 3, 12) / np.linspace(1, 3, 12).sum()).astype(float)
    counts = bin_numeric(window, edges)

    statistic, p_value = ks_on_grid(reference_counts, counts)
    expected = stats.ks_2samp(values, window, method="asymp")
    assert statistic == pytest.approx(expected.statistic, abs=1e-12)
    assert p_value == pytest.approx(expected.pvalue, rel=0.05)
    distance = wasserstein_on_grid(edges, reference_counts, counts, window.min(), window.max())
    assert distance == pytest.approx(stats.wasserstein_distance(values, window), rel=1e-9)


def test_wasserstein_on_the_grid_is_scipys_on_the_bin_points():
    # Within the reference's support each bin's mass sits at its left edge; the open ends hold
    # no reference mass (as on a real grid), so the window's mass there spreads to its extremes.
    rng = np.random.default_rng(3)
    edges = np.sort(rng.normal(size=40))
    reference, current = _random_counts(rng, 41), _random_counts(rng, 41)
    reference[[0, -1]] = 0
    points = np.concatenate([[edges[0] - 1.5], edges])
    points[-1] = (edges[-1] + 7.0) / 2
    assert wasserstein_on_grid(edges, reference, current, edges[0] - 3.0, 7.0) == pytest.approx(
        stats.wasserstein_distance(points, points, reference, current)
    )


@pytest.mark.parametrize("effective_n", [190, 280, 950, 4000])
@pytest.mark.parametrize("statistic", [0.04, 0.06, 0.08, 0.1, 0.12])
def test_ks_p_value_follows_scipys_asymptotic_one(statistic, effective_n):
    expected = float(stats.kstwo.sf(statistic, effective_n))  # what ks_2samp(method="asymp") uses
    assert kolmogorov_sf(statistic, effective_n) == pytest.approx(expected, rel=0.05, abs=1e-4)


def test_sketch_measures_approximate_scipy_on_the_raw_continuous_values(profile, cfg):
    reference = churn_frame(5000, START, seed=1)
    frame = churn_frame(3000, START, seed=8, drift=0.4)
    report = drift_report(_window(profile, frame, chunks=3), MONITORING)
    for name in ("tenure_months", "monthly_charges"):
        result = report.features[name]
        std = profile["features"][name]["std"]
        exact_ks = stats.ks_2samp(reference[name], frame[name]).statistic
        assert result.ks == pytest.approx(exact_ks, abs=0.015)  # within about one percentile bin
        exact_w = stats.wasserstein_distance(reference[name], frame[name]) / std
        assert result.wasserstein == pytest.approx(exact_w, abs=0.03)
        edges = profile["features"][name]["edges"]
        binned = (np.asarray(profile["features"][name]["counts"], float), bin_numeric(frame[name].to_numpy(), edges))
        assert result.jensenshannon == pytest.approx(scipy_jensenshannon(*binned, base=2))


# --- thresholds, window size and config ----------------------------------------------------


def test_the_test_is_chosen_by_feature_type(profile):
    report = drift_report(_window(profile, churn_frame(1000, START, seed=2)), MONITORING)
    assert {name: f.test for name, f in report.features.items()} == {
        "tenure_months": "wasserstein",
        "monthly_charges": "wasserstein",
        "support_calls": "wasserstein",
        "plan": "jensenshannon",
        "region": "jensenshannon",
    }
    assert report.features["plan"].wasserstein is None and report.features["plan"].chi2_effect is not None
    assert report.prediction.test == "jensenshannon"
    assert all(f.score == getattr(f, f.test) and f.threshold == 0.1 for f in report.features.values())


def test_small_windows_need_significance_not_just_a_large_effect(profile):
    # At 200 rows, sampling noise alone reaches the effect thresholds now and then; the
    # p-value gate (alpha) keeps those windows quiet.
    windows = [_window(profile, churn_frame(200, START, seed=100 + seed)) for seed in range(25)]
    ungated = Monitoring(alpha=1.0)
    assert sum(len(drift_report(w, ungated).drifted_features) for w in windows) > 0
    assert sum(len(drift_report(w, MONITORING).drifted_features) for w in windows) == 0


def test_a_tiny_real_shift_in_a_huge_window_is_significant_but_not_drift():
    rng = np.random.default_rng(9)
    dataset = Dataset(task="regression", target="y", timestamp="t", features=[{"name": "x", "type": "numeric"}])
    profile = build_profile(pd.DataFrame({"x": rng.normal(size=20_000)}), [], dataset, bins=10, task="regression")
    profile["features"].pop(PREDICTION)
    window = WindowCounts(profile)
    window.add(pd.DataFrame({"x": rng.normal(0.03, 1.0, size=300_000)}))
    result = drift_report(window, MONITORING).features["x"]
    assert result.p_value < 1e-4 and result.ks_p_value < 1e-4  # a p-value alone would alarm
    assert result.wasserstein == pytest.approx(0.03, abs=0.015) and not result.drifted


def test_tests_and_thresholds_are_overridable_per_feature(cfg, profile):
    document = cfg.model_dump(mode="json")
    document["monitoring"].update(
        tests={"tenure_months": "ks", "plan": "chi2"}, ks_threshold=0.3, chi2_threshold=2.0, numeric_test="psi"
    )
    monitoring = parse_config(document).monitoring
    report = drift_report(_window(profile, churn_frame(3000, START, seed=2, drift=0.9)), monitoring)
    tenure, plan, calls = report.features["tenure_months"], report.features["plan"], report.features["support_calls"]
    assert (tenure.test, tenure.score, tenure.threshold, tenure.p_value) == ("ks", tenure.ks, 0.3, tenure.ks_p_value)
    assert tenure.drifted == (tenure.ks >= 0.3)
    assert (plan.test, plan.score, plan.threshold) == ("chi2", plan.chi2_effect, 2.0) and not plan.drifted
    assert (calls.test, calls.score, calls.threshold) == ("psi", calls.psi, 0.2) and calls.drifted


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"tests": {"plan": "ks"}}, "monitoring.tests.plan"),
        ({"tests": {"no_such_feature": "psi"}}, "monitoring.tests.no_such_feature"),
        ({"tests": {"tenure_months": "t-test"}}, "monitoring.tests.tenure_months"),
        ({"prediction_test": "wasserstein"}, "monitoring.prediction_test"),
        ({"categorical_test": "ks"}, "monitoring.categorical_test"),
        ({"alpha": 0}, "monitoring.alpha"),
        ({"wasserstein_threshold": -0.1}, "monitoring.wasserstein_threshold"),
        ({"max_unseen_share": 2}, "monitoring.max_unseen_share"),
    ],
)
def test_drift_settings_are_validated_naming_the_field(cfg, change, field):
    document = cfg.model_dump(mode="json")
    document["monitoring"].update(change)
    with pytest.raises(ConfigError, match=re.escape(field)):
        parse_config(document)


# --- data quality -------------------------------------------------------------------------


def _spoiled(rows: int = 2000) -> pd.DataFrame:
    frame = churn_frame(rows, START, seed=6)
    every = np.arange(rows)
    frame["monthly_charges"] = frame["monthly_charges"].mask(every % 4 == 0)  # 25% missing
    frame["region"] = frame["region"].mask(every % 10 == 1, "atlantis")  # 10% unseen
    frame["tenure_months"] = frame["tenure_months"].mask(every % 10 == 2, 5000.0)  # 10% out of range
    return frame


def test_data_quality_findings_trigger_on_data_built_for_them(profile):
    report = drift_report(_window(profile, _spoiled()), MONITORING)
    found = {(q.feature, q.check): q for q in report.data_quality}
    assert set(found) == {
        ("monthly_charges", "missing_rate_jump"),
        ("region", "unseen_categories"),
        ("tenure_months", "out_of_range"),
    }
    assert found["monthly_charges", "missing_rate_jump"].value == pytest.approx(0.25)
    assert found["region", "unseen_categories"].value == pytest.approx(0.1)
    assert found["tenure_months", "out_of_range"].value == pytest.approx(0.1)
    assert report.features["region"].quality == ("unseen_categories",)
    # Holes in the data are a pipeline problem, not drift: the values that remain did not move.
    assert "monthly_charges" not in report.drifted_features


def test_clean_data_has_no_data_quality_findings(profile):
    report = drift_report(_window(profile, churn_frame(5000, START, seed=7)), MONITORING)
    assert report.data_quality == []
    assert all(f.quality == () for f in report.features.values())
    assert all(f.out_of_range_share < 0.01 for f in report.features.values() if f.type == "numeric")


def test_a_feature_with_no_values_in_the_window_is_a_quality_finding_not_drift(profile):
    frame = churn_frame(500, START, seed=2).drop(columns=["support_calls"])
    result = drift_report(_window(profile, frame), MONITORING).features["support_calls"]
    assert result.missing_rate == 1.0 and result.quality == ("missing_rate_jump",)
    assert not result.drifted and result.score is None


# --- profiles -----------------------------------------------------------------------------


def test_version_1_profiles_are_still_read(profile):
    old = copy.deepcopy(profile)
    old["profile_version"] = 1
    for reference in old["features"].values():
        reference.pop("sketch", None)
        reference.pop("sketch_counts", None)
    frame = churn_frame(3000, START, seed=2, drift=0.9)
    current, legacy = drift_report(_window(profile, frame), MONITORING), drift_report(_window(old, frame), MONITORING)
    assert legacy.drifted_features == current.drifted_features
    assert legacy.features["tenure_months"].wasserstein == pytest.approx(
        current.features["tenure_months"].wasserstein, rel=0.15
    )  # coarser grid, same verdict


def test_a_profile_from_the_future_fails_clearly(profile):
    with pytest.raises(ValueError, match="profile version 99"):
        WindowCounts({**profile, "profile_version": 99})


def test_the_sketch_is_a_hundred_quantiles_of_observed_values(profile):
    reference = profile["features"]["monthly_charges"]
    assert profile["profile_version"] == 2
    assert len(reference["sketch"]) == 101 and reference["sketch"][0] == reference["min"]
    assert reference["sketch"][-1] == reference["max"]
    assert sum(reference["sketch_counts"]) == 5000
    assert profile["features"]["support_calls"]["sketch"] == sorted(set(profile["features"]["support_calls"]["sketch"]))
