"""The business / model-quality check: is the serving model still producing the outcome?

On its schedule it joins the champion's settled predictions with the labels fed back for
them (:mod:`mlrails.feedback.labels`), scores the task's metrics and the business KPI
(:mod:`mlrails.performance.kpi`), writes a report and emits ``PerformanceDegraded`` when the configured
metric is worse than its floor: ``monitoring.performance.minimum``, or the champion's own
holdout score (recorded in its manifest) minus ``max_drop``, whichever is stricter; worse by
more than chance explains (``confidence``), as a few hundred labels, and a holdout of a few
hundred rows, each move a score by a few points on their own.

On the same schedule, with ``training.feedback_rows``, it turns each settled day's labelled
predictions into training rows (:func:`export_settled_days`; the rules are
:mod:`mlrails.feedback.training_rows`).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import UTC, date, datetime, time, timedelta
from enum import StrEnum
from statistics import NormalDist
from typing import Any

import numpy as np
import pandas as pd

from mlrails.adapters import manifests, s3, traffic
from mlrails.adapters.bus import publish
from mlrails.config import ProjectConfig, Promotion
from mlrails.data import dataset
from mlrails.events import FeaturesReady, PerformanceDegraded
from mlrails.feedback.labels import LABEL, PREDICTION_ID, TIMESTAMP, LabelledWindow, targets
from mlrails.feedback.training_rows import export_key, settled_days, training_rows
from mlrails.performance import quality
from mlrails.performance.kpi import business_value
from mlrails.performance.quality import Scores
from mlrails.serving.manifest import Manifest
from mlrails.settings import Settings
from mlrails.wiring import Prefix

# What the check reads of each capture: not the features.
_COLUMNS = ["prediction_id", "timestamp", "prediction", "model_version", "probabilities"]


class PerformanceStatus(StrEnum):
    """A performance check's verdict."""

    OK = "ok"
    DEGRADED = "degraded"  # worse than the floor by more than chance explains: PerformanceDegraded
    INSUFFICIENT_LABELS = "insufficient_labels"  # fewer than min_labelled_rows settled labels: no verdict
    METRIC_UNAVAILABLE = "metric_unavailable"  # the labels cannot give the metric (one class only, say)
    NO_MODEL = "no_model"


@dataclass(frozen=True)
class PerformanceOutcome:
    # no_model | insufficient_labels | metric_unavailable | ok | degraded
    status: PerformanceStatus
    metric: str
    value: float | None
    threshold: float | None  # the floor the value was held to (None: none configured)
    # How far below the floor (above, for an error metric) the value had to be to count: the
    # chance allowance at monitoring.performance.confidence (None when nothing was judged).
    allowance: float | None
    metrics: dict[str, float]
    business_kpi: float | None
    labelled: int
    coverage: float | None
    report_uri: str | None
    emitted: bool


@dataclass(frozen=True)
class Floor:
    value: float
    # The standard error of what the floor was derived from: the champion's holdout score
    # for the max_drop floor, none for the configured minimum.
    error: float


def hours(value: float) -> timedelta:
    """A config duration in hours."""
    return timedelta(hours=value)


def floor(cfg: ProjectConfig, champion: Manifest) -> Floor | None:
    """The worst acceptable value of the performance metric: the stricter of the configured
    minimum and the champion's holdout score less ``max_drop`` (None when neither applies)."""
    metric, rules = cfg.performance_metric, cfg.monitoring.performance
    maximize = Promotion.direction(metric) == "maximize"
    bounds = [] if rules.minimum is None else [Floor(rules.minimum, 0.0)]
    if rules.max_drop is not None and metric in champion.metrics:
        baseline = champion.metrics[metric]
        bounds.append(
            Floor(
                baseline - rules.max_drop if maximize else baseline + rules.max_drop,
                champion.metric_errors.get(metric, 0.0),
            )
        )
    if not bounds:
        return None
    return (max if maximize else min)(bounds, key=lambda bound: bound.value)


