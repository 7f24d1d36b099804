"""Reference profiles: what the training data looked like, in kilobytes.

Computed once at training time and stored beside the model, so a drift check only has to
bin the current window against fixed edges: no training data reloaded, bounded memory.

A numeric feature keeps ``bins`` equal-frequency bins (``edges``/``counts``: PSI, Jensen–Shannon,
chi-square), its moments, range and missing rate, and a quantile sketch (``sketch``: the
values at the 0, 1, …, 100th percentiles, merged where equal, with ``sketch_counts``, the
reference counts on that grid) from which Wasserstein and KS are approximated to within one
percentile bin. A categorical feature keeps its category counts.

Version 1 profiles (no sketch) are still read: the drift engine then builds its grid from the
bin edges and the range (:func:`reference_grid`), coarser but usable.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from mlrails.config import Dataset

PROFILE_VERSION = 2
READABLE_VERSIONS = (1, 2)
SKETCH_QUANTILES = 100
# Grid bins beyond each end of the reference range, a tenth of the range wide each, four ranges
# out: a window that moved out of the reference range is still binned finely enough for its
# Wasserstein distance to be transported the right distance.
_TAIL_STEPS = 40
_TAIL_STEPS_PER_RANGE = 10
PREDICTION = "__prediction__"


def quantile_edges(values: np.ndarray, bins: int) -> list[float]:
    """Inner bin edges at equal-frequency quantiles (duplicates merged for discrete data)."""
    if values.size == 0:
        return []
    inner = np.quantile(values, np.linspace(0, 1, bins + 1)[1:-1])
    return [float(edge) for edge in np.unique(inner)]


def bin_numeric(values: np.ndarray, edges: Sequence[float]) -> np.ndarray:
    """Counts per bin; bin i holds edges[i-1] <= x < edges[i], the ends are open."""
    return bin_sorted(np.sort(values), edges)


def bin_sorted(values: np.ndarray, edges: Sequence[float]) -> np.ndarray:
    """:func:`bin_numeric` of values already sorted ascending. The edges are located in the
    values rather than each value among the edges: a few hundred binary searches instead of
    one per value, several times faster than ``bincount(searchsorted(edges, values))``."""
    below = np.searchsorted(values, np.asarray(edges, dtype="float64"), side="left")  # values < each edge
    return np.diff(below, prepend=0, append=values.size)


def quantile_sketch(values: np.ndarray, size: int = SKETCH_QUANTILES) -> list[float]:
    """Observed values at ``size + 1`` evenly spaced quantiles (0 = min, 1 = max), duplicates
    merged: actual data values, so a discrete feature's atoms become grid points exactly."""
    if values.size == 0:
        return []
    points = np.quantile(values, np.linspace(0, 1, size + 1), method="inverted_cdf")
    return [float(point) for point in np.unique(points)]


def reference_grid(reference: dict[str, Any]) -> tuple[np.ndarray, np.ndarray] | None:
    """The fine grid a window is binned on for Wasserstein and KS, with the reference's counts.

    Inner edges are the quantile sketch (version 1 profiles: the bin edges plus min and max);
    beyond the reference range, ``_TAIL_STEPS`` bins a tenth of the range wide on each side
    (four ranges), then the open ends. Bin i holds ``edges[i-1] <= x < edges[i]`` (:func:`bin_numeric`).
    ``None`` when the reference had no values."""
    if reference.get("min") is None:
        return None
    low, high = reference["min"], reference["max"]
    if "sketch" in reference:
        core, counts = list(reference["sketch"]), list(reference["sketch_counts"])
    else:
        core, counts = list(reference["edges"]), list(reference["counts"])
        if not core or low < core[0]:
            core, counts = [low, *core], [0, *counts]  # the old first bin becomes [min, e0)
        if high > core[-1]:
            core, counts = [*core, high], [*counts, 0]  # the old last bin becomes [e_last, max)
    width = high - low if high > low else max(abs(high), 1.0)
    step = width / _TAIL_STEPS_PER_RANGE
    below = low - step * np.arange(_TAIL_STEPS, 0, -1)
    above = high + step * np.arange(1, _TAIL_STEPS + 1)
    edges = np.concatenate([below, core, above])
    grid_counts = np.zeros(edges.size + 1, dtype=np.int64)
    grid_counts[_TAIL_STEPS : _TAIL_STEPS + len(counts)] = counts
    return edges, grid_counts


def _numeric_profile(column: pd.Series, bins: int) -> dict[str, Any]:
    values = pd.to_numeric(column, errors="coerce").to_numpy(dtype="float64")
    present = values[~np.isnan(values)]
    edges = quantile_edges(present, bins)
    counts = bin_numeric(present, edges)
    sketch = quantile_sketch(present)
    return {
        "type": "numeric",
        "edges": edges,
        "counts": [int(c) for c in counts],
        "missing_rate": float(1 - present.size / max(values.size, 1)),
        "mean": float(present.mean()) if present.size else None,
        "std": float(present.std()) if present.size else None,
        "min": float(present.min()) if present.size else None,
        "max": float(present.max()) if present.size else None,
        "sketch": sketch,
        "sketch_counts": [int(c) for c in bin_numeric(present, sketch)],
    }


def _categorical_profile(column: pd.Series) -> dict[str, Any]:
    present = column.dropna().astype(str)
    counts = present.value_counts()
    return {
        "type": "categorical",
        "counts": {str(k): int(v) for k, v in counts.items()},
        "missing_rate": float(1 - len(present) / max(len(column), 1)),
    }


def build_profile(
    features: pd.DataFrame, predictions: Sequence[Any], dataset: Dataset, *, bins: int, task: str
) -> dict[str, Any]:
    """Profile each feature by its type, plus the model's prediction distribution."""
    profiled = {
        f.name: _numeric_profile(features[f.name], bins)
        if f.type == "numeric"
        else _categorical_profile(features[f.name])
        for f in dataset.features
    }
    prediction_series = pd.Series(list(predictions))
    profiled[PREDICTION] = (
        _categorical_profile(prediction_series)
        if task == "classification"
        else _numeric_profile(prediction_series, bins)
    )
    return {"profile_version": PROFILE_VERSION, "rows": len(features), "features": profiled}
