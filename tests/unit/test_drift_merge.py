"""Mergeable drift counts: the report from shards' partials, merged, is the report of one pass
over the same rows — every field, and the page — whatever the split (empty shards, shards
missing a column), against the example's profile and a user's regression project."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mlrails.config import Dataset
from mlrails.drift.measures import PartialMismatch, WindowCounts, drift_report
from mlrails.drift.profile import PREDICTION, build_profile
from mlrails.drift.report import render_drift_html
from mlrails.local.synthetic import churn_frame
from support.drift import churn_profile

START = datetime(2026, 1, 1, tzinfo=UTC)


def _flats_profile() -> dict:
    """A user's project unlike the example: a regression on flats, an integer-valued feature,
    a constant one and a category with a rare level (built from its own training rows)."""
    rng = np.random.default_rng(7)
    n = 800
    frame = pd.DataFrame(
        {
            "area_m2": rng.lognormal(4, 0.4, n),
            "rooms": rng.integers(1, 6, n).astype(float),
            "floor_count": np.full(n, 5.0),
            "district": rng.choice(["north", "south", "east", "old town"], n, p=[0.4, 0.3, 0.29, 0.01]),
        }
    )
    dataset = Dataset(
        task="regression",
        target="price",
        features=[
            {"name": "area_m2", "type": "numeric"},
            {"name": "rooms", "type": "numeric"},
            {"name": "floor_count", "type": "numeric"},
            {"name": "district", "type": "categorical"},
        ],
    )
    return build_profile(frame, frame["area_m2"] * 3000, dataset, bins=8, task="regression")


@pytest.fixture(scope="module")
def profiles(cfg) -> dict[str, dict]:
    return {"churn": churn_profile(cfg, START), "flats": _flats_profile()}


def _numbers(reference: dict) -> st.SearchStrategy:
    """Values near the reference, far outside it, integers on its atoms, NaN, None (no
    infinities: the API and a batch job refuse them before drift sees a row)."""
    low, high = reference["min"], reference["max"]
    span = max(high - low, 1.0)
    return st.one_of(
        st.floats(low - 5 * span, high + 5 * span, allow_nan=False),
        st.sampled_from([low, high, *reference["sketch"][:5], float("nan"), None]),
        st.integers(int(low) - 3, int(high) + 3).map(float),
    )


def _labels(reference: dict) -> st.SearchStrategy:
    return st.one_of(st.sampled_from(sorted(reference["counts"])), st.sampled_from(["unseen", "zzz", None]))


@st.composite
def _split_window(draw, profile: dict) -> tuple[pd.DataFrame, list[pd.DataFrame]]:
    """A random window and a random split of it into shards (some empty), each shard maybe
    missing some columns (a JSON Lines file without a key): the whole has NaN there."""
    features = profile["features"]
    rows = draw(st.integers(0, 60))
    columns = {
        name: draw(st.lists(_numbers(ref) if ref["type"] == "numeric" else _labels(ref), min_size=rows, max_size=rows))
        for name, ref in features.items()
    }
    frame = pd.DataFrame(columns, index=range(rows))
    cuts = sorted(draw(st.lists(st.integers(0, rows), max_size=5)))
    shards = []
    for start, end in zip([0, *cuts], [*cuts, rows], strict=True):
        dropped = draw(st.sets(st.sampled_from(sorted(features)), max_size=2))
        shards.append(frame.iloc[start:end].drop(columns=sorted(dropped)))
    whole = pd.concat([shard.reindex(columns=frame.columns) for shard in shards]) if shards else frame
    return whole, shards


def _report_and_page(window: WindowCounts, cfg) -> tuple[str, str]:
    report = drift_report(window, cfg.monitoring)
    page = render_drift_html(report, window, cfg.monitoring, model="m", version="1", scope="test")
    # NaN and infinities compare equal as JSON text, unlike as floats.
    return json.dumps(report.to_dict(), sort_keys=True), page


@pytest.mark.parametrize("name", ["churn", "flats"])
@settings(max_examples=30, deadline=None)
@given(data=st.data())
def test_merged_partials_give_the_report_of_one_pass(profiles, cfg, name, data):
    profile = profiles[name]
    whole, shards = data.draw(_split_window(profile))
    single = WindowCounts(profile=profile)
    single.add(whole)
    partials = []
    for shard in shards:
        counts = WindowCounts(profile=profile)
        counts.add(shard)
        partials.append(json.loads(json.dumps(counts.to_partial())))  # as stored: JSON text
    merged = WindowCounts.merge(profile, partials)
    assert merged.rows == single.rows == len(whole)
    assert _report_and_page(merged, cfg) == _report_and_page(single, cfg)


def test_a_drifted_window_split_in_shards_keeps_its_verdict(profiles, cfg):
    profile = profiles["churn"]
    frame = churn_frame(3000, START, seed=4, drift=0.6).assign(**{PREDICTION: lambda f: f["churned"]})
    single = WindowCounts(profile=profile)
    single.add(frame)
    partials = []
    for part in np.array_split(np.arange(len(frame)), 7):
        counts = WindowCounts(profile=profile)
        counts.add(frame.iloc[part])
        partials.append(counts.to_partial())
    merged = drift_report(WindowCounts.merge(profile, partials), cfg.monitoring)
    assert merged.status == "drift" and merged.drifted_features
    assert merged.to_dict() == drift_report(single, cfg.monitoring).to_dict()


def test_a_partial_of_another_profile_is_refused(profiles):
    counts = WindowCounts(profile=profiles["flats"])
    counts.add(pd.DataFrame({"area_m2": [50.0], "district": ["north"]}))
    with pytest.raises(PartialMismatch, match="another profile"):
        WindowCounts.merge(profiles["churn"], [counts.to_partial()])
    with pytest.raises(PartialMismatch, match="partial version"):
        WindowCounts.merge(profiles["flats"], [{**counts.to_partial(), "partial_version": 99}])
