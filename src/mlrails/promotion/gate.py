"""The promotion gate: does the challenger beat the champion on the same holdout?"""

from __future__ import annotations

from dataclasses import dataclass

from mlrails.config import Promotion


@dataclass(frozen=True)
class GateDecision:
    promote: bool
    metric: str
    challenger: float
    champion: float | None
    delta: float | None
    reason: str


def _gain(metric: str, new: float, old: float) -> float:
    """How much better ``new`` is than ``old`` (negative: worse), whatever the metric's direction."""
    return new - old if Promotion.direction(metric) == "maximize" else old - new


def decide(
    *,
    metric: str,
    rules: Promotion,
    challenger: dict[str, float],
    champion: dict[str, float] | None,
    against: str = "champion",
) -> GateDecision:
    """Promote when there is nothing to beat, or when the challenger improves ``metric`` by
    ``rules.min_improvement`` (absolute, or relative to the champion's score) and no guard
    metric regresses by more than its tolerance. ``against`` names what is being beaten
    (the champion, or the placeholder baseline for a first real model)."""
    if metric not in challenger:
        return GateDecision(
            False,
            metric,
            float("nan"),
            None,
            None,
            f"challenger has no '{metric}' score (metrics: {sorted(challenger)})",
        )
    new = challenger[metric]
    if champion is None or metric not in champion:
        return GateDecision(True, metric, new, None, None, f"no {against} yet: the first model is promoted")
    old = champion[metric]
    gain = _gain(metric, new, old)
    required = rules.min_improvement * (abs(old) if rules.improvement == "relative" else 1.0)
    summary = f"{metric} {old:.4f} -> {new:.4f} vs {against} (gain {gain:+.4f}, required {required:.4f})"
    if not gain >= required:  # also refuses NaN scores
        return GateDecision(False, metric, new, old, gain, f"{summary}: not enough")
    for guard, tolerance in sorted(rules.guards.items()):
        if guard not in champion:
            continue  # nothing to regress from
        if guard not in challenger:
            return GateDecision(False, metric, new, old, gain, f"{summary}, but guard {guard} has no challenger score")
        loss = -_gain(guard, challenger[guard], champion[guard])
        if not loss <= tolerance:
            return GateDecision(
                False,
                metric,
                new,
                old,
                gain,
                f"{summary}, but guard {guard} regressed by {loss:.4f} > tolerance {tolerance:.4f}",
            )
    return GateDecision(True, metric, new, old, gain, summary)
