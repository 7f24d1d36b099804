"""Drift between a reference profile and a window of served requests.

Counts accumulate chunk by chunk (:meth:`WindowCounts.add`) on grids fixed by the reference,
so memory stays bounded whatever the window's size and a window read in chunks gives exactly
the report of the same rows read at once. The counts are also **mergeable**: a shard of the
window (a batch job's shard, a part of a big drift window) writes its counts as a JSON
*partial* (:meth:`WindowCounts.to_partial`), and :meth:`WindowCounts.merge` folds the partials
of every shard into the counts of one pass over all their rows. Every statistic is an integer
count on a grid the reference fixes, or a minimum or maximum: sums and extremes do not depend
on the order or grouping of the rows, so the merged report is identical to a single pass's,
field for field.

Measures, per feature (all computed, one decides — ``Monitoring.test_for``):

- ``psi``: Population Stability Index on the reference's equal-frequency bins (categories
  for a categorical feature, with an ``__unseen__`` bucket).
- ``jensenshannon``: Jensen–Shannon distance with base-2 logarithms (in [0, 1]; the square
  root of the divergence in bits) on the same proportions. For small shifts it is about
  Cohen's w / √(8 ln 2) = w / 2.35, so its default threshold 0.1 sits beside chi-square's 0.25.
- ``chi2``: chi-square test of homogeneity on the same counts (reference row vs window row);
  its effect size is Cohen's w for two samples, ``sqrt(chi2 / n_eff)`` with
  ``n_eff = n·N / (n + N)``, which, unlike the raw statistic or Cramér's V of an unbalanced
  table, does not move with the window's size.
- ``wasserstein`` (numeric): earth mover's distance between the reference and the window on
  a fine grid (the reference's percentiles plus tail bins four ranges out, see
  :func:`mlrails.drift.profile.reference_grid`), each bin's mass at its left edge within the
  reference range and spread across the bin beyond it
  (:func:`mlrails.drift.statistics.wasserstein_on_grid`), **divided by the
  reference standard deviation** (the convention of Evidently, so thresholds carry over; an
  IQR would be 0 for many discrete features). A constant reference divides by 1.
- ``ks`` (numeric): the two-sample Kolmogorov–Smirnov statistic, the largest gap between the
  two CDFs at the grid points (exact for data whose values are all grid points, otherwise
  within one percentile bin), with the asymptotic (Kolmogorov) p-value.

The arithmetic is numpy only (:mod:`mlrails.drift.statistics`: the formulas SciPy would
give, written out and tested against SciPy).

A feature drifts when its deciding measure reaches its threshold — an effect size that a
large window does not inflate — **and** the classic test on the same representation is
significant (p < ``monitoring.alpha``; KS for Wasserstein and KS, chi-square for the binned
measures): at a few hundred rows, sampling noise alone can reach an effect threshold, and the
p-value gate keeps it quiet; at large windows every real difference is significant and the
effect size decides.

A window gets a verdict only when it has the **power** to see drift: for every feature, the
gating test (KS or chi-square) at ``alpha`` detects ``monitoring.effect_size`` (a KS distance,
or Cohen's w) with probability at least ``monitoring.min_power``, given the feature's values
in the window and in the reference (:mod:`mlrails.drift.statistics` derives the smallest
detectable effect). Otherwise the status is ``insufficient_data`` and each feature states the
smallest effect the window could detect (``detectable``). A feature with no values in the
window can detect nothing, so it holds the verdict back too: a verdict speaks for every feature.
The prediction's power is reported but, like its drift, does not count.

Data quality (missing-rate jump, unseen categories, values outside the reference range) is
reported per feature and in ``data_quality``; it does **not** count toward drifted features:
it points at the pipeline rather than the population, and retraining on broken inputs would
not help. Unseen categories still move a categorical feature's distribution measures, since
the ``__unseen__`` bucket is one of its categories.
"""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field
from enum import StrEnum
from typing import Any

import numpy as np
import pandas as pd

