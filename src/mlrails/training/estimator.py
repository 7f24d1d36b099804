"""Training, pure: split by time, fit, score. No AWS, no MLflow (see :mod:`mlrails.adapters.registry`)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from sklearn import metrics as skm
from sklearn.base import BaseEstimator

from mlrails.config import ProjectConfig
from mlrails.errors import TrainingError
from mlrails.models import load_entrypoint
from mlrails.performance import quality


@dataclass(frozen=True)
class Split:
    train: pd.DataFrame
    holdout: pd.DataFrame


def recent(frame: pd.DataFrame, cfg: ProjectConfig) -> pd.DataFrame:
    """The rows within ``training.window_days`` of the newest one (all rows without a window)."""
    if cfg.training.window_days is None or frame.empty:
        return frame
    stamps = pd.to_datetime(frame[cfg.dataset.time_column], utc=True)
    return frame[stamps >= stamps.max() - pd.Timedelta(days=cfg.training.window_days)].reset_index(drop=True)


def split_by_time(frame: pd.DataFrame, cfg: ProjectConfig) -> Split:
    """The newest ``holdout_fraction`` of rows is the holdout: models are judged on the
    data closest to what they will serve, and the split is the same on every run."""
    if len(frame) < cfg.training.min_rows:
        raise TrainingError(f"{len(frame)} rows is below training.min_rows={cfg.training.min_rows}")
    ordered = frame.sort_values(cfg.dataset.time_column, kind="stable").reset_index(drop=True)
    cut = len(ordered) - max(1, round(len(ordered) * cfg.training.holdout_fraction))
    return Split(train=ordered.iloc[:cut], holdout=ordered.iloc[cut:])


def features_of(frame: pd.DataFrame, cfg: ProjectConfig) -> pd.DataFrame:
    """The model's input columns, in schema order."""
    return frame[cfg.dataset.feature_names]


def fit(cfg: ProjectConfig, train: pd.DataFrame) -> BaseEstimator:
    """Build the configured estimator and fit it."""
    leaking = [n for n in cfg.dataset.not_available_at_prediction if n in cfg.dataset.feature_names]
    if leaking:
        raise TrainingError(
            f"features {leaking} are listed in dataset.not_available_at_prediction: "
            "a model trained on them cannot be served honestly; remove them from dataset.features"
        )
    estimator = load_entrypoint(cfg.model.entrypoint, cfg.dataset, cfg.training.seed)
    target = train[cfg.dataset.target]
    if cfg.dataset.task == "classification" and target.nunique() < 2:
        raise TrainingError(f"target '{cfg.dataset.target}' has a single class in the training rows")
    return estimator.fit(features_of(train, cfg), target)


def score(model: BaseEstimator, holdout: pd.DataFrame, cfg: ProjectConfig) -> dict[str, float]:
    """The task's metrics on ``holdout`` (what the promotion gate compares)."""
    x, y = features_of(holdout, cfg), holdout[cfg.dataset.target]
    predicted = model.predict(x)
    if cfg.dataset.task == "regression":
        return {
            "rmse": float(np.sqrt(skm.mean_squared_error(y, predicted))),
            "mae": float(skm.mean_absolute_error(y, predicted)),
            "r2": float(skm.r2_score(y, predicted)) if len(y) > 1 else 0.0,
        }
    result = {
        "accuracy": float(skm.accuracy_score(y, predicted)),
        "f1": float(skm.f1_score(y, predicted, average="macro", zero_division=0)),
    }
    scores = _scores(model, x, y)
    if scores is not None:
        result["log_loss"] = float(skm.log_loss(y, scores.probabilities, labels=list(model.classes_)))
        # One definition with the performance check's: binary AUC, or the one-vs-rest mean.
        auc = quality.roc_auc_ovr(scores)
        if auc is not None:
            result["roc_auc"] = auc
    return result


def _scores(model: BaseEstimator, x: pd.DataFrame, y: pd.Series) -> quality.Scores | None:
    """The model's class probabilities on ``x`` against the labels ``y`` (None for a model
    without ``predict_proba``)."""
    if not hasattr(model, "predict_proba"):
        return None
    return quality.Scores.of(y.tolist(), list(model.classes_), model.predict_proba(x))


def standard_errors(model: BaseEstimator, holdout: pd.DataFrame, cfg: ProjectConfig) -> dict[str, float]:
    """How far each holdout score could be off by chance on a holdout this size (the
    bootstrap of :func:`mlrails.performance.quality.standard_errors`): the performance check allows for it
    before it calls the served metric worse than the holdout's."""
    x, y = features_of(holdout, cfg), holdout[cfg.dataset.target]
    scores = _scores(model, x, y) if cfg.dataset.task == "classification" else None
    return quality.standard_errors(cfg.dataset.task, y.to_numpy(), model.predict(x), scores, seed=cfg.training.seed)
