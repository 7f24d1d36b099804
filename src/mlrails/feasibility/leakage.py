"""Leakage suspects: a feature that alone predicts the target almost perfectly, or one the
config marks as not available when a prediction is made.

Each feature is scored on its own by a small cross-validated decision tree: balanced
accuracy (classification; 1/classes is chance) or R² (regression). Real features rarely
come near 1 alone; a column written after the outcome (a cancellation fee, a closing date)
does.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from sklearn.metrics import balanced_accuracy_score, r2_score
from sklearn.model_selection import KFold, StratifiedKFold, cross_val_predict
from sklearn.preprocessing import OrdinalEncoder
from sklearn.tree import DecisionTreeClassifier, DecisionTreeRegressor

from mlrails.config import ProjectConfig
from mlrails.feasibility.options import CheckOptions
from mlrails.feasibility.verdicts import Finding


@dataclass(frozen=True)
class SingleFeatureScore:
    """How well one feature alone predicts the target, and the target by the feature's bins."""

    column: str
    score: float
    metric: str  # "balanced_accuracy" | "r2"
    # For the report: per bin (numeric) or category, the rows and the target's share of
    # the rarest class (classification) or its mean (regression).
    profile: list[tuple[str, int, float]]


def _encoded(column: pd.Series, kind: str) -> np.ndarray:
    if kind == "numeric":
        return column.to_numpy(dtype="float64").reshape(-1, 1)
    values = column.astype(object).where(column.notna(), np.nan).to_frame()
    return OrdinalEncoder(handle_unknown="use_encoded_value", unknown_value=-1).fit_transform(values)


def _profile(column: pd.Series, kind: str, y: pd.Series, task: str) -> list[tuple[str, int, float]]:
    if kind == "numeric":
        present = column.dropna()
        edges = np.unique(np.quantile(present, np.linspace(0, 1, 9))) if len(present) else np.array([])
        if len(edges) > 1:
            groups = pd.cut(column, edges, include_lowest=True, duplicates="drop").astype(str)
        else:
            groups = column.astype(str)
    else:
        groups = column.astype(str)
    groups = groups.where(column.notna(), "(missing)")
    if task == "classification":
        rarest = y.astype(str).value_counts().index[-1]
        outcome = (y.astype(str) == rarest).astype(float)
    else:
        outcome = y.astype(float)
    table = outcome.groupby(groups, sort=False).agg(["size", "mean"])
    if kind != "numeric":
        table = table.sort_values("size", ascending=False).head(12)
    else:
        table = table.sort_index(key=lambda idx: [_left_edge(i) for i in idx])
    return [(str(name), int(row["size"]), float(row["mean"])) for name, row in table.iterrows()]


def _left_edge(label: str) -> float:
    try:
        return float(label.strip("([").split(",")[0])
    except ValueError:
        return float("inf")  # "(missing)" last


def single_feature_scores(
    x: pd.DataFrame, y: pd.Series, cfg: ProjectConfig, options: CheckOptions
) -> list[SingleFeatureScore]:
    """Each feature's cross-validated predictive power on its own, best first."""
    task = cfg.dataset.task
    classification = task == "classification"
    labels = y.astype(str) if classification else y.astype(float)
    folds = min(options.folds, int(labels.value_counts().min())) if classification else options.folds
    if folds < 2:
        return []
    splitter = (
        StratifiedKFold(folds, shuffle=True, random_state=options.seed)
        if classification
        else KFold(folds, shuffle=True, random_state=options.seed)
    )
    scores = []
    for feature in cfg.dataset.features:
        tree = (
            DecisionTreeClassifier(max_depth=6, min_samples_leaf=10, random_state=options.seed)
            if classification
            else DecisionTreeRegressor(max_depth=6, min_samples_leaf=10, random_state=options.seed)
        )
        predicted = cross_val_predict(tree, _encoded(x[feature.name], feature.type), labels, cv=splitter)
        score = balanced_accuracy_score(labels, predicted) if classification else r2_score(labels, predicted)
        scores.append(
            SingleFeatureScore(
                feature.name,
                float(score),
                "balanced_accuracy" if classification else "r2",
                _profile(x[feature.name], feature.type, y, task),
            )
        )
    return sorted(scores, key=lambda s: -s.score)


def leakage_findings(scores: list[SingleFeatureScore], cfg: ProjectConfig, options: CheckOptions) -> list[Finding]:
    """A blocker per suspect: too predictive alone, or marked not available at prediction time."""
    target = cfg.dataset.target
    findings = [
        Finding(
            "leakage_suspect",
            "blocker",
            f"{s.column} alone predicts {target}: {s.metric.replace('_', ' ')} {s.score:.3f} "
            f"(≥ {options.leakage_score:g}) — is it known before the outcome?",
            column=s.column,
            value=round(s.score, 4),
            threshold=options.leakage_score,
        )
        for s in scores
        if s.score >= options.leakage_score
    ]
    findings += [
        Finding(
            "not_available_at_prediction",
            "blocker",
            f"{name} is a feature but dataset.not_available_at_prediction says it is unknown when a "
            "prediction is made — remove it from dataset.features",
            column=name,
        )
        for name in cfg.dataset.not_available_at_prediction
        if name in cfg.dataset.feature_names
    ]
    return findings


def suspects(findings: list[Finding]) -> list[str]:
    """The columns a leakage finding names (left out of the quick model)."""
    return sorted(
        {f.column for f in findings if f.code in ("leakage_suspect", "not_available_at_prediction") and f.column}
    )
