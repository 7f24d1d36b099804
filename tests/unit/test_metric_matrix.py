"""Every metric the config accepts works for every task it accepts it for: training computes
it, the promotion gate can promote (and refuse) on it, and the performance check can alarm on
it. Task (binary, multiclass, regression) × metric, on real fitted models: the placeholder
baseline and `mlrails.models:gradient_boosting`, trained by the training code, served
predictions judged by the performance check's own scoring path."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
import pandas as pd
import pytest

from mlrails.config import ConfigWarning, ProjectConfig, parse_config
from mlrails.config.sections import MAXIMIZED_METRICS, MINIMIZED_METRICS
from mlrails.errors import ConfigError
from mlrails.feedback.labels import LABEL, EvaluationWindow, LabelledWindow
from mlrails.performance import check, quality
from mlrails.promotion import gate
from mlrails.serving.manifest import Manifest
from mlrails.training import estimator

CLASSIFICATION_METRICS = ["accuracy", "f1", "roc_auc", "log_loss"]
REGRESSION_METRICS = ["rmse", "mae", "r2"]
MATRIX = [
    *(("binary", metric) for metric in CLASSIFICATION_METRICS),
    *(("multiclass", metric) for metric in CLASSIFICATION_METRICS),
    *(("regression", metric) for metric in REGRESSION_METRICS),
]
START = datetime(2026, 3, 1, tzinfo=UTC)


def _frame(kind: str, rows: int, seed: int) -> pd.DataFrame:
    """Rows whose target the features explain well (and a placeholder cannot)."""
    rng = np.random.default_rng(seed)
    x1, x2 = rng.normal(0, 1, rows), rng.normal(0, 1, rows)
    group = rng.choice(["north", "south", "east"], rows)
    signal = 1.5 * x1 - x2 + np.where(group == "north", 1.0, 0.0)
    if kind == "binary":
        target: Any = (signal + rng.normal(0, 0.7, rows) > 0.3).astype(int)
    elif kind == "multiclass":
        target = np.digitize(signal + rng.normal(0, 0.5, rows), [-0.8, 0.8]).astype(str)
        target = np.array(["low", "mid", "high"])[target.astype(int)]
    else:
        target = 50 + 10 * signal + rng.normal(0, 2, rows)
    return pd.DataFrame(
        {
            "x1": x1,
            "x2": x2,
            "group": group,
            "outcome": target,
            "at": [START + timedelta(minutes=i) for i in range(rows)],
        }
    )


def _config(cfg: ProjectConfig, kind: str, metric: str, entrypoint: str) -> ProjectConfig:
    document = cfg.model_dump(mode="json")
    document["dataset"] = {
        "task": "regression" if kind == "regression" else "classification",
        "target": "outcome",
        "timestamp": "at",
        "features": [
            {"name": "x1", "type": "numeric"},
            {"name": "x2", "type": "numeric"},
            {"name": "group", "type": "categorical"},
        ],
    }
    document["model"]["entrypoint"] = entrypoint
    document["promotion"] = {**document["promotion"], "metric": metric, "guards": {}, "min_improvement": 0.0}
    performance = {**document["monitoring"]["performance"], "metric": metric, "minimum": None, "max_drop": 0.0}
    document["monitoring"]["performance"] = performance
    document["value"] = {**document["value"], "metric": metric, "minimum": None}
    return parse_config(document)


@pytest.fixture(scope="module")
def fitted(cfg) -> dict[str, dict[str, Any]]:
    """Per task: the placeholder and the real model, fit on the same rows; their holdout
    scores and errors; and fresh rows to serve."""
    out = {}
    for kind in ("binary", "multiclass", "regression"):
        metric = "rmse" if kind == "regression" else "accuracy"
        train, holdout, served = _frame(kind, 900, 1), _frame(kind, 300, 2), _frame(kind, 400, 3)
        models = {}
        for name, entrypoint in [
            ("placeholder", "mlrails.models:placeholder"),
            ("real", "mlrails.models:gradient_boosting"),
        ]:
            project = _config(cfg, kind, metric, entrypoint)
            model = estimator.fit(project, train)
            models[name] = {
                "model": model,
                "scores": estimator.score(model, holdout, project),
                "errors": estimator.standard_errors(model, holdout, project),
            }
        out[kind] = {"models": models, "served": served}
    return out


def _served(model: Any, rows: pd.DataFrame, project: ProjectConfig) -> LabelledWindow:
    """What the performance check reads of ``model``'s served predictions once labelled: the
    captured prediction, the captured {class: probability} (JSON keys: text), the label."""
    x = estimator.features_of(rows, project)
    frame = pd.DataFrame({"prediction": model.predict(x).tolist(), LABEL: rows["outcome"].tolist()})
    if project.dataset.task == "classification":
        classes = [str(c) for c in model.classes_]
        frame["probabilities"] = [dict(zip(classes, map(float, p))) for p in model.predict_proba(x)]
    window = EvaluationWindow(START, START + timedelta(days=1), START + timedelta(days=2))
    return LabelledWindow(window=window, rows=frame, settled=len(frame), unmatched_feedback=0, invalid_labels=0)


def _champion(project: ProjectConfig, fit: dict[str, Any]) -> Manifest:
    model = fit["model"]
    classes = [c.item() if hasattr(c, "item") else c for c in model.classes_] if hasattr(model, "classes_") else None
    return Manifest(
        model_name=project.model.name,
        version="2",
        run_id="run",
        artifact_uri="s3://artifacts/models/v2/model.skops",
        profile_uri="s3://artifacts/models/v2/profile.json",
        task=project.dataset.task,
        features=[f.model_dump() for f in project.dataset.features],
        metrics=fit["scores"],
        promoted_at=START.isoformat(),
        trained_at=START.isoformat(),
        reason="test",
        classes=classes,
        metric_errors=fit["errors"],
    )


def test_the_matrix_covers_every_metric_the_config_knows():
    assert {metric for _, metric in MATRIX} == MAXIMIZED_METRICS | MINIMIZED_METRICS


@pytest.mark.parametrize(("kind", "metric"), MATRIX)
def test_training_computes_the_metric_and_the_gate_promotes_on_it(cfg, fitted, kind, metric):
    project = _config(cfg, kind, metric, "mlrails.models:gradient_boosting")
    real, placeholder = fitted[kind]["models"]["real"], fitted[kind]["models"]["placeholder"]
    assert metric in real["scores"] and metric in placeholder["scores"]
    assert metric in real["errors"]

    better = gate.decide(
        metric=metric, rules=project.promotion, challenger=real["scores"], champion=placeholder["scores"]
    )
    worse = gate.decide(
        metric=metric, rules=project.promotion, challenger=placeholder["scores"], champion=real["scores"]
    )
    assert better.promote, better.reason
    assert not worse.promote and "not enough" in worse.reason


@pytest.mark.parametrize(("kind", "metric"), MATRIX)
def test_the_performance_check_alarms_on_the_metric(cfg, fitted, kind, metric):
    project = _config(cfg, kind, metric, "mlrails.models:gradient_boosting")
    assert project.monitoring_needs_probabilities == (metric in {"roc_auc", "log_loss"})
    real, placeholder = fitted[kind]["models"]["real"], fitted[kind]["models"]["placeholder"]
    champion = _champion(project, real)
    bound = check.floor(project, champion)
    assert bound is not None and bound.value == pytest.approx(real["scores"][metric])

    def verdict(model: Any) -> bool:
        rows = check.judged(_served(model, fitted[kind]["served"], project), project.dataset.task, champion.classes)
        value = quality.task_metrics(project.dataset.task, *rows)[metric]
        error = quality.standard_errors(project.dataset.task, *rows, metrics=[metric])[metric]
        margin = check.allowance(project.monitoring.performance.confidence, error, bound.error)
        return check.worse_than(metric, value, bound.value, margin)

    # Serving the placeholder instead of the model it was promoted as: an alarm on every metric.
    assert verdict(placeholder["model"]) is True
    # The champion itself, on fresh rows of the same world: no alarm.
    assert verdict(real["model"]) is False


@pytest.mark.parametrize(
    ("kind", "metric"),
    [("regression", "roc_auc"), ("regression", "log_loss"), ("binary", "rmse"), ("multiclass", "r2")],
)
def test_a_metric_of_another_task_is_refused_at_load(cfg, kind, metric):
    with pytest.raises(ConfigError, match=f"'{metric}' does not fit task"):
        _config(cfg, kind, metric, "mlrails.models:placeholder")


@pytest.mark.parametrize("kind", ["binary", "regression"])
def test_a_performance_check_without_a_floor_warns_at_load(cfg, kind):
    project = _config(cfg, kind, "rmse" if kind == "regression" else "accuracy", "mlrails.models:placeholder")
    document = project.model_dump(mode="json")
    document["monitoring"]["performance"].update(minimum=None, max_drop=None)
    with pytest.warns(ConfigWarning, match="neither minimum nor max_drop: .* never raises PerformanceDegraded"):
        parse_config(document)
