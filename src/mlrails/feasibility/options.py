"""How hard the feasibility check looks: thresholds for findings and bounds on its time."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class CheckOptions:
    """Thresholds for the findings and bounds on the quick model's time.

    Defaults suit tabular data of a few thousand rows or more; every figure a finding
    quotes is one of these, so a reader can tell why something was flagged."""

    # Bounds: the quick model, the learning curve and the leakage probes see at most
    # ``sample_rows`` rows, cross-validated with ``folds`` folds.
    sample_rows: int = 5000
    folds: int = 3
    curve_fractions: tuple[float, ...] = (0.1, 0.25, 0.5)  # plus 1.0, the quick model itself
    seed: int = 0
    # The serving path's latency around the model (None: the documented assumption,
    # mlrails.feasibility.action.SERVING_OVERHEAD_MS).
    serving_overhead_ms: float | None = None

    # Data findings.
    max_missing_rate: float = 0.2  # a nullable column above this is a warning
    near_constant_share: float = 0.99  # one value in at least this share of rows
    max_categories: int = 50  # distinct values of a categorical feature
    max_duplicate_share: float = 0.01  # identical rows
    min_class_share: float = 0.05  # the rarest class (classification)
    leakage_score: float = 0.95  # one feature alone: balanced accuracy or R²

    def __post_init__(self) -> None:
        if self.sample_rows < 50:
            raise ValueError("sample_rows must be at least 50")
        if self.folds < 2:
            raise ValueError("folds must be at least 2")
        if not all(0 < f < 1 for f in self.curve_fractions):
            raise ValueError("curve_fractions must lie strictly between 0 and 1")
