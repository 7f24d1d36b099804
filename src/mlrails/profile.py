"""Reference profiles: what the training data looked like, in kilobytes.

Computed once at training time and stored beside the model, so a drift check only has to
bin the current window against fixed edges: no training data reloaded, bounded memory.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from mlrails.config import Dataset

PROFILE_VERSION = 1
PREDICTION = "__prediction__"


def quantile_edges(values: np.ndarray, bins: int) -> list[float]:
    """Inner bin edges at equal-frequency quantiles (duplicates merged for discrete data)."""
    if values.size == 0:
        return []
    inner = np.quantile(values, np.linspace(0, 1, bins + 1)[1:-1])
    return [float(edge) for edge in np.unique(inner)]


def bin_numeric(values: np.ndarray, edges: Sequence[float]) -> np.ndarray:
    """Counts per bin; bin i holds edges[i-1] <= x < edges[i], the ends are open."""
    return np.bincount(np.searchsorted(np.asarray(edges), values, side="right"), minlength=len(edges) + 1)


def _numeric_profile(column: pd.Series, bins: int) -> dict[str, Any]:
    values = pd.to_numeric(column, errors="coerce").to_numpy(dtype="float64")
    present = values[~np.isnan(values)]
    edges = quantile_edges(present, bins)
    counts = bin_numeric(present, edges)
    return {
        "type": "numeric",
        "edges": edges,
        "counts": [int(c) for c in counts],
        "missing_rate": float(1 - present.size / max(values.size, 1)),
        "mean": float(present.mean()) if present.size else None,
        "std": float(present.std()) if present.size else None,
        "min": float(present.min()) if present.size else None,
        "max": float(present.max()) if present.size else None,
    }


def _categorical_profile(column: pd.Series) -> dict[str, Any]:
    present = column.dropna().astype(str)
    counts = present.value_counts()
    return {
        "type": "categorical",
        "counts": {str(k): int(v) for k, v in counts.items()},
        "missing_rate": float(1 - len(present) / max(len(column), 1)),
    }


def build_profile(features: pd.DataFrame, predictions: Sequence[Any], dataset: Dataset, *,
                  bins: int, task: str) -> dict[str, Any]:
    """Profile each feature by its type, plus the model's prediction distribution."""
    profiled = {
        f.name: _numeric_profile(features[f.name], bins) if f.type == "numeric"
        else _categorical_profile(features[f.name])
        for f in dataset.features
    }
    prediction_series = pd.Series(list(predictions))
    profiled[PREDICTION] = (
        _categorical_profile(prediction_series) if task == "classification"
        else _numeric_profile(prediction_series, bins)
    )
    return {"profile_version": PROFILE_VERSION, "rows": int(len(features)), "features": profiled}