from mlrails.config import NUMERIC_ONLY_TESTS, Monitoring
from mlrails.drift.profile import PREDICTION, READABLE_VERSIONS, bin_sorted, reference_grid
from mlrails.drift.statistics import (
    chi2_detectable,
    chi2_homogeneity,
    jensenshannon,
    ks_detectable,
    ks_on_grid,
    psi,
    wasserstein_on_grid,
)

UNSEEN = "__unseen__"
# The measure each gating test's effect sizes are in (``FeatureDrift.detectable``).
EFFECT_MEASURES = {"ks": "KS distance", "chi2": "Cohen's w"}


PARTIAL_VERSION = 1


class PartialMismatch(ValueError):
    """A partial that cannot be merged here: counted against another reference profile, or
    written in a form this mlrails does not read."""


def profile_fingerprint(profile: Mapping[str, Any]) -> str:
    """A digest of a reference profile's content: partials counted on its grids carry it."""
    return hashlib.sha256(json.dumps(profile, sort_keys=True).encode()).hexdigest()


class DriftStatus(StrEnum):
    """A drift check's verdict."""

    DRIFT = "drift"  # at least monitoring.drifted_share of the features drifted
    OK = "ok"
    INSUFFICIENT_DATA = "insufficient_data"  # too few values to detect effect_size at min_power: no verdict
    NO_MODEL = "no_model"  # nothing promoted yet: nothing to compare with


