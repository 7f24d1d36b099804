"""Drift between a reference profile and a window of served requests.

Counts accumulate chunk by chunk (:meth:`WindowCounts.add`), so memory stays bounded
whatever the window's size; the report compares proportions with the Population Stability
Index, which — unlike a p-value — does not flag everything merely because a window is large.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from mlrails.config import Monitoring
from mlrails.profile import PREDICTION, bin_numeric

UNSEEN = "__unseen__"
_EPSILON = 1e-4  # floor for empty bins: PSI is undefined at zero, and a tiny floor keeps it finite


def psi(reference: np.ndarray, current: np.ndarray) -> float:
    """Population Stability Index of two count (or proportion) vectors over the same bins."""
    ref = np.clip(reference / max(reference.sum(), 1), _EPSILON, None)
    cur = np.clip(current / max(current.sum(), 1), _EPSILON, None)
    return float(np.sum((cur - ref) * np.log(cur / ref)))


@dataclass
class WindowCounts:
    """Running per-feature counts for the current window, binned like the reference."""

    profile: dict[str, Any]
    rows: int = 0
    numeric: dict[str, np.ndarray] = field(default_factory=dict)
    categorical: dict[str, Counter] = field(default_factory=dict)
    missing: Counter = field(default_factory=Counter)

    def add(self, chunk: pd.DataFrame) -> None:
        """Fold a chunk of captured rows (feature columns plus ``__prediction__``) in."""
        self.rows += len(chunk)
        for name, reference in self.profile["features"].items():
            if name not in chunk.columns:
                self.missing[name] += len(chunk)
                continue
            column = chunk[name]
            self.missing[name] += int(column.isna().sum())
            present = column.dropna()
            if reference["type"] == "numeric":
                values = pd.to_numeric(present, errors="coerce").dropna().to_numpy(dtype="float64")
                counts = bin_numeric(values, reference["edges"])
                self.numeric[name] = self.numeric.get(name, 0) + counts
            else:
                known = reference["counts"]
                labels = present.astype(str).map(lambda v: v if v in known else UNSEEN)
                self.categorical.setdefault(name, Counter()).update(labels.value_counts().to_dict())


@dataclass(frozen=True)
class FeatureDrift:
    psi: float
    drifted: bool
    missing_rate: float
    reference_missing_rate: float
    unseen_share: float | None = None


@dataclass(frozen=True)
class DriftReport:
    status: str  # "drift" | "ok" | "insufficient_data"
    rows: int
    min_rows: int
    features: dict[str, FeatureDrift]
    drifted_features: list[str]
    drifted_share: float
    prediction_psi: float | None

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form (the report written to S3)."""
        return asdict(self)


def _feature_drift(name: str, reference: dict[str, Any], window: WindowCounts, threshold: float) -> FeatureDrift:
    unseen_share = None
    if reference["type"] == "numeric":
        current = window.numeric.get(name, np.zeros(len(reference["edges"]) + 1))
        score = psi(np.asarray(reference["counts"], dtype=float), np.asarray(current, dtype=float))
    else:
        observed = window.categorical.get(name, Counter())
        categories = [*reference["counts"], UNSEEN]
        ref = np.array([reference["counts"].get(c, 0) for c in categories], dtype=float)
        cur = np.array([observed.get(c, 0) for c in categories], dtype=float)
        score = psi(ref, cur)
        unseen_share = float(cur[-1] / max(cur.sum(), 1))
    return FeatureDrift(
        psi=score, drifted=score >= threshold,
        missing_rate=window.missing[name] / max(window.rows, 1),
        reference_missing_rate=reference["missing_rate"], unseen_share=unseen_share,
    )


def drift_report(window: WindowCounts, monitoring: Monitoring) -> DriftReport:
    """Per-feature PSI, the dataset-level rule (share of drifted features) and prediction drift.

    Below ``min_window_rows`` the status is ``insufficient_data``: never a false alarm.
    """
    if window.rows < monitoring.min_window_rows:
        return DriftReport("insufficient_data", window.rows, monitoring.min_window_rows, {}, [], 0.0, None)
    reference = window.profile["features"]
    per_feature = {
        name: _feature_drift(name, ref, window, monitoring.psi_threshold)
        for name, ref in reference.items() if name != PREDICTION
    }
    drifted = sorted(name for name, result in per_feature.items() if result.drifted)
    share = len(drifted) / max(len(per_feature), 1)
    prediction = (
        _feature_drift(PREDICTION, reference[PREDICTION], window, monitoring.psi_threshold).psi
        if PREDICTION in reference else None
    )
    status = "drift" if share >= monitoring.drifted_share else "ok"
    return DriftReport(status, window.rows, monitoring.min_window_rows, per_feature, drifted, share, prediction)