def allowance(confidence: float, window_error: float, floor_error: float) -> float:
    """How far past the floor a score must be before chance is an unlikely explanation: the
    one-sided normal quantile at ``confidence`` times the standard error of the gap (the
    window's and the floor's errors, independent samples)."""
    return NormalDist().inv_cdf(confidence) * float(np.hypot(window_error, floor_error))


def worse_than(metric: str, value: float, threshold: float, margin: float = 0.0) -> bool:
    """Whether ``value`` is on the bad side of ``threshold`` by more than ``margin``, for
    ``metric``'s direction."""
    if Promotion.direction(metric) == "maximize":
        return value < threshold - margin
    return value > threshold + margin


def judged(
    window: LabelledWindow,
    task: str,
    classes: list[Any] | None,
) -> tuple[np.ndarray, np.ndarray, Scores | None]:
    """Labels, predictions and, for a classification whose every row was captured with its
    class probabilities, those (:class:`mlrails.performance.quality.Scores`)."""
    rows = window.rows
    labels, predicted = targets(rows[LABEL], task).to_numpy(), targets(rows["prediction"], task).to_numpy()
    if not (
        task == "classification"
        and classes
        and "probabilities" in rows
        and rows["probabilities"].map(lambda p: isinstance(p, dict)).all()
    ):
        return labels, predicted, None
    # Captured as {class: p}: JSON keys, so the classes' text.
    matrix = np.array(
        [[p.get(str(c), np.nan) for c in classes] for p in rows["probabilities"]], dtype="float64"
    ).reshape(len(rows), len(classes))
    return labels, predicted, None if np.isnan(matrix).any() else Scores.of(labels, classes, matrix)


def check_performance(cfg: ProjectConfig, settings: Settings, *, at: datetime) -> PerformanceOutcome:
    """Join, score, report, and emit ``PerformanceDegraded`` below the floor. Fewer than
    ``min_labelled_rows`` labelled predictions is "insufficient_labels", never an alarm."""
    metric, rules = cfg.performance_metric, cfg.monitoring.performance
    manifest = manifests.read_current(settings.artifacts_bucket, cfg.model.name)
    if manifest is None:
        return PerformanceOutcome(PerformanceStatus.NO_MODEL, metric, None, None, None, {}, None, 0, None, None, False)
    window = traffic.labelled_window(
        settings.data_bucket,
        now=at,
        window=hours(rules.window_hours),
        label_delay=hours(cfg.monitoring.label_delay_hours),
        task=cfg.dataset.task,
        # The serving model is judged on its own predictions only.
        columns=_COLUMNS,
        model_version=manifest.version,
    )
    bound = floor(cfg, manifest)
    metrics, kpi, value, margin = {}, None, None, None
    if window.labelled < rules.min_labelled_rows:
        status = PerformanceStatus.INSUFFICIENT_LABELS
    else:
        rows = judged(window, cfg.dataset.task, manifest.classes)
        metrics = quality.task_metrics(cfg.dataset.task, *rows)
        value = metrics.get(metric)
        values = business_value(cfg)
        if values is not None and cfg.value_metric in metrics:
            kpi = float(values(metrics[cfg.value_metric]))
        if value is None:
            status = PerformanceStatus.METRIC_UNAVAILABLE
        elif bound is None:
            status = PerformanceStatus.OK
        else:
            window_error = quality.standard_errors(cfg.dataset.task, *rows, metrics=[metric]).get(metric, 0.0)
            margin = allowance(rules.confidence, window_error, bound.error)
            status = (
                PerformanceStatus.DEGRADED if worse_than(metric, value, bound.value, margin) else PerformanceStatus.OK
            )
    threshold = bound.value if bound else None

    report_uri = s3.uri(
        settings.artifacts_bucket, f"{Prefix.REPORTS.value}performance/{cfg.model.name}/{at:%Y-%m-%dT%H%M%SZ}.json"
    )
    outcome = PerformanceOutcome(
        status,
        metric,
        value,
        threshold,
        margin,
        metrics,
        kpi,
        window.labelled,
        window.coverage,
        report_uri,
        emitted=status == PerformanceStatus.DEGRADED,
    )
    s3.put_json(report_uri, _report_document(cfg, manifest, window, outcome))
    if outcome.emitted:
        publish(
            PerformanceDegraded(cfg.model.name, settings.environment, metric, value, threshold, report_uri),
            settings,
            time=at,
        )
    return outcome


