"""The promotion gate: does the challenger beat the champion on the same holdout?"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass

from mlrails.config import Promotion

GATE = "gate"  # who decides automatic promotions, in the audit log


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


@dataclass(frozen=True)
class Comparison:
    """What the gate compared at a version's evaluation and what it concluded: the challenger
    and its baseline scored on the same rows (the challenger's holdout plus the labelled traffic
    it did not learn from). Each version's own holdout is a later slice of data than the one
    before it, so only these two scores compare a version with what it had to beat. Recorded on
    the registry version as ``gate.*`` tags (the system of record `mlrails models` reads), and
    with the gate's decision in the audit log."""

    promote: bool
    reason: str
    metric: str  # the gate metric at the time (the config's may have changed since)
    metrics: dict[str, float]  # the challenger's
    baseline: str | None  # "champion" or "placeholder"; None: nothing to beat (the first model)
    baseline_metrics: dict[str, float] | None
    champion_version: str | None  # the champion then, even when the placeholder stood in for it
    holdout_rows: int
    feedback_rows: int
    ignored_labels: int

    def to_tags(self) -> dict[str, str]:
        """As MLflow version tags, which are strings: scores as JSON; no baseline, no tag."""
        tags = {
            "gate.promote": str(self.promote),
            "gate.reason": self.reason,
            "gate.metric": self.metric,
            "gate.metrics": json.dumps(self.metrics, sort_keys=True),
            "gate.holdout_rows": str(self.holdout_rows),
            "gate.feedback_rows": str(self.feedback_rows),
            "gate.ignored_labels": str(self.ignored_labels),
        }
        if self.baseline is not None:
            tags["gate.baseline"] = self.baseline
            tags["gate.baseline_metrics"] = json.dumps(self.baseline_metrics, sort_keys=True)
        if self.champion_version is not None:
            tags["gate.champion_version"] = self.champion_version
        return tags

    @classmethod
    def from_tags(cls, tags: Mapping[str, str]) -> Comparison | None:
        """The comparison recorded on a version, or None when there is none: never evaluated, or
        evaluated before the gate recorded both sides' scores."""
        if "gate.metric" not in tags:
            return None
        baseline = tags.get("gate.baseline_metrics")
        return cls(
            promote=tags["gate.promote"] == "True",
            reason=tags["gate.reason"],
            metric=tags["gate.metric"],
            metrics=json.loads(tags["gate.metrics"]),
            baseline=tags.get("gate.baseline"),
            baseline_metrics=None if baseline is None else json.loads(baseline),
            champion_version=tags.get("gate.champion_version"),
            holdout_rows=int(tags["gate.holdout_rows"]),
            feedback_rows=int(tags["gate.feedback_rows"]),
            ignored_labels=int(tags["gate.ignored_labels"]),
        )