@dataclass
class WindowCounts:
    """Running per-feature counts for the current window, binned on the reference's grids.

    Memory is a few hundred integers per feature, whatever the window's size."""

    profile: dict[str, Any]
    rows: int = 0
    numeric: dict[str, np.ndarray] = field(default_factory=dict)
    fine: dict[str, np.ndarray] = field(default_factory=dict)
    out_of_range: Counter = field(default_factory=Counter)
    low: dict[str, float] = field(default_factory=dict)
    high: dict[str, float] = field(default_factory=dict)
    categorical: dict[str, Counter] = field(default_factory=dict)
    missing: Counter = field(default_factory=Counter)
    grids: dict[str, tuple[np.ndarray, np.ndarray] | None] = field(default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        version = self.profile.get("profile_version")
        if version not in READABLE_VERSIONS:
            raise ValueError(
                f"reference profile version {version!r} is not one this mlrails reads "
                f"{READABLE_VERSIONS}; rebuild the profile or upgrade mlrails"
            )
        self.grids = {
            name: reference_grid(ref) for name, ref in self.profile["features"].items() if ref["type"] == "numeric"
        }

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
                numbers = pd.to_numeric(present, errors="coerce").to_numpy(dtype="float64", na_value=np.nan)
                self._add_numeric(name, reference, np.sort(numbers[~np.isnan(numbers)]))
            else:
                self._add_categorical(name, reference, present)

    def to_partial(self) -> dict[str, Any]:
        """The counts as a JSON document, to merge with other shards' (:meth:`merge`); it names
        its reference profile by fingerprint."""
        return {
            "partial_version": PARTIAL_VERSION,
            "profile": profile_fingerprint(self.profile),
            "rows": self.rows,
            "missing": dict(self.missing),
            "numeric": {name: counts.tolist() for name, counts in self.numeric.items()},
            "fine": {name: counts.tolist() for name, counts in self.fine.items()},
            "out_of_range": dict(self.out_of_range),
            "low": dict(self.low),
            "high": dict(self.high),
            "categorical": {name: dict(counts) for name, counts in self.categorical.items()},
        }

    @classmethod
    def merge(cls, profile: dict[str, Any], partials: Iterable[Mapping[str, Any]]) -> WindowCounts:
        """The counts of one pass over every row the ``partials`` counted (each from
        :meth:`to_partial` against ``profile``). Raises :class:`PartialMismatch` for a partial
        of another profile: its bins are not these."""
        window = cls(profile=profile)
        fingerprint = profile_fingerprint(profile)
        for partial in partials:
            if partial.get("partial_version") != PARTIAL_VERSION:
                raise PartialMismatch(
                    f"drift partial version {partial.get('partial_version')!r} is not {PARTIAL_VERSION}: "
                    "recompute it with this mlrails"
                )
            if partial["profile"] != fingerprint:
                raise PartialMismatch(
                    f"a drift partial counted against reference profile {partial['profile'][:12]} cannot merge "
                    f"into one against {fingerprint[:12]}: its bins are another profile's"
                )
            window._absorb(partial)
        return window

    def _absorb(self, partial: Mapping[str, Any]) -> None:
        self.rows += partial["rows"]
        self.missing.update(partial["missing"])
        self.out_of_range.update(partial["out_of_range"])
        for mine, theirs in ((self.numeric, partial["numeric"]), (self.fine, partial["fine"])):
            for name, counts in theirs.items():
                mine[name] = mine.get(name, 0) + np.asarray(counts, dtype=np.int64)
        for name, value in partial["low"].items():
            self.low[name] = min(self.low.get(name, np.inf), value)
        for name, value in partial["high"].items():
            self.high[name] = max(self.high.get(name, -np.inf), value)
        for name, counts in partial["categorical"].items():
            self.categorical.setdefault(name, Counter()).update(counts)

    def _add_numeric(self, name: str, reference: dict[str, Any], values: np.ndarray) -> None:
        # One sort per column and chunk serves both grids, the range and the extremes.
        self.numeric[name] = self.numeric.get(name, 0) + bin_sorted(values, reference["edges"])
        grid = self.grids[name]
        if grid is None or values.size == 0:
            return
        edges, _ = grid
        self.fine[name] = self.fine.get(name, 0) + bin_sorted(values, edges)
        below = np.searchsorted(values, reference["min"], side="left")
        above = values.size - np.searchsorted(values, reference["max"], side="right")
        self.out_of_range[name] += int(below + above)
        self.low[name] = min(self.low.get(name, np.inf), float(values[0]))
        self.high[name] = max(self.high.get(name, -np.inf), float(values[-1]))

    def _add_categorical(self, name: str, reference: dict[str, Any], present: pd.Series) -> None:
        # Count the raw values first and stringify only the distinct ones: a window has far
        # fewer categories than rows. Object columns can hold anything a JSON capture does
        # (lists included), which only their string form can count.
        counts = (present.astype(str) if present.dtype == object else present).value_counts()
        known, folded = reference["counts"], Counter()
        for label, count in counts[counts > 0].items():  # a categorical dtype lists its empty categories too
            label = str(label)
            folded[label if label in known else UNSEEN] += int(count)
        self.categorical.setdefault(name, Counter()).update(folded)


@dataclass(frozen=True)
class QualityFinding:
    feature: str
    check: str  # "missing_rate_jump" | "unseen_categories" | "out_of_range"
    value: float
    threshold: float


@dataclass(frozen=True)
class FeatureDrift:
    psi: float
    drifted: bool
    missing_rate: float
    reference_missing_rate: float
    unseen_share: float | None = None
    type: str = "numeric"
    test: str = "psi"  # the measure that decided `drifted`
    score: float | None = None  # its value (None: no values in the window)
    threshold: float | None = None
    p_value: float | None = None  # of the classic test gating small windows
    rows: int = 0  # values present in the window
    gate: str = "chi2"  # that classic test: "ks" or "chi2" (EFFECT_MEASURES: its effect's measure)
    # The smallest effect (in the gate's measure) the window detects with probability
    # monitoring.min_power at monitoring.alpha; None: no values, nothing to detect with.
    detectable: float | None = None
    effect_size: float = 0.0  # the configured effect it must reach (monitoring.effect_size)
    jensenshannon: float | None = None
    chi2: float | None = None
    chi2_p_value: float | None = None
    chi2_effect: float | None = None  # Cohen's w
    wasserstein: float | None = None  # in reference standard deviations
    ks: float | None = None
    ks_p_value: float | None = None
    out_of_range_share: float | None = None
    quality: tuple[str, ...] = ()  # the data-quality checks this feature failed


@dataclass(frozen=True)
class DriftReport:
    status: DriftStatus
    rows: int
    min_power: float
    features: dict[str, FeatureDrift]
    drifted_features: list[str]
    drifted_share: float
    prediction_psi: float | None
    prediction: FeatureDrift | None = None
    data_quality: list[QualityFinding] = field(default_factory=list)
    # The features whose `detectable` exceeds their `effect_size` (or that have no values):
    # any of them makes the window insufficient_data.
    underpowered: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form (the report written to S3)."""
        return asdict(self)


def _binned(name: str, reference: dict[str, Any], window: WindowCounts) -> tuple[np.ndarray, np.ndarray]:
    """Reference and window counts on the coarse bins (categories plus ``__unseen__``)."""
    if reference["type"] == "numeric":
        current = window.numeric.get(name, np.zeros(len(reference["edges"]) + 1))
        return np.asarray(reference["counts"], dtype=float), np.asarray(current, dtype=float)
    observed = window.categorical.get(name, Counter())
    categories = [*reference["counts"], UNSEEN]
    return (
        np.array([reference["counts"].get(c, 0) for c in categories], dtype=float),
        np.array([observed.get(c, 0) for c in categories], dtype=float),
    )


def _feature_drift(
    name: str, reference: dict[str, Any], window: WindowCounts, monitoring: Monitoring, test: str
) -> FeatureDrift:
    kind = reference["type"]
    if test in NUMERIC_ONLY_TESTS and kind != "numeric":
        raise ValueError(f"monitoring test {test!r} for '{name}' needs a numeric feature, the profile has {kind}")
    ref, cur = _binned(name, reference, window)
    present = int(cur.sum())
    missing_rate = window.missing[name] / max(window.rows, 1)
    gate = monitoring.gate_for(test)
    common = {
        "missing_rate": missing_rate,
        "reference_missing_rate": reference["missing_rate"],
        "type": kind,
        "test": test,
        "threshold": monitoring.threshold(test),
        "rows": present,
        "gate": gate,
        "effect_size": getattr(monitoring.effect_size, gate),
    }
    unseen_share = float(cur[-1] / present) if kind == "categorical" and present else None
    quality = _quality(name, reference, window, monitoring, unseen_share)
    if present == 0 or ref.sum() == 0:  # nothing to compare: the missing rate tells the story
        return FeatureDrift(psi=0.0, drifted=False, unseen_share=unseen_share, quality=quality, **common)

    measures: dict[str, Any] = {"psi": psi(ref, cur), "jensenshannon": jensenshannon(ref, cur)}
    measures["chi2"], measures["chi2_p_value"], measures["chi2_effect"] = chi2_homogeneity(ref, cur)
    p_values = dict.fromkeys(("psi", "jensenshannon", "chi2"), measures["chi2_p_value"])
    scores = {"psi": measures["psi"], "jensenshannon": measures["jensenshannon"], "chi2": measures["chi2_effect"]}
    grid = window.grids.get(name)
    if kind == "numeric" and grid is not None:
        edges, ref_fine = grid
        cur_fine = window.fine[name]
        measures["ks"], measures["ks_p_value"] = ks_on_grid(ref_fine, cur_fine)
        scale = reference["std"] if reference.get("std") else 1.0
        measures["wasserstein"] = (
            wasserstein_on_grid(edges, ref_fine, cur_fine, window.low[name], window.high[name]) / scale
        )
        measures["out_of_range_share"] = window.out_of_range[name] / present
        p_values.update(ks=measures["ks_p_value"], wasserstein=measures["ks_p_value"])
        scores.update(ks=measures["ks"], wasserstein=measures["wasserstein"])
    if test not in scores:
        raise ValueError(
            f"monitoring test {test!r} for '{name}' needs the profile's quantile sketch, which this profile lacks"
        )
    score, p_value = scores[test], p_values[test]
    detectable = _detectable(gate, present, ref, cur, monitoring)
    drifted = detectable <= common["effect_size"] and score >= monitoring.threshold(test) and p_value < monitoring.alpha
    return FeatureDrift(
        drifted=drifted,
        unseen_share=unseen_share,
        score=score,
        p_value=p_value,
        detectable=detectable,
        quality=quality,
        **measures,
        **common,
    )


def _detectable(gate: str, present: int, ref: np.ndarray, cur: np.ndarray, monitoring: Monitoring) -> float:
    """The smallest effect the gating test detects at ``alpha`` with ``min_power``, given the
    window's and the reference's value counts (and, for chi-square, its degrees of freedom)."""
    if gate == "ks":
        return ks_detectable(present, ref.sum(), monitoring.alpha, monitoring.min_power)
    # The test's own degrees of freedom: buckets empty on both sides are left out. A single
    # bucket still gets one: a change would show as a second.
    dof = max(int(((ref + cur) > 0).sum()) - 1, 1)
    return chi2_detectable(present, ref.sum(), dof, monitoring.alpha, monitoring.min_power)


def smallest_detectable(report: Mapping[str, Any]) -> str:
    """What an ``insufficient_data`` window could have detected, from the JSON form of its
    report (:meth:`DriftReport.to_dict`): the underpowered features, each with the smallest
    effect its values detect at ``min_power`` and the effect size a verdict needs."""
    if all(feature["detectable"] is None for feature in report["features"].values()):
        return "no values in the window"
    parts = []
    for name in report["underpowered"]:
        feature = report["features"][name]
        if feature["detectable"] is None:
            parts.append(f"{name}: no values")
        else:
            measure = EFFECT_MEASURES[feature["gate"]]
            parts.append(f"{name}: {measure} {feature['detectable']:.2f} (needs {feature['effect_size']:g})")
    return "; ".join(parts) or "no features"


def _quality(
    name: str, reference: dict[str, Any], window: WindowCounts, monitoring: Monitoring, unseen_share: float | None
) -> tuple[str, ...]:
    failed = []
    if window.missing[name] / max(window.rows, 1) - reference["missing_rate"] >= monitoring.max_missing_rate_increase:
        failed.append("missing_rate_jump")
    if unseen_share is not None and unseen_share >= monitoring.max_unseen_share:
        failed.append("unseen_categories")
    present = int(window.numeric[name].sum()) if name in window.numeric else 0
    if present and window.out_of_range[name] / present >= monitoring.max_out_of_range_share:
        failed.append("out_of_range")
    return tuple(failed)


def _findings(name: str, result: FeatureDrift, monitoring: Monitoring) -> list[QualityFinding]:
    values = {
        "missing_rate_jump": (
            result.missing_rate - result.reference_missing_rate,
            monitoring.max_missing_rate_increase,
        ),
        "unseen_categories": (result.unseen_share, monitoring.max_unseen_share),
        "out_of_range": (result.out_of_range_share, monitoring.max_out_of_range_share),
    }
    return [QualityFinding(name, check, *values[check]) for check in result.quality]


def drift_report(window: WindowCounts, monitoring: Monitoring) -> DriftReport:
    """Per-feature drift by the configured measures, data-quality findings, the dataset-level
    rule (share of drifted features) and prediction drift (reported, not counted in the share).

    A window without the power to detect ``monitoring.effect_size`` in every feature is
    ``insufficient_data``: no verdict, never a false alarm, and each feature's ``detectable``
    says what the window could have seen.
    """
    reference = window.profile["features"]
    per_feature = {
        name: _feature_drift(name, ref, window, monitoring, monitoring.test_for(name, ref["type"]))
        for name, ref in reference.items()
        if name != PREDICTION
    }
    drifted = sorted(name for name, result in per_feature.items() if result.drifted)
    share = len(drifted) / max(len(per_feature), 1)
    underpowered = sorted(
        name
        for name, result in per_feature.items()
        if result.detectable is None or result.detectable > result.effect_size
    )
    prediction = None
    if PREDICTION in reference:
        kind = reference[PREDICTION]["type"]
        test = monitoring.prediction_test or (
            monitoring.numeric_test if kind == "numeric" else monitoring.categorical_test
        )
        prediction = _feature_drift(PREDICTION, reference[PREDICTION], window, monitoring, test)
    quality = [finding for name, result in per_feature.items() for finding in _findings(name, result, monitoring)]
    if underpowered or not per_feature:
        status = DriftStatus.INSUFFICIENT_DATA
    else:
        status = DriftStatus.DRIFT if share >= monitoring.drifted_share else DriftStatus.OK
    return DriftReport(
        status,
        window.rows,
        monitoring.min_power,
        per_feature,
        drifted,
        share,
        prediction.psi if prediction else None,
        prediction,
        quality,
        underpowered,
    )
