"""Question 3, "is it still worth it at lower accuracy?": the placeholder baseline, a quick
model and a learning curve, against the level the config names and its business value.

The quick model is the configured entrypoint — or, while that is still the placeholder,
the kit's example real model — cross-validated on at most ``sample_rows`` rows with a few
folds, so the check's time stays bounded whatever the data's size.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator
from sklearn.model_selection import KFold, StratifiedKFold, cross_validate, learning_curve

from mlrails.config import Dataset, ProjectConfig, Promotion
from mlrails.feasibility.frame import CheckError
from mlrails.feasibility.options import CheckOptions
from mlrails.feasibility.verdicts import Answer, Finding
from mlrails.models import PLACEHOLDER, load_entrypoint, placeholder
from mlrails.performance.kpi import business_value

REAL_MODEL_EXAMPLE = "mlrails.models:gradient_boosting"
# metric → (scikit-learn scorer, sign that turns the scorer's value back into the metric)
_SCORERS = {
    "accuracy": ("accuracy", 1),
    "f1": ("f1_macro", 1),
    "roc_auc": ("roc_auc_ovr", 1),
    "log_loss": ("neg_log_loss", -1),
    "rmse": ("neg_root_mean_squared_error", -1),
    "mae": ("neg_mean_absolute_error", -1),
    "r2": ("r2", 1),
}


@dataclass(frozen=True)
class ModelingData:
    """The rows and columns the quick model sees."""

    x: pd.DataFrame
    y: pd.Series
    dataset: Dataset  # the schema without leakage suspects
    dropped_rows: int  # no label, or a hole in a column that may not have one
    left_out: list[str] = field(default_factory=list)  # features left out as leakage suspects


@dataclass(frozen=True)
class Estimate:
    """Cross-validated scores of the baseline and the quick model, and the learning curve."""

    metric: str
    entrypoint: str
    baseline: float
    score: float
    std: float
    folds: int
    rows: int
    curve: list[dict[str, float]]  # [{"fraction", "rows", "score", "std"}], last point = the quick model
    model: BaseEstimator  # the quick model fitted on one fold's training rows (latency is measured on it)


def modeling_data(frame: pd.DataFrame, cfg: ProjectConfig, leaks: list[str], options: CheckOptions) -> ModelingData:
    """Labelled rows without holes where the schema allows none, sampled to ``sample_rows``;
    leakage suspects left out so the scores say what an honest model can do."""
    dataset = cfg.dataset
    required = [dataset.target, *(f.name for f in dataset.features if not f.nullable)]
    usable = frame.dropna(subset=required)
    if len(usable) > options.sample_rows:
        usable = usable.sample(options.sample_rows, random_state=options.seed)
    kept = tuple(f for f in dataset.features if f.name not in leaks)
    y = usable[dataset.target]
    if dataset.task == "classification" and len(y) and all(isinstance(v, int) for v in y):
        y = y.astype("int64")
    elif dataset.task == "regression":
        y = y.astype("float64")
    reduced = dataset.model_copy(update={"features": kept, "not_available_at_prediction": ()})
    return ModelingData(
        usable[[f.name for f in kept]].reset_index(drop=True),
        y.reset_index(drop=True),
        reduced,
        dropped_rows=len(frame) - len(frame.dropna(subset=required)),
        left_out=list(leaks),
    )


def quick_entrypoint(cfg: ProjectConfig) -> str:
    """The configured model, or the example real model while the placeholder is configured
    (the placeholder is the baseline; comparing it with itself says nothing)."""
    return REAL_MODEL_EXAMPLE if cfg.model.entrypoint == PLACEHOLDER else cfg.model.entrypoint


def estimate(
    data: ModelingData, cfg: ProjectConfig, options: CheckOptions, progress: Callable[[str], None] = lambda _: None
) -> Estimate:
    """Cross-validate the baseline and the quick model; the learning curve at growing
    fractions of the rows. Raises :class:`CheckError` when there is too little to score."""
    metric = cfg.value_metric
    classification = cfg.dataset.task == "classification"
    if not data.dataset.features:
        raise CheckError("every feature is a leakage suspect: nothing left to model")
    if classification:
        rarest = int(data.y.value_counts().min()) if len(data.y) else 0
        folds = min(options.folds, rarest)
        if data.y.nunique() < 2 or folds < 2:
            raise CheckError("too few labelled rows per class to cross-validate")
        splitter = StratifiedKFold(folds, shuffle=True, random_state=options.seed)
    else:
        folds = options.folds
        if len(data.y) < 5 * folds:
            raise CheckError("too few labelled rows to cross-validate")
        splitter = KFold(folds, shuffle=True, random_state=options.seed)
    scorer, sign = _SCORERS[metric]
    seed = cfg.training.seed

    baseline = cross_validate(placeholder(data.dataset, seed), data.x, data.y, cv=splitter, scoring=scorer)
    entrypoint = quick_entrypoint(cfg)
    progress(f"quick model {entrypoint}: {folds}-fold CV on {len(data.y):,} rows")
    quick = cross_validate(
        load_entrypoint(entrypoint, data.dataset, seed),
        data.x,
        data.y,
        cv=splitter,
        scoring=scorer,
        return_estimator=True,
        error_score="raise",
    )
    scores = sign * quick["test_score"]
    progress(f"learning curve at {', '.join(f'{f:.0%}' for f in options.curve_fractions)} of the rows")
    sizes, _, curve_scores = learning_curve(
        load_entrypoint(entrypoint, data.dataset, seed),
        data.x,
        data.y,
        cv=splitter,
        scoring=scorer,
        train_sizes=list(options.curve_fractions),
        shuffle=True,
        random_state=options.seed,
        error_score=np.nan,
    )
    train_rows = len(data.y) * (folds - 1) // folds
    curve = [
        {
            "fraction": round(float(n) / train_rows, 3),
            "rows": int(n),
            "score": round(float(np.nanmean(sign * s)), 4),
            "std": round(float(np.nanstd(sign * s)), 4),
        }
        for n, s in zip(sizes, curve_scores)
        if not np.isnan(s).all()
    ]
    curve.append(
        {
            "fraction": 1.0,
            "rows": train_rows,
            "score": round(float(scores.mean()), 4),
            "std": round(float(scores.std()), 4),
        }
    )
    return Estimate(
        metric,
        entrypoint,
        float(np.mean(sign * baseline["test_score"])),
        float(scores.mean()),
        float(scores.std()),
        folds,
        len(data.y),
        curve,
        quick["estimator"][0],
    )


def _gain(cfg: ProjectConfig, score: float, level: float) -> float:
    """How far ``score`` is better than ``level`` (positive = better), whatever the direction."""
    return score - level if Promotion.direction(cfg.value_metric) == "maximize" else level - score


def value_answer(
    cfg: ProjectConfig, result: Estimate | None, data: ModelingData | None, why_not: str | None = None
) -> Answer:
    """ "yes" when the quick model clears ``value.minimum`` by ``value.margin`` (and its
    business value is positive); "no" below the level; "unknown" without a level, without
    a score, or within the margin."""
    metric, minimum, margin = cfg.value_metric, cfg.value.minimum, cfg.value.margin
    evidence: dict[str, Any] = {"metric": metric, "minimum": minimum, "margin": margin, "unit": cfg.value.unit}
    findings: list[Finding] = []
    if result is not None:
        evidence.update(
            baseline=round(result.baseline, 4),
            quick_model={
                "entrypoint": result.entrypoint,
                "score": round(result.score, 4),
                "std": round(result.std, 4),
                "folds": result.folds,
                "rows": result.rows,
            },
            learning_curve=result.curve,
        )
    if data is not None and data.left_out:
        findings.append(
            Finding(
                "scored_without_suspects", "info", f"scored without the leakage suspect(s) {', '.join(data.left_out)}"
            )
        )
    if data is not None and data.dropped_rows:
        findings.append(
            Finding(
                "rows_left_out",
                "info",
                f"{data.dropped_rows:,} row(s) without a label or with holes left out of scoring",
            )
        )
    if result is None:
        return Answer("value", "unknown", f"cannot score a model: {why_not}", tuple(findings), evidence)
    findings.append(_curve_finding(cfg, result))
    scored = f"{metric} {result.score:.3f} (quick model) vs baseline {result.baseline:.3f}"
    if minimum is None:
        findings.append(
            Finding(
                "no_minimum", "info", "value.minimum is not set: the level below which the use case is not worth it"
            )
        )
        return Answer("value", "unknown", f"{scored}; set value.minimum to judge it", tuple(findings), evidence)
    values = business_value(cfg)
    if values is not None:
        worth = {"baseline": values(result.baseline), "quick_model": values(result.score), "minimum": values(minimum)}
        evidence["business_value"] = {k: round(float(v), 2) for k, v in worth.items()}
        unit = f" {cfg.value.unit}" if cfg.value.unit else ""
        findings.append(
            Finding(
                "business_value",
                "info",
                f"business value: {worth['quick_model']:,.0f}{unit} at the quick model's {metric} {result.score:.3f}, "
                f"{worth['minimum']:,.0f}{unit} at the minimum {minimum:g}, {worth['baseline']:,.0f}{unit} at the "
                f"baseline {result.baseline:.3f}",
                value=round(float(worth["quick_model"]), 2),
            )
        )
    gain = _gain(cfg, result.score, minimum)
    if _gain(cfg, result.baseline, minimum) >= 0:
        findings.append(
            Finding(
                "baseline_clears",
                "info",
                f"the placeholder baseline already reaches value.minimum ({result.baseline:.3f}): "
                "a simple rule may be enough",
            )
        )
    if gain < 0:
        findings.append(
            Finding(
                "below_minimum",
                "blocker",
                f"the quick model's {metric} {result.score:.3f} is below value.minimum {minimum:g}",
                value=round(result.score, 4),
                threshold=minimum,
            )
        )
        return Answer("value", "no", f"{scored}; below the minimum {minimum:g}", tuple(findings), evidence)
    if values is not None and values(result.score) <= 0:
        findings.append(
            Finding("no_business_value", "blocker", "value.function gives no positive value at the quick model's score")
        )
        return Answer("value", "no", f"{scored}; no positive business value", tuple(findings), evidence)
    if gain < margin:
        findings.append(
            Finding(
                "within_margin",
                "warning",
                f"the quick model clears value.minimum {minimum:g} by {gain:.3f}, less than value.margin {margin:g}",
                value=round(gain, 4),
                threshold=margin,
            )
        )
        return Answer(
            "value", "unknown", f"{scored}; too close to the minimum {minimum:g} to call", tuple(findings), evidence
        )
    return Answer("value", "yes", f"{scored}; clears the minimum {minimum:g} by {gain:.3f}", tuple(findings), evidence)


def _curve_finding(cfg: ProjectConfig, result: Estimate) -> Finding:
    """Would more data help? The gain from the second-to-last to the last curve point."""
    if len(result.curve) < 2:
        return Finding("learning_curve", "info", "learning curve: too few rows for more than one point")
    before, last = result.curve[-2], result.curve[-1]
    gain = _gain(cfg, last["score"], before["score"])
    verdict = (
        "still rising: more data would likely help"
        if gain > max(cfg.value.margin / 2, last["std"])
        else "flat: more data alone is unlikely to help much"
    )
    return Finding(
        "learning_curve",
        "info",
        f"learning curve {verdict} ({before['score']:.3f} at {before['rows']:,} rows → "
        f"{last['score']:.3f} at {last['rows']:,})",
        value=round(gain, 4),
    )
