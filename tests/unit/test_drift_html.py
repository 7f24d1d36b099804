"""The drift report's HTML page: one plot per feature, self-contained, faithful to the counts."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from datetime import UTC, datetime

import numpy as np
import pandas as pd
import pytest

from mlrails.config import Dataset, Feature, Monitoring
from mlrails.drift.measures import WindowCounts, drift_report
from mlrails.drift.profile import build_profile
from mlrails.drift.report import category_shares, numeric_shares, render_drift_html, window_scope
from mlrails.local.synthetic import churn_frame
from support.drift import churn_profile, window_of

START, END = datetime(2026, 3, 2, tzinfo=UTC), datetime(2026, 3, 3, tzinfo=UTC)
MONITORING = Monitoring()


@pytest.fixture(scope="module")
def profile(cfg):
    return churn_profile(cfg, START)


def _page(profile, frame: pd.DataFrame) -> tuple[str, object]:
    window = window_of(profile, frame)
    report = drift_report(window, MONITORING)
    return render_drift_html(
        report, window, MONITORING, model="churn-classifier", version="7", scope=window_scope(START, END)
    ), report


def test_one_plot_per_feature_and_one_for_the_prediction(profile, cfg):
    page, report = _page(profile, churn_frame(3000, START, seed=2, drift=0.9))

    sections = re.findall(r"<section class=feature>(.*?)</section>", page, re.S)
    titles = [re.search(r"<h3>(.*?) <span", s).group(1) for s in sections]
    assert titles == [*cfg.dataset.feature_names, "prediction"]
    assert all(s.count("<svg") == 1 for s in sections)
    assert page.count("<svg") == len(sections)
    for svg in re.findall(r"<svg.*?</svg>", page, re.S):
        ET.fromstring(svg)  # each chart is well-formed SVG
    # The verdict, each measure against its threshold, and the dataset-level rule are on the page.
    assert "<div class='verdict drift'>drift</div>" in page
    assert f"{len(report.drifted_features)} of {len(report.features)} features drifted" in page
    tenure = report.features["tenure_months"]
    assert f"wasserstein {tenure.score:.3f} (threshold {tenure.threshold:g}" in page


def test_the_page_is_self_contained(profile):
    page, _ = _page(profile, churn_frame(3000, START, seed=2, drift=0.5))

    assert "http://" not in page.replace('xmlns="http://www.w3.org/2000/svg"', "") and "https://" not in page
    assert not re.search(r"<script|<link|<img|<iframe|\bsrc=|\bhref=|@import|url\(", page, re.I)


def test_data_quality_findings_and_labels_are_shown_escaped(profile):
    frame = churn_frame(2000, START, seed=6)
    frame["region"] = frame["region"].mask(np.arange(2000) % 10 == 1, "<script>alert(1)</script>")
    page, report = _page(profile, frame)

    assert [(f.feature, f.check) for f in report.data_quality] == [("region", "unseen_categories")]
    assert "<b>region</b> — unseen categories: 10.0% (threshold 5.0%)" in page
    assert "<script" not in page  # a served label never reaches the page raw (here: folded into "unseen")


def test_numeric_shares_follow_the_counts(profile):
    same = window_of(profile, churn_frame(20_000, START, seed=3))
    edges, reference, window, reference_outside, window_outside = numeric_shares(same, "tenure_months")
    assert len(edges) == 31 and np.all(np.diff(edges) > 0)
    assert reference.sum() + reference_outside == pytest.approx(1.0)
    assert window.sum() + window_outside == pytest.approx(1.0)
    assert 0.01 <= reference_outside <= 0.03  # the plot spans the middle 98 %
    assert np.abs(reference - window).max() < 0.02  # the same population looks the same

    shifted = churn_frame(20_000, START, seed=3)
    shifted["tenure_months"] += 10.0
    edges, reference, window, _, _ = numeric_shares(window_of(profile, shifted), "tenure_months")
    middles = (edges[:-1] + edges[1:]) / 2
    moved = np.dot(middles, window) / window.sum() - np.dot(middles, reference) / reference.sum()
    assert moved == pytest.approx(10.0, abs=1.0)


def test_category_shares_include_the_unseen(profile):
    frame = churn_frame(1000, START, seed=4).assign(plan="enterprise")
    labels, reference, window = category_shares(window_of(profile, frame), "plan")
    assert labels[-1] == "unseen in training" and window[-1] == 1.0 and reference[-1] == 0.0
    assert sum(reference) == pytest.approx(1.0) and labels[:-1] == sorted(
        profile["features"]["plan"]["counts"], key=lambda c: -profile["features"]["plan"]["counts"][c]
    )


def test_many_categories_show_the_most_common_and_one_other_bar():
    dataset = Dataset(task="regression", target="y", timestamp="t", features=[Feature(name="city", type="categorical")])
    cities = pd.DataFrame({"city": [f"city{i:02d}" for i in range(25) for _ in range(25 - i)]})
    window = WindowCounts(profile=build_profile(cities, [0.0] * len(cities), dataset, bins=10, task="regression"))
    window.add(cities)
    labels, reference, window_shares = category_shares(window, "city")
    assert labels == [*(f"city{i:02d}" for i in range(20)), "other (5 categories)", "unseen in training"]
    assert reference == pytest.approx(window_shares) and sum(reference) == pytest.approx(1.0)


def test_too_small_a_window_gets_a_page_saying_what_it_could_detect(profile):
    page, report = _page(profile, churn_frame(50, START, seed=5))
    assert report.status == "insufficient_data"
    assert "insufficient data" in page and "50 rows in the window: too few to detect" in page
    tenure = report.features["tenure_months"]
    assert f"tenure_months: KS distance {tenure.detectable:.2f} (needs 0.2)" in page
    assert f"plan: Cohen&#x27;s w {report.features['plan'].detectable:.2f} (needs 0.35)" in page
    assert page.count("<svg") == len(report.features) + 1  # the distributions are still drawn
