"""Drift test helpers: a reference profile of the synthetic churn data and a window's counts."""

from __future__ import annotations

from datetime import datetime

import pandas as pd

from mlrails.config import ProjectConfig
from mlrails.drift.measures import WindowCounts
from mlrails.drift.profile import PREDICTION, build_profile
from mlrails.local.synthetic import churn_frame


def churn_profile(cfg: ProjectConfig, start: datetime) -> dict:
    """The reference profile of 5,000 synthetic churn rows from ``start`` (ten bins)."""
    reference = churn_frame(5000, start, seed=1)
    return build_profile(
        reference[cfg.dataset.feature_names], reference["churned"], cfg.dataset, bins=10, task="classification"
    )


def window_of(profile: dict, frame: pd.DataFrame) -> WindowCounts:
    """``frame``'s counts against ``profile``, its label standing for the prediction (0 without one)."""
    window = WindowCounts(profile=profile)
    window.add(frame.assign(**{PREDICTION: frame.get("churned", 0)}))
    return window