def _report_document(
    cfg: ProjectConfig, manifest: Manifest, window: LabelledWindow, outcome: PerformanceOutcome
) -> dict[str, Any]:
    return {
        **{k: v for k, v in asdict(outcome).items() if k not in ("report_uri", "emitted")},
        "model_version": manifest.version,
        "holdout_metrics": manifest.metrics,
        "window_start": window.window.start.isoformat(),
        "window_end": window.window.end.isoformat(),
        "label_delay_hours": cfg.monitoring.label_delay_hours,
        "min_labelled_rows": cfg.monitoring.performance.min_labelled_rows,
        "confidence": cfg.monitoring.performance.confidence,
        "holdout_errors": manifest.metric_errors,
        "settled": window.settled,
        "unmatched_feedback": window.unmatched_feedback,
        "invalid_labels": window.invalid_labels,
        # Labels no feedback credential sent: not judged (mlrails.feedback.labels.trusted).
        "untrusted_labels": window.untrusted_labels,
        "business_kpi_metric": cfg.value_metric,
        "business_kpi_unit": cfg.value.unit,
        "performance_degraded": outcome.emitted,
    }


@dataclass(frozen=True)
class DayExport:
    day: date
    features_uri: str
    rows: int  # the day's labelled predictions, all written
    added: int  # of which new since the day was last written (what FeaturesReady counts)


def export_settled_days(cfg: ProjectConfig, settings: Settings, *, at: datetime) -> list[DayExport]:
    """(Re)write each settled day within ``monitoring.performance.window_hours`` whose labelled
    predictions changed since it was last written, and publish ``FeaturesReady`` for the rows
    added. Nothing when ``training.feedback_rows`` is off."""
    if not cfg.training.feedback_rows:
        return []
    bucket, label_delay = settings.data_bucket, timedelta(hours=cfg.monitoring.label_delay_hours)
    days = settled_days(at, label_delay, timedelta(hours=cfg.monitoring.performance.window_hours))
    if not days:
        return []
    # The settled days' predictions with every label received by now, read once: the window of
    # predictions is the span of days that ends (at - end of the last day) before now.
    start, end = datetime.combine(days[0], time(0), UTC), datetime.combine(days[-1], time(0), UTC) + timedelta(days=1)
    labelled = traffic.labelled_window(
        bucket,
        now=at,
        window=end - start,
        label_delay=at - end,
        task=cfg.dataset.task,
        columns=[PREDICTION_ID, TIMESTAMP, *cfg.dataset.feature_names],
    ).rows
    made_on = labelled[TIMESTAMP].dt.date if not labelled.empty else pd.Series(dtype=object)
    exports = []
    for day in days:
        rows = training_rows(labelled[made_on == day], cfg)
        if rows.empty:  # nothing labelled (yet)
            continue
        target = s3.uri(bucket, export_key(day))
        digest = dataset.content_hash(rows)
        written = s3.metadata(target) or {}
        if written.get("content-sha256") == digest:  # no label came or changed since the last write
            continue
        s3.put_bytes(
            target,
            dataset.to_parquet(rows),
            "application/vnd.apache.parquet",
            Metadata={"rows": str(len(rows)), "content-sha256": digest},
        )
        added = len(rows) - int(written.get("rows", 0))
        if added > 0:  # a corrected label replaces a row: nothing new to count
            publish(
                FeaturesReady(
                    cfg.model.name,
                    settings.environment,
                    s3.uri(bucket, f"{Prefix.CAPTURE.value}date={day:%Y-%m-%d}/"),
                    target,
                    added,
                ),
                settings,
                time=at,
            )
        exports.append(DayExport(day, target, len(rows), max(added, 0)))
    return exports
