"""The promotion gate: does the challenger beat the champion on the same holdout?"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal


@dataclass(frozen=True)
class GateDecision:
    promote: bool
    metric: str
    challenger: float
    champion: float | None
    delta: float | None
    reason: str


def decide(*, metric: str, direction: Literal["maximize", "minimize"], min_improvement: float,
           challenger: dict[str, float], champion: dict[str, float] | None) -> GateDecision:
    """Promote when there is no champion, or when the challenger is at least
    ``min_improvement`` better on ``metric`` (a tie passes at 0: fresher data wins)."""
    if metric not in challenger:
        return GateDecision(False, metric, float("nan"), None, None,
                            f"challenger has no '{metric}' score (metrics: {sorted(challenger)})")
    new = challenger[metric]
    if champion is None or metric not in champion:
        return GateDecision(True, metric, new, None, None, "no champion yet: the first model is promoted")
    old = champion[metric]
    delta = new - old if direction == "maximize" else old - new
    verdict = delta >= min_improvement
    comparison = ">=" if verdict else "<"
    reason = (f"{metric} {old:.4f} -> {new:.4f} (improvement {delta:+.4f} {comparison} "
              f"required {min_improvement:.4f})")
    return GateDecision(verdict, metric, new, old, delta, reason)
